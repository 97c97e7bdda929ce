# shellcheck shell=bash disable=SC2034 # sets SOCK and SERVER_PIDS for run.sh
# bench/mimedefang.sh - sourced by bench/run.sh: start MIMEDefang 3.x on the
# private clamd. md_start sets SOCK and SERVER_PIDS, or returns 1 to skip.
#
# Debian's defaults (/etc/default/mimedefang, /etc/init.d/mimedefang and the
# shipped /etc/mail/mimedefang-filter), changed only where a private
# benchmark instance must be:
#   - everything runs as the defang user (MIMEDefang refuses root), with a
#     private spool (-z) and sockets under $W/md;
#   - the filter is Debian's, with two lines put in front: clamd on
#     (Debian's build has no clamd path compiled in, so Virus:CLAMD is off)
#     and $ClamdSock pointing at the private clamd. clamd runs as root here,
#     so it can read the spool when MIMEDefang hands it `SCAN dir`.
#   - -x (most workers) is 16, not Debian's 10: with fewer workers than
#     concurrent sessions MIMEDefang tempfails new connections at connect
#     ("no free workers"), and the c=16 point would measure nothing. This is
#     the one capacity setting changed for any peer; see RESULTS.md.
#   - no syslog daemon runs here, so MIMEDefang's own log lines are lost.
# Debian's filter discards a virus (action_discard); milterload counts a
# DISCARD of an EICAR message as the expected outcome.

md_start() {
	if ! command -v mimedefang >/dev/null || ! id defang >/dev/null 2>&1; then
		log "mimedefang is not installed (apt-get install -y mimedefang)"
		return 1
	fi
	start_clamd
	local md=$W/md
	mkdir -p "$md/spool"
	chown -R defang:defang "$md"
	chmod 750 "$md/spool"
	{
		echo "# bench/run.sh: the private clamd (Debian's build has no clamd path compiled in)"
		echo "\$Features{'Virus:CLAMD'} = 1;"
		echo "\$ClamdSock = '$CLAMD_SOCK';"
		cat /etc/mail/mimedefang-filter
	} >"$md/filter"
	chown defang:defang "$md/filter"
	# Debian defaults: -E (MX_EMBED_PERL=yes), -m 2, -b 600, -l, -y 0; -x see above
	start md-multiplexor mimedefang-multiplexor -D -U defang -z "$md/spool" -F "$md/filter" \
		-E -m 2 -x 16 -b 600 -l -y 0 -p "$md/mx.pid" -s "$md/mx.sock"
	wait_sock "$md/mx.sock" "${DAEMONS[-1]}" md-multiplexor
	local mxpid
	mxpid=$(pid_of "$md/mx.pid")
	# Debian defaults: -R -1 (LOOPBACK_RESERVED_CONNECTIONS), no -q
	start mimedefang mimedefang -D -U defang -z "$md/spool" -m "$md/mx.sock" -R -1 \
		-P "$md/md.pid" -p "unix:$md/md.sock"
	wait_sock "$md/md.sock" "${DAEMONS[-1]}" mimedefang
	SOCK=unix:$md/md.sock
	# the workers are children of the multiplexor; count them at each sample
	SERVER_PIDS="$(pid_of "$md/md.pid") $mxpid $CLAMD_PID"
}
