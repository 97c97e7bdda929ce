#!/bin/bash
# bench/run.sh - klaxon side by side with clamav-milter (and MIMEDefang), all
# on one private clamd / the same signatures (tests/sigs), driven by
# bench/milterload over unix sockets.
#
#   bench/run.sh                      # the full matrix, results in bench/results/<UTC time>/
#   PEERS="klaxon-libclamav" CONCS="4" CORPORA="text:10k" bench/run.sh   # a subset
#
# Environment (defaults in brackets):
#   PEERS    [klaxon-libclamav klaxon-clamd clamav-milter mimedefang]
#   CORPORA  [text:10k attach:100k]      corpus:size for milterload
#   CONCS    [1 4 16]                    concurrent milter connections
#   MSGS     [text:3000 attach:2000]     messages per measured run, per corpus
#   WARM_MSGS[1000]                      messages per warm-up run
#   WARMUPS  [2]  RUNS [3]               warm-up runs (discarded), measured runs
#   EICAR    [1]                         percent of messages carrying EICAR
#   MAX_TIME [60]                        seconds: no new message after this in a run
#   OUT      [bench/results/<UTC time>]
#   LOAD_OPTS [""]  more milterload options for every run (e.g. --no-preamble)
#   KLAXON_REV [HEAD]  the committed klaxon to build and measure; "worktree": the work tree
#
# Every run uses a fresh run id, so every message of every run is unique and
# neither clamd's clean cache nor libclamav's engine cache can answer from a
# previous run.
#
# All peers are started first and stay up (idle) for the whole benchmark; the
# runs are interleaved: for each corpus and concurrency, every peer gets its
# warm-up runs, then measured round r runs every peer once, in an order
# rotated each round. Other load on the machine (these 2 cores are shared
# with other sessions) then falls on all peers alike instead of on whichever
# peer happened to run while it lasted. klaxon-clamd, clamav-milter and
# MIMEDefang share one private clamd; only one peer is driven at a time.
# Every daemon runs under `timeout`, so nothing outlives this script by more
# than DAEMON_LIFETIME seconds even if the script is killed.
#
# Besides milterload's numbers, each run records the CPU time the server
# processes used (from /proc/PID/stat) per message, the client's CPU time,
# and the CPU time used by everything else on the machine during the run
# (other sessions share these 2 cores), so noisy runs can be spotted.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
PEERS=${PEERS:-klaxon-libclamav klaxon-clamd clamav-milter mimedefang}
CORPORA=${CORPORA:-text:10k attach:100k}
CONCS=${CONCS:-1 4 16}
MSGS=${MSGS:-text:3000 attach:2000}
WARM_MSGS=${WARM_MSGS:-1000}
WARMUPS=${WARMUPS:-2}
RUNS=${RUNS:-3}
EICAR=${EICAR:-1}
MAX_TIME=${MAX_TIME:-60}
LOAD_OPTS=${LOAD_OPTS:-}
DAEMON_LIFETIME=${DAEMON_LIFETIME:-3600}
OUT=${OUT:-bench/results/$(date -u +%Y%m%dT%H%M%SZ)}
SIGS=$ROOT/tests/sigs
TCK=$(getconf CLK_TCK)

die() { echo "run.sh: $*" >&2; exit 1; }
log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$OUT/run.log" >&2; }

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
W=$(mktemp -d /tmp/klaxon-bench.XXXXXX)
chmod 755 "$W" # MIMEDefang runs as defang and must reach its own files in here

