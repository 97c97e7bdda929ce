#!/bin/bash
# tests/quarantine/run.sh - `klaxon quarantine` (list, show, release, delete,
# expire, reindex, stats) against entries made by `klaxon check` and old
# entries written in the .kq format, with a fake sendmail_command that
# records what a release submits. See qcli_test.py for the checks.
#
#   tests/quarantine/run.sh                            # tests build/klaxon
#   KLAXON_BIN=build-san/klaxon tests/quarantine/run.sh
#   KLAXON_QTEST_KEEP=1 tests/quarantine/run.sh        # keep the work dir
#
# TAP: "ok N - what" or "not ok N - what: why", then "1..N"; exits 1 when any
# check failed. Needs python3.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
exec python3 "$here/qcli_test.py" "$@"
