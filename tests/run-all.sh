#!/bin/bash
# Every test klaxon has, in one run: `make test` calls this after building
# build/ (plain) and build-san/ (ASan + UBSan).
#
#   unit     cmocka unit tests, sanitizer build
#   check    `klaxon check --json` over the corpus, sanitizer build
#   mime     golden and hostile MIME samples, banned names, readings, cache
#   rebuild  rebuilt messages (parts dropped or replaced) read by Python's email
#   filter   conf/filter.lua decides as the built-in policy does, over the corpus
#   quarantine  `klaxon quarantine` commands and `klaxon digest` over generated outbreaks
#   alerts   10,000 viral messages from one host: one alert and one summary per window
#   daemon   start-up errors, privilege drop, reload, stop, sanitizer build
#   noloss   broken quarantine, alert spool, scanner, spool: 4xx, nothing half-done
#   milter   miltertest scripts against the daemon, sanitizer build
#   e2e      real Postfix + swaks + clamd against the daemon, plain build
#   fuzz     each libFuzzer target briefly (FUZZ_SECONDS, default 15)
#
# Each suite prints PASS:/FAIL: (or TAP ok/not ok) lines; this script counts
# them and ends with one line "N passed, N failed". SUITES="unit check"
# runs a subset.
set -u
cd "$(dirname "$0")/.."
SUITES=${SUITES:-"unit check mime rebuild filter quarantine daemon noloss milter alerts e2e fuzz"}
LOGDIR=${LOGDIR:-build/test-logs}
mkdir -p "$LOGDIR"
passed=0
failed=0
failures=()

# count - add a suite's PASS/FAIL lines to the totals
count() {
	local name=$1 log=$2 rc=$3 p f
	p=$(grep -cE '^(PASS:|ok [0-9])' "$log")
	# cmocka's TAP writes a skipped test as "not ok N # SKIP": not a failure.
	f=$(grep -E '^(FAIL:|not ok [0-9])' "$log" | grep -cv '# SKIP')
	# A suite that died without saying why still counts as a failure.
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL: $name: exited with status $rc" | tee -a "$log"
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	[ "$f" -eq 0 ] || failures+=("$name (see $log)")
	printf '== %-28s %4d passed, %d failed\n' "$name" "$p" "$f"
}

run_suite() {
	local name=$1
	shift
	local log="$LOGDIR/${name//\//_}.log"
	echo "== $name: $*"
	"$@" >"$log" 2>&1
	local rc=$?
	grep -E '^(FAIL:|not ok [0-9])' "$log" | grep -v '# SKIP' | sed 's/^/   /'
	count "$name" "$log" "$rc"
}

for suite in $SUITES; do
	case $suite in
	unit)
		for t in build-san/tests/test_*; do
			[ -x "$t" ] || continue
			CMOCKA_MESSAGE_OUTPUT=TAP run_suite "unit/$(basename "$t")" "$t"
		done
		;;
	check)
		[ -x tests/check/run.sh ] && KLAXON_BIN=build-san/klaxon run_suite check tests/check/run.sh
		;;
	rebuild)
		[ -x tests/rebuild/run.sh ] && BUILD=build-san run_suite rebuild tests/rebuild/run.sh
		;;
	filter)
		[ -x tests/filter/run.sh ] && KLAXON_BIN=build-san/klaxon run_suite filter tests/filter/run.sh
		;;
	quarantine)
		[ -x tests/quarantine/run.sh ] && KLAXON_BIN=build-san/klaxon run_suite quarantine tests/quarantine/run.sh
		[ -x tests/quarantine/digest_test.sh ] && KLAXON_BIN=build-san/klaxon \
			run_suite digest tests/quarantine/digest_test.sh
		;;
	alerts)
		[ -x tests/alerts/run.sh ] && KLAXON_BIN=build-san/klaxon run_suite alerts tests/alerts/run.sh
		;;
	daemon)
		KLAXON_BIN=build-san/klaxon run_suite daemon tests/daemon/run.sh
		;;
	mime)
		[ -x tests/mime/run.sh ] && KLAXON_BIN=build-san/klaxon run_suite mime tests/mime/run.sh
		;;
	noloss)
		KLAXON_BIN=build-san/klaxon run_suite noloss tests/noloss/run.sh
		;;
	milter)
		[ -x tests/milter/run.sh ] && KLAXON_BIN=build-san/klaxon run_suite milter tests/milter/run.sh
		;;
	e2e)
		[ -x tests/e2e/run.sh ] && KLAXON_BIN=build/klaxon run_suite e2e tests/e2e/run.sh
		;;
	fuzz)
		[ -x tests/fuzz/run.sh ] && FUZZ_SECONDS=${FUZZ_SECONDS:-15} run_suite fuzz bash -c \
			'tests/fuzz/run.sh && echo "PASS: fuzz targets ran without a crash"'
		;;
	esac
done

echo
if [ ${#failures[@]} -gt 0 ]; then
	echo "failed suites:"
	printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
