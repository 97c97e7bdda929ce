-- A clean message from an external client is accepted (SMFIR_ACCEPT, or
-- SMFIR_CONTINUE with the X-Virus-Scanned header added), with no SMTP reply
-- and no quarantine. Then a second clean message on the same connection.
dofile(dir .. "/common.lua")
local conn
step("clean: protocol", function()
	conn = open(EXTERNAL_IP)
	envelope(conn, "<sender@outside.example>", {"<user@example.test>"})
	headers(conn, std_headers("clean one"))
	body(conn, "Hello,\r\n\r\nthis is a clean message.\r\n")
	eom(conn)
	expect_clean("clean", conn)
	expect("clean: no MTA quarantine requested", not mt.eom_check(conn, MT_QUARANTINE),
		"SMFIR_QUARANTINE sent")

	envelope(conn, "<sender@outside.example>", {"<user@example.test>"})
	headers(conn, std_headers("clean two"))
	body(conn, "A second clean message on the same connection.\r\n")
	eom(conn)
	expect_clean("clean/second message", conn)
end)
finish(conn)
