#!/bin/bash
# Scenario 3: a virus from an internal client (127.0.0.2, in
# internal_networks) is quarantined and discarded: SMTP says 250, user@ gets
# nothing, exactly one new <id>.kq holding the raw message appears in
# quarantine_dir, and an alert naming client address, sender, virus and
# quarantine id reaches alerts@ (through sendmail into mx, so the alert passes
# the milter as non-SMTP mail). Then the same for clam.zip as an attachment.
. "$(dirname "$0")/lib.sh"
e2e_begin virus-internal

klaxon_conf "$SD/klaxon.conf" alert_window=10
klaxon_start "$SD/klaxon.conf" || exit 1
Q=$SD/quarantine

kq_files() { find "$Q" -maxdepth 1 -type f -name '*.kq' 2>/dev/null | sort; }
kq_count() { kq_files | grep -c .; }

# quarantined_internal LABEL TOKEN SENDER VIRUS MARKER BEFORE OUT RC: the
# checks after one infected message from 127.0.0.2 (Subject "LABEL TOKEN",
# payload containing MARKER) was answered; BEFORE = .kq count before it,
# OUT/RC = swaks transcript and exit status.
quarantined_internal() {
	local label=$1 tok=$2 sender=$3 virus=$4 marker=$5 before=$6 out=$7 rc=$8
	local reply kq qid alert
	reply=$(smtp_data_reply "$out")
	if [ "$rc" -eq 0 ] && [[ $reply == 250* ]]; then
		pass "$label: SMTP 250 (discarded, not refused)"
	else
		fail "$label: SMTP 250 (discarded, not refused)" "swaks exit $rc, reply '$reply'"
	fi
	check "$label: not delivered to $USER_RCPT" "message with $tok delivered or queued" \
		not_delivered user "$tok"
	local after=$(($(kq_count)))
	if [ "$after" -eq $((before + 1)) ]; then
		pass "$label: exactly one new .kq in quarantine_dir"
	else
		fail "$label: exactly one new .kq in quarantine_dir" \
			"$before before, $after after: $(find "$Q" -mindepth 1 -printf '%f ' 2>&1)"
	fi
	kq=$(kq_files | while read -r f; do grep -q -F -e "$tok" "$f" && echo "$f"; done | head -n 1)
	if [ -n "$kq" ] && grep -q -F -e "Subject: $label $tok" "$kq" &&
		grep -q -F -e "$marker" "$kq"; then
		pass "$label: .kq holds the raw message"
	else
		fail "$label: .kq holds the raw message" \
			"no .kq with the Subject line and the payload (${kq:-none})"
	fi
	qid=$(basename "${kq:-none}" .kq)
	if [ "${AGGREGATED:-0}" = 1 ]; then
		aggregated_internal "$label" "$virus"
		return
	fi
	if [ -n "$kq" ] && alert=$(wait_for_mail alerts "$qid" 30); then
		pass "$label: alert for quarantine id $qid reached $ALERT_RCPT"
		local missing=""
		grep -q -F -e "$INTERNAL_IP" "$alert" || missing+=" client-address"
		grep -q -F -e "$sender" "$alert" || missing+=" sender"
		grep -q -F -e "$virus" "$alert" || missing+=" virus-name"
		if [ -z "$missing" ]; then
			pass "$label: alert names client address, sender, virus and id"
		else
			fail "$label: alert names client address, sender, virus and id" \
				"missing:$missing in $(basename "$alert")"
		fi
	else
		if [ -n "$kq" ]; then
			fail "$label: alert for quarantine id $qid reached $ALERT_RCPT" \
				"no mail with '$qid' in alerts@ after 30 s"
		else
			fail "$label: alert for quarantine id reached $ALERT_RCPT" \
				"no quarantine file, so no id to look for"
		fi
		fail "$label: alert names client address, sender, virus and id" "no alert"
	fi
}

# aggregated_internal LABEL VIRUS: a later copy from the same host inside
# alert_window has no alert of its own; the window's summary counts it.
aggregated_internal() {
	local label=$1 virus=$2 summary
	if grep -q "client=$INTERNAL_IP .*alert=counted" "$SD/klaxon.log"; then
		pass "$label: a second copy from $INTERNAL_IP is counted, not alerted (alert=counted)"
	else
		fail "$label: a second copy from $INTERNAL_IP is counted, not alerted (alert=counted)" "no such log line"
	fi
	if summary=$(wait_for_mail alerts "2 infected messages from internal host $INTERNAL_IP" 40); then
		pass "$label: the window's summary (2 infected messages) reached $ALERT_RCPT"
		grep -q -F -e "$virus" "$summary" && grep -q -F -e "$EICAR_NAME" "$summary" &&
			pass "$label: the summary names both viruses" ||
			fail "$label: the summary names both viruses" "in $(basename "$summary")"
	else
		fail "$label: the window's summary (2 infected messages) reached $ALERT_RCPT" "none after 40 s"
	fi
}

# 1. EICAR in the body.
tok=$(new_token)
sender=insider-$tok@inside.test
before=$(kq_count)
swaks_send "$SD/smtp.txt" --local-interface "$INTERNAL_IP" --from "$sender" \
	--header "Subject: virus/internal $tok" --body "$tok
$EICAR"
rc=$?
quarantined_internal virus/internal "$tok" "$sender" "$EICAR_NAME" "$EICAR" \
	"$before" "$SD/smtp.txt" "$rc"
save_transcript 3-virus-internal

# 2. clam.zip (clam.exe inside a zip) as a base64 attachment.
tok=$(new_token)
sender=zipper-$tok@inside.test
before=$(kq_count)
swaks_send "$SD/smtp2.txt" --local-interface "$INTERNAL_IP" --from "$sender" \
	--header "Subject: zip/internal $tok" --body "see attachment $tok" \
	--attach @"$TESTFILES/clam.zip"
rc=$?
# The .kq is the raw message, so the zip is in there base64-encoded. Same host,
# same alert window: counted, and summarised when the window ends.
AGGREGATED=1 quarantined_internal zip/internal "$tok" "$sender" Klaxon.Test.ClamExe \
	"$(base64 -w 76 "$TESTFILES/clam.zip" | head -n 1)" "$before" "$SD/smtp2.txt" "$rc"

# A clean message from the internal address still gets through.
tok=$(new_token)
swaks_send "$SD/smtp3.txt" --local-interface "$INTERNAL_IP" \
	--header "Subject: clean internal $tok" --body "clean $tok"
if [[ $(smtp_data_reply "$SD/smtp3.txt") == 250* ]] && wait_for_mail user "$tok" 20 >/dev/null; then
	pass "clean/internal: delivered"
else
	fail "clean/internal: delivered" "reply '$(smtp_data_reply "$SD/smtp3.txt")'"
fi

check "klaxon: still running" "daemon exited" pid_alive "$KLAXON_PID"
e2e_finish
