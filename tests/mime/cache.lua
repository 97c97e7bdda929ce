-- The outbreak verdict cache (src/vcache.h) through the daemon: one klaxon
-- serve process keeps its cache across messages, which `klaxon check` cannot.
-- Run by tests/mime/mime_test.py as
--   miltertest -s tests/milter/wrap.lua -D script=tests/mime/cache.lua
--     -D sock=unix:... -D dir=tests/milter -D payload=<base64 text>
-- Four messages on one connection, each with different text and headers:
--   1, 2: the same clean attachment (payload)  -> accepted both times
--   3, 4: the same EICAR attachment            -> rejected both times
-- mime_test.py then reads the daemon's "cache=H/L" log fields: messages 2
-- and 4 must show a hit.
dofile(dir .. "/common.lua")

local EICAR_B64 = "WDVPIVAlQEFQWzRcUFpYNTQoUF4pN0NDKTd9JEVJQ0FSLVNUQU5EQVJELUFOVElWSVJVUy1URVNU\r\n" ..
	"LUZJTEUhJEgrSCo=\r\n"

local function wrap76(s)
	local out = {}
	for i = 1, #s, 76 do out[#out + 1] = s:sub(i, i + 75) end
	return table.concat(out, "\r\n") .. "\r\n"
end

local function send(conn, n, subject, b64)
	envelope(conn, "<sender@outside.example>", {"<user@example.test>"})
	local h = std_headers(subject)
	h[#h + 1] = {"MIME-Version", "1.0"}
	h[#h + 1] = {"Content-Type", "multipart/mixed; boundary=\"cb" .. n .. "\""}
	headers(conn, h)
	body(conn, "--cb" .. n .. "\r\nContent-Type: text/plain\r\n\r\nmessage number " .. n ..
		", different each time\r\n" ..
		"--cb" .. n .. "\r\nContent-Type: application/octet-stream; name=\"same.bin\"\r\n" ..
		"Content-Transfer-Encoding: base64\r\n\r\n" .. b64 .. "--cb" .. n .. "--\r\n")
	return eom(conn)
end

local conn
step("mime/cache: protocol", function()
	conn = open(EXTERNAL_IP)
	local clean = wrap76(payload)
	send(conn, 1, "outbreak one", clean)
	expect_clean("mime/cache: first message with the payload", conn)
	send(conn, 2, "outbreak two", clean)
	expect_clean("mime/cache: second message with the same payload", conn)
	send(conn, 3, "eicar one", EICAR_B64)
	expect_reject("mime/cache: first EICAR attachment", conn)
	send(conn, 4, "eicar two", EICAR_B64)
	expect_reject("mime/cache: second EICAR attachment (from the cache)", conn)
end)
finish(conn)
