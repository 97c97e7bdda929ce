#!/bin/sh
# Install the Debian packages klaxon needs to build, run and test, if any is
# missing. Safe to run again: it does nothing when everything is present.
set -eu

PKGS="build-essential pkg-config libmilter-dev libclamav-dev libssl-dev libcmocka-dev libarchive-dev libclang-rt-14-dev liblua5.4-dev libsqlite3-dev
clamav clamav-daemon clamav-testfiles postfix swaks miltertest clang python3 procps"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "klaxon: missing Debian packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "klaxon: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# postfix asks questions at install time; answer them up front.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
# The packaged daemons are not wanted running: tests start their own private
# instances. Stop them where an init system started them.
for svc in postfix clamav-daemon clamav-freshclam; do
	if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
		systemctl stop "$svc" || true
	fi
done