DAEMONS=() # pids of the `timeout` wrappers we started
stop_daemons() {
	local p i
	for p in "${DAEMONS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true # timeout passes it on to the daemon
	done
	for p in "${DAEMONS[@]}"; do
		for i in $(seq 300); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		if kill -0 "$p" 2>/dev/null; then
			echo "run.sh: $p did not stop in 30 s; killing it" >&2
			pkill -KILL -P "$p" 2>/dev/null || true
			kill -KILL "$p" 2>/dev/null || true
		fi
		wait "$p" 2>/dev/null || true
	done
	DAEMONS=()
}
cleanup() {
	stop_daemons
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME CMD... - run a daemon under timeout, its output in $W/NAME.out
start() {
	local name=$1
	shift
	timeout --kill-after=10 "$DAEMON_LIFETIME" "$@" >"$W/$name.out" 2>&1 &
	DAEMONS+=($!)
}
# wait_sock PATH WRAPPER_PID NAME - up to 30 s for a daemon's socket
wait_sock() {
	local i
	for i in $(seq 300); do
		[ -S "$1" ] && return 0
		kill -0 "$2" 2>/dev/null || { cat "$W/$3.out" >&2; die "$3 exited before creating $1"; }
		sleep 0.1
	done
	cat "$W/$3.out" >&2
	die "$3: no socket $1 after 30 s"
}
# pid_of PIDFILE - the daemon's own pid, once it has written it
pid_of() {
	local i
	for i in $(seq 100); do
		if [ -s "$1" ]; then
			local p
			p=$(tr -dc 0-9 <"$1")
			[ -n "$p" ] && [ -d "/proc/$p" ] && { echo "$p"; return 0; }
		fi
		sleep 0.1
	done
	die "no live pid in $1"
}
# proc_ticks PID FIELDS - utime+stime (and cutime+cstime with FIELDS=4) of one process
proc_ticks() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
	s=${s##*) }
	# shellcheck disable=SC2086
	set -- $s "$2"
	if [ "${!#}" = 4 ]; then echo $((${12} + ${13} + ${14} + ${15})); else echo $((${12} + ${13})); fi
}
# cpu_ticks PID... - CPU time of the servers: each process, its reaped
# children and its live children (MIMEDefang's Perl workers)
cpu_ticks() {
	local t=0 p c
	for p in "$@"; do
		[ -d "/proc/$p" ] || die "process $p is gone"
		t=$((t + $(proc_ticks "$p" 4)))
		for c in $(pgrep -P "$p" || true); do
			t=$((t + $(proc_ticks "$c" 2)))
		done
	done
	echo "$t"
}
rss_kb() { # resident memory of the servers and their children
	local t=0 p c v
	for p in "$@"; do
		for c in "$p" $(pgrep -P "$p" || true); do
			v=$(awk '/^VmRSS:/ {print $2}' "/proc/$c/status" 2>/dev/null || true)
			t=$((t + ${v:-0}))
		done
	done
	echo "$t"
}
machine_busy_ticks() { awk '/^cpu / {print $2+$3+$4+$7+$8+$9; exit}' /proc/stat; }

# ---------------------------------------------------------------- builds
# klaxon is built from a committed revision (KLAXON_REV, default HEAD),
# exported with git archive into the scratch directory, so that uncommitted
# edits in the work tree never end up in a measurement and the revision in
# machine.txt is exactly what ran. KLAXON_REV=worktree builds the work tree
# as it is instead (make BUILD=build-bench).
KLAXON_REV=${KLAXON_REV:-HEAD}
if [ "$KLAXON_REV" = worktree ]; then
	log "building klaxon from the work tree (make BUILD=build-bench) and bench/milterload"
	make -s BUILD=build-bench >"$W/make.log" 2>&1 || { cat "$W/make.log" >&2; die "klaxon build failed"; }
	KLAXON=$ROOT/build-bench/klaxon
	KLAXON_DESC="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo ' plus uncommitted changes in src/')"
else
	KLAXON_DESC=$(git rev-parse --short "$KLAXON_REV^{commit}") || die "no such revision: $KLAXON_REV"
	log "building klaxon $KLAXON_DESC (git archive, make BUILD=build-bench in $W/klaxon-src) and bench/milterload"
	mkdir "$W/klaxon-src"
	git archive "$KLAXON_DESC" | tar -x -C "$W/klaxon-src" || die "git archive $KLAXON_DESC failed"
	make -s -C "$W/klaxon-src" BUILD=build-bench >"$W/make.log" 2>&1 || { cat "$W/make.log" >&2; die "klaxon build failed"; }
	KLAXON=$W/klaxon-src/build-bench/klaxon
fi
make -s -C bench >>"$W/make.log" 2>&1 || { cat "$W/make.log" >&2; die "milterload build failed"; }
LOAD=$ROOT/bench/milterload

# ---------------------------------------------------------------- the machine
{
	echo "date_utc: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "nproc: $(nproc)"
	echo "cpu: $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
	echo "mem: $(awk '/^MemTotal/ {print $2, $3}' /proc/meminfo)"
	echo "kernel: $(uname -r)"
	echo "debian: $(cat /etc/debian_version)"
	echo "klaxon: $KLAXON_DESC"
	echo "klaxon_version: $("$KLAXON" version 2>&1 | head -1)"
	for p in libclamav12 clamav-daemon clamav-milter libmilter1.0.1 mimedefang; do
		echo "pkg $p: $(dpkg-query -W -f='${Version}' "$p" 2>/dev/null || echo 'not installed')"
	done
	echo "cc: $(cc --version | head -1)"
	echo "settings: PEERS='$PEERS' CORPORA='$CORPORA' CONCS='$CONCS' MSGS='$MSGS' WARM_MSGS=$WARM_MSGS WARMUPS=$WARMUPS RUNS=$RUNS EICAR=$EICAR MAX_TIME=$MAX_TIME LOAD_OPTS='$LOAD_OPTS'"
} >"$OUT/machine.txt"
cat "$OUT/machine.txt" >&2

# ---------------------------------------------------------------- configs
# clamd: Debian's /etc/clamav/clamd.conf, minus what a private instance must
# change, plus that (socket, database, foreground, root, logs, no bytecode).
CLAMD_SOCK=$W/clamd.sock
grep -Ev '^(LocalSocket|LocalSocketGroup|LocalSocketMode|TCPSocket|TCPAddr|User|Foreground|DatabaseDirectory|LogFile|LogSyslog|PidFile|Bytecode|FixStaleSocket)\b' \
	/etc/clamav/clamd.conf >"$W/clamd.conf"
cat >>"$W/clamd.conf" <<EOF
# --- bench/run.sh: what a private clamd on the test signatures needs ---
LocalSocket $CLAMD_SOCK
LocalSocketMode 666
FixStaleSocket true
User root
Foreground true
DatabaseDirectory $SIGS
LogFile $W/clamd.log
LogSyslog false
PidFile $W/clamd.pid
Bytecode no
EOF

klaxon_conf() { # SCANNER - writes $W/klaxon-SCANNER.conf, its dirs under $W/kx-SCANNER
	local d=$W/kx-$1
	mkdir -p "$d/spool" "$d/quarantine" "$d/alerts"
	cat >"$W/klaxon-$1.conf" <<EOF
# bench/run.sh: klaxon's defaults plus private paths. internal_networks is
# emptied so that the benchmark's client (127.0.0.1) is external and a virus
# is rejected (5xx), as with clamav-milter's OnInfected Reject.
milter_socket = unix:$d/klaxon.sock
pid_file = $d/klaxon.pid
scanner = $1
clamav_db = $SIGS
clamd_socket = unix:$CLAMD_SOCK
spool_dir = $d/spool
quarantine_dir = $d/quarantine
alert_spool_dir = $d/alerts
internal_networks = ""
EOF
}

# clamav-milter: Debian's /etc/clamav/clamav-milter.conf, changed only where
# the task says so (Reject, Defer) or a private instance must.
grep -Ev '^(MilterSocket|MilterSocketGroup|MilterSocketMode|User|Foreground|PidFile|ClamdSocket|OnInfected|OnFail|LogFile|LocalNet|FixStaleSocket)\b' \
	/etc/clamav/clamav-milter.conf >"$W/clamav-milter.conf"
cat >>"$W/clamav-milter.conf" <<EOF
# --- bench/run.sh ---
MilterSocket unix:$W/clamav-milter.sock
MilterSocketMode 600
FixStaleSocket true
User root
Foreground true
PidFile $W/clamav-milter.pid
ClamdSocket unix:$CLAMD_SOCK
OnInfected Reject
OnFail Defer
LogFile $W/clamav-milter.log
EOF

CLAMD_PID=
start_clamd() { # once, shared
	[ -n "$CLAMD_PID" ] && return 0
	rm -f "$W/clamd.pid"
	start clamd clamd -c "$W/clamd.conf"
	wait_sock "$CLAMD_SOCK" "${DAEMONS[-1]}" clamd
	CLAMD_PID=$(pid_of "$W/clamd.pid")
}

declare -A SOCKS PIDS
# start_peer NAME - sets SOCK and SERVER_PIDS, records them in SOCKS and PIDS
start_peer() {
	case $1 in
	klaxon-libclamav | klaxon-clamd)
		local scanner=${1#klaxon-}
		[ "$scanner" = clamd ] && start_clamd
		klaxon_conf "$scanner"
		start "$1" "$KLAXON" serve --config "$W/klaxon-$scanner.conf" --foreground
		wait_sock "$W/kx-$scanner/klaxon.sock" "${DAEMONS[-1]}" "$1"
		SOCK=unix:$W/kx-$scanner/klaxon.sock
		SERVER_PIDS=$(pid_of "$W/kx-$scanner/klaxon.pid")
		if [ "$scanner" = clamd ]; then SERVER_PIDS="$SERVER_PIDS $CLAMD_PID"; fi
		;;
	clamav-milter)
		start_clamd
		start clamav-milter clamav-milter -c "$W/clamav-milter.conf"
		wait_sock "$W/clamav-milter.sock" "${DAEMONS[-1]}" clamav-milter
		SOCK=unix:$W/clamav-milter.sock
		SERVER_PIDS="$(pid_of "$W/clamav-milter.pid") $CLAMD_PID"
		;;
	mimedefang)
		# shellcheck source=mimedefang.sh
		. "$ROOT/bench/mimedefang.sh"
		md_start || return 1 # sets SOCK and SERVER_PIDS
		;;
	*) die "unknown peer $1" ;;
	esac
	SOCKS[$1]=$SOCK
	PIDS[$1]=$SERVER_PIDS
}

