-- A message with headers and no body at all (no body chunk is sent), and one
-- whose only body chunk is an empty line.
dofile(dir .. "/common.lua")
local conn
step("empty-body: protocol", function()
	conn = open(EXTERNAL_IP)
	envelope(conn, "<sender@outside.example>", {"<user@example.test>"})
	headers(conn, std_headers("no body"))
	eom(conn)
	expect_clean("empty-body/no chunk", conn)
end)
step("empty-body/blank-line: protocol", function()
	envelope(conn, "<sender@outside.example>", {"<user@example.test>"})
	headers(conn, std_headers("blank body"))
	body(conn, "\r\n")
	eom(conn)
	expect_clean("empty-body/blank line", conn)
end)
finish(conn)
