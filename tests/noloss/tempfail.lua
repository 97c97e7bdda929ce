-- One EICAR message from an internal client; the test expects SMFIR_TEMPFAIL
-- because klaxon cannot keep its promise (spool or quarantine broken).
local conn = mt.connect(sock, 40, 0.25)
if conn == nil then error("cannot connect to " .. sock) end
if mt.conninfo(conn, "pc.example", "127.0.0.1") ~= nil then error("conninfo") end
if mt.mailfrom(conn, "<a@example.com>") ~= nil then error("mailfrom") end
if mt.rcptto(conn, "<b@example.org>") ~= nil then error("rcptto") end
mt.header(conn, "Subject", "no-loss test")
mt.eoh(conn)
mt.bodystring(conn, "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*\r\n")
mt.eom(conn)
local r = mt.getreply(conn)
if r ~= SMFIR_TEMPFAIL and r ~= SMFIR_REPLYCODE then
	error("expected a tempfail, got " .. tostring(r))
end
mt.disconnect(conn)
