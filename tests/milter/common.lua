-- Shared helpers for klaxon's miltertest scripts (loaded with dofile).
--
-- Every script is run by tests/milter/run.sh as
--     miltertest -s SCRIPT.lua -D sock=unix:/path/klaxon.sock -D dir=tests/milter
-- against a running `klaxon serve` (libclamav back end, tests/sigs,
-- internal_networks = 10.0.0.0/8, trust_authenticated = yes,
-- scanned_header = X-Virus-Scanned).
--
-- Each check prints exactly one line, "PASS: name" or "FAIL: name: reason".
-- miltertest itself exits 1 with no message on any Lua error, so protocol
-- steps go through step(), which turns an error into a FAIL line, and
-- finish() ends the script with an error (exit 1) if anything failed.

EICAR = 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-' .. 'STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'
EICAR_SIG = "Klaxon.Test.EICAR.UNOFFICIAL"
-- run.sh sets reply_virus = "550 5.7.1 Virus found: %v"; mt.eom_check() can
-- only compare a whole reply, so the scripts know the exact text to expect.
REPLY_PREFIX = "Virus found: "
EXTERNAL_IP = "192.0.2.10"  -- TEST-NET-1, not in internal_networks
INTERNAL_IP = "10.1.2.3"    -- in internal_networks

failures = 0
local qid_seq = 0

function pass(name) mt.echo("PASS: " .. name) end

function fail(name, why)
	mt.echo("FAIL: " .. name .. ": " .. tostring(why))
	failures = failures + 1
end

function expect(name, cond, why)
	if cond then pass(name) else fail(name, why) end
	return cond
end

local names = {}
for _, n in ipairs({"SMFIR_ACCEPT", "SMFIR_CONTINUE", "SMFIR_DISCARD", "SMFIR_REJECT",
		"SMFIR_TEMPFAIL", "SMFIR_REPLYCODE", "SMFIR_ADDHEADER", "SMFIR_INSHEADER",
		"SMFIR_CHGHEADER", "SMFIR_QUARANTINE", "SMFIR_SKIP"}) do
	if _G[n] ~= nil then names[_G[n]] = n end
end

-- reply_name(conn): the last reply as a readable name, e.g. "SMFIR_ACCEPT".
function reply_name(conn)
	local r = mt.getreply(conn)
	return names[r] or ("reply " .. tostring(r))
end

-- must(err, what): miltertest functions return nil or an error string.
function must(err, what)
	if err ~= nil then error(what .. ": " .. tostring(err), 2) end
end

-- step(name, fn): run fn(); a Lua error becomes "FAIL: name: error".
function step(name, fn)
	local ok, err = pcall(fn)
	if not ok then fail(name, err) end
	return ok
end

-- open(ip): connect to klaxon and send the connection info for client ip.
-- The reply to connect must be CONTINUE (origin is decided, nothing else).
function open(ip)
	local conn = mt.connect(sock, 40, 0.25)
	if conn == nil then error("cannot connect to " .. tostring(sock)) end
	must(mt.conninfo(conn, "client.example", ip), "conninfo")
	if mt.getreply(conn) ~= SMFIR_CONTINUE then
		error("connect: expected SMFIR_CONTINUE, got " .. reply_name(conn))
	end
	must(mt.helo(conn, "client.example"), "helo")
	return conn
end

-- envelope(conn, from, rcpts, macros): MAIL FROM (with the "i" queue-id macro
-- and any extra {name}=value pairs in macros) and every RCPT TO; each must be
-- answered CONTINUE.
function envelope(conn, from, rcpts, macros)
	qid_seq = qid_seq + 1
	local args = {"i", string.format("MT%06d%s", qid_seq, tostring(os.time()):sub(-4))}
	for k, v in pairs(macros or {}) do
		args[#args + 1] = k
		args[#args + 1] = v
	end
	must(mt.macro(conn, SMFIC_MAIL, table.unpack(args)), "macro")
	must(mt.mailfrom(conn, from), "mailfrom")
	if mt.getreply(conn) ~= SMFIR_CONTINUE then
		error("MAIL FROM: expected SMFIR_CONTINUE, got " .. reply_name(conn))
	end
	for _, r in ipairs(rcpts) do
		must(mt.rcptto(conn, r), "rcptto")
		if mt.getreply(conn) ~= SMFIR_CONTINUE then
			error("RCPT TO " .. r .. ": expected SMFIR_CONTINUE, got " .. reply_name(conn))
		end
	end
end

-- headers(conn, list): send {name, value} pairs, then end-of-headers.
function headers(conn, list)
	for _, h in ipairs(list) do
		must(mt.header(conn, h[1], h[2]), "header " .. h[1])
		if mt.getreply(conn) ~= SMFIR_CONTINUE then
			error("header " .. h[1] .. ": expected SMFIR_CONTINUE, got " .. reply_name(conn))
		end
	end
	must(mt.eoh(conn), "eoh")
	if mt.getreply(conn) ~= SMFIR_CONTINUE then
		error("eoh: expected SMFIR_CONTINUE, got " .. reply_name(conn))
	end
end

-- body(conn, chunk...): send body chunks; each must be answered CONTINUE.
function body(conn, ...)
	for _, chunk in ipairs({...}) do
		must(mt.bodystring(conn, chunk), "bodystring")
		if mt.getreply(conn) ~= SMFIR_CONTINUE then
			error("body: expected SMFIR_CONTINUE, got " .. reply_name(conn))
		end
	end
end

-- std_headers(subject): a plausible header block.
function std_headers(subject)
	return {
		{"From", "<sender@outside.example>"},
		{"To", "<user@example.test>"},
		{"Subject", subject},
		{"Date", "Fri, 27 Nov 2026 09:00:00 +0000"},
		{"Message-ID", "<" .. subject:gsub("%W", "") .. "@outside.example>"},
	}
end

-- eom(conn): end of message; returns the reply code.
function eom(conn)
	must(mt.eom(conn), "eom")
	return mt.getreply(conn)
end

-- The verdict checks used by several scripts.
function expect_clean(name, conn)
	local r = mt.getreply(conn)
	expect(name .. ": accepted (ACCEPT or CONTINUE)",
		r == SMFIR_ACCEPT or r == SMFIR_CONTINUE, "got " .. reply_name(conn))
	expect(name .. ": X-Virus-Scanned header added",
		mt.eom_check(conn, MT_HDRADD, "X-Virus-Scanned") or
		mt.eom_check(conn, MT_HDRINSERT, "X-Virus-Scanned"), "no header added")
end

-- expect_reject(name, conn[, virus]): SMFIR_REPLYCODE "550 5.7.1 Virus found:
-- <virus>" (virus defaults to the EICAR signature).
function expect_reject(name, conn, virus)
	virus = virus or EICAR_SIG
	expect(name .. ": SMFIR_REPLYCODE", mt.getreply(conn) == SMFIR_REPLYCODE,
		"got " .. reply_name(conn))
	expect(name .. ": reply 550 5.7.1 naming " .. virus,
		mt.eom_check(conn, MT_SMTPREPLY, "550", "5.7.1", REPLY_PREFIX .. virus),
		"no '550 5.7.1 " .. REPLY_PREFIX .. virus .. "' reply requested")
end

function expect_discard(name, conn)
	expect(name .. ": SMFIR_DISCARD", mt.getreply(conn) == SMFIR_DISCARD,
		"got " .. reply_name(conn))
end

function finish(conn)
	if conn ~= nil then mt.disconnect(conn) end
	if failures > 0 then error(failures .. " check(s) failed") end
end
