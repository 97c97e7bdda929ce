#!/bin/bash
# The no-loss contract when something breaks: klaxon answers 4xx and keeps
# nothing half-done. Never accept unscanned, never discard without a
# durable copy, never lose an alert.
# Prints PASS:/FAIL: lines; exits non-zero if any check failed.
set -u
cd "$(dirname "$0")/../.."
BIN=${KLAXON_BIN:-build/klaxon}
WORK=$(mktemp -d /tmp/klaxon-noloss.XXXXXX)
fails=0
daemon=
trap '[ -n "$daemon" ] && kill $daemon 2>/dev/null; rm -rf "$WORK"' EXIT
pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1: $2"; fails=$((fails + 1)); }

EICAR='X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'
printf 'From: a@example.com\r\nSubject: eicar\r\n\r\n%s\r\n' "$EICAR" >"$WORK/eicar.eml"
printf 'From: a@example.com\r\nSubject: hello\r\n\r\nclean\r\n' >"$WORK/clean.eml"
: >"$WORK/not-a-dir"

# conf NAME [key = value ...] - private paths, test signatures, a sendmail
# that works; the given lines override those defaults
conf() {
	local d="$WORK/$1" line key
	shift
	mkdir -p "$d"
	printf '%s\n' "$@" >"$d/conf"
	for line in "milter_socket = unix:$d/sock" "pid_file = $d/pid" "quarantine_dir = $d/q" \
		"alert_spool_dir = $d/alerts" "spool_dir = $d/spool" "clamav_db = tests/sigs" \
		"sendmail_command = /bin/true"; do
		key=${line%% =*}
		grep -q "^$key =" "$d/conf" || echo "$line" >>"$d/conf"
	done
	echo "$d/conf"
}

check() { # check CONF FILE [--auth U] -> JSON on stdout
	local c=$1 f=$2
	shift 2
	"$BIN" check --config "$c" --client-ip 10.9.9.9 --from a@example.com --rcpt b@example.org --json "$@" "$f" 2>/dev/null
}

field() { python3 -c 'import json,sys; v=json.load(sys.stdin).get(sys.argv[1]); print("" if v is None else v)' "$1"; }

# 1. Quarantine cannot be written: the internal virus is tempfailed, not discarded.
c=$(conf q-broken "quarantine_dir = $WORK/not-a-dir/q" "internal_networks = 10.0.0.0/8")
out=$(check "$c" "$WORK/eicar.eml")
if [ "$(field action <<<"$out")" = tempfail ] && [[ "$(field smtp_reply <<<"$out")" == 451\ 4.7.1* ]] &&
	[ -z "$(field quarantine_id <<<"$out")" ]; then
	pass "quarantine write failure gives 451, never a discard"
else
	fail "quarantine write failure gives 451, never a discard" "$out"
fi

# 2. The alert cannot be spooled: tempfail, and the quarantine copy is taken back
#    so that the MTA's retry does not leave a duplicate.
c=$(conf a-broken "alert_spool_dir = $WORK/not-a-dir/alerts" "internal_networks = 10.0.0.0/8")
out=$(check "$c" "$WORK/eicar.eml")
left=$(find "$WORK/a-broken/q" -name '*.kq' 2>/dev/null | wc -l)
if [ "$(field action <<<"$out")" = tempfail ] && [ "$left" -eq 0 ]; then
	pass "alert spool failure gives 451 and leaves no orphan quarantine copy"
else
	fail "alert spool failure gives 451 and leaves no orphan quarantine copy" "left=$left $out"
fi

# 3. A rejected external virus whose optional quarantine copy fails is still
#    rejected: the sender keeps the message, so nothing is lost.
c=$(conf opt-q "quarantine_dir = $WORK/not-a-dir/q" "quarantine_virus_external = yes")
out=$(check "$c" "$WORK/eicar.eml")
[ "$(field action <<<"$out")" = reject ] && pass "optional copy failure still rejects an external virus" ||
	fail "optional copy failure still rejects an external virus" "$out"

# 4. Scanner unreachable: 451 for clean mail too (never accepted unscanned).
c=$(conf clamd-down "scanner = clamd" "clamd_socket = unix:$WORK/no-such-clamd.sock")
out=$(check "$c" "$WORK/clean.eml")
[ "$(field action <<<"$out")" = tempfail ] && pass "scanner down: clean mail is tempfailed, not accepted" ||
	fail "scanner down: clean mail is tempfailed, not accepted" "$out"

# 5. Alert submission fails: the alert stays spooled, and is sent later.
c=$(conf a-retry "sendmail_command = /bin/false" "internal_networks = 10.0.0.0/8")
out=$(check "$c" "$WORK/eicar.eml")
n=$(ls "$WORK/a-retry/alerts"/*.alert 2>/dev/null | wc -l)
if [ "$(field action <<<"$out")" = discard ] && [ "$(field alert_sent <<<"$out")" = False ] && [ "$n" -eq 1 ]; then
	pass "failed alert submission keeps the alert in the spool"
else
	fail "failed alert submission keeps the alert in the spool" "n=$n $out"
fi
sed -i 's|^sendmail_command = /bin/false|sendmail_command = /bin/true|' "$c"
check "$c" "$WORK/clean.eml" >/dev/null # a clean message sends nothing...
"$BIN" serve --config "$c" --foreground >"$WORK/a-retry/log" 2>&1 &
daemon=$!
for _ in $(seq 100); do ls "$WORK/a-retry/alerts"/*.alert >/dev/null 2>&1 || break; sleep 0.1; done
n=$(ls "$WORK/a-retry/alerts"/*.alert 2>/dev/null | wc -l)
# ...the daemon's alert thread flushes the spool at start.
[ "$n" -eq 0 ] && grep -q "alerts: 1 sent" "$WORK/a-retry/log" && pass "the daemon sends a spooled alert once submission works" ||
	fail "the daemon sends a spooled alert once submission works" "n=$n $(tail -2 "$WORK/a-retry/log")"
kill $daemon
wait $daemon 2>/dev/null
daemon=

# 6. Daemon: the spool directory vanishes under a running daemon, and every
#    message must still get a 4xx rather than be accepted or dropped.
c=$(conf spool-gone "memory_spool_limit = 0" "internal_networks = 127.0.0.0/8")
"$BIN" serve --config "$c" --foreground >"$WORK/spool-gone/log" 2>&1 &
daemon=$!
for _ in $(seq 100); do [ -S "$WORK/spool-gone/sock" ] && break; sleep 0.1; done
rm -rf "$WORK/spool-gone/spool" && : >"$WORK/spool-gone/spool"
if miltertest -s tests/noloss/tempfail.lua -D sock="unix:$WORK/spool-gone/sock" >"$WORK/mt.out" 2>&1 &&
	grep -q "tempfail: spool unavailable" "$WORK/spool-gone/log"; then
	pass "spool write failure in the daemon gives a tempfail"
else
	fail "spool write failure in the daemon gives a tempfail" "$(cat "$WORK/mt.out") $(tail -3 "$WORK/spool-gone/log")"
fi
find "$WORK/spool-gone/q" -name '*.kq' 2>/dev/null | grep -q . &&
	fail "no quarantine entry for a message that was not stored" "found one" ||
	pass "no quarantine entry for a message that was not stored"
kill $daemon
wait $daemon 2>/dev/null
daemon=

[ $fails -eq 0 ]
