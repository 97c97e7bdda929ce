#!/bin/bash
# tests/check/run.sh - `klaxon check --json` against the corpus in tests/data
# (plus messages generated from /usr/share/clamav-testfiles at test time) and
# a table of expected decisions in tests/check/check.py.
#
#   tests/check/run.sh                         # tests build/klaxon
#   KLAXON_BIN=build-san/klaxon tests/check/run.sh
#   KLAXON_CHECK_ONLY='^eicar' tests/check/run.sh   # a subset of cases
#   KLAXON_CHECK_KEEP=1 tests/check/run.sh     # keep the temp work dir
#
# One line per case, "PASS: <name>" or "FAIL: <name>: <reason>"; exits 1
# when any case failed. Needs python3 and clamav-testfiles.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
exec python3 "$here/check.py" "$@"
