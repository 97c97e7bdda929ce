-- The Lua policy filter of tests/milter/filter_early.lua: early callbacks only.
-- run.sh starts a klaxon of its own with `filter = <this file>`.

function filter_relay(ip, name)
	if ip == "192.0.2.66" then
		return "reject", "Relay refused by the milter-test filter", "554", "5.7.1"
	end
	return "continue"
end

function filter_helo(ip, name, helo)
	if helo == "tempfail.example" then
		return "tempfail", "HELO deferred by the milter-test filter", "451", "4.7.1"
	elseif helo == "discard.example" then
		return "discard"
	end
	return "continue"
end

function filter_sender(sender, ip, name, helo, info)
	if sender == "trusted@outside.example" then
		return "accept" -- ends the early callbacks; the message is still scanned
	elseif sender == "discard@outside.example" then
		return "discard"
	elseif sender == "reject@outside.example" then
		return "reject", "Sender refused by the milter-test filter", "550", "5.7.1"
	end
	return "continue"
end

function filter_recipient(rcpt, sender, ip, name, first, helo, info)
	if rcpt == "blocked@example.test" then
		return "reject", "No such user here", "550", "5.1.1"
	end
	return "continue"
end
