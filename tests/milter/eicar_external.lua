-- EICAR from an external client: SMFIR_REPLYCODE with 550 5.7.1 (the text,
-- which names the virus, is checked by the e2e tests: miltertest cannot read
-- it). Variants: the signature split across two body chunks, EICAR base64-
-- encoded in a MIME attachment, and EICAR in a header of a bodiless message.
dofile(dir .. "/common.lua")
local conn
step("eicar/external: protocol", function()
	conn = open(EXTERNAL_IP)
	envelope(conn, "<sender@outside.example>", {"<user@example.test>"})
	headers(conn, std_headers("eicar external"))
	body(conn, "Here it comes:\r\n" .. EICAR .. "\r\n")
	eom(conn)
	expect_reject("eicar/external", conn)
	expect("eicar/external: no X-Virus-Scanned on a rejected message",
		not mt.eom_check(conn, MT_HDRADD, "X-Virus-Scanned"), "header added anyway")
end)

step("eicar/split-chunks: protocol", function()
	envelope(conn, "<sender@outside.example>", {"<user@example.test>"})
	headers(conn, std_headers("eicar split"))
	local cut = 20
	body(conn, "first chunk\r\n" .. EICAR:sub(1, cut), EICAR:sub(cut + 1) .. "\r\n")
	eom(conn)
	expect_reject("eicar/split-chunks", conn)
end)

step("eicar/base64-attachment: protocol", function()
	-- EICAR base64-encoded (the standard encoding of the 68-byte string).
	local b64 = "WDVPIVAlQEFQWzRcUFpYNTQoUF4pN0NDKTd9JEVJQ0FSLVNUQU5EQVJELUFOVElWSVJVUy1URVNU\r\nLUZJTEUhJEgrSCo=\r\n"
	envelope(conn, "<sender@outside.example>", {"<user@example.test>"})
	local h = std_headers("eicar attachment")
	h[#h + 1] = {"MIME-Version", "1.0"}
	h[#h + 1] = {"Content-Type", "multipart/mixed; boundary=\"b1\""}
	headers(conn, h)
	body(conn, "--b1\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n" ..
		"--b1\r\nContent-Type: application/octet-stream; name=\"e.com\"\r\n" ..
		"Content-Transfer-Encoding: base64\r\n" ..
		"Content-Disposition: attachment; filename=\"e.com\"\r\n\r\n" ..
		b64 .. "--b1--\r\n")
	eom(conn)
	expect_reject("eicar/base64-attachment", conn)
end)

step("eicar/in-header-empty-body: protocol", function()
	envelope(conn, "<sender@outside.example>", {"<user@example.test>"})
	local h = std_headers("eicar header")
	h[#h + 1] = {"X-Payload", EICAR}
	headers(conn, h)
	eom(conn)
	expect_reject("eicar/in-header-empty-body", conn)
end)
finish(conn)
