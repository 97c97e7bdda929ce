#!/bin/bash
# Daemon life-cycle tests: start-up errors, privilege dropping, a second
# instance, clean stop on SIGTERM, the shipped sample config.
# Prints PASS:/FAIL: lines; exits non-zero if any check failed.
set -u
cd "$(dirname "$0")/../.."
BIN=${KLAXON_BIN:-build/klaxon}
WORK=$(mktemp -d /tmp/klaxon-daemon.XXXXXX)
chmod 755 "$WORK"
fails=0
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.2
	rm -rf "$WORK"
}
trap cleanup EXIT

pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1: $2"; fails=$((fails + 1)); }

# conf NAME [extra lines...] - a config with private paths under $WORK/NAME
conf() {
	local d="$WORK/$1"
	shift
	mkdir -p "$d"
	{
		echo "milter_socket = unix:$d/klaxon.sock"
		echo "pid_file = $d/klaxon.pid"
		echo "quarantine_dir = $d/q"
		echo "alert_spool_dir = $d/alerts"
		echo "spool_dir = $d/spool"
		echo "clamav_db = tests/sigs"
		echo "sendmail_command = /bin/true"
		printf '%s\n' "$@"
	} >"$d/klaxon.conf"
	echo "$d/klaxon.conf"
}

# wait_for FILE - up to 10 s for a socket or file to appear
wait_for() {
	for _ in $(seq 100); do
		[ -e "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

# 1. A config error stops start-up, naming the file and the line.
c=$(conf badkey "scan_timeout = 5" "frobnicate = yes")
out=$("$BIN" serve --config "$c" --foreground 2>&1)
rc=$?
if [ $rc -ne 0 ] && grep -q "$c:9: unknown key 'frobnicate'" <<<"$out"; then
	pass "unknown key stops start-up with file:line"
else
	fail "unknown key stops start-up with file:line" "rc=$rc out=$out"
fi

c=$(conf badreply "reply_virus = 451 4.7.1 Virus %v")
out=$("$BIN" serve --config "$c" --foreground 2>&1)
if [ $? -ne 0 ] && grep -q "$c:8: reply_virus: reply code must be 5xx" <<<"$out"; then
	pass "a virus reply with a 4xx code is refused at start-up"
else
	fail "a virus reply with a 4xx code is refused at start-up" "$out"
fi

out=$("$BIN" serve --config "$WORK/missing.conf" --foreground 2>&1)
if [ $? -ne 0 ] && grep -q "$WORK/missing.conf: cannot open" <<<"$out"; then
	pass "a missing config file stops start-up"
else
	fail "a missing config file stops start-up" "$out"
fi

# 2. Privileges are dropped to `user` after the socket is opened.
c=$(conf drop "user = nobody" "milter_socket_mode = 0666")
"$BIN" serve --config "$c" --foreground >"$WORK/drop/log" 2>&1 &
pid=$!
pids+=($pid)
if wait_for "$WORK/drop/klaxon.sock" && sleep 0.3 && kill -0 $pid 2>/dev/null; then
	uid=$(awk '/^Uid:/ {print $2, $3, $4, $5}' /proc/$pid/status)
	nobody=$(id -u nobody)
	if [ "$uid" = "$nobody $nobody $nobody $nobody" ]; then
		pass "privileges dropped to user nobody (real, effective, saved, fs uid)"
	else
		fail "privileges dropped to user nobody" "Uid line: $uid"
	fi
	owner=$(stat -c %U "$WORK/drop/q")
	mode=$(stat -c %a "$WORK/drop/q")
	[ "$owner" = nobody ] && [ "$mode" = 700 ] && pass "quarantine dir is 0700 and owned by the daemon user" ||
		fail "quarantine dir is 0700 and owned by the daemon user" "owner=$owner mode=$mode"
	smode=$(stat -c %a "$WORK/drop/klaxon.sock")
	[ "$smode" = 666 ] && pass "milter_socket_mode applied to the socket" ||
		fail "milter_socket_mode applied to the socket" "mode=$smode"
else
	fail "daemon with user = nobody starts" "$(cat "$WORK/drop/log")"
fi

# 3. A second instance with the same pid file refuses to start.
out=$("$BIN" serve --config "$c" --foreground 2>&1)
if [ $? -ne 0 ] && grep -q "already running as pid $pid" <<<"$out"; then
	pass "a second instance refuses to start"
else
	fail "a second instance refuses to start" "$out"
fi

# 4. SIGTERM stops it cleanly: exit status 0 and the pid file gone, or
# emptied when the unprivileged daemon may not unlink it from a root-owned dir.
kill -TERM $pid
for _ in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
wait $pid
rc=$?
if [ $rc -eq 0 ] && [ ! -s "$WORK/drop/klaxon.pid" ] && grep -q "stopped" "$WORK/drop/log"; then
	pass "SIGTERM stops the daemon cleanly"
else
	fail "SIGTERM stops the daemon cleanly" "rc=$rc pidfile=$(ls "$WORK/drop")"
fi

# 5. A reload with a broken config keeps the daemon running on the old one.
c=$(conf reload)
"$BIN" serve --config "$c" --foreground >"$WORK/reload/log" 2>&1 &
pid=$!
pids+=($pid)
wait_for "$WORK/reload/klaxon.sock"
echo "bogus_key = 1" >>"$c"
out=$("$BIN" reload --config "$c" 2>&1)
grep -q "not reloading: $c:9: unknown key" <<<"$out" && pass "klaxon reload refuses a broken config" ||
	fail "klaxon reload refuses a broken config" "$out"
kill -USR1 $pid
sleep 0.5
if kill -0 $pid 2>/dev/null && grep -q "reload failed, keeping the running configuration: $c:9" "$WORK/reload/log"; then
	pass "SIGUSR1 with a broken config keeps the old one"
else
	fail "SIGUSR1 with a broken config keeps the old one" "$(tail -3 "$WORK/reload/log")"
fi
sed -i '$d' "$c"
echo "reply_virus = 550 5.7.1 Reloaded text %v" >>"$c"
out=$("$BIN" reload --config "$c" 2>&1)
sleep 0.5
if grep -q "asked pid $pid to reload" <<<"$out" && grep -q "reloaded configuration from $c" "$WORK/reload/log"; then
	pass "klaxon reload sends SIGUSR1 and the daemon reloads"
else
	fail "klaxon reload sends SIGUSR1 and the daemon reloads" "$out / $(tail -3 "$WORK/reload/log")"
fi
kill -TERM $pid
wait $pid

# 6. The shipped sample config is valid.
out=$("$BIN" config --config conf/klaxon.conf --dump 2>&1)
[ $? -eq 0 ] && pass "conf/klaxon.conf loads" || fail "conf/klaxon.conf loads" "$out"

[ $fails -eq 0 ]
