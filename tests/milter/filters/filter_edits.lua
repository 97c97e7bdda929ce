-- The Lua policy filter of tests/milter/filter_edits.lua: message actions,
-- picked by the Subject "edits: <word>". run.sh starts a klaxon of its own
-- with `filter = <this file>`.

local cur = {act = ""}

function filter_begin(msg)
	cur.act = (msg.subject or ""):match("^edits: (%w+)") or ""
	local act = cur.act
	if act == "headers" then
		action_add_header("X-Added", "yes")
		action_change_header("X-Change-Me", "new value")
		action_delete_header("X-Drop-Me")
		add_recipient("added@example.test")
		delete_recipient("gone@example.test")
		change_sender("new-sender@example.test")
	elseif act == "bounce" then
		action_add_header("X-Added", "yes") -- never applied: the message is refused
		action_bounce("Not wanted here", "554", "5.7.1")
	elseif act == "tempfail" then
		action_tempfail("Come back later", "451", "4.7.1")
	elseif act == "discard" then
		action_discard()
	elseif act == "error" then
		error("deliberate error in the milter-test filter")
	end
end

function filter(part, filename, extension, type)
	if cur.act == "drop" and filename == "drop.me" then
		action_drop()
	end
end

function filter_end(msg)
	if cur.act == "drop" or cur.act == "headers" then
		action_accept()
	end
end
