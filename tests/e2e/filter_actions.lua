-- tests/e2e/filter_actions.lua - the Lua policy filter of tests/e2e/test_filter.sh.
--
-- One filter that does every action, picked by the message: the Subject
-- "ACT=<word> <token>" selects the message action, the envelope and the
-- HELO select the early ones. A message without ACT= is accepted as it is.
-- test_filter.sh copies this file into its scenario directory (the reload
-- check replaces the copy) and names it in klaxon.conf's `filter` key.
--
-- Globals are read-only after the chunk has run, so the per-message state
-- lives in a local table of the chunk.

local cur = {act = "", tok = "", leaf = 0}

-- ---------------------------------------------------------------------------
-- Early callbacks
-- ---------------------------------------------------------------------------

-- 127.0.0.3 is turned away at connect time.
function filter_relay(ip, name)
	if ip == "127.0.0.3" then
		return "reject", "Connections from this host are refused by the e2e filter", "554", "5.7.1"
	end
	return "continue"
end

function filter_helo(ip, name, helo)
	if helo == "discard-me.test" then
		return "discard"
	elseif helo == "tempfail-me.test" then
		return "tempfail", "HELO deferred by the e2e filter", "450", "4.7.1"
	end
	return "continue"
end

function filter_sender(sender, ip, name, helo, info)
	if sender:match("^goaway%-") then
		return "reject", "Go away", "550", "5.7.1"
	end
	return "continue"
end

-- Postfix refuses unknown recipients itself, before the milter sees them,
-- so the recipient rules key on the sender and apply to user@example.test.
function filter_recipient(rcpt, sender, ip, name, first, helo, info)
	if rcpt == "user@example.test" then
		if sender:match("^rcpt%-tempfail%-") then
			return "tempfail", "Mailbox busy, says the e2e filter", "450", "4.2.1"
		elseif sender:match("^rcpt%-badcode%-") then
			-- A reject with a 4xx code: klaxon must refuse the filter's
			-- answer (4xx, logged), never send a 5xx it was not sure of.
			return "reject", "x", "451"
		end
	end
	return "continue"
end

-- ---------------------------------------------------------------------------
-- Message callbacks
-- ---------------------------------------------------------------------------

local function names_of(list)
	local out = {}
	for i, n in ipairs(list or {}) do
		out[i] = n
	end
	return table.concat(out, ", ")
end

function filter_begin(msg)
	local subject = msg.subject or ""
	cur.act = subject:match("ACT=([%w_]+)") or ""
	cur.tok = subject:match("ACT=[%w_]+%s+(%S+)") or ""
	cur.leaf = 0
	local act, tok = cur.act, cur.tok

	if act == "bounce" then
		action_bounce("Bounced by the e2e filter " .. tok, "554", "5.7.1")
	elseif act == "tempfail" then
		action_tempfail("Deferred by the e2e filter " .. tok, "451", "4.3.0")
	elseif act == "discard" then
		action_discard()
	elseif act == "quarantine" then
		action_quarantine_entire_message("e2e quarantine request " .. tok)
		action_accept()
	elseif act == "headers" then
		action_add_header("X-Filter-Added", "added " .. tok)
		action_change_header("X-Change-Me", "changed " .. tok)
		action_delete_header("X-Drop-Me")
	elseif act == "add_rcpt" then
		add_recipient("alerts@example.test")
	elseif act == "del_rcpt" then
		delete_recipient("alerts@example.test")
	elseif act == "chg_sender" then
		change_sender("changed-" .. tok .. "@outside.test")
	elseif act == "notify_admin" then
		action_notify_administrator("Admin notice from the e2e filter " .. tok)
	elseif act == "notify_sender" then
		action_notify_sender("Sender notice from the e2e filter " .. tok)
	elseif act == "loop" then
		while true do end -- test_filter.sh expects this line in the log
	elseif act == "error" then
		local missing = nil
		missing(tok) -- a runtime error, calling a nil value; test_filter.sh expects this line
	end
end

function filter(part, filename, extension, type)
	local act = cur.act
	cur.leaf = cur.leaf + 1 -- filter() sees the leaves in tree order
	if act == "drop_warn" and extension == ".exe" then
		action_drop_with_warning("The attachment " .. filename .. " was removed by the e2e filter " .. cur.tok)
	elseif act == "replace_warn" and extension == ".exe" then
		action_replace_with_warning("The attachment " .. filename .. " was replaced by the e2e filter " .. cur.tok)
	elseif act == "drop_alt" and type == "text/html" and part.parent and part.parent.type == "multipart/alternative" then
		action_drop()
	elseif act == "notify_sender_virus" and cur.leaf == 1 then
		-- Leaf 1 is clean text; leaf 3 holds the virus. The notice must
		-- be refused when the decision is made, after every callback.
		action_notify_sender("Sender notice from the e2e filter " .. cur.tok)
	elseif act == "virus_drop" then
		local infected, names = entity_contains_virus(part)
		if infected then
			action_drop_with_warning("A virus (" .. names_of(names) .. ") was removed from " ..
				(filename ~= "" and filename or "a part") .. " by the e2e filter " .. cur.tok)
		end
	end
end

function filter_end(msg)
	local act = cur.act
	if act == "drop_warn" or act == "replace_warn" or act == "drop_alt" or act == "notify_sender_virus" or
		act == "virus_drop" or act == "" then
		action_accept()
	end
end