msgs_for() { # CORPUS -> messages per measured run
	local kv
	for kv in $MSGS; do
		[ "${kv%%:*}" = "$1" ] && { echo "${kv#*:}"; return; }
	done
	echo 3000
}

RAW=$OUT/raw.tsv
printf 'peer\tcorpus\tconc\tphase\tstatus\tmsgs\twall_s\tmps\tp50_ms\tp95_ms\tp99_ms\tmax_ms\tserver_cpu_ms_per_msg\tclient_cpu_ms_per_msg\tother_cpu_s\tserver_rss_kb\n' >"$RAW"
FAILED=0

# one_run PEER CORPUS SIZE CONC PHASE N
one_run() {
	local peer=$1 corpus=$2 size=$3 conc=$4 phase=$5 n=$6
	local s0 s1 b0 b1 line status rc=0
	local SOCK=${SOCKS[$peer]} SERVER_PIDS=${PIDS[$peer]}
	# shellcheck disable=SC2086
	s0=$(cpu_ticks $SERVER_PIDS)
	b0=$(machine_busy_ticks)
	echo "# $peer $corpus:$size c=$conc $phase: $LOAD --socket $SOCK --concurrency $conc --messages $n --corpus $corpus --size $size --eicar $EICAR --max-time $MAX_TIME --timeout 60${LOAD_OPTS:+ $LOAD_OPTS}" >>"$OUT/milterload.log"
	# shellcheck disable=SC2086 # LOAD_OPTS: several words
	"$LOAD" --socket "$SOCK" --concurrency "$conc" --messages "$n" --corpus "$corpus" --size "$size" \
		--eicar "$EICAR" --max-time "$MAX_TIME" --timeout 60 $LOAD_OPTS >"$W/load.out" 2>"$W/load.err" || rc=$?
	b1=$(machine_busy_ticks)
	# shellcheck disable=SC2086
	s1=$(cpu_ticks $SERVER_PIDS)
	cat "$W/load.out" "$W/load.err" >>"$OUT/milterload.log"
	line=$(grep '^RESULT ' "$W/load.out" || true)
	if [ -z "$line" ]; then
		log "FAIL $peer $corpus c=$conc $phase: milterload exit $rc: $(head -3 "$W/load.err")"
		FAILED=1
		return 1
	fi
	# shellcheck disable=SC2086
	echo "$line" | awk -v peer="$peer" -v corpus="$corpus:$size" -v conc="$conc" -v phase="$phase" \
		-v sticks=$((s1 - s0)) -v bticks=$((b1 - b0)) -v tck="$TCK" -v rss="$(rss_kb $SERVER_PIDS)" '
		{ for (i = 2; i <= NF; i++) { split($i, kv, "="); r[kv[1]] = kv[2] } }
		END {
			n = r["msgs"] > 0 ? r["msgs"] : 1
			srv = sticks / tck; other = bticks / tck - srv - r["client_cpu_s"]
			printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.3f\t%.3f\t%.2f\t%s\n",
				peer, corpus, conc, phase, r["status"], r["msgs"], r["wall_s"], r["mps"],
				r["p50_ms"], r["p95_ms"], r["p99_ms"], r["max_ms"], srv * 1000 / n,
				r["client_cpu_s"] * 1000 / n, other, rss
		}' >>"$RAW"
	status=$(echo "$line" | awk '{ for (i = 2; i <= NF; i++) if (sub(/^status=/, "", $i)) print $i }')
	log "$peer $corpus:$size c=$conc $phase: $(tail -1 "$RAW" | cut -f5-12 | tr '\t' ' ')"
	if [ "$rc" -ne 0 ] || [ "$status" != ok ]; then
		log "FAIL $peer $corpus c=$conc $phase: exit $rc, status $status: $(grep -m3 -E 'UNEXPECTED|FATAL|FAIL' "$W/load.err" | tr '\n' ' ')"
		FAILED=1
		return 1
	fi
}

