#!/bin/bash
# tests/filter/run.sh - conf/filter.lua against the built-in policy: every
# message of the corpus (tests/data, tests/mime/data, tests/mime/garbage,
# tests/check/gen_corpus.py, and synthetic messages for every verdict), from
# outside and from inside, through `klaxon check --json` without and with
# `filter = conf/filter.lua`; action, smtp_reply, verdict and whether a
# quarantine copy and an alert were made must be the same.
#
#   tests/filter/run.sh                          # tests build/klaxon
#   KLAXON_BIN=build-san/klaxon tests/filter/run.sh
#   KLAXON_FILTER=/etc/klaxon/filter.lua tests/filter/run.sh   # is yours equivalent?
#   KLAXON_FILTER_ONLY='synthetic/' tests/filter/run.sh        # a subset
#   KLAXON_FILTER_KEEP=1 tests/filter/run.sh     # keep the temp work dir
#   KLAXON_FILTER_SELFTEST=1 tests/filter/run.sh # the harness alone: no filter key
#
# TAP: "ok N - FILE ORIGIN" or "not ok N - FILE ORIGIN: what differs", then
# "1..N"; exits 1 when any comparison failed (a "# TODO" one does not count).
# Needs python3 and clamav-testfiles.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rc=0
python3 "$here/equivalence.py" "$@" || rc=1
# What a filter cannot change (early discard before notices, ...).
python3 "$here/promises.py" || rc=1
exit $rc
