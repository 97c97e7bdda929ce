-- scripts/try.lua: three messages through the milter protocol, as an MTA
-- would send them. Run by scripts/try.sh; -D sock=... -D ip=... -D body=...
local conn = mt.connect(sock, 20, 0.25)
if conn == nil then error("cannot connect to " .. sock) end
mt.macro(conn, SMFIC_CONNECT, "j", "try.example")
if mt.conninfo(conn, "client.example", ip) ~= nil then error("conninfo failed") end
mt.macro(conn, SMFIC_MAIL, "i", "TRY" .. string.upper(kind))
if mt.mailfrom(conn, "<sender@example.com>") ~= nil then error("mailfrom failed") end
if mt.rcptto(conn, "<user@example.org>") ~= nil then error("rcptto failed") end
mt.header(conn, "From", "sender@example.com")
mt.header(conn, "To", "user@example.org")
mt.header(conn, "Subject", "klaxon try: " .. kind)
mt.eoh(conn)
mt.bodystring(conn, body .. "\r\n")
mt.eom(conn)
local r = mt.getreply(conn)
if r == SMFIR_ACCEPT or r == SMFIR_CONTINUE then
	print(kind .. ": accepted" .. (mt.eom_check(conn, MT_HDRADD, "X-Virus-Scanned") and " (X-Virus-Scanned added)" or ""))
elseif r == SMFIR_REPLYCODE or r == SMFIR_REJECT then
	print(kind .. ": rejected with an SMTP 5xx (see the daemon's log line for the text)")
elseif r == SMFIR_DISCARD then
	print(kind .. ": discarded after a quarantine copy (see var/quarantine)")
elseif r == SMFIR_TEMPFAIL then
	print(kind .. ": tempfailed (4xx)")
else
	print(kind .. ": reply " .. tostring(r))
end
mt.disconnect(conn)
