#!/bin/bash
# Scenario 1: clean mail from an external client is accepted (250), delivered
# to user@'s Maildir, and carries the X-Virus-Scanned header klaxon adds.
# Also: SIGTERM stops the daemon cleanly.
. "$(dirname "$0")/lib.sh"
e2e_begin clean

klaxon_conf "$SD/klaxon.conf"
klaxon_start "$SD/klaxon.conf" || exit 1

tok=$(new_token)
swaks_send "$SD/smtp.txt" --header "Subject: clean $tok" --body "A clean message $tok"
rc=$?
reply=$(smtp_data_reply "$SD/smtp.txt")
if [ "$rc" -eq 0 ] && [[ $reply == 250* ]]; then
	pass "clean/external: SMTP 250 at end of data"
else
	fail "clean/external: SMTP 250 at end of data" "swaks exit $rc, reply '$reply'"
fi

if f=$(wait_for_mail user "$tok" 20); then
	pass "clean/external: delivered to $USER_RCPT"
	if sed '/^$/q' "$f" | grep -qi '^X-Virus-Scanned:'; then
		pass "clean/external: X-Virus-Scanned header present"
	else
		fail "clean/external: X-Virus-Scanned header present" \
			"no such header in $(basename "$f")"
	fi
else
	fail "clean/external: delivered to $USER_RCPT" "not in the Maildir after 20 s"
	fail "clean/external: X-Virus-Scanned header present" "no message to look at"
fi
save_transcript 1-clean-external

# A clean message with an attachment that merely looks like an archive.
tok=$(new_token)
printf 'just text, %s\n' "$tok" >"$SD/notes.txt"
swaks_send "$SD/smtp2.txt" --header "Subject: clean attachment $tok" \
	--body "see attachment $tok" --attach @"$SD/notes.txt"
reply=$(smtp_data_reply "$SD/smtp2.txt")
if [[ $reply == 250* ]] && wait_for_mail user "$tok" 20 >/dev/null; then
	pass "clean/external: MIME message with attachment delivered"
else
	fail "clean/external: MIME message with attachment delivered" "reply '$reply'"
fi

# SIGTERM: the daemon exits 0 and the MTA falls back to tempfail.
pid=$KLAXON_PID
kill -TERM "$pid"
if wait_until 10 eval "! kill -0 $pid 2>/dev/null"; then
	wait "$pid"
	st=$?
	KLAXON_PID=
	check "klaxon: SIGTERM stops the daemon with status 0" "exit status $st" \
		test "$st" -eq 0
else
	fail "klaxon: SIGTERM stops the daemon with status 0" "still running after 10 s"
fi

e2e_finish
