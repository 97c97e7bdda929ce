#!/bin/bash
# Scenario 6: a malformed config makes `klaxon serve` exit non-zero at
# start-up with "FILE:LINE: reason" on stderr. Each variant has its error on
# line 3. No Postfix needed.
. "$(dirname "$0")/lib.sh"
e2e_begin bad-config --no-postfix

if [ ! -x "$KLAXON_BIN" ]; then
	fail "config: klaxon binary present" "$KLAXON_BIN missing"
	exit 1
fi

# write_conf FILE LINE3: a config whose third line is LINE3. A base key that
# LINE3 sets is left out (a duplicate key is an error of its own, reported on
# the later line).
write_conf() {
	local line k3
	k3=$(sed -E 's/^[[:space:]]*([a-z_]*).*/\1/' <<<"$2")
	{
		echo "# klaxon e2e: error on line 3"
		echo "milter_socket = unix:$SD/bad.sock"
		[ -n "$2" ] && echo "$2"
		for line in "scanner = libclamav" "clamav_db = $SIGS_DIR" \
			"quarantine_dir = $SD/quarantine" "spool_dir = $SD/spool" \
			"alert_spool_dir = $SD/alerts" "pid_file = $SD/klaxon.pid" "user ="; do
			[ "${line%% *}" = "$k3" ] || echo "$line"
		done
	} >"$1"
}

# bad_config NAME LINE3: serve must fail fast and point at FILE:3:.
bad_config() {
	local name=$1 conf=$SD/$1.conf rc
	write_conf "$conf" "$2"
	rm -f "$SD/bad.sock"
	timeout 15 "$KLAXON_BIN" serve --config "$conf" --foreground \
		>"$SD/$name.out" 2>"$SD/$name.err"
	rc=$?
	if [ "$rc" -eq 124 ]; then
		fail "config/$name: serve exits non-zero" "still running after 15 s (config accepted)"
	elif [ "$rc" -eq 0 ]; then
		fail "config/$name: serve exits non-zero" "exit status 0"
	else
		pass "config/$name: serve exits non-zero ($rc)"
	fi
	if grep -q -F -e "$conf:3:" "$SD/$name.err"; then
		pass "config/$name: stderr names $(basename "$conf"):3:"
	else
		fail "config/$name: stderr names $(basename "$conf"):3:" \
			"stderr: $(head -c 300 "$SD/$name.err" | tr '\n' '|')"
	fi
	check "config/$name: no milter socket created" "$SD/bad.sock exists" \
		test ! -e "$SD/bad.sock"
}

bad_config unknown-key "no_such_key = 1"
bad_config bad-scanner "scanner = nosuchscanner"
bad_config no-equals "this line has no equals sign"
bad_config bad-cidr "internal_networks = 10.0.0.0/33"
bad_config bad-size "max_message_size = lots"
bad_config duplicate-key "milter_socket = unix:$SD/other.sock" # line 2 set it

# Control: the same file without the bad line is accepted.
write_conf "$SD/good.conf" ""
if timeout 15 "$KLAXON_BIN" config --config "$SD/good.conf" --dump \
	>"$SD/good.out" 2>"$SD/good.err"; then
	pass "config/control: the valid variant passes config --dump"
else
	fail "config/control: the valid variant passes config --dump" \
		"stderr: $(head -c 300 "$SD/good.err" | tr '\n' '|')"
fi

e2e_finish
