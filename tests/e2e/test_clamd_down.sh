#!/bin/bash
# Scenario 5: scanner = clamd and clamd goes away. Mail arriving through the
# relay instance is tempfailed by mx (451 4.7.1) and stays queued on the
# relay; once clamd is back, `postqueue -f` on the relay delivers it.
. "$(dirname "$0")/lib.sh"
e2e_begin clamd-down

clamd_start || exit 1
klaxon_conf "$SD/klaxon.conf" scanner=clamd scan_timeout=5
klaxon_start "$SD/klaxon.conf" || exit 1

# The clamd back end works while clamd is up.
tok=$(new_token)
swaks_send "$SD/smtp0.txt" --header "Subject: eicar via clamd $tok" --body "$tok
$EICAR"
reply=$(smtp_data_reply "$SD/smtp0.txt")
if [[ $reply == 550* && $reply == *"$EICAR_NAME"* ]]; then
	pass "clamd/up: EICAR refused with 550 naming the virus"
else
	fail "clamd/up: EICAR refused with 550 naming the virus" "reply '$reply'"
fi

transcript_mark # the transcript starts here: clamd down, relay, retry
clamd_stop
check "clamd/down: clamd stopped" "still answers PING" eval '! clamd_ping'

tok=$(new_token)
swaks_send "$SD/smtp.txt" --port "$RELAY_PORT" \
	--header "Subject: clamd down $tok" --body "A clean message $tok"
reply=$(smtp_data_reply "$SD/smtp.txt")
qid=$(sed -n 's/.*queued as \([0-9A-Za-z]*\).*/\1/p' <<<"$reply")
if [[ $reply == 250* ]] && [ -n "$qid" ]; then
	pass "clamd/down: relay accepted the message ($qid)"
else
	fail "clamd/down: relay accepted the message" "reply '$reply'"
fi

relay_deferred() {
	log_since relay | grep -F -e "$qid: to=<$USER_RCPT>" |
		grep -q 'status=deferred.*said: 451 4\.7\.1'
}
if [ -n "$qid" ] && wait_until 20 relay_deferred; then
	pass "clamd/down: relay logs the deferral with 451 4.7.1 from mx"
else
	fail "clamd/down: relay logs the deferral with 451 4.7.1 from mx" \
		"no 'status=deferred ... said: 451 4.7.1' for $qid in 20 s"
fi
# The relay's own retry (queue_run_delay/backoff of 1-2 s) meets 451 again.
deferrals() { log_since relay | grep -F -e "$qid: to=<$USER_RCPT>" | grep -c 'status=deferred'; }
check "clamd/down: the relay retries on its own and is deferred again" \
	"$(deferrals) deferral(s) in 15 s" wait_until 15 eval '[ "$(deferrals)" -ge 2 ]'
check "clamd/down: mx logs milter-reject 4.7.1 at end of message" "no such line" \
	eval 'log_since mx | grep -q "milter-reject: END-OF-MESSAGE.*: 4\.7\.1 "'
check "clamd/down: not delivered" "message with $tok delivered" \
	eval '[ "$(mail_count user "$tok")" -eq 0 ]'
check "clamd/down: still queued on the relay" "relay queue: $(queue_count relay)" \
	eval '[ "$(queue_count relay)" -ge 1 ]'

clamd_start || exit 1
postqueue_flush relay
if wait_for_mail user "$tok" 30 >/dev/null; then
	pass "clamd/back: after postqueue -f the message is delivered"
else
	fail "clamd/back: after postqueue -f the message is delivered" "not within 30 s"
fi
check "clamd/back: relay queue empty" "relay queue: $(queue_count relay)" \
	wait_until 10 eval '[ "$(queue_count relay)" -eq 0 ]'
save_transcript 5-clamd-down

check "klaxon: still running" "daemon exited" pid_alive "$KLAXON_PID"
e2e_finish
