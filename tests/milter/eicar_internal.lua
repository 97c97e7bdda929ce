-- Internal origin means quarantine + discard (SMFIR_DISCARD):
--   * {auth_authen}=alice at MAIL FROM, from an external address
--   * no authentication, from an address in internal_networks
-- And the control cases that must stay external (SMFIR_REPLYCODE 550):
--   * an empty {auth_authen}
--   * a later message on the same connection without {auth_authen}
-- run.sh checks that exactly two .kq files appeared.
dofile(dir .. "/common.lua")
local conn
step("eicar/auth_authen: protocol", function()
	conn = open(EXTERNAL_IP)
	envelope(conn, "<alice@example.test>", {"<user@example.test>"}, {["{auth_authen}"] = "alice",
		["{auth_type}"] = "PLAIN"})
	headers(conn, std_headers("eicar authenticated"))
	body(conn, EICAR .. "\r\n")
	eom(conn)
	expect_discard("eicar/auth_authen=alice from external IP", conn)
end)
step("eicar/empty-auth_authen: protocol", function()
	envelope(conn, "<alice@example.test>", {"<user@example.test>"}, {["{auth_authen}"] = ""})
	headers(conn, std_headers("eicar empty auth"))
	body(conn, EICAR .. "\r\n")
	eom(conn)
	expect_reject("eicar/empty auth_authen stays external", conn)
end)
step("eicar/no-auth-next-message: protocol", function()
	envelope(conn, "<bob@outside.example>", {"<user@example.test>"})
	headers(conn, std_headers("eicar after auth"))
	body(conn, EICAR .. "\r\n")
	eom(conn)
	expect_reject("eicar/next message without auth_authen is external", conn)
	mt.disconnect(conn)
	conn = nil
end)
step("eicar/internal-ip: protocol", function()
	conn = open(INTERNAL_IP)
	envelope(conn, "<host@example.test>", {"<user@example.test>"})
	headers(conn, std_headers("eicar internal ip"))
	body(conn, EICAR .. "\r\n")
	eom(conn)
	expect_discard("eicar/client in internal_networks", conn)
end)
finish(conn)
