-- docs/examples/minimum.lua - MIMEDefang's "suggested minimum-protection
-- filter for Microsoft Windows clients" (examples/suggested-minimum-filter-
-- for-windows-clients in MIMEDefang 3.3), ported to klaxon. docs/filter.md
-- shows the two side by side and says what changed and why.
--
-- Unlike klaxon's default (conf/filter.lua), this policy discards viruses
-- from outside too, and delivers mail with a bad attachment after removing
-- it, with a warning in its place. klaxon keeps a durable copy of the whole
-- original message before either.
--
--   klaxon filter --test docs/examples/minimum.lua

-- $bad_exts: Lua patterns have no alternation, so the extensions are a set.
local bad_exts = {}
for ext in ([[ade adp app asd asf asx bas bat chm cmd com cpl crt dll exe fxp hlp
		hta hto inf ini ins isp js jse lib lnk mdb mde msc msi msp mst ocx pcd pif
		prg reg scr sct sh shb shs sys url vb vbe vbs vcs vxd wmd wms wmz wsc wsf
		wsh]]):gmatch("%S+") do
	bad_exts[ext] = true
end

-- '\.' . $bad_exts . '\.*$', case-insensitive as re_match is: a bad
-- extension or a CLSID ("{...}") at the end, trailing dots allowed.
local function bad_name(name)
	name = name:lower():match("^(.-)%.*$")
	if name:find("%.{[^}]+}$") then
		return true
	end
	local ext = name:match("%.([^.]+)$")
	return ext ~= nil and bad_exts[ext] == true
end

-- filter_bad_filename($entity). re_match looks at every place a name can
-- hide; part.filenames holds every one of them, decoded (RFC 2047, 2231).
-- re_match_in_zip_directory: klaxon has already matched the member names of
-- zip, 7z, rar, tar, cab ... archives against banned_extensions, and marks
-- the part "banned" when one matched.
local function filter_bad_filename(part)
	for _, name in ipairs(part.filenames) do
		if bad_name(name) then
			return true
		end
	end
	return part.verdict == "banned"
end

-- A name from the message, made safe for a reply, a warning or a log line:
-- a control character or a text over the limit (400 bytes for a reply) is a
-- Lua error (a 4xx), and the sender chooses the bytes and length of a name.
local function shown(s)
	return (s:gsub("[%c%%]", "?"):sub(1, 100))
end

-- MIMEDefang's warning; each warning becomes one paragraph of WARNING.TXT.
local function hazard(what)
	return "An attachment " .. what .. " was removed from this document as it " ..
		"constituted a security hazard.  If you require this document, please contact " ..
		"the sender and arrange an alternate means of receiving it."
end

-- MIMEDefang's message_rejected() and the globals it keeps per message:
-- filter() and filter_multipart() get the part, not the message, so the
-- message's state lives here, reset by filter_begin for each message.
local current = {}

function filter_begin(msg)
	current = {rejected = false, dropped = false}

	-- $SuspiciousCharsInHeaders: a NUL or a bare CR in a header.
	for _, flag in ipairs(msg.flags) do
		if flag == "header-nul" or flag == "header-bare-cr" then
			action_quarantine_entire_message("Message quarantined because of suspicious characters in headers")
			current.rejected = true
			return action_discard()
		end
	end

	-- md_copy_orig_msg_to_work_dir_as_mbox_file() is not needed: klaxon has
	-- scanned the raw message and every decoded part already.
	local infected, names = message_contains_virus()
	if infected then
		md_syslog("warning", "Discarding because of virus " .. shown(table.concat(names, ", ")))
		current.rejected = true
		return action_discard()
	end
	-- action_tempfail("Problem running virus-scanner") is gone: a scanner
	-- failure is a 4xx before any filter runs.
end

function filter(part, fname, ext, type)
	if current.rejected then
		return -- message_rejected(): avoid unnecessary work
	end
	if type == "message/partial" then -- part.type is lower case already
		current.rejected = true
		return action_bounce("MIME type message/partial not accepted here")
	end
	if filter_bad_filename(part) then
		md_syslog("info", "bad_filename " .. shown(fname) .. " " .. shown(type))
		current.dropped = true
		return action_drop_with_warning(hazard("named " .. shown(fname)))
	end
	-- MIMEDefang's "return action_accept()" here keeps the part. Keeping is
	-- the default in klaxon, where action_accept() is the message's action.
end

-- Containers: multipart/*, message/rfc822.
function filter_multipart(part, fname, ext, type)
	if current.rejected then
		return
	end
	if filter_bad_filename(part) then
		md_syslog("info", "bad_filename " .. shown(fname) .. " " .. shown(type))
		action_notify_administrator("A MULTIPART attachment of type " .. shown(type) .. ", named " ..
			shown(fname) .. " was dropped.")
		current.dropped = true
		return action_drop_with_warning(hazard("of type " .. shown(type) .. ", named " .. shown(fname)))
	end
	if type == "message/partial" then
		current.rejected = true
		return action_bounce("MIME type message/partial not accepted here")
	end
end

function filter_end(msg)
	if current.rejected then
		return
	end
	-- The SpamAssassin block has no counterpart: klaxon does not score spam.
	-- What klaxon found that the per-part checks above could not remove:
	if msg.verdict == "banned" and not current.dropped then
		-- a banned name only another reading of the message shows
		action_bounce("Message rejected: " .. shown(msg.banned))
	elseif msg.verdict == "limit" then
		-- klaxon could not read all of it ($MaxMIMEParts, and more)
		action_bounce("Message rejected: MIME structure over a limit (" .. shown(msg.limit) .. ")",
			"554", "5.6.0")
	elseif msg.verdict == "anomaly" then
		-- only when klaxon.conf's anomalies_refuse names one of its flags
		action_bounce("Message rejected: malformed MIME", "554", "5.6.0")
	end
	-- action_rebuild() is not needed: when parts are dropped klaxon always
	-- writes the message anew as valid MIME, and refuses (554 5.6.0) one it
	-- cannot read one way only.
end
