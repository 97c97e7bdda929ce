-- The Lua filter's message actions (filters/filter_edits.lua) as milter
-- requests at end of message: header, recipient and body edits on accept
-- (MT_HDRADD, MT_HDRCHANGE, MT_HDRDELETE, MT_RCPTADD, MT_RCPTDELETE,
-- MT_BODYCHANGE), the filter's own replies (MT_SMTPREPLY), discard, a
-- filter error, and a virus the filter would accept with edits.
-- (change_sender is SMFIR_CHGFROM, which mt.eom_check() cannot test; the
-- e2e test checks the Return-Path.) Bodies stay small: miltertest reads
-- each end-of-message request into a 1 KB buffer.
dofile(dir .. "/common.lua")

-- klaxon asks for SMFIP_HDR_LEADSPC, under which a value's leading space is
-- part of the value; accept the value with or without it here (the e2e test
-- checks what the MTA writes).
local function hdr(op, name, value)
	return mt.eom_check(conn_, op, name, value) or mt.eom_check(conn_, op, name, " " .. value)
end

local rcpts = {"<user@example.test>", "<gone@example.test>"}

step("edits/headers+envelope: protocol", function()
	conn_ = open(EXTERNAL_IP)
	envelope(conn_, "<sender@outside.example>", rcpts)
	local h = std_headers("edits: headers")
	h[#h + 1] = {"X-Drop-Me", "please"}
	h[#h + 1] = {"X-Change-Me", "old value"}
	headers(conn_, h)
	body(conn_, "clean text\r\n")
	eom(conn_)
	expect_clean("edits/headers+envelope", conn_)
	expect("edits: MT_HDRADD X-Added: yes", hdr(MT_HDRADD, "X-Added", "yes"), "not added")
	expect("edits: MT_HDRCHANGE X-Change-Me: new value", hdr(MT_HDRCHANGE, "X-Change-Me", "new value"),
		"not changed")
	expect("edits: MT_HDRDELETE X-Drop-Me", mt.eom_check(conn_, MT_HDRDELETE, "X-Drop-Me"), "not deleted")
	expect("edits: MT_RCPTADD <added@example.test>", mt.eom_check(conn_, MT_RCPTADD, "<added@example.test>"),
		"not added")
	expect("edits: MT_RCPTDELETE <gone@example.test>",
		mt.eom_check(conn_, MT_RCPTDELETE, "<gone@example.test>"), "not deleted")
	expect("edits: the other recipient kept", not mt.eom_check(conn_, MT_RCPTDELETE, "<user@example.test>"),
		"user@ deleted")
	expect("edits: no body change without a part action", not mt.eom_check(conn_, MT_BODYCHANGE),
		"body replaced")
end)

local drop_body = "--b1\r\nContent-Type: text/plain\r\n\r\nkeep me\r\n" ..
	"--b1\r\nContent-Type: application/octet-stream; name=\"drop.me\"\r\n" ..
	"Content-Disposition: attachment; filename=\"drop.me\"\r\n\r\nremove this\r\n" ..
	"--b1--\r\n"
-- The same without the dropped part and its delimiter line: kept bytes are
-- copied as they were (rebuild.h).
local dropped_body = "--b1\r\nContent-Type: text/plain\r\n\r\nkeep me\r\n--b1--\r\n"

step("edits/drop: protocol", function()
	envelope(conn_, "<sender@outside.example>", {"<user@example.test>"})
	local h = std_headers("edits: drop")
	h[#h + 1] = {"MIME-Version", "1.0"}
	h[#h + 1] = {"Content-Type", "multipart/mixed; boundary=\"b1\""}
	headers(conn_, h)
	body(conn_, drop_body)
	eom(conn_)
	expect_clean("edits/drop", conn_)
	expect("edits/drop: MT_BODYCHANGE", mt.eom_check(conn_, MT_BODYCHANGE), "body not replaced")
	expect("edits/drop: the new body is not the old one", not mt.eom_check(conn_, MT_BODYCHANGE, drop_body),
		"body replaced by itself")
	expect("edits/drop: the new body is the old one without drop.me and its delimiter",
		mt.eom_check(conn_, MT_BODYCHANGE, dropped_body), "some other body")
	expect("edits/drop: no header or recipient edit", not mt.eom_check(conn_, MT_HDRADD, "X-Added") and
		not mt.eom_check(conn_, MT_RCPTADD, "<added@example.test>"), "edited")
end)

step("edits/bounce: protocol", function()
	envelope(conn_, "<sender@outside.example>", {"<user@example.test>"})
	headers(conn_, std_headers("edits: bounce"))
	body(conn_, "clean text\r\n")
	eom(conn_)
	expect("edits/bounce: SMFIR_REPLYCODE", mt.getreply(conn_) == SMFIR_REPLYCODE, "got " .. reply_name(conn_))
	expect("edits/bounce: 554 5.7.1 Not wanted here",
		mt.eom_check(conn_, MT_SMTPREPLY, "554", "5.7.1", "Not wanted here"), "another reply")
	expect("edits/bounce: the filter's header edit is not applied to a refused message",
		not mt.eom_check(conn_, MT_HDRADD, "X-Added"), "X-Added added")
end)

step("edits/tempfail: protocol", function()
	envelope(conn_, "<sender@outside.example>", {"<user@example.test>"})
	headers(conn_, std_headers("edits: tempfail"))
	body(conn_, "clean text\r\n")
	eom(conn_)
	expect("edits/tempfail: SMFIR_REPLYCODE", mt.getreply(conn_) == SMFIR_REPLYCODE, "got " .. reply_name(conn_))
	expect("edits/tempfail: 451 4.7.1 Come back later",
		mt.eom_check(conn_, MT_SMTPREPLY, "451", "4.7.1", "Come back later"), "another reply")
end)

step("edits/discard: protocol", function()
	envelope(conn_, "<sender@outside.example>", {"<user@example.test>"})
	headers(conn_, std_headers("edits: discard"))
	body(conn_, "clean text\r\n")
	eom(conn_)
	expect_discard("edits/discard (run.sh counts the .kq)", conn_)
end)

step("edits/error: protocol", function()
	envelope(conn_, "<sender@outside.example>", {"<user@example.test>"})
	headers(conn_, std_headers("edits: error"))
	body(conn_, "clean text\r\n")
	eom(conn_)
	expect("edits/error: SMFIR_REPLYCODE", mt.getreply(conn_) == SMFIR_REPLYCODE, "got " .. reply_name(conn_))
	expect("edits/error: 451 4.7.1, the configured tempfail reply",
		mt.eom_check(conn_, MT_SMTPREPLY, "451", "4.7.1",
			"Message could not be processed (policy filter error), please try again later"), "another reply")
end)

step("edits/virus: protocol", function()
	-- The filter accepts with edits; a virus is never accepted: the built-in
	-- 550, and none of the edits.
	envelope(conn_, "<sender@outside.example>", rcpts)
	local h = std_headers("edits: headers")
	h[#h + 1] = {"X-Drop-Me", "please"}
	h[#h + 1] = {"X-Change-Me", "old value"}
	headers(conn_, h)
	body(conn_, EICAR .. "\r\n")
	eom(conn_)
	expect_reject("edits/virus", conn_)
	expect("edits/virus: no header, recipient or body edit",
		not mt.eom_check(conn_, MT_HDRADD, "X-Added") and not mt.eom_check(conn_, MT_HDRCHANGE) and
		not mt.eom_check(conn_, MT_RCPTADD, "<added@example.test>") and
		not mt.eom_check(conn_, MT_RCPTDELETE, "<gone@example.test>") and not mt.eom_check(conn_, MT_BODYCHANGE),
		"an edit was requested")
end)
finish(conn_)
