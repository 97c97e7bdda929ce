#!/bin/bash
# Scenario 8: reload. `klaxon reload --config F` (SIGUSR1) applies a changed
# config to the next message without dropping the milter socket or an SMTP
# session in flight; a broken config is refused and the running one kept.
#   A  default reply_virus, internal_networks = 127.0.0.2/32
#   B  reply_virus changed              -> the 550 text changes
#   C  internal_networks adds 127.0.0.1 -> EICAR from 127.0.0.1 discarded
#   D  C plus an unknown key on line 3  -> refused; C stays in force
. "$(dirname "$0")/lib.sh"
e2e_begin reload

CONF=$SD/klaxon.conf
LOG=$SD/klaxon.log
klaxon_conf "$CONF"
klaxon_start "$CONF" || exit 1
pid0=$KLAXON_PID
ino0=$(stat -c %i "$W/klaxon/klaxon.sock")

log_count() { grep -c -F -e "$1" "$LOG" 2>/dev/null; }
log_count_gt() { [ "$(log_count "$1")" -gt "$2" ]; }
# wait_log PATTERN N: until PATTERN occurs more than N times in klaxon's log.
wait_log() { wait_until 15 log_count_gt "$1" "$2"; }

# eicar_from IP OUT: send EICAR from IP; print the end-of-data reply.
eicar_from() {
	swaks_send "$2" --local-interface "$1" \
		--header "Subject: reload $(basename "$2" .txt) $(new_token)" --body "$EICAR"
	smtp_data_reply "$2"
}

reply=$(eicar_from "$EXTERNAL_IP" "$SD/a.txt")
if [[ $reply == 550* && $reply != *"Reloaded policy"* ]]; then
	pass "reload/A: EICAR from 127.0.0.1 refused with the default text"
else
	fail "reload/A: EICAR from 127.0.0.1 refused with the default text" "reply '$reply'"
fi

# An SMTP session opened before the reload and finished after it.
tok=$(new_token)
python3 "$E2E_DIR/smtp_hold.py" "$MX_PORT" "$EXTERNAL_IP" "$USER_RCPT" "$tok" \
	"$SD/held.ready" "$SD/held.go" "$SD/held.out" &
held_pid=$!
wait_until 20 test -e "$SD/held.ready" ||
	note "held session not ready: $(cat "$SD/held.out" 2>/dev/null)"

# B: a new reply text.
n=$(log_count "reloaded configuration")
klaxon_conf "$CONF" reply_virus="550 5.7.1 Reloaded policy says no: %v"
if out=$("$KLAXON_BIN" reload --config "$CONF" 2>&1); then
	pass "reload/B: klaxon reload exits 0"
else
	fail "reload/B: klaxon reload exits 0" "$out"
fi
check "reload/B: daemon logs the reload" "no new 'reloaded configuration' line in 15 s" \
	wait_log "reloaded configuration" "$n"
reply=$(eicar_from "$EXTERNAL_IP" "$SD/b.txt")
if [[ $reply == "550 5.7.1 Reloaded policy says no:"* && $reply == *"$EICAR_NAME"* ]]; then
	pass "reload/B: the next message gets the new reply text"
else
	fail "reload/B: the next message gets the new reply text" "reply '$reply'"
fi

touch "$SD/held.go"
wait_until 60 eval "! kill -0 $held_pid 2>/dev/null"
wait "$held_pid" 2>/dev/null
held=$(cat "$SD/held.out" 2>/dev/null)
if [[ $held == 250* ]] && wait_for_mail user "$tok" 20 >/dev/null; then
	pass "reload/B: SMTP session open across the reload still delivered"
else
	fail "reload/B: SMTP session open across the reload still delivered" "result '$held'"
fi

# C: 127.0.0.1 becomes internal.
n=$(log_count "reloaded configuration")
klaxon_conf "$CONF" internal_networks="127.0.0.1/32, 127.0.0.2/32"
"$KLAXON_BIN" reload --config "$CONF" >"$SD/reload-c.out" 2>&1
wait_log "reloaded configuration" "$n" || note "no reload log line for C"
kq_before=$(find "$SD/quarantine" -name '*.kq' | grep -c .)
reply=$(eicar_from "$EXTERNAL_IP" "$SD/c.txt")
kq_after=$(find "$SD/quarantine" -name '*.kq' | grep -c .)
if [[ $reply == 250* ]] && [ "$kq_after" -eq $((kq_before + 1)) ]; then
	pass "reload/C: changed internal_networks: EICAR from 127.0.0.1 now quarantined (250)"
else
	fail "reload/C: changed internal_networks: EICAR from 127.0.0.1 now quarantined (250)" \
		"reply '$reply', .kq files $kq_before -> $kq_after"
fi

check "reload: same pid after two reloads" "pid $pid0 -> $(cat "$SD/klaxon.pid" 2>/dev/null)" \
	eval 'pid_alive $pid0 && [ "$(tr -d " \n" <"$SD/klaxon.pid")" = "$pid0" ]'
check "reload: milter socket not recreated" "inode $ino0 -> $(stat -c %i "$W/klaxon/klaxon.sock" 2>&1)" \
	eval '[ "$(stat -c %i "$W/klaxon/klaxon.sock" 2>/dev/null)" = "$ino0" ]'

# D: a broken config. `klaxon reload` refuses it up front ...
cp "$CONF" "$SD/good.conf"
sed -i '3i no_such_key = 1' "$CONF"
if out=$("$KLAXON_BIN" reload --config "$CONF" 2>&1); then
	fail "reload/D: klaxon reload refuses a broken config" "exit 0: $out"
elif [[ $out == *"$CONF:3:"* ]]; then
	pass "reload/D: klaxon reload refuses a broken config, naming $(basename "$CONF"):3:"
else
	fail "reload/D: klaxon reload refuses a broken config, naming $(basename "$CONF"):3:" "$out"
fi
# ... and the daemon, signalled directly, keeps the running config.
n=$(log_count "reload failed")
kill -USR1 "$pid0"
check "reload/D: daemon logs the failed reload" "no new 'reload failed' line in 15 s" \
	wait_log "reload failed" "$n"
check "reload/D: the failed-reload log line names $(basename "$CONF"):3:" \
	"$(grep 'reload failed' "$LOG" | tail -n 1)" \
	eval 'grep "reload failed" "$LOG" | tail -n 1 | grep -q -F -e "$CONF:3:"'
check "reload/D: daemon still running" "pid $pid0 gone" pid_alive "$pid0"
reply=$(eicar_from "$EXTERNAL_IP" "$SD/d.txt")
if [[ $reply == 250* ]]; then
	pass "reload/D: config C still in force (EICAR from 127.0.0.1 quarantined)"
else
	fail "reload/D: config C still in force (EICAR from 127.0.0.1 quarantined)" "reply '$reply'"
fi
tok=$(new_token)
swaks_send "$SD/d-clean.txt" --header "Subject: after failed reload $tok" --body "clean $tok"
if [[ $(smtp_data_reply "$SD/d-clean.txt") == 250* ]] && wait_for_mail user "$tok" 20 >/dev/null; then
	pass "reload/D: clean mail still delivered"
else
	fail "reload/D: clean mail still delivered" "reply '$(smtp_data_reply "$SD/d-clean.txt")'"
fi

e2e_finish
