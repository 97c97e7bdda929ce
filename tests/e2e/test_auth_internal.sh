#!/bin/bash
# Scenario 4: an SMTP-authenticated session counts as internal even from an
# external address. mx's second listener (MX_AUTH_PORT) offers AUTH, backed by
# a Dovecot-auth stand-in (fake_dovecot_auth.py, account alice:secret), and
# Postfix hands klaxon the {auth_authen} macro at MAIL FROM.
#   * authenticated EICAR from 127.0.0.1        -> 250, quarantined, not delivered
#   * the same without AUTH (same port)        -> 550
#   * authenticated, trust_authenticated = no  -> 550
. "$(dirname "$0")/lib.sh"
e2e_begin auth-internal

if ! sasl_start alice:secret; then
	fail "auth: SASL stand-in started" "no socket $W/sasl/auth"
	exit 1
fi
klaxon_conf "$SD/klaxon.conf"
klaxon_start "$SD/klaxon.conf" || exit 1

kq_count() { find "$SD/quarantine" -maxdepth 1 -type f -name '*.kq' | grep -c .; }

auth_send() { # OUT TOKEN [swaks options]
	local out=$1 tok=$2
	shift 2
	swaks_send "$out" --port "$MX_AUTH_PORT" --header "Subject: auth $tok" \
		--body "$tok
$EICAR" "$@"
}

tok=$(new_token)
auth_send "$SD/smtp.txt" "$tok" --auth PLAIN --auth-user alice --auth-password secret
rc=$?
reply=$(smtp_data_reply "$SD/smtp.txt")
if grep -q '^<- *235 ' "$SD/smtp.txt"; then
	pass "auth: SMTP AUTH as alice accepted"
else
	fail "auth: SMTP AUTH as alice accepted" "no 235 in the swaks transcript"
fi
if [ "$rc" -eq 0 ] && [[ $reply == 250* ]]; then
	pass "auth/external-ip: EICAR discarded with 250 (authenticated = internal)"
else
	fail "auth/external-ip: EICAR discarded with 250 (authenticated = internal)" \
		"swaks exit $rc, reply '$reply'"
fi
check "auth/external-ip: not delivered" "message with $tok delivered" not_delivered user "$tok"
check "auth/external-ip: quarantined" "$(kq_count) .kq files, expected 1" \
	eval '[ "$(kq_count)" -eq 1 ] && grep -q -F -e "$tok" "$SD"/quarantine/*.kq'

tok=$(new_token)
auth_send "$SD/smtp2.txt" "$tok"
reply=$(smtp_data_reply "$SD/smtp2.txt")
if [[ $reply == 550* ]]; then
	pass "noauth/external-ip: EICAR refused with 550"
else
	fail "noauth/external-ip: EICAR refused with 550" "reply '$reply'"
fi

# trust_authenticated = no: AUTH no longer makes a session internal.
klaxon_stop
klaxon_conf "$SD/klaxon-noauth.conf" trust_authenticated=no \
	quarantine_dir="$SD/quarantine-noauth"
klaxon_start "$SD/klaxon-noauth.conf" "$SD/klaxon-noauth.log" || exit 1
tok=$(new_token)
auth_send "$SD/smtp3.txt" "$tok" --auth PLAIN --auth-user alice --auth-password secret
reply=$(smtp_data_reply "$SD/smtp3.txt")
if [[ $reply == 550* ]]; then
	pass "auth/trust_authenticated=no: EICAR refused with 550"
else
	fail "auth/trust_authenticated=no: EICAR refused with 550" "reply '$reply'"
fi

check "klaxon: still running" "daemon exited" pid_alive "$KLAXON_PID"
e2e_finish
