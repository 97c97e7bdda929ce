-- The Lua filter's early callbacks (filters/filter_early.lua) through the
-- milter protocol. miltertest shows an early reply only as SMFIR_REPLYCODE
-- (its code and text are checked through Postfix by tests/e2e/test_filter.sh);
-- end-of-message replies are compared whole with MT_SMTPREPLY.
dofile(dir .. "/common.lua")

-- connect(ip): a connection whose connect step is answered with whatever
-- klaxon says (open() in common.lua insists on CONTINUE).
local function connect(ip)
	local conn = mt.connect(sock, 40, 0.25)
	if conn == nil then error("cannot connect to " .. tostring(sock)) end
	must(mt.conninfo(conn, "client.example", ip), "conninfo")
	return conn
end

-- message(conn, subject, body): headers and body after a continued envelope.
local function message(conn, subject, text)
	headers(conn, std_headers(subject))
	body(conn, text)
	return eom(conn)
end

step("filter_relay: protocol", function()
	local conn = connect("192.0.2.66")
	expect("filter_relay reject for 192.0.2.66: SMFIR_REPLYCODE at connect",
		mt.getreply(conn) == SMFIR_REPLYCODE, "got " .. reply_name(conn))
	mt.disconnect(conn)
	conn = connect(EXTERNAL_IP)
	expect("filter_relay continue for " .. EXTERNAL_IP .. ": SMFIR_CONTINUE",
		mt.getreply(conn) == SMFIR_CONTINUE, "got " .. reply_name(conn))
	mt.disconnect(conn)
end)

step("filter_helo tempfail: protocol", function()
	local conn = connect(EXTERNAL_IP)
	must(mt.helo(conn, "tempfail.example"), "helo")
	expect("filter_helo tempfail: SMFIR_REPLYCODE at HELO",
		mt.getreply(conn) == SMFIR_REPLYCODE, "got " .. reply_name(conn))
	mt.disconnect(conn)
end)

step("filter_sender accept + EICAR: protocol", function()
	local conn = open(EXTERNAL_IP)
	envelope(conn, "<trusted@outside.example>", {"<user@example.test>"})
	message(conn, "trusted sender eicar", "Here it comes:\r\n" .. EICAR .. "\r\n")
	-- "accept" never skips the scan: the built-in 550 for an external virus.
	expect_reject("filter_sender accept + EICAR", conn)
	-- accept ends the early callbacks: filter_recipient would refuse
	-- blocked@, but is not asked any more.
	envelope(conn, "<trusted@outside.example>", {"<blocked@example.test>"})
	message(conn, "trusted sender clean", "clean text\r\n")
	expect_clean("filter_sender accept, then a clean message", conn)
	mt.disconnect(conn)
end)

step("filter_sender reject: protocol", function()
	local conn = open(EXTERNAL_IP)
	must(mt.macro(conn, SMFIC_MAIL, "i", "MTREJECT1"), "macro")
	must(mt.mailfrom(conn, "<reject@outside.example>"), "mailfrom")
	expect("filter_sender reject: SMFIR_REPLYCODE at MAIL FROM",
		mt.getreply(conn) == SMFIR_REPLYCODE, "got " .. reply_name(conn))
	mt.disconnect(conn)
end)

step("filter_recipient: protocol", function()
	local conn = open(EXTERNAL_IP)
	envelope(conn, "<sender@outside.example>", {})
	must(mt.rcptto(conn, "<blocked@example.test>"), "rcptto blocked")
	expect("filter_recipient reject for blocked@: SMFIR_REPLYCODE",
		mt.getreply(conn) == SMFIR_REPLYCODE, "got " .. reply_name(conn))
	must(mt.rcptto(conn, "<user@example.test>"), "rcptto user")
	expect("filter_recipient continue for user@: SMFIR_CONTINUE",
		mt.getreply(conn) == SMFIR_CONTINUE, "got " .. reply_name(conn))
	message(conn, "one recipient refused", "clean text\r\n")
	expect_clean("filter_recipient: the message to the other recipient", conn)
	-- The refused recipient was never one of the message's: nothing to delete.
	expect("filter_recipient: no recipient deleted at end of message",
		not mt.eom_check(conn, MT_RCPTDELETE, "<user@example.test>") and
		not mt.eom_check(conn, MT_RCPTDELETE, "<blocked@example.test>"), "a recipient was deleted")
	mt.disconnect(conn)
end)

step("filter_sender discard: protocol", function()
	local conn = open(EXTERNAL_IP)
	envelope(conn, "<discard@outside.example>", {"<user@example.test>"})
	message(conn, "sender discard", "clean text\r\n")
	expect_discard("filter_sender discard (run.sh counts the .kq)", conn)
	mt.disconnect(conn)
end)

step("filter_helo discard: protocol", function()
	local conn = connect(EXTERNAL_IP)
	must(mt.helo(conn, "discard.example"), "helo")
	expect("filter_helo discard: HELO answered SMFIR_CONTINUE (discarded at end of message)",
		mt.getreply(conn) == SMFIR_CONTINUE, "got " .. reply_name(conn))
	envelope(conn, "<sender@outside.example>", {"<user@example.test>"})
	message(conn, "helo discard one", "clean text\r\n")
	expect_discard("filter_helo discard: first message", conn)
	-- It holds for every message of the connection.
	envelope(conn, "<sender@outside.example>", {"<user@example.test>"})
	message(conn, "helo discard two", "clean text\r\n")
	expect_discard("filter_helo discard: second message on the connection", conn)
	mt.disconnect(conn)
end)
finish(nil)
