#!/bin/sh
# `make run`: klaxon in the foreground on the embedded default configuration:
# a unix socket at var/run/klaxon.sock, the ClamAV database in /var/lib/clamav
# if there is one (else the built-in test signatures), the quarantine in
# var/quarantine. Stop it with Ctrl-C.
set -eu
cd "$(dirname "$0")/.."
mkdir -p var/run
top=$(pwd)
cat <<TXT

klaxon is starting in the foreground with its built-in defaults
(\`build/klaxon config --dump\` shows them). From another terminal, try:

  scripts/try.sh
      sends a clean message, EICAR from outside and EICAR from inside
      through the milter protocol (miltertest) and prints what klaxon did

  build/klaxon check --client-ip 192.0.2.1 --from a@example.com \\
      --rcpt b@example.org --json tests/data/eicar.eml
      runs the same pipeline on a file, without an MTA

To put it in front of Postfix (see README.md):
  smtpd_milters = unix:$top/var/run/klaxon.sock
  non_smtpd_milters = unix:$top/var/run/klaxon.sock
  milter_default_action = tempfail

TXT
exec build/klaxon serve --foreground
