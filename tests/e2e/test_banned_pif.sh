#!/bin/bash
# Scenario: a banned attachment name. A .pif attachment (harmless bytes, so
# no virus is involved) from an external client (127.0.0.1) is refused by
# Postfix with klaxon's 554 5.7.1 at end of data, the reply names the
# attachment, and nothing is delivered. The same from an internal client
# (127.0.0.2): on_banned_internal defaults to reject as well, so the sender
# learns it was not delivered. A harmless .txt attachment is delivered.
. "$(dirname "$0")/lib.sh"
e2e_begin banned-pif

klaxon_conf "$SD/klaxon.conf"
klaxon_start "$SD/klaxon.conf" || exit 1

printf 'not a program, just text\r\n' >"$SD/clip.pif"

# banned_check LABEL OUT RC TOKEN: the checks after one banned message
banned_check() {
	local label=$1 out=$2 rc=$3 tok=$4 reply
	reply=$(smtp_data_reply "$out")
	check "$label: swaks exits 26 (5xx after DATA)" "swaks exit $rc" test "$rc" -eq 26
	if [[ $reply == "554 5.7.1"* ]]; then
		pass "$label: SMTP 554 5.7.1 at end of data"
	else
		fail "$label: SMTP 554 5.7.1 at end of data" "reply '$reply'"
	fi
	if [[ $reply == *clip.pif* ]]; then
		pass "$label: reply names clip.pif"
	else
		fail "$label: reply names clip.pif" "reply '$reply'"
	fi
	check "$label: not delivered" "message with $tok in Maildir or queue" not_delivered user "$tok"
}

tok=$(new_token)
swaks_send "$SD/smtp.txt" --header "Subject: banned pif $tok" --body "see attachment $tok" \
	--attach @"$SD/clip.pif"
banned_check "banned/external" "$SD/smtp.txt" $? "$tok"
check "banned/external: Postfix logs the milter-reject with 5.7.1" \
	"no 'milter-reject: END-OF-MESSAGE ... 5.7.1' line in mx maillog" \
	eval 'log_since mx | grep -q "milter-reject: END-OF-MESSAGE.*: 5.7.1 .*clip\.pif"'
save_transcript 6-banned-external

tok=$(new_token)
swaks_send "$SD/smtp2.txt" --local-interface "$INTERNAL_IP" \
	--header "Subject: banned pif internal $tok" --body "see attachment $tok" --attach @"$SD/clip.pif"
banned_check "banned/internal" "$SD/smtp2.txt" $? "$tok"

# The control: the same bytes under a harmless name are delivered.
cp "$SD/clip.pif" "$SD/clip.txt"
tok=$(new_token)
swaks_send "$SD/smtp3.txt" --header "Subject: harmless txt $tok" --body "see attachment $tok" \
	--attach @"$SD/clip.txt"
reply=$(smtp_data_reply "$SD/smtp3.txt")
if [[ $reply == 250* ]] && wait_for_mail user "$tok" 20 >/dev/null; then
	pass "banned/control: the same attachment named clip.txt is delivered"
else
	fail "banned/control: the same attachment named clip.txt is delivered" "reply '$reply'"
fi

check "klaxon: still running" "daemon exited" pid_alive "$KLAXON_PID"
e2e_finish
