#!/bin/bash
# bench/soak.sh - klaxon's resident memory over many unique messages: one
# klaxon (scanner = libclamav, tests/sigs), BATCHES runs of MSGS messages
# through bench/milterload, VmRSS after each. Steady growth at a constant
# concurrency, after any cache is full, would be a leak.
#
#   bench/soak.sh                                   # 10 x 6000 messages, c=4, text:10k
#   EXTRA="verdict_cache_size = 0" bench/soak.sh    # a config line added
#
# Environment: KLAXON_REV [HEAD] (or "worktree"), BATCHES [10], MSGS [6000],
# CONC [4], CORPUS [text], SIZE [10k], EXTRA [""] (klaxon.conf lines).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
KLAXON_REV=${KLAXON_REV:-HEAD}
BATCHES=${BATCHES:-10}
MSGS=${MSGS:-6000}
CONC=${CONC:-4}
CORPUS=${CORPUS:-text}
SIZE=${SIZE:-10k}
EXTRA=${EXTRA:-}

W=$(mktemp -d /tmp/klaxon-soak.XXXXXX)
KPID=
cleanup() {
	if [ -n "$KPID" ]; then
		kill -TERM "$KPID" 2>/dev/null || true
		for _ in $(seq 300); do kill -0 "$KPID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$KPID" 2>/dev/null || true
		wait "$KPID" 2>/dev/null || true
	fi
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

make -s -C bench >/dev/null
if [ "$KLAXON_REV" = worktree ]; then
	make -s BUILD=build-bench >/dev/null
	KLAXON=$ROOT/build-bench/klaxon
	REV="$(git rev-parse --short HEAD) (work tree)"
else
	REV=$(git rev-parse --short "$KLAXON_REV^{commit}")
	mkdir "$W/src"
	git archive "$REV" | tar -x -C "$W/src"
	make -s -C "$W/src" BUILD=build-bench >"$W/make.log" 2>&1 || { cat "$W/make.log" >&2; exit 1; }
	KLAXON=$W/src/build-bench/klaxon
fi
mkdir -p "$W/spool" "$W/q" "$W/a"
{
	echo "milter_socket = unix:$W/klaxon.sock"
	echo "pid_file = $W/klaxon.pid"
	echo "scanner = libclamav"
	echo "clamav_db = $ROOT/tests/sigs"
	echo "spool_dir = $W/spool"
	echo "quarantine_dir = $W/q"
	echo "alert_spool_dir = $W/a"
	echo 'internal_networks = ""'
	[ -z "$EXTRA" ] || echo "$EXTRA"
} >"$W/klaxon.conf"
timeout --kill-after=10 1800 "$KLAXON" serve --config "$W/klaxon.conf" --foreground >"$W/klaxon.log" 2>&1 &
KPID=$!
for _ in $(seq 300); do [ -S "$W/klaxon.sock" ] && break; sleep 0.1; done
[ -S "$W/klaxon.sock" ] || { cat "$W/klaxon.log" >&2; exit 1; }
PID=$(tr -dc 0-9 <"$W/klaxon.pid")
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$PID/status"; }
echo "klaxon $REV, c=$CONC, $CORPUS:$SIZE, extra config: ${EXTRA:-none}"
echo "batch messages_total rss_kb msg_per_s status"
echo "0 0 $(rss) - -"
total=0
for b in $(seq "$BATCHES"); do
	out=$(bench/milterload --socket "unix:$W/klaxon.sock" --concurrency "$CONC" --messages "$MSGS" \
		--corpus "$CORPUS" --size "$SIZE" --eicar 1 --max-time 120 --timeout 60 --quiet) || true
	total=$((total + MSGS))
	echo "$b $total $(rss) $(echo "$out" | grep -o 'mps=[0-9.]*' | cut -d= -f2) $(echo "$out" | grep -o 'status=[A-Za-z]*' | cut -d= -f2)"
done
