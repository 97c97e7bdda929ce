#!/bin/bash
# Scenario: the duplicate Content-Type trick through Postfix. The message
# has two Content-Type headers with different boundaries; read with the
# first (what an RFC-abiding parser does) it is one harmless text part, read
# with the second it carries EICAR as a base64 attachment. klaxon reads it
# both ways (the ambiguity defense), so Postfix refuses it with 550 5.7.1
# naming the virus and nothing is delivered. The control, the same shape
# with a harmless attachment, is delivered with the X-Klaxon-MIME-Anomalies
# header naming duplicate-content-type.
. "$(dirname "$0")/lib.sh"
e2e_begin dup-ctype

klaxon_conf "$SD/klaxon.conf"
klaxon_start "$SD/klaxon.conf" || exit 1

# dup_ctype_message TOKEN PAYLOAD: the message (LF line endings; swaks sends
# CRLF) with PAYLOAD base64-encoded behind the second header's boundary.
dup_ctype_message() {
	local b64
	b64=$(printf '%s' "$2" | base64 -w 76)
	cat <<-MSG
		From: <sender@outside.test>
		To: <$USER_RCPT>
		Subject: duplicate content-type $1
		Message-ID: <$1@outside.test>
		MIME-Version: 1.0
		Content-Type: multipart/mixed; boundary="AAA"
		Content-Type: multipart/mixed; boundary="BBB"

		--AAA
		Content-Type: text/plain

		$1: nothing to see under the first boundary
		--BBB
		Content-Type: text/plain

		cover text
		--BBB
		Content-Type: application/octet-stream; name="readme.dat"
		Content-Transfer-Encoding: base64

		$b64
		--BBB--
		--AAA--
	MSG
}

tok=$(new_token)
dup_ctype_message "$tok" "$EICAR" >"$SD/dup-eicar.eml"
swaks_send "$SD/smtp.txt" --data @"$SD/dup-eicar.eml"
rc=$?
reply=$(smtp_data_reply "$SD/smtp.txt")
check "dup-ctype/eicar: swaks exits 26 (5xx after DATA)" "swaks exit $rc" test "$rc" -eq 26
if [[ $reply == "550 5.7.1"* ]]; then
	pass "dup-ctype/eicar: SMTP 550 5.7.1 at end of data"
else
	fail "dup-ctype/eicar: SMTP 550 5.7.1 at end of data" "reply '$reply'"
fi
if [[ $reply == *"$EICAR_NAME"* ]]; then
	pass "dup-ctype/eicar: reply names $EICAR_NAME"
else
	fail "dup-ctype/eicar: reply names $EICAR_NAME" "reply '$reply'"
fi
check "dup-ctype/eicar: not delivered" "message with $tok in Maildir or queue" not_delivered user "$tok"
check "dup-ctype/eicar: klaxon logs the anomaly and several readings" \
	"no 'anomalies=...duplicate-content-type' with readings>1 in $SD/klaxon.log" \
	eval "grep -E 'readings=([2-9]|[1-9][0-9]).*anomalies=[a-z,-]*duplicate-content-type' '$SD/klaxon.log' | grep -q 'verdict=virus'"
save_transcript 7-dup-ctype-eicar

tok=$(new_token)
dup_ctype_message "$tok" "harmless bytes, $tok" >"$SD/dup-clean.eml"
swaks_send "$SD/smtp2.txt" --data @"$SD/dup-clean.eml"
reply=$(smtp_data_reply "$SD/smtp2.txt")
if [[ $reply == 250* ]] && f=$(wait_for_mail user "$tok" 20); then
	pass "dup-ctype/control: the same shape without a virus is delivered"
	if sed '/^$/q' "$f" | grep -q -i '^X-Klaxon-MIME-Anomalies:.*duplicate-content-type'; then
		pass "dup-ctype/control: X-Klaxon-MIME-Anomalies names duplicate-content-type"
	else
		fail "dup-ctype/control: X-Klaxon-MIME-Anomalies names duplicate-content-type" \
			"header block: $(sed '/^$/q' "$f" | grep -i '^X-' | tr '\n' ' ')"
	fi
else
	fail "dup-ctype/control: the same shape without a virus is delivered" "reply '$reply'"
	fail "dup-ctype/control: X-Klaxon-MIME-Anomalies names duplicate-content-type" "no message"
fi

check "klaxon: still running" "daemon exited" pid_alive "$KLAXON_PID"
e2e_finish
