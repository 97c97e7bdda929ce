#!/bin/bash
# klaxon milter protocol tests: miltertest (man miltertest) drives the real
# daemon directly, no MTA. This script starts `klaxon serve` with a private
# config (libclamav back end, tests/sigs, internal_networks = 10.0.0.0/8, a
# fake sendmail that files alerts into an outbox) and runs every
# tests/milter/*.lua except common.lua (shared helpers) and wrap.lua (runs
# a script under pcall so that a Lua error becomes a FAIL line).
#
# A script NAME.lua with a Lua policy filter in tests/milter/filters/NAME.lua
# runs against a klaxon of its own: the same config plus
# `filter = tests/milter/filters/NAME.lua`, on its own socket, stopped (and
# checked for a clean stop) after the script.
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
FPID= # the klaxon of a script with its own filter
cleanup() {
	local rc=$? p f
	for p in "$KPID" "$FPID"; do
		if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
			kill -TERM "$p"
			for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
			kill -KILL "$p" 2>/dev/null
			wait "$p" 2>/dev/null
		fi
	done
	if ((fails > 0)) || [ "${KLAXON_MILTER_KEEP:-0}" = 1 ]; then
		echo "---- klaxon log ----"
		tail -n 60 "$T/klaxon.log"
		for f in "$T"/*.log; do
			[ -f "$f" ] && [ "$f" != "$T/klaxon.log" ] || continue
			echo "---- $(basename "$f") ----"
			tail -n 40 "$f"
		done
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

# write_conf FILE NAME [EXTRA-LINE...]: the private config, with the socket
# $T/NAME.sock and pid file $T/NAME.pid, plus any extra lines.
write_conf() {
	local file=$1 name=$2
	shift 2
	cat >"$file" <<EOF2
# klaxon milter-test config (tests/milter/run.sh)
milter_socket = unix:$T/$name.sock
milter_socket_mode = 0600
pid_file = $T/$name.pid
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
	local line
	for line in "$@"; do echo "$line" >>"$file"; done
}

# start_klaxon CONF SOCK LOG: run `klaxon serve` in the background (pid in
# STARTED_PID) and wait up to 30 s for its socket.
STARTED_PID=
start_klaxon() {
	"$KLAXON_BIN" serve --config "$1" --foreground >"$3" 2>&1 &
	STARTED_PID=$!
	for _ in $(seq 300); do
		[ -S "$2" ] && return 0
		kill -0 "$STARTED_PID" 2>/dev/null || break
		sleep 0.1
	done
	[ -S "$2" ]
}

# stop_check NAME PID LOG: the daemon is still running, stops with status 0
# on SIGTERM (libmilter notices a stop request only every 5 s), and logged
# no sanitizer report.
stop_check() {
	local name=$1 pid=$2 log=$3 st
	if kill -0 "$pid" 2>/dev/null; then
		pass "$name: still running after the script(s)"
		kill -TERM "$pid"
		for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		if kill -0 "$pid" 2>/dev/null; then
			fail "$name: SIGTERM stops the daemon" "still running after 15 s"
			kill -KILL "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
		else
			wait "$pid"
			st=$?
			if ((st == 0)); then
				pass "$name: SIGTERM stops the daemon with status 0"
			else
				fail "$name: SIGTERM stops the daemon with status 0" "status $st"
			fi
		fi
	else
		fail "$name: still running after the script(s)" "the daemon exited"
	fi
	if grep -q -E 'AddressSanitizer|LeakSanitizer|runtime error:' "$log"; then
		fail "$name: no sanitizer report in the log" "see $log"
	else
		pass "$name: no sanitizer report in the log"
	fi
}

write_conf "$T/klaxon.conf" klaxon
if ! start_klaxon "$T/klaxon.conf" "$SOCK" "$T/klaxon.log"; then
	KPID=$STARTED_PID
	echo "FAIL: setup: klaxon did not open $SOCK"
	fails=1
	exit 1
fi
KPID=$STARTED_PID

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
	sock=$SOCK
	FPID=
	if [ -f "$DIR/filters/$name.lua" ]; then
		# Its own klaxon, with the script's filter.
		sock=$T/$name.sock
		write_conf "$T/$name.conf" "$name" "filter = $DIR/filters/$name.lua"
		if ! start_klaxon "$T/$name.conf" "$sock" "$T/$name.log"; then
			FPID=$STARTED_PID
			fail "$name" "klaxon with filters/$name.lua did not open $sock: $(tail -n 3 "$T/$name.log" | tr '\n' ' ')"
			continue
		fi
		FPID=$STARTED_PID
	fi
	out=$(timeout 120 miltertest -s "$DIR/wrap.lua" -D script="$s" \
		-D sock="unix:$sock" -D dir="$DIR" 2>&1)
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
	filter_early)
		# filter_sender discard (1), filter_helo discard (2 messages).
		n=$(($(kq_count) - kq_before))
		if ((n == 3)); then
			pass "$name: three early discards, three new .kq files"
		else
			fail "$name: three early discards, three new .kq files" "$n new .kq files"
		fi
		;;
	filter_edits)
		# action_drop (the dropped part is kept) and action_discard.
		n=$(($(kq_count) - kq_before))
		if ((n == 2)); then
			pass "$name: a drop and a discard, two new .kq files"
		else
			fail "$name: a drop and a discard, two new .kq files" "$n new .kq files"
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
	if [ -n "$FPID" ]; then
		stop_check "$name: klaxon with filters/$name.lua" "$FPID" "$T/$name.log"
		FPID=
	fi
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
