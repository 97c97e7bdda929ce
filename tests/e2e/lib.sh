# shellcheck shell=bash
# shellcheck disable=SC2034 # the constants here are used by the test scripts
# klaxon end-to-end test library: a real Postfix in front of the real daemon.
#
# Sourced by tests/e2e/run.sh and by every tests/e2e/test_*.sh. It builds
# everything inside one private work directory and never touches the system's
# Postfix (/etc/postfix/main.cf, /var/spool/postfix) or its ClamAV.
#
# Layout of the work directory $W (mktemp -d, mode 0755 so that the postfix
# and nobody users can traverse it):
#
#   $W/e2e.env             ports and paths, sourced by scenario scripts
#   $W/maillog             the log of both Postfix instances (via postlogd)
#   $W/mx/                 "mx" Postfix: etc/ (main.cf, master.cf), queue/,
#                          data/. etc/ is apart from the rest because
#                          postfix-script wants everything under the config
#                          directory owned by root.
#   $W/relay/              "relay" Postfix: same layout, no milter
#   $W/mail/example.test/  virtual(8) Maildirs: user/, alerts/
#   $W/klaxon/klaxon.sock  the milter socket mx is configured with
#   $W/clamd/              private clamd: clamd.conf, clamd.sock, clamd.log
#   $W/<scenario>/         per-scenario klaxon.conf, klaxon.log, quarantine ...
#   $W/transcripts/        Postfix log lines of the policy scenarios
#
# Two modes:
#   * run.sh starts one Postfix pair, exports KLAXON_E2E_WORK=$W and runs the
#     scenario scripts one after another against it (fast).
#   * A scenario script run on its own (tests/e2e/test_clean.sh) sees no
#     KLAXON_E2E_WORK, so it makes its own work dir and Postfix pair and tears
#     them down on exit.
#
# Reporting: every check prints exactly one line, "PASS: <name>" or
# "FAIL: <name>: <reason>". A script exits non-zero when any check failed.
# Every wait has a timeout, so every script finishes in bounded time.
#
# Environment knobs:
#   KLAXON_BIN      daemon binary (default: <repo>/build/klaxon)
#   KLAXON_SIGS     signature directory (default: <repo>/tests/sigs)
#   KLAXON_E2E_KEEP=1   keep the work directory after the run
#   KLAXON_E2E_VERBOSE=1  print logs even when everything passed

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$E2E_DIR/../.." && pwd)
KLAXON_BIN=${KLAXON_BIN:-$REPO_DIR/build/klaxon}
case $KLAXON_BIN in /*) ;; *) KLAXON_BIN=$PWD/$KLAXON_BIN ;; esac
SIGS_DIR=${KLAXON_SIGS:-$REPO_DIR/tests/sigs}
TESTFILES=/usr/share/clamav-testfiles
DOMAIN=example.test
USER_RCPT=user@$DOMAIN
ALERT_RCPT=alerts@$DOMAIN
INTERNAL_IP=127.0.0.2 # in internal_networks
EXTERNAL_IP=127.0.0.1 # not in internal_networks (also the relay's source)
# The EICAR test string, split so that no scanner flags this file itself.
EICAR='X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-'
EICAR+='STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'
EICAR_NAME=Klaxon.Test.EICAR

export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH

# ---------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------

E2E_FAILS=0
E2E_PASSES=0

pass() {
	echo "PASS: $1"
	E2E_PASSES=$((E2E_PASSES + 1))
}

fail() {
	echo "FAIL: $1: $2"
	E2E_FAILS=$((E2E_FAILS + 1))
}

# note MSG: progress/diagnostic output that is not a check.
note() { echo "  # $*"; }

# check NAME REASON CMD...: PASS when CMD succeeds, FAIL with REASON otherwise.
check() {
	local name=$1 reason=$2
	shift 2
	if "$@"; then pass "$name"; else fail "$name" "$reason"; fi
}

# ---------------------------------------------------------------------------
# Small utilities
# ---------------------------------------------------------------------------

# wait_until TIMEOUT_SECONDS CMD...: poll CMD every 0.1 s until it succeeds.
wait_until() {
	local deadline=$((SECONDS + $1))
	shift
	while :; do
		"$@" && return 0
		((SECONDS >= deadline)) && return 1
		sleep 0.1
	done
}

port_is_free() {
	python3 - "$1" <<-'EOF'
		import socket, sys
		s = socket.socket()
		try:
		    s.bind(("127.0.0.1", int(sys.argv[1])))
		except OSError:
		    sys.exit(1)
	EOF
}

# free_port START: first free TCP port on 127.0.0.1 in [START, START+200).
free_port() {
	local p
	for ((p = $1; p < $1 + 200; p++)); do
		port_is_free "$p" && echo "$p" && return 0
	done
	return 1
}

port_listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

# stop_pid PID [NAME]: SIGTERM, wait up to 10 s, then SIGKILL.
stop_pid() {
	local pid=$1
	pid_alive "$pid" || return 0
	kill -TERM "$pid" 2>/dev/null
	if ! wait_until 10 eval "! kill -0 $pid 2>/dev/null"; then
		note "${2:-process} $pid ignored SIGTERM, killing it"
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	return 0
}

file_size() { stat -c %s "$1" 2>/dev/null || echo 0; }

# ---------------------------------------------------------------------------
# Work directory and scenario lifecycle
# ---------------------------------------------------------------------------

E2E_OWN_WORK=0      # 1 when this process created $W (and so removes it)
E2E_OWN_POSTFIX=0   # 1 when this process started the Postfix pair
E2E_SCENARIO=setup
KLAXON_PID=
CLAMD_PID=
SASL_PID=
E2E_LOG_OFF=0 # size of $W/maillog at scenario start (for dump_logs)
E2E_TR_OFF=0  # size of $W/maillog where the current transcript starts

work_create() {
	W=$(mktemp -d /tmp/klaxon-e2e.XXXXXX) || {
		echo "FAIL: setup: mktemp failed"
		exit 1
	}
	chmod 755 "$W"
	mkdir -p "$W/klaxon" "$W/clamd" "$W/transcripts"
	chmod 755 "$W/klaxon" "$W/clamd"
	E2E_OWN_WORK=1
	export KLAXON_E2E_WORK=$W
}

# e2e_begin SCENARIO [--no-postfix]: set up (or join) the work dir and the
# Postfix pair; install the teardown trap. Scenario files go to $SD.
e2e_begin() {
	E2E_SCENARIO=$1
	local want_postfix=1
	[ "${2:-}" = --no-postfix ] && want_postfix=0
	trap e2e_end EXIT
	trap 'exit 130' INT TERM
	if [ -n "${KLAXON_E2E_WORK:-}" ] && [ -f "$KLAXON_E2E_WORK/e2e.env" ]; then
		W=$KLAXON_E2E_WORK
		# shellcheck source=/dev/null
		. "$W/e2e.env"
	else
		work_create
		if ((want_postfix)); then
			postfix_pair_start || exit 1
		fi
	fi
	SD=$W/$E2E_SCENARIO
	rm -rf "$SD"
	mkdir -p "$SD"
	chmod 755 "$SD"
	log_mark
}

# e2e_end: the EXIT trap. Stops whatever this process started, prints the
# logs when a check failed, removes a work dir this process created.
e2e_end() {
	local rc=$?
	trap - EXIT
	((E2E_FAILS > 0)) && rc=1
	if ((rc != 0)) || [ "${KLAXON_E2E_VERBOSE:-0}" = 1 ]; then
		dump_logs
	fi
	sasl_stop
	klaxon_stop
	clamd_stop
	if ((E2E_OWN_POSTFIX)); then
		postfix_pair_stop
	fi
	if ((E2E_OWN_WORK)); then
		if ((rc != 0)) || [ "${KLAXON_E2E_KEEP:-0}" = 1 ]; then
			echo "  # work directory kept: $W"
		else
			rm -rf "$W"
		fi
	fi
	exit "$rc"
}

# e2e_finish: end of a scenario script; the exit status reflects the checks.
# A klaxon still running is stopped as a check of its own (klaxon_stop_check).
e2e_finish() {
	klaxon_stop_check
	((E2E_FAILS > 0)) && exit 1
	exit 0
}

# Both Postfix instances log through their own postlogd into the one file
# $W/maillog (appends of whole lines), so it interleaves relay and mx in real
# time order; each line says "postfix-mx/..." or "postfix-relay/...".

# log_mark: remember where the Postfix log ends, so that log_since shows just
# this scenario's lines. Also starts a new transcript (transcript_mark).
log_mark() {
	E2E_LOG_OFF=$(file_size "$W/maillog")
	transcript_mark
}

# transcript_mark: the next save_transcript starts from here.
transcript_mark() { E2E_TR_OFF=$(file_size "$W/maillog"); }

# log_since INSTANCE|all [tr]: Postfix log lines of instance mx or relay (or
# both) written since log_mark (or, with "tr", since transcript_mark).
log_since() {
	local off=$E2E_LOG_OFF pat=" postfix-$1/"
	[ "${2:-}" = tr ] && off=$E2E_TR_OFF
	[ "$1" = all ] && pat=" postfix-"
	[ -f "$W/maillog" ] && tail -c +"$((off + 1))" "$W/maillog" | grep -F -e "$pat"
}

# save_transcript LABEL: keep the Postfix log lines since transcript_mark for
# run.sh's "Postfix transcript", then start a new transcript.
save_transcript() {
	{
		echo "== $1"
		log_since all tr
	} >"$W/transcripts/$1.log"
	transcript_mark
}

dump_logs() {
	local f
	echo "---- logs of scenario '$E2E_SCENARIO' ($W) ----"
	if [ -n "${W:-}" ]; then
		if [ -f "$W/maillog" ]; then
			echo "-- Postfix maillog, relay and mx (this scenario):"
			log_since all | tail -n 100
		fi
		for f in "$SD"/klaxon.log "$SD"/klaxon-*.log "$SD"/sasl.log; do
			[ -s "$f" ] || continue
			echo "-- $f:"
			tail -n 60 "$f"
		done
		if [ -n "$CLAMD_PID" ] || [ "$E2E_SCENARIO" = clamd-down ]; then
			echo "-- clamd log:"
			grep -v -E 'support enabled|Limits:|limit set' "$W/clamd/clamd.log" 2>/dev/null |
				tail -n 20
		fi
	fi
	echo "---- end of logs ----"
}

# ---------------------------------------------------------------------------
# Postfix: two private instances under $W, started with `postfix -c DIR`
# ---------------------------------------------------------------------------

# postfix_smtpd_service LISTEN [PARAM=VALUE...]: a master.cf smtpd entry on
# address:port LISTEN, with "-o" overrides.
postfix_smtpd_service() {
	local listen=$1 o
	shift
	echo "$listen inet n - n - - smtpd"
	for o in "$@"; do echo "  -o $o"; done
}

# postfix_master_services: the rest of a minimal master.cf. chroot is off
# everywhere, so that absolute unix socket paths (milter, SASL) resolve.
postfix_master_services() {
	cat <<-'EOF'
		pickup    unix  n       -       n       60      1       pickup
		cleanup   unix  n       -       n       -       0       cleanup
		qmgr      unix  n       -       n       300     1       qmgr
		rewrite   unix  -       -       n       -       -       trivial-rewrite
		bounce    unix  -       -       n       -       0       bounce
		defer     unix  -       -       n       -       0       bounce
		trace     unix  -       -       n       -       0       bounce
		verify    unix  -       -       n       -       1       verify
		flush     unix  n       -       n       1000?   0       flush
		proxymap  unix  -       -       n       -       -       proxymap
		smtp      unix  -       -       n       -       -       smtp
		relay     unix  -       -       n       -       -       smtp
		showq     unix  n       -       n       -       -       showq
		error     unix  -       -       n       -       -       error
		retry     unix  -       -       n       -       -       error
		discard   unix  -       -       n       -       -       discard
		local     unix  -       n       n       -       -       local
		virtual   unix  -       n       n       -       -       virtual
		anvil     unix  -       -       n       -       1       anvil
		scache    unix  -       -       n       -       1       scache
		postlog   unix-dgram n  -       n       -       1       postlogd
	EOF
}

# postfix_main_cf NAME: settings common to both instances.
postfix_main_cf() {
	local d=$W/$1
	cat <<-EOF
		# Private klaxon e2e instance "$1"; generated by tests/e2e/lib.sh.
		compatibility_level = 3.6
		meta_directory = /etc/postfix
		queue_directory = $d/queue
		data_directory = $d/data
		syslog_name = postfix-$1
		maillog_file = $W/maillog
		maillog_file_prefixes = $W
		myhostname = $1.klaxon.test
		mydomain = klaxon.test
		myorigin = \$myhostname
		mydestination =
		inet_interfaces = 127.0.0.1
		inet_protocols = ipv4
		mynetworks = 127.0.0.0/8
		alias_maps =
		alias_database =
		local_recipient_maps =
		biff = no
		in_flow_delay = 0
		smtpd_peername_lookup = no
		smtp_dns_support_level = disabled
		smtp_bind_address = 127.0.0.1
		smtputf8_enable = no
		smtpd_banner = \$myhostname ESMTP klaxon-e2e
		message_size_limit = 20480000
		# Short timers: a 4xx is retried quickly and tests never wait long.
		queue_run_delay = 1s
		minimal_backoff_time = 1s
		maximal_backoff_time = 2s
		daemon_timeout = 60s
		notify_classes =
		delay_warning_time = 0h
	EOF
}

# postfix_configure: write both instances' config.
postfix_configure() {
	local uid gid
	uid=$(id -u nobody)
	gid=$(id -g nobody)
	mkdir -p "$W/mail" "$W/mx/etc" "$W/relay/etc"
	chown "$uid:$gid" "$W/mail"
	chmod 755 "$W/mx" "$W/relay" "$W/mx/etc" "$W/relay/etc"

	# mx: the receiving MTA with klaxon as its milter; local Maildirs.
	printf '%s\n' "$USER_RCPT $DOMAIN/user/" "$ALERT_RCPT $DOMAIN/alerts/" \
		>"$W/mx/etc/vmailbox"
	{
		postfix_main_cf mx
		cat <<-EOF
			smtpd_milters = unix:$W/klaxon/klaxon.sock
			non_smtpd_milters = unix:$W/klaxon/klaxon.sock
			milter_default_action = tempfail
			milter_connect_timeout = 10s
			milter_content_timeout = 60s
			virtual_mailbox_domains = $DOMAIN
			virtual_mailbox_base = $W/mail
			virtual_mailbox_maps = texthash:$W/mx/etc/vmailbox
			virtual_uid_maps = static:$uid
			virtual_gid_maps = static:$gid
			virtual_minimum_uid = 1
			# SASL for the authenticated-submission scenario: a stand-in
			# for Dovecot's auth service (tests/e2e/fake_dovecot_auth.py).
			smtpd_sasl_type = dovecot
			smtpd_sasl_path = $W/sasl/auth
			smtpd_sasl_auth_enable = no
			smtpd_sasl_security_options = noanonymous
		EOF
	} >"$W/mx/etc/main.cf"
	# The submission-like listener on its own port enables AUTH; port
	# MX_PORT does not, so the other scenarios never talk to the SASL stub.
	{
		postfix_smtpd_service "127.0.0.1:$MX_PORT"
		postfix_smtpd_service "127.0.0.1:$MX_AUTH_PORT" smtpd_sasl_auth_enable=yes
		postfix_master_services
	} >"$W/mx/etc/master.cf"

	# relay: no milter; everything goes to mx.
	{
		postfix_main_cf relay
		cat <<-EOF
			relayhost = [127.0.0.1]:$MX_PORT
			relay_domains = $DOMAIN
			smtp_connection_cache_on_demand = no
		EOF
	} >"$W/relay/etc/main.cf"
	{
		postfix_smtpd_service "127.0.0.1:$RELAY_PORT"
		postfix_master_services
	} >"$W/relay/etc/master.cf"
}

# postfix_start NAME: check and start one instance; wait for its listener.
postfix_start() {
	local name=$1 port=$2 d=$W/$1 out
	mkdir -p "$d/queue" "$d/data"
	chown postfix:postfix "$d/data"
	touch "$W/maillog"
	# `postfix check` creates the queue's subdirectories with the right
	# owners (it runs post-install set-permissions/create-missing).
	if ! out=$(postfix -c "$d/etc" check 2>&1); then
		echo "FAIL: setup: postfix -c $d/etc check: $out"
		return 1
	fi
	if ! out=$(postfix -c "$d/etc" start 2>&1); then
		echo "FAIL: setup: postfix -c $d/etc start: $out"
		grep -F " postfix-$name/" "$W/maillog" | tail -n 20
		return 1
	fi
	if ! wait_until 20 port_listening "$port"; then
		echo "FAIL: setup: postfix $name not listening on port $port"
		grep -F " postfix-$name/" "$W/maillog" | tail -n 20
		return 1
	fi
}

# postfix_stop NAME: stop one instance; abort it if it will not stop.
postfix_stop() {
	local d=$W/$1 pidf pid
	pidf=$d/queue/pid/master.pid
	[ -f "$pidf" ] || return 0
	pid=$(tr -d ' \n' <"$pidf")
	pid_alive "$pid" || return 0
	postfix -c "$d/etc" stop >/dev/null 2>&1
	if ! wait_until 15 eval "! kill -0 $pid 2>/dev/null"; then
		postfix -c "$d/etc" abort >/dev/null 2>&1
		wait_until 5 eval "! kill -0 $pid 2>/dev/null" ||
			kill -KILL "$pid" 2>/dev/null
	fi
}

postfix_pair_start() {
	if ! MX_PORT=$(free_port 10025) || ! MX_AUTH_PORT=$(free_port $((MX_PORT + 1))) ||
		! RELAY_PORT=$(free_port $((MX_AUTH_PORT + 1))); then
		echo "FAIL: setup: no free TCP ports on 127.0.0.1 from 10025 on"
		return 1
	fi
	postfix_configure
	cat >"$W/e2e.env" <<-EOF
		MX_PORT=$MX_PORT
		MX_AUTH_PORT=$MX_AUTH_PORT
		RELAY_PORT=$RELAY_PORT
	EOF
	E2E_OWN_POSTFIX=1
	postfix_start mx "$MX_PORT" || return 1
	postfix_start relay "$RELAY_PORT" || return 1
}

postfix_pair_stop() {
	postfix_stop relay
	postfix_stop mx
}

# queue_count NAME [RCPT]: messages in an instance's queue (maildrop,
# incoming, active, deferred, hold), or only those for recipient RCPT.
queue_count() {
	if [ -n "${2:-}" ]; then
		postqueue -c "$W/$1/etc" -j 2>/dev/null | grep -c -F -e "\"address\": \"$2\""
	else
		postqueue -c "$W/$1/etc" -j 2>/dev/null | grep -c '"queue_id"'
	fi
}

postqueue_flush() { postqueue -c "$W/$1/etc" -f 2>/dev/null; }

# ---------------------------------------------------------------------------
# SMTP with swaks and Maildir assertions
# ---------------------------------------------------------------------------

# new_token: a unique marker put into a test message's Subject and body.
new_token() { echo "klx$(date +%s%N | tail -c 10)$RANDOM"; }

# swaks_send OUT [swaks options...]: one SMTP transaction to mx (port
# MX_PORT) from 127.0.0.1 unless the options say otherwise. The whole
# transcript goes to OUT. Returns swaks' exit status (26 = 5xx after DATA,
# 25 = 4xx/5xx after DATA is refused, see swaks(1) "EXIT CODES").
swaks_send() {
	local out=$1
	shift
	timeout 90 swaks --server 127.0.0.1 --port "$MX_PORT" \
		--from sender@outside.test --to "$USER_RCPT" \
		--helo client.test --timeout 60 "$@" >"$out" 2>&1
}

# smtp_data_reply OUT: the server's reply to the end of DATA (the line after
# swaks' " -> ." line), e.g. "250 2.0.0 Ok: queued as 4Xy". Empty if the
# session never got there.
smtp_data_reply() {
	awk '/^ *-> \.$/ { seen = 1; next }
	     seen && /^(<-|<\*\*) / { sub(/^(<-|<\*\*) +/, ""); print; exit }' "$1"
}

# smtp_last_reply OUT: the last server reply line of the session (whatever
# the stage), without swaks' arrow.
smtp_last_reply() {
	grep -E '^(<-|<\*\*) ' "$1" | grep -v -E '^(<-|<\*\*) +2[0-9][0-9] .*(Bye|closing)' |
		tail -n 1 | sed -E 's/^(<-|<\*\*) +//'
}

maildir() { echo "$W/mail/$DOMAIN/$1"; }

# mail_files MAILBOX PATTERN: delivered files in MAILBOX matching PATTERN.
mail_files() {
	local d
	d=$(maildir "$1")
	[ -d "$d" ] || return 0
	grep -l -F -r -e "$2" "$d/new" "$d/cur" 2>/dev/null
}

mail_count() { mail_files "$1" "$2" | grep -c .; }

# wait_for_mail MAILBOX PATTERN TIMEOUT: wait until a message containing
# PATTERN (fixed string) is in MAILBOX; print its file name.
mail_present() { [ "$(mail_count "$1" "$2")" -gt 0 ]; }

wait_for_mail() {
	if wait_until "$3" mail_present "$1" "$2"; then
		mail_files "$1" "$2" | head -n 1
		return 0
	fi
	return 1
}

# not_delivered MAILBOX TOKEN [GRACE]: after GRACE seconds (default 2),
# nothing with TOKEN in MAILBOX and nothing for MAILBOX@ in mx's queue.
# Every refusal the milter makes (reject, discard, tempfail) happens before
# the queue file is committed, so a couple of seconds is plenty. (Alerts to
# alerts@ may be in the queue meanwhile; they do not count.)
not_delivered() {
	sleep "${3:-2}"
	[ "$(mail_count "$1" "$2")" -eq 0 ] || return 1
	[ "$(queue_count mx "$1@$DOMAIN")" -eq 0 ]
}

# ---------------------------------------------------------------------------
# klaxon
# ---------------------------------------------------------------------------

KLAXON_SOCK_PATH() { echo "$W/klaxon/klaxon.sock"; }

# klaxon_conf FILE [key=value...]: write a klaxon config with this scenario's
# defaults; each key=value replaces a default (value may be empty) or adds a
# key.
klaxon_conf() {
	local file=$1
	shift
	local -a keys=(milter_socket milter_socket_mode pid_file user scanner
		clamav_db clamd_socket scan_timeout internal_networks
		trust_authenticated quarantine_dir alert_spool_dir alert_to
		alert_from alert_retry_interval sendmail_command spool_dir
		max_message_size scanned_header)
	local -A v=(
		[milter_socket]="unix:$W/klaxon/klaxon.sock"
		[milter_socket_mode]=0666
		[pid_file]="$SD/klaxon.pid"
		[user]=""
		[scanner]=libclamav
		[clamav_db]="$SIGS_DIR"
		[clamd_socket]="unix:$W/clamd/clamd.sock"
		[scan_timeout]=20
		[internal_networks]="$INTERNAL_IP/32"
		[trust_authenticated]=yes
		[quarantine_dir]="$SD/quarantine"
		[alert_spool_dir]="$SD/alerts"
		[alert_to]="$ALERT_RCPT"
		[alert_from]="klaxon@mx.klaxon.test"
		[alert_retry_interval]=2
		[sendmail_command]="/usr/sbin/sendmail -C $W/mx/etc -oi -t"
		[spool_dir]="$SD/spool"
		[max_message_size]=10M
		[scanned_header]=X-Virus-Scanned
	)
	local kv k
	for kv in "$@"; do
		k=${kv%%=*}
		[ -n "${v[$k]+x}" ] || keys+=("$k")
		v[$k]=${kv#*=}
	done
	mkdir -p "$SD/quarantine" "$SD/alerts" "$SD/spool"
	{
		echo "# klaxon e2e config for scenario $E2E_SCENARIO"
		for k in "${keys[@]}"; do
			echo "$k = ${v[$k]}"
		done
	} >"$file"
}

klaxon_socket_ready() { [ -S "$W/klaxon/klaxon.sock" ]; }

# klaxon_start CONF [LOG]: run `klaxon serve --foreground` in the background
# and wait (30 s max) for its milter socket.
klaxon_start() {
	local conf=$1 log=${2:-$SD/klaxon.log}
	if [ ! -x "$KLAXON_BIN" ]; then
		echo "FAIL: setup: klaxon binary $KLAXON_BIN missing (build it first)"
		return 1
	fi
	rm -f "$W/klaxon/klaxon.sock"
	"$KLAXON_BIN" serve --config "$conf" --foreground >>"$log" 2>&1 &
	KLAXON_PID=$!
	if ! wait_until 30 eval 'klaxon_socket_ready || ! pid_alive $KLAXON_PID'; then
		echo "FAIL: setup: klaxon did not create its socket within 30 s"
		return 1
	fi
	if ! pid_alive "$KLAXON_PID"; then
		wait "$KLAXON_PID"
		echo "FAIL: setup: klaxon exited with status $? at start-up"
		tail -n 20 "$log"
		KLAXON_PID=
		return 1
	fi
}

klaxon_stop() {
	[ -n "$KLAXON_PID" ] || return 0
	stop_pid "$KLAXON_PID" klaxon
	KLAXON_PID=
}

# klaxon_stop_check: stop the daemon as a check: it must still be running,
# exit 0 on SIGTERM within 15 s (libmilter notices a stop only every 5 s), and
# its logs must hold no sanitizer report (for KLAXON_BIN=build-san/klaxon).
klaxon_stop_check() {
	[ -n "$KLAXON_PID" ] || return 0
	local pid=$KLAXON_PID st
	KLAXON_PID=
	if ! pid_alive "$pid"; then
		wait "$pid"
		fail "klaxon: clean stop at the end of the scenario" "had already exited, status $?"
	else
		kill -TERM "$pid"
		if wait_until 15 eval "! kill -0 $pid 2>/dev/null"; then
			wait "$pid"
			st=$?
			check "klaxon: clean stop at the end of the scenario (SIGTERM, exit 0)" \
				"exit status $st" test "$st" -eq 0
		else
			kill -KILL "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
			fail "klaxon: clean stop at the end of the scenario" "still running 15 s after SIGTERM"
		fi
	fi
	local bad
	bad=$(grep -l -E 'AddressSanitizer|LeakSanitizer|runtime error:' "$SD"/klaxon*.log 2>/dev/null)
	check "klaxon: no sanitizer report in the log" "see $bad" test -z "$bad"
}

# ---------------------------------------------------------------------------
# clamd: a private instance on a unix socket in $W/clamd
# ---------------------------------------------------------------------------

clamd_conf() {
	cat >"$W/clamd/clamd.conf" <<-EOF
		LocalSocket $W/clamd/clamd.sock
		LocalSocketMode 666
		FixStaleSocket yes
		DatabaseDirectory $SIGS_DIR
		Foreground yes
		User root
		Bytecode no
		LogFile $W/clamd/clamd.log
		LogTime yes
		PidFile $W/clamd/clamd.pid
		TemporaryDirectory $W/clamd
		StreamMaxLength 25M
		MaxThreads 4
	EOF
}

# clamd_start: start clamd and wait (60 s max) until it answers PING.
clamd_start() {
	clamd_conf
	rm -f "$W/clamd/clamd.sock"
	clamd --config-file="$W/clamd/clamd.conf" >>"$W/clamd/clamd.out" 2>&1 &
	CLAMD_PID=$!
	if ! wait_until 60 eval 'clamd_ping || ! pid_alive $CLAMD_PID'; then
		echo "FAIL: setup: clamd did not answer PING within 60 s"
		return 1
	fi
	if ! pid_alive "$CLAMD_PID"; then
		echo "FAIL: setup: clamd exited at start-up"
		tail -n 20 "$W/clamd/clamd.log"
		CLAMD_PID=
		return 1
	fi
}

clamd_ping() {
	[ -S "$W/clamd/clamd.sock" ] || return 1
	python3 - "$W/clamd/clamd.sock" <<-'EOF' 2>/dev/null
		import socket, sys
		s = socket.socket(socket.AF_UNIX)
		s.settimeout(2)
		s.connect(sys.argv[1])
		s.sendall(b"zPING\0")
		sys.exit(0 if s.recv(16).startswith(b"PONG") else 1)
	EOF
}

clamd_stop() {
	[ -n "$CLAMD_PID" ] || return 0
	stop_pid "$CLAMD_PID" clamd
	CLAMD_PID=
}

# ---------------------------------------------------------------------------
# SASL stand-in (Dovecot auth protocol) for the authenticated scenario
# ---------------------------------------------------------------------------

sasl_start() {
	mkdir -p "$W/sasl"
	chmod 755 "$W/sasl"
	rm -f "$W/sasl/auth"
	python3 "$E2E_DIR/fake_dovecot_auth.py" "$W/sasl/auth" "$@" \
		>>"$SD/sasl.log" 2>&1 &
	SASL_PID=$!
	wait_until 10 test -S "$W/sasl/auth"
}

sasl_stop() {
	[ -n "$SASL_PID" ] || return 0
	stop_pid "$SASL_PID" sasl-stub
	SASL_PID=
}
