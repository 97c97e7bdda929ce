#!/bin/bash
# Scenario 7: klaxon is not running. mx has milter_default_action = tempfail,
# so every session gets a 4xx and nothing is delivered. Two ways of "not
# running": no socket file at all, and a stale socket file nobody listens on
# (what a crashed daemon leaves behind).
. "$(dirname "$0")/lib.sh"
e2e_begin milter-down

SOCK=$W/klaxon/klaxon.sock

# down_case NAME: one clean message must be refused with a 4xx.
down_case() {
	local name=$1 tok rc
	tok=$(new_token)
	swaks_send "$SD/$name.txt" --header "Subject: milter down $tok" --body "clean $tok"
	rc=$?
	local first4xx
	first4xx=$(grep -E '^<\*\* +4[0-9][0-9] ' "$SD/$name.txt" | head -n 1 | sed -E 's/^<\*\* +//')
	if [ "$rc" -ne 0 ] && [[ $first4xx == 4* ]] &&
		! grep -q -E '^<- +250 .*queued as' "$SD/$name.txt"; then
		pass "milter-down/$name: mx answers 4xx ($first4xx)"
	else
		fail "milter-down/$name: mx answers 4xx" \
			"swaks exit $rc, last reply '$(smtp_last_reply "$SD/$name.txt")'"
	fi
	check "milter-down/$name: not delivered" "message with $tok delivered" \
		not_delivered user "$tok" 1
}

if klaxon_socket_ready && python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(2); s.connect(sys.argv[1])' "$SOCK" 2>/dev/null; then
	fail "milter-down: precondition" "something is listening on $SOCK"
	e2e_finish
fi

rm -f "$SOCK"
down_case no-socket
check "milter-down/no-socket: mx logs milter-reject 451 4.7.1" "no such line" \
	eval 'log_since mx | grep -q "milter-reject: .*451 4\.7\.1"'

# A stale socket: bound once, then closed without unlink.
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.close()' "$SOCK"
chmod 666 "$SOCK"
down_case stale-socket
rm -f "$SOCK"

e2e_finish
