#!/bin/bash
# tests/alerts/run.sh - aggregated alerts through the real daemon: a flood of
# EICAR messages from one internal address gives one immediate alert and one
# summary per window with the right count, across a restart too.
#
#   tests/alerts/run.sh                          # tests build/klaxon
#   KLAXON_BIN=build-san/klaxon tests/alerts/run.sh
#   ALERTS_MESSAGES=2000 ALERTS_WINDOW=20 tests/alerts/run.sh
#   ALERTS_KEEP=1 tests/alerts/run.sh            # keep the work dir
#
# TAP-like "ok N - ..." / "not ok N - ..." lines; exits 1 when any failed.
# Needs python3 and bench/milterload (built here with `make -C bench` if missing).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
exec python3 "$here/alerts.py" "$@"
