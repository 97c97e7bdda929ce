#!/bin/bash
# Scenario 2: a virus from an external client (127.0.0.1, not in
# internal_networks) is refused with 550 5.7.1 at end of data; the reply text
# names the virus (swaks exits 26 on a 5xx after DATA); nothing is delivered.
. "$(dirname "$0")/lib.sh"
e2e_begin virus-external

klaxon_conf "$SD/klaxon.conf"
klaxon_start "$SD/klaxon.conf" || exit 1

tok=$(new_token)
swaks_send "$SD/smtp.txt" --header "Subject: eicar external $tok" \
	--body "$tok
$EICAR"
rc=$?
reply=$(smtp_data_reply "$SD/smtp.txt")
check "virus/external: swaks exits 26 (5xx after DATA)" "swaks exit $rc" \
	test "$rc" -eq 26
if [[ $reply == "550 5.7.1"* ]]; then
	pass "virus/external: SMTP 550 5.7.1 at end of data"
else
	fail "virus/external: SMTP 550 5.7.1 at end of data" "reply '$reply'"
fi
if [[ $reply == *"$EICAR_NAME"* ]]; then
	pass "virus/external: reply text names $EICAR_NAME"
else
	fail "virus/external: reply text names $EICAR_NAME" "reply '$reply'"
fi
check "virus/external: not delivered" "message with $tok in Maildir or queue" \
	not_delivered user "$tok"
check "virus/external: Postfix logs the milter-reject" \
	"no 'milter-reject: END-OF-MESSAGE ... 5.7.1' line in mx maillog" \
	eval 'log_since mx | grep -q "milter-reject: END-OF-MESSAGE.*: 5.7.1 "'
save_transcript 2-virus-external

# The same virus as a base64 attachment, in a message with two infected
# parts: the reply names both signatures (union of verdicts).
tok=$(new_token)
printf '%s\n' "$EICAR" >"$SD/eicar.com"
swaks_send "$SD/smtp2.txt" --header "Subject: two viruses $tok" --body "$tok" \
	--attach @"$SD/eicar.com" --attach @"$TESTFILES/clam.zip"
reply=$(smtp_data_reply "$SD/smtp2.txt")
if [[ $reply == 550* && $reply == *"$EICAR_NAME"* && $reply == *Klaxon.Test.ClamExe* ]]; then
	pass "virus/external: two infected attachments, reply names both"
else
	fail "virus/external: two infected attachments, reply names both" "reply '$reply'"
fi
check "virus/external: two infected attachments not delivered" \
	"message with $tok delivered" not_delivered user "$tok" 1

check "klaxon: still running" "daemon exited" pid_alive "$KLAXON_PID"
e2e_finish
