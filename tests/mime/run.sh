#!/bin/bash
# tests/mime/run.sh - klaxon's MIME parser, ambiguity defense, banned names
# and outbreak cache: `klaxon check --json` against the golden samples in
# tests/mime/data and tests/mime/garbage (NAME.eml + NAME.expect.json), every
# clamav-testfiles sample as an attachment, banned attachment names from
# outside and inside, and the verdict cache through the daemon (miltertest).
#
#   tests/mime/run.sh                          # tests build/klaxon
#   KLAXON_BIN=build-san/klaxon tests/mime/run.sh
#   KLAXON_MIME_ONLY='garbage/trick' tests/mime/run.sh   # a subset
#   KLAXON_MIME_KEEP=1 tests/mime/run.sh       # keep the temp work dir
#
# One line per check, "PASS: <name>" or "FAIL: <name>: <reason>"; exits 1
# when any check failed. Needs python3, clamav-testfiles and miltertest.
# tests/mime/make_samples.py --check verifies the committed samples are what
# the generator writes (it is run first).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if python3 "$here/make_samples.py" --check >/dev/null; then
	echo "PASS: mime/samples: committed samples match make_samples.py"
else
	echo "FAIL: mime/samples: committed samples match make_samples.py: $(python3 "$here/make_samples.py" --check | tr '\n' ' ')"
fi
exec python3 "$here/mime_test.py" "$@"
