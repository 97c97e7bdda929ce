#!/bin/bash
# klaxon end-to-end tests: one private Postfix pair (mx with klaxon as its
# milter, relay in front of it), shared by every scenario in tests/e2e, each
# of which starts its own klaxon (and clamd where needed).
#
# Usage: tests/e2e/run.sh [SCENARIO...]   (default: all, e.g. "clean reload")
# Needs root and the packages of scripts/deps.sh. Prints one PASS:/FAIL: line
# per check, then the Postfix log lines of the policy cases under
# "Postfix transcript". Exits non-zero if any check failed.
# KLAXON_BIN, KLAXON_SIGS, KLAXON_E2E_KEEP, KLAXON_E2E_VERBOSE: see lib.sh.
. "$(dirname "$0")/lib.sh"

ALL=(bad_config milter_down clean virus_external virus_internal auth_internal
	clamd_down reload banned_pif dup_ctype filter release)
if [ $# -gt 0 ]; then SCENARIOS=("$@"); else SCENARIOS=("${ALL[@]}"); fi

t0=$SECONDS
if [ "$(id -u)" != 0 ]; then
	echo "FAIL: setup: the e2e tests run private Postfix instances and need root"
	exit 1
fi
for cmd in postfix postqueue swaks clamd python3; do
	if ! command -v "$cmd" >/dev/null; then
		echo "FAIL: setup: $cmd not installed (run scripts/deps.sh)"
		exit 1
	fi
done
if [ ! -x "$KLAXON_BIN" ]; then
	echo "FAIL: setup: $KLAXON_BIN missing (run make first)"
	exit 1
fi

run_end() {
	local rc=$?
	trap - EXIT
	postfix_pair_stop
	if ((rc != 0)) || [ "${KLAXON_E2E_KEEP:-0}" = 1 ]; then
		echo "  # work directory kept: $W"
	else
		rm -rf "$W"
	fi
	exit "$rc"
}

work_create
trap run_end EXIT
trap 'exit 130' INT TERM
postfix_pair_start || exit 1
echo "  # work directory $W; mx on 127.0.0.1:$MX_PORT (AUTH on $MX_AUTH_PORT)," \
	"relay on 127.0.0.1:$RELAY_PORT; klaxon: $KLAXON_BIN"

failed=()
for s in "${SCENARIOS[@]}"; do
	script=$E2E_DIR/test_$s.sh
	echo "== $s"
	if [ ! -f "$script" ]; then
		echo "FAIL: $s: no such scenario ($script)"
		failed+=("$s")
		continue
	fi
	t1=$SECONDS
	# A scenario that hangs despite its own timeouts is cut off here.
	timeout -k 10 300 bash "$script" 2>&1 | tee "$W/$s.out"
	rc=${PIPESTATUS[0]}
	if ((rc == 124 || rc == 137)); then
		echo "FAIL: $s: scenario timed out after 300 s"
		echo "FAIL: $s: timed out" >>"$W/$s.out"
	fi
	((rc != 0)) && failed+=("$s")
	echo "  # $s: $((SECONDS - t1)) s"
done

echo
echo "Postfix transcript"
echo "=================="
if compgen -G "$W/transcripts/*.log" >/dev/null; then
	cat "$W"/transcripts/*.log
else
	echo "(no policy scenario ran)"
fi

echo
npass=$(cat "$W"/*.out 2>/dev/null | grep -c '^PASS: ')
nfail=$(cat "$W"/*.out 2>/dev/null | grep -c '^FAIL: ')
echo "e2e: $npass passed, $nfail failed in ${#SCENARIOS[@]} scenario(s)," \
	"$((SECONDS - t0)) s${failed:+; failed: ${failed[*]}}"
((${#failed[@]} == 0))
