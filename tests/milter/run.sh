#!/bin/bash
# klaxon milter protocol tests: miltertest (man miltertest) drives the real
# daemon directly, no MTA. This script starts `klaxon serve` with a private
# config (libclamav back end, tests/sigs, internal_networks = 10.0.0.0/8, a
# fake sendmail that files alerts into an outbox) and runs every
# tests/milter/*.lua except common.lua (shared helpers) and wrap.lua (runs
# a script under pcall so that a Lua error becomes a FAIL line).
#
# Usage: tests/milter/run.sh [SCRIPT.lua...]
# Prints one PASS:/FAIL: line per check; exits non-zero if any failed.
# KLAXON_BIN (default build/klaxon), KLAXON_SIGS (default tests/sigs),
# KLAXON_MILTER_KEEP=1 keeps the work directory.
set -u
DIR=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$DIR/../.." && pwd)
KLAXON_BIN=${KLAXON_BIN:-$REPO/build/klaxon}
case $KLAXON_BIN in /*) ;; *) KLAXON_BIN=$PWD/$KLAXON_BIN ;; esac
SIGS=${KLAXON_SIGS:-$REPO/tests/sigs}

fails=0
passes=0
pass() { echo "PASS: $1"; passes=$((passes + 1)); }
fail() { echo "FAIL: $1: $2"; fails=$((fails + 1)); }

for cmd in miltertest timeout; do
	command -v "$cmd" >/dev/null || { echo "FAIL: setup: $cmd not installed (scripts/deps.sh)"; exit 1; }
done
[ -x "$KLAXON_BIN" ] || { echo "FAIL: setup: $KLAXON_BIN missing (run make first)"; exit 1; }

T=$(mktemp -d /tmp/klaxon-milter.XXXXXX)
SOCK=$T/klaxon.sock
KPID=
cleanup() {
	local rc=$?
	if [ -n "$KPID" ] && kill -0 "$KPID" 2>/dev/null; then
		kill -TERM "$KPID"
		for _ in $(seq 100); do kill -0 "$KPID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$KPID" 2>/dev/null
		wait "$KPID" 2>/dev/null
	fi
	if ((fails > 0)) || [ "${KLAXON_MILTER_KEEP:-0}" = 1 ]; then
		echo "---- klaxon log ----"
		tail -n 60 "$T/klaxon.log"
		echo "  # work directory kept: $T"
	else
		rm -rf "$T"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Alerts go to a fake sendmail: one file per message in $T/outbox.
mkdir -p "$T/outbox"
cat >"$T/fake-sendmail" <<'SH'
#!/bin/sh
# fake sendmail for the milter tests: file the message, ignore the options
cat >"$(dirname "$0")/outbox/$(date +%s%N).$$.eml"
SH
chmod 755 "$T/fake-sendmail"

cat >"$T/klaxon.conf" <<EOF2
# klaxon milter-test config (tests/milter/run.sh)
milter_socket = unix:$SOCK
milter_socket_mode = 0600
pid_file = $T/klaxon.pid
user =
scanner = libclamav
clamav_db = $SIGS
scan_timeout = 20
internal_networks = 10.0.0.0/8
trust_authenticated = yes
quarantine_dir = $T/quarantine
alert_spool_dir = $T/alerts
alert_to = alerts@example.test
alert_from = klaxon@mx.example.test
alert_retry_interval = 2
sendmail_command = $T/fake-sendmail -oi -t
spool_dir = $T/spool
max_message_size = 10M
scanned_header = X-Virus-Scanned
reply_virus = 550 5.7.1 Virus found: %v
EOF2

"$KLAXON_BIN" serve --config "$T/klaxon.conf" --foreground >"$T/klaxon.log" 2>&1 &
KPID=$!
for _ in $(seq 300); do
	[ -S "$SOCK" ] && break
	kill -0 "$KPID" 2>/dev/null || break
	sleep 0.1
done
if [ ! -S "$SOCK" ]; then
	echo "FAIL: setup: klaxon did not open $SOCK"
	fails=1
	exit 1
fi

kq_count() { find "$T/quarantine" -maxdepth 1 -name '*.kq' 2>/dev/null | grep -c .; }

if [ $# -gt 0 ]; then scripts=("$@"); else
	scripts=()
	for f in "$DIR"/*.lua; do
		case $(basename "$f") in common.lua | wrap.lua) ;; *) scripts+=("$f") ;; esac
	done
fi

for s in "${scripts[@]}"; do
	[ -f "$s" ] || s=$DIR/$s
	name=$(basename "$s" .lua)
	kq_before=$(kq_count)
	out=$(timeout 120 miltertest -s "$DIR/wrap.lua" -D script="$s" \
		-D sock="unix:$SOCK" -D dir="$DIR" 2>&1)
	rc=$?
	# miltertest prints our PASS:/FAIL: lines; anything else is diagnostics.
	printf '%s\n' "$out" | grep -E '^(PASS|FAIL): '
	passes=$((passes + $(printf '%s\n' "$out" | grep -c '^PASS: ')))
	nf=$(printf '%s\n' "$out" | grep -c '^FAIL: ')
	fails=$((fails + nf))
	if ((rc != 0 && nf == 0)); then
		fail "$name" "miltertest exited $rc without a FAIL line (script error): $(printf '%s\n' "$out" | grep -v -E '^(PASS|FAIL): ' | tail -n 3 | tr '\n' ' ')"
	elif ((rc == 0 && nf > 0)); then
		fail "$name" "FAIL lines but miltertest exited 0"
	fi
	# What only the file system can tell.
	case $name in
	eicar_internal)
		n=$(($(kq_count) - kq_before))
		if ((n == 2)); then
			pass "$name: two discarded messages, two new .kq files"
		else
			fail "$name: two discarded messages, two new .kq files" "$n new .kq files"
		fi
		;;
	*)
		n=$(($(kq_count) - kq_before))
		if ((n == 0)); then
			pass "$name: nothing quarantined"
		else
			fail "$name: nothing quarantined" "$n new .kq files"
		fi
		;;
	esac
done

# The internal viruses were alerted about (through the fake sendmail).
if [[ " ${scripts[*]} " == *eicar_internal* ]]; then
	for _ in $(seq 100); do
		[ "$(find "$T/outbox" -name '*.eml' | grep -c .)" -ge 2 ] && break
		sleep 0.1
	done
	n=$(find "$T/outbox" -name '*.eml' | grep -c .)
	if ((n >= 2)); then
		pass "alerts: sendmail_command received $n alerts"
	else
		fail "alerts: sendmail_command received 2 alerts" "$n in the outbox"
	fi
	if grep -q -E '^Auth user: +alice$' "$T"/outbox/*.eml 2>/dev/null; then
		pass "alerts: the {auth_authen} alert names the auth user alice"
	else
		fail "alerts: the {auth_authen} alert names the auth user alice" "no 'Auth user: alice' line"
	fi
	if grep -q -E '^Client address: +10\.1\.2\.3$' "$T"/outbox/*.eml 2>/dev/null; then
		pass "alerts: the internal-network alert names client 10.1.2.3"
	else
		fail "alerts: the internal-network alert names client 10.1.2.3" "no such line"
	fi
fi

if kill -0 "$KPID" 2>/dev/null; then
	pass "klaxon: still running after all scripts"
	# libmilter notices a stop request only every 5 s.
	kill -TERM "$KPID"
	for _ in $(seq 150); do kill -0 "$KPID" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$KPID" 2>/dev/null; then
		fail "klaxon: SIGTERM stops the daemon" "still running after 15 s"
	else
		wait "$KPID"
		st=$?
		KPID=
		if ((st == 0)); then
			pass "klaxon: SIGTERM stops the daemon with status 0"
		else
			fail "klaxon: SIGTERM stops the daemon with status 0" "status $st"
		fi
	fi
else
	fail "klaxon: still running after all scripts" "the daemon exited"
fi
if grep -q -E 'AddressSanitizer|LeakSanitizer|runtime error:' "$T/klaxon.log"; then
	fail "klaxon: no sanitizer report in the log" "see below"
else
	pass "klaxon: no sanitizer report in the log"
fi
echo "milter: $passes passed, $fails failed"
((fails == 0))
