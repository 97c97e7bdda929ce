#!/bin/bash
# Scenario: release from the quarantine, through real Postfix. With
# on_banned_external = discard, an external message with a banned .pif is
# quarantined (250, not delivered). `klaxon quarantine release ID` re-injects
# it through mx's own sendmail (sendmail_command without -t: "-f SENDER --
# RCPT"); it passes klaxon again (non_smtpd_milters) because of the release
# token, and arrives at the original recipient with its original envelope
# sender and a byte-identical body (CRLF and LF normalised: Postfix delivers
# LF). The audit line exists and klaxon's log names the release. The same for
# a null-sender message (-f <>). A virus-class entry is refused without
# --force (exit 1, nothing delivered, audited).
. "$(dirname "$0")/lib.sh"
e2e_begin release

klaxon_conf "$SD/klaxon.conf" on_banned_external=discard
klaxon_start "$SD/klaxon.conf" || exit 1
Q=$SD/quarantine

qcli() { "$KLAXON_BIN" quarantine --config "$SD/klaxon.conf" "$@"; }

# entry_id TOKEN: the id of the quarantine entry whose subject holds TOKEN
entry_id() {
	qcli list --json 2>>"$SD/qcli.err" | python3 -c '
import json, sys
rows = [r for r in json.load(sys.stdin) if sys.argv[1] in (r["subject"] or "")]
print(rows[0]["id"] if len(rows) == 1 else "")' "$1"
}

# banned_message FILE TOKEN: a multipart message (CRLF) with a .pif
# attachment and body lines that tempt an MTA to change them: a lone dot,
# trailing spaces, a tab, a long line.
banned_message() {
	python3 - "$1" "$2" <<-'EOF'
		import base64, sys
		path, tok = sys.argv[1], sys.argv[2]
		long_line = "x" * 900
		b64 = base64.b64encode(b"not a program, just text\r\n" * 20).decode()
		lines = [
		    "From: Sender <sender@outside.test>", "To: <user@example.test>",
		    "Subject: release me " + tok, "Date: Fri, 27 Nov 2026 09:00:00 +0000",
		    "Message-ID: <" + tok + "@outside.test>", "MIME-Version: 1.0",
		    'Content-Type: multipart/mixed; boundary="rel-' + tok + '"', "",
		    "This is a multi-part message in MIME format.", "--rel-" + tok,
		    "Content-Type: text/plain; charset=us-ascii", "", "body of " + tok, ".",
		    "a line after a lone dot, with trailing spaces   ", "\tand a tab", long_line,
		    "--rel-" + tok, 'Content-Type: application/octet-stream; name="clip.pif"',
		    'Content-Disposition: attachment; filename="clip.pif"',
		    "Content-Transfer-Encoding: base64", ""]
		lines += [b64[i:i + 76] for i in range(0, len(b64), 76)]
		# No line ending after the last line: swaks adds CRLF "." itself.
		lines += ["--rel-" + tok + "--"]
		open(path, "wb").write("\r\n".join(lines).encode())
	EOF
}

# same_body ORIGINAL DELIVERED: the bodies (after the first blank line) are
# equal once CRLF is LF; ORIGINAL is the DATA swaks sent, less the line
# ending SMTP puts after its last line
same_body() {
	python3 - "$1" "$2" <<-'EOF'
		import sys
		def body(path):
		    data = open(path, "rb").read().replace(b"\r\n", b"\n")
		    return data[data.index(b"\n\n") + 2:]
		a, b = body(sys.argv[1]) + b"\n", body(sys.argv[2])
		if a != b:
		    print("  # bodies differ: %d vs %d bytes" % (len(a), len(b)))
		sys.exit(a != b)
	EOF
}

# header_of FILE NAME: the first header NAME of a delivered message
header_of() { awk -v n="$2:" 'tolower($1) == tolower(n) { sub(/^[^:]*: */, ""); print; exit } /^$/ { exit }' "$1"; }

