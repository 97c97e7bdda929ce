#!/bin/sh
# Talk to a running `make run` from another terminal: three messages through
# the milter protocol with miltertest, as Postfix would send them.
set -eu
cd "$(dirname "$0")/.."
sock="unix:$(pwd)/var/run/klaxon.sock"
[ -S var/run/klaxon.sock ] || { echo "no klaxon at $sock: start it with 'make run'" >&2; exit 1; }
eicar='X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'
run() {
	miltertest -s scripts/try.lua -D sock="$sock" -D kind="$1" -D ip="$2" -D body="$3" ||
		echo "$1: miltertest failed (is klaxon running?)"
}
run clean-external 192.0.2.10 "Hello, this is a clean message."
run eicar-external 192.0.2.10 "$eicar"
run eicar-internal 127.0.0.1 "$eicar"
echo "quarantine:"; ls -l var/quarantine 2>/dev/null || true
