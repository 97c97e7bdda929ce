-- conf/filter.lua - klaxon's built-in policy, written as a Lua filter.
--
-- With `filter = /etc/klaxon/filter.lua` in klaxon.conf this file decides
-- exactly what klaxon decides without it (tests/filter/run.sh checks that,
-- message by message). Start your own policy from here; docs/filter.md is
-- the manual. Check a change with `klaxon filter --test filter.lua`, then
-- `klaxon reload`: a filter that does not compile leaves the old one running.
--
-- klaxon has parsed and scanned the whole message before filter_begin runs,
-- so unlike MIMEDefang there is nothing to scan here: msg.verdict already
-- says "clean", "virus", "banned", "limit" or "anomaly". (Scanner errors and
-- oversized mail never get here: they are tempfailed or refused first.)
-- The replies below are klaxon.conf's reply_* defaults; a filter owns its
-- replies, so edit them here rather than there.

-- Reply text may not hold control characters (they would split the SMTP
-- reply) and '%' is kept out because some MTAs treat reply text as a
-- format: klaxon's own replies turn both into '?', and so do we.
local function clean(s, max)
	return (s:gsub("[%c%%]", "?"):sub(1, max or 255))
end

-- "A, B and 3 more": the same bound as the built-in reply, so a message
-- carrying forty different worms still gets a reply that fits on a line.
local function virus_list(names)
	local out = ""
	for i, name in ipairs(names) do
		local one = clean(name, 319)
		if #out + #one + 32 >= 400 or #out > 240 then
			return out .. string.format(" and %d more", #names - i + 1)
		end
		out = out .. (i > 1 and ", " or "") .. one
	end
	return out
end

-- Viruses first: a virus is the strongest verdict (a message may also have
-- a banned name or a limit; the verdict already says which rule won).
function filter_begin(msg)
	local infected, names = message_contains_virus()
	if not infected then
		return
	end
	if msg.origin == "external" then
		-- Refuse it during SMTP. The sending MTA keeps the message and
		-- bounces it, virus and all, to the (usually forged) sender, whose
		-- own scanner throws it away. We never write to the sender.
		action_bounce("Message rejected: virus found: " .. virus_list(names), "550", "5.7.1")
	else
		-- One of our own machines is infected. Keep a durable copy (klaxon
		-- writes it before it tells the MTA to discard), drop the message,
		-- and tell the admins, whose alert names the client address, user,
		-- envelope, viruses and quarantine id so the machine can be found.
		action_quarantine_entire_message()
		action_discard()
		action_notify_administrator("Virus found in mail from an internal host: " .. virus_list(names))
	end
end

-- The MIME verdicts. klaxon has matched banned_extensions against every
-- filename in every reading of the message, inside archives too, so we use
-- its answer rather than look at part.filename again (which would see only
-- the default reading). Banned mail is refused for both origins, so the
-- sender learns it was not delivered.
function filter_end(msg)
	if msg.verdict == "banned" then
		action_bounce("Message rejected: " .. clean(msg.banned), "554", "5.7.1")
	elseif msg.verdict == "limit" then
		-- Never accepted: klaxon could not read all of it.
		action_bounce("Message rejected: MIME structure over a limit (" .. clean(msg.limit) .. ")",
			"554", "5.6.0")
	elseif msg.verdict == "anomaly" then
		-- Only when klaxon.conf's anomalies_refuse names a flag it has;
		-- msg.reason names those flags (msg.flags has every one found).
		action_bounce("Message rejected: malformed MIME (" .. clean(msg.reason) .. ")", "554", "5.6.0")
	elseif msg.verdict == "clean" then
		action_accept()
	end
end
