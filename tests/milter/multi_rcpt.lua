-- Several recipients in one transaction: one verdict for the message.
dofile(dir .. "/common.lua")
local rcpts = {"<a@example.test>", "<b@example.test>", "<c@example.test>", "<d@other.test>"}
local conn
step("multi-rcpt/clean: protocol", function()
	conn = open(EXTERNAL_IP)
	envelope(conn, "<sender@outside.example>", rcpts)
	headers(conn, std_headers("clean to four"))
	body(conn, "clean, four recipients\r\n")
	eom(conn)
	expect_clean("multi-rcpt/clean", conn)
	local deleted = {}
	for _, r in ipairs(rcpts) do
		if mt.eom_check(conn, MT_RCPTDELETE, r) then deleted[#deleted + 1] = r end
	end
	expect("multi-rcpt/clean: no recipient removed", #deleted == 0,
		"deleted " .. table.concat(deleted, ","))
end)
step("multi-rcpt/eicar: protocol", function()
	envelope(conn, "<sender@outside.example>", rcpts)
	headers(conn, std_headers("eicar to four"))
	body(conn, EICAR .. "\r\n")
	eom(conn)
	expect_reject("multi-rcpt/eicar", conn)
end)
finish(conn)