ACTIVE=()
for peer in $PEERS; do
	if start_peer "$peer"; then
		ACTIVE+=("$peer")
		# shellcheck disable=SC2086
		log "$peer: socket $SOCK, server pids $SERVER_PIDS, rss $(rss_kb $SERVER_PIDS) kB"
	else
		log "SKIP $peer (see above)"
	fi
done
[ "${#ACTIVE[@]}" -gt 0 ] || die "no peer could be started"
np=${#ACTIVE[@]}

for cs in $CORPORA; do
	corpus=${cs%%:*} size=${cs#*:}
	n=$(msgs_for "$corpus")
	for conc in $CONCS; do
		log "=== $corpus:$size, concurrency $conc"
		for peer in "${ACTIVE[@]}"; do
			for i in $(seq "$WARMUPS"); do
				one_run "$peer" "$corpus" "$size" "$conc" "warmup$i" "$WARM_MSGS" || true
			done
		done
		for r in $(seq "$RUNS"); do
			for j in $(seq 0 $((np - 1))); do
				peer=${ACTIVE[$(((j + r - 1) % np))]}
				one_run "$peer" "$corpus" "$size" "$conc" "run$r" "$n" || true
			done
		done
	done
done

for peer in "${ACTIVE[@]}"; do
	# shellcheck disable=SC2086
	log "$peer: rss at the end $(rss_kb ${PIDS[$peer]}) kB (server pids ${PIDS[$peer]})"
done
stop_daemons
# keep_log SRC DST - a daemon's log, trimmed: klaxon logs one line per
# message, so keep the first and last 20 lines, every line that says
# warn/error/fatal/FOUND, and a count of the per-message lines by action
keep_log() {
	if [ "$(wc -l <"$1")" -le 200 ]; then
		cp "$1" "$2"
		return
	fi
	{
		echo "# $(wc -l <"$1") lines; trimmed by bench/run.sh (first 20, last 20, warnings and errors)"
		echo "# per-message lines by action: $(grep -o 'action=[a-z]*' "$1" | sort | uniq -c | tr -s ' ' | paste -sd,)"
		head -20 "$1"
		echo "# ..."
		grep -iE 'warn|error|fatal' "$1" | head -200 || true
		echo "# ..."
		tail -20 "$1"
	} >"$2"
}
for f in "$W"/*.out "$W"/*.log; do # the daemons' own output
	case $f in */load.out | */make.log) continue ;; esac
	[ -f "$f" ] && keep_log "$f" "$OUT/daemon.$(basename "$f")"
done
for f in "$OUT"/daemon.klaxon-*.out; do
	[ -f "$f" ] && log "$(basename "$f"): $(grep -iE 'warn|error|fatal' "$f" | grep -v '^#' | sort -u | wc -l) distinct lines with warn/error/fatal; $(sed -n 2p "$f" | sed 's/^# //')"
done

# ---------------------------------------------------------------- summary
# Median of the measured runs, per corpus, peer and concurrency.
"$ROOT/bench/summarize.sh" "$RAW" >"$OUT/summary.tsv"
"$ROOT/bench/summarize.sh" --markdown "$RAW" >"$OUT/summary.md"
column -t -s $'\t' "$OUT/summary.tsv" | tee -a "$OUT/run.log"
log "results in ${OUT#"$ROOT"/}"
[ "$FAILED" -eq 0 ] || { log "some runs FAILED: see run.log and milterload.log"; exit 1; }