# held_then_released LABEL SENDER: the whole release story for one banned message
held_then_released() {
	local label=$1 sender=$2 tok reply id out rc mail line f
	f=$SD/${label//\//-}
	tok=$(new_token)
	banned_message "$f.eml" "$tok"
	swaks_send "$f-smtp.txt" --from "${sender:-<>}" --data @"$f.eml"
	reply=$(smtp_data_reply "$f-smtp.txt")
	if [[ $reply == 250* ]]; then
		pass "$label: SMTP 250 (held: discarded with a quarantine copy)"
	else
		fail "$label: SMTP 250 (held: discarded with a quarantine copy)" "reply '$reply'"
	fi
	check "$label: not delivered while held" "message with $tok delivered or queued" \
		not_delivered user "$tok"
	id=$(entry_id "$tok")
	check "$label: one quarantine entry, class banned" "no entry with $tok: $(cat "$SD/qcli.err" 2>/dev/null)" \
		eval '[ -n "$id" ] && qcli show "$id" | grep -q "^class: *banned$"'
	[ -n "$id" ] || return 1

	out=$(qcli release "$id" 2>&1)
	rc=$?
	if [ "$rc" -eq 0 ] && [[ $out == *"released $id to $USER_RCPT"* ]]; then
		pass "$label: klaxon quarantine release exits 0"
	else
		fail "$label: klaxon quarantine release exits 0" "exit $rc: $out"
	fi
	if mail=$(wait_for_mail user "$tok" 30); then
		pass "$label: the released message reaches $USER_RCPT"
	else
		fail "$label: the released message reaches $USER_RCPT" \
			"nothing with $tok after 30 s (held again? klaxon log: $(grep -F "$tok" "$SD/klaxon.log" | tail -n 2))"
		return 1
	fi
	check "$label: delivered exactly once" "$(mail_count user "$tok") copies" \
		test "$(mail_count user "$tok")" -eq 1
	check "$label: body byte-identical to the original (CRLF/LF normalised)" "see above" \
		same_body "$f.eml" "$mail"
	check "$label: Subject kept" "Subject '$(header_of "$mail" Subject)'" \
		test "$(header_of "$mail" Subject)" = "release me $tok"
	local rp="<$sender>"
	[ -z "$sender" ] && rp="<>"
	check "$label: original envelope sender (Return-Path $rp)" "Return-Path '$(header_of "$mail" Return-Path)'" \
		test "$(header_of "$mail" Return-Path)" = "$rp"
	check "$label: X-Virus-Scanned names the released entry" "'$(header_of "$mail" X-Virus-Scanned)'" \
		eval '[[ $(header_of "$mail" X-Virus-Scanned) == *"$id"* ]]'
	line=$(grep -F " release id=$id " "$Q/audit.log" 2>/dev/null | tail -n 1)
	if [[ $line == *" rcpts=$USER_RCPT "*" result=ok"* ]]; then
		pass "$label: audit.log has the release (rcpts, result=ok)"
	else
		fail "$label: audit.log has the release (rcpts, result=ok)" "line '$line'"
	fi
	check "$label: klaxon's log shows the message let through by the release token" \
		"no line with released=$id in $SD/klaxon.log" grep -q -F "released=$id" "$SD/klaxon.log"
	check "$label: the token is in quarantine_dir/released" "$(ls "$Q/released" 2>&1)" \
		eval 'grep -q -l -F "$id" "$Q"/released/* 2>/dev/null'
}

held_then_released release/banned "sender@outside.test"
save_transcript 8-release
held_then_released release/null-sender ""

# A virus-class entry: release without --force is refused.
tok=$(new_token)
swaks_send "$SD/virus-smtp.txt" --local-interface "$INTERNAL_IP" --from "insider@inside.test" \
	--header "Subject: virus held $tok" --body "$tok
$EICAR"
reply=$(smtp_data_reply "$SD/virus-smtp.txt")
check "release/virus: internal EICAR is held (250)" "reply '$reply'" eval '[[ $reply == 250* ]]'
id=$(entry_id "$tok")
check "release/virus: one quarantine entry, class virus" "no entry with $tok" \
	eval '[ -n "$id" ] && qcli show "$id" | grep -q "^class: *virus$"'
out=$(qcli release "${id:-none}" 2>&1)
rc=$?
if [ "$rc" -eq 1 ] && [[ $out == *--force* ]]; then
	pass "release/virus: refused without --force (exit 1, says --force)"
else
	fail "release/virus: refused without --force (exit 1, says --force)" "exit $rc: $out"
fi
check "release/virus: not delivered" "message with $tok delivered or queued" not_delivered user "$tok" 3
check "release/virus: audit.log has the refusal" "$(tail -n 1 "$Q/audit.log" 2>&1)" \
	grep -q -E " release id=${id:-none} .* result=refused" "$Q/audit.log"

check "klaxon: still running" "daemon exited" pid_alive "$KLAXON_PID"
e2e_finish
