#!/bin/bash
# Scenario: the Lua policy filter (issue 4) through the real Postfix.
#
# klaxon runs with `filter = <copy of tests/e2e/filter_actions.lua>`, whose
# Subject "ACT=<word> <token>" picks the message action, and whose early
# callbacks key on the client address, HELO and envelope sender. One message
# per action, each checked at the SMTP client (swaks) and in the delivered
# Maildir file (Python's email package for the MIME edits):
#   bounce, tempfail, discard (+ .kq), quarantine + accept (delivered + .kq)
#   drop_with_warning / replace_with_warning on a .exe, drop on a leaf of a
#     multipart/alternative: valid MIME, other parts byte-identical, .kq
#   add/change/delete header, add/delete recipient, change sender
#   notify_administrator (alert mail), notify_sender (notice arrives), and
#     notify_sender refused when another part holds a virus (built-in 550)
#   a virus dropped by the filter: delivered clean, WARNING part, .kq
#   an endless loop and a runtime error: 4xx, FILE:LINE in the log, the
#     daemon serves the next message
#   early callbacks: relay reject, HELO tempfail and discard, sender reject,
#     recipient tempfail, a recipient reject with a 4xx code (klaxon answers
#     4xx and logs why)
#   reload: a filter with a syntax error is refused (FILE:LINE logged) and the
#     old one stays; a good one takes effect
# shellcheck disable=SC2016 # the eval'd checks are single-quoted on purpose
. "$(dirname "$0")/lib.sh"
e2e_begin filter

FILTER=$SD/filter_actions.lua
CONF=$SD/klaxon.conf
LOG=$SD/klaxon.log
Q=$SD/quarantine
cp "$E2E_DIR/filter_actions.lua" "$FILTER"
# A small budget and time limit, so that the endless loop ends quickly.
klaxon_conf "$CONF" filter="$FILTER" filter_instruction_budget=2000000 filter_time_limit=2
klaxon_start "$CONF" || exit 1

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

kq_files() { find "$Q" -maxdepth 1 -type f -name '*.kq' 2>/dev/null | sort; }
kq_count() { kq_files | grep -c .; }
# kq_with TOKEN: the quarantine file holding TOKEN (first one).
kq_with() { kq_files | while read -r f; do grep -q -F -e "$1" "$f" && echo "$f"; done | head -n 1; }

klog_size() { file_size "$LOG"; }
# klog_since OFFSET: klaxon's log from byte OFFSET on.
klog_since() { tail -c +"$(($1 + 1))" "$LOG" 2>/dev/null; }
klog_count() { grep -c -F -e "$1" "$LOG" 2>/dev/null; }
klog_count_gt() { [ "$(klog_count "$1")" -gt "$2" ]; }

# oneline: join lines with " | " (a FAIL reason is one line).
oneline() { paste -s -d '|' - | sed 's/|/ | /g'; }

# line_of PATTERN FILE: the line number of the first line with PATTERN.
line_of() { grep -n -F -e "$1" "$2" | head -n 1 | cut -d: -f1; }

# header_block FILE: the header of a delivered message (up to the blank line).
header_block() { awk '/^\r?$/ { exit } { print }' "$1"; }

# expect_reply NAME OUT PATTERN: the end-of-DATA reply matches the bash
# pattern PATTERN.
expect_reply() {
	local reply
	reply=$(smtp_data_reply "$2")
	# shellcheck disable=SC2053 # PATTERN is a glob on purpose
	if [[ $reply == $3 ]]; then
		pass "$1"
	else
		fail "$1" "reply '$reply'; last reply of the session: '$(smtp_last_reply "$2")'"
	fi
}

# expect_delivered NAME MAILBOX TOKEN: prints the file to stdout via $DELIVERED.
DELIVERED=
expect_delivered() {
	if DELIVERED=$(wait_for_mail "$2" "$3" 20); then
		pass "$1"
	else
		DELIVERED=
		fail "$1" "no message with $3 in $2@ after 20 s"
	fi
}

expect_not_delivered() {
	check "$1" "message with $3 delivered or queued" not_delivered "$2" "$3"
}

# expect_new_kq NAME BEFORE TOKEN: exactly one new .kq, and it holds TOKEN.
expect_new_kq() {
	local after kq
	after=$(kq_count)
	kq=$(kq_with "$3")
	if [ "$after" -eq $(($2 + 1)) ] && [ -n "$kq" ]; then
		pass "$1"
	else
		fail "$1" ".kq files $2 -> $after; with the token: ${kq:-none}"
	fi
}

# The test attachments: a PDF-like file (random bytes: "byte-identical"
# means something) and a harmless file named .exe.
PDF=$SD/report.pdf
EXE=$SD/tool.exe
python3 - "$PDF" "$EXE" <<'PY'
import os, sys
with open(sys.argv[1], "wb") as f:
    f.write(b"%PDF-1.4\n" + os.urandom(3000) + b"\n%%EOF\n")
with open(sys.argv[2], "wb") as f:
    f.write(b"MZ" + b"This is not a program, only a harmless test file.\n" * 20)
PY

# gen_msg KIND TOKEN SUBJECT FROM TO OUT [NAME]: a raw multipart message for
# swaks --data. KIND:
#   exe     mixed: text/plain, report.pdf, tool.exe
#   alt     mixed: alternative(text/plain, text/html), report.pdf
#   eicar3  mixed: text/plain, notes.txt, NAME (EICAR, base64)
gen_msg() {
	python3 - "$1" "$2" "$3" "$4" "$5" "$6" "${7:-eicar.dat}" "$PDF" "$EXE" "$EICAR" <<'PY'
import base64, sys
kind, tok, subject, frm, to, out, vname, pdf, exe, eicar = sys.argv[1:11]

def b64(data):
    s = base64.b64encode(data).decode()
    return "\n".join(s[i:i + 76] for i in range(0, len(s), 76))

def att(ctype, name, data):
    return (f'Content-Type: {ctype}; name="{name}"\n'
            f'Content-Disposition: attachment; filename="{name}"\n'
            f'Content-Transfer-Encoding: base64\n\n{b64(data)}\n')

def multipart(ctype, boundary, parts):
    body = f'Content-Type: {ctype}; boundary="{boundary}"\n\n'
    body += "This is a multi-part message in MIME format.\n\n"
    for p in parts:
        body += f"--{boundary}\n{p}"
    return body + f"--{boundary}--\n"

text = f"Content-Type: text/plain; charset=us-ascii\n\nHello {tok}, see the attachments.\n"
pdfdata = open(pdf, "rb").read()
if kind == "exe":
    body = multipart("multipart/mixed", f"b1-{tok}",
                     [text, att("application/pdf", "report.pdf", pdfdata),
                      att("application/octet-stream", "tool.exe", open(exe, "rb").read())])
elif kind == "alt":
    alt = multipart("multipart/alternative", f"b2-{tok}",
                    [f"Content-Type: text/plain; charset=us-ascii\n\nPlain {tok}\n",
                     f"Content-Type: text/html; charset=us-ascii\n\n<p>HTML {tok}</p>\n"])
    body = multipart("multipart/mixed", f"b1-{tok}",
                     [alt, att("application/pdf", "report.pdf", pdfdata)])
elif kind == "eicar3":
    body = multipart("multipart/mixed", f"b1-{tok}",
                     [f"Content-Type: text/plain; charset=us-ascii\n\nClean text {tok}\n",
                      att("text/plain", "notes.txt", f"just notes {tok}\n".encode()),
                      att("application/octet-stream", vname, eicar.encode())])
else:
    sys.exit("unknown kind " + kind)
head = (f"From: <{frm}>\nTo: <{to}>\nSubject: {subject}\n"
        f"Date: Fri, 27 Nov 2026 09:00:00 +0000\n"
        f"Message-ID: <{kind}.{tok}@outside.test>\nMIME-Version: 1.0\n")
with open(out, "w") as f:
    f.write(head + body)
PY
}

# mime_check MODE FILE ARG...: parse a delivered message with Python's email
# package and print one "ok|bad<TAB>check<TAB>reason" line per check; mime_report
# turns them into PASS/FAIL lines prefixed with a label.
mime_check() {
	python3 - "$@" <<'PY'
import sys
from email import policy
from email.parser import BytesParser

mode, path = sys.argv[1], sys.argv[2]
args = sys.argv[3:]
msg = BytesParser(policy=policy.default).parse(open(path, "rb"))

def say(ok, name, why=""):
    print(("ok" if ok else "bad") + "\t" + name + "\t" + why.replace("\n", " ")[:300])

def tree(p):
    if p.is_multipart():
        return p.get_content_type() + "[" + ",".join(tree(c) for c in p.iter_parts()) + "]"
    return p.get_content_type() + (f'("{p.get_filename()}")' if p.get_filename() else "")

leaves = [p for p in msg.walk() if not p.is_multipart()]
defects = [(p.get_content_type(), d.__class__.__name__) for p in msg.walk() for d in p.defects]
say(not defects, "valid MIME: Python's email package finds no defect in any part", f"{defects}; tree {tree(msg)}")

def payload(p):
    return p.get_payload(decode=True) or b""

def by_name(name):
    return [p for p in leaves if (p.get_filename() or "") == name]

def warning_parts(text):
    return [p for p in leaves if p.get_content_type() == "text/plain" and text.encode() in payload(p)]

if mode in ("drop_warn", "replace_warn"):
    pdf, text = open(args[0], "rb").read(), args[1]
    t = tree(msg)
    say(not by_name("tool.exe"), "tool.exe is gone", t)
    pdfs = by_name("report.pdf")
    say(len(pdfs) == 1 and payload(pdfs[0]) == pdf, "report.pdf byte-identical after decoding",
        f"{len(pdfs)} report.pdf part(s); tree {t}")
    first = leaves[0] if leaves else None
    say(first is not None and first.get_content_type() == "text/plain" and b"see the attachments" in payload(first),
        "the text part is still the first part", t)
    warn = warning_parts(text)
    say(len(warn) == 1, "one text/plain part holds the filter's warning", f"{len(warn)} such parts; tree {t}")
    if mode == "drop_warn":
        say(len(warn) == 1 and (warn[0].get_filename() or "").upper() == "WARNING.TXT",
            "the warning part is WARNING.TXT", t)
        say(t.startswith("multipart/mixed[") and len(leaves) == 3,
            "structure: mixed with text, report.pdf and the warning", t)
    else:
        kids = list(msg.iter_parts()) if msg.is_multipart() else []
        say(len(kids) == 3 and kids[2] in warn and kids[1] in pdfs,
            "structure kept: the warning is in place of tool.exe (third child of mixed)", t)
elif mode == "drop_alt":
    pdf, tok = open(args[0], "rb").read(), args[1]
    t = tree(msg)
    say(not any(p.get_content_type() == "text/html" for p in leaves), "the text/html alternative is gone", t)
    say(t == 'multipart/mixed[multipart/alternative[text/plain],application/pdf("report.pdf")]',
        "structure: mixed(alternative(text/plain), report.pdf)", t)
    plain = [p for p in leaves if p.get_content_type() == "text/plain" and f"Plain {tok}".encode() in payload(p)]
    say(len(plain) == 1, "the text/plain alternative is intact", t)
    pdfs = by_name("report.pdf")
    say(len(pdfs) == 1 and payload(pdfs[0]) == pdf, "report.pdf byte-identical after decoding", t)
elif mode == "virus_drop":
    eicar, text, tok, vname = args[0].encode(), args[1], args[2], args[3]
    t = tree(msg)
    raw = open(path, "rb").read()
    say(eicar not in raw and not any(eicar in payload(p) for p in leaves),
        "no EICAR in the delivered message, raw or decoded", t)
    say(not by_name(vname), f"the infected part {vname} is gone", t)
    warn = warning_parts(text)
    say(len(warn) == 1 and (warn[0].get_filename() or "").upper() == "WARNING.TXT",
        "a WARNING.TXT part holds the filter's warning", t)
    say(any(f"Clean text {tok}".encode() in payload(p) for p in leaves) and len(by_name("notes.txt")) == 1,
        "the clean parts are still there", t)
else:
    say(False, "mime_check mode", "unknown mode " + mode)
PY
}

mime_report() {
	local label=$1 st name why
	shift
	while IFS=$'\t' read -r st name why; do
		if [ "$st" = ok ]; then pass "$label: $name"; else fail "$label: $name" "$why"; fi
	done < <(mime_check "$@" 2>&1 | sed -E 's/^(Traceback|  File|[A-Za-z]*Error)/bad\tmime_check crashed\t&/')
}

# send_msg OUT SUBJECT [swaks options]: a plain message with SUBJECT and a
# body holding the subject's token.
send_plain() {
	local out=$1 subject=$2
	shift 2
	swaks_send "$out" --header "Subject: $subject" --body "body of: $subject" "$@"
}

check "filter: klaxon filter --test accepts filter_actions.lua" \
	"$("$KLAXON_BIN" filter --test "$FILTER" 2>&1 | tail -n 3 | oneline)" \
	"$KLAXON_BIN" filter --test "$FILTER"

# ---------------------------------------------------------------------------
# Message actions
# ---------------------------------------------------------------------------

# bounce: 554 5.7.1 with the filter's text.
tok=$(new_token)
send_plain "$SD/bounce.txt" "ACT=bounce $tok"
expect_reply "bounce: 554 5.7.1 with the filter's text" "$SD/bounce.txt" \
	"554 5.7.1 Bounced by the e2e filter $tok"
expect_not_delivered "bounce: not delivered" user "$tok"
save_transcript filter-1-bounce

# tempfail: the filter's 4xx.
tok=$(new_token)
send_plain "$SD/tempfail.txt" "ACT=tempfail $tok"
expect_reply "tempfail: 451 4.3.0 with the filter's text" "$SD/tempfail.txt" \
	"451 4.3.0 Deferred by the e2e filter $tok"
expect_not_delivered "tempfail: not delivered" user "$tok"

# discard: 250, nothing delivered, a durable copy first.
tok=$(new_token)
before=$(kq_count)
send_plain "$SD/discard.txt" "ACT=discard $tok"
expect_reply "discard: SMTP 250" "$SD/discard.txt" "250*"
expect_not_delivered "discard: not delivered" user "$tok"
expect_new_kq "discard: one new .kq holding the message" "$before" "$tok"

# quarantine_entire_message + accept: delivered and a copy kept.
tok=$(new_token)
before=$(kq_count)
send_plain "$SD/quarantine.txt" "ACT=quarantine $tok"
expect_reply "quarantine+accept: SMTP 250" "$SD/quarantine.txt" "250*"
expect_delivered "quarantine+accept: delivered" user "$tok"
expect_new_kq "quarantine+accept: one new .kq holding the message" "$before" "$tok"
kq=$(kq_with "$tok")
check "quarantine+accept: the .kq records the filter's reason" "no 'e2e quarantine request' in ${kq:-none}" \
	grep -q -F -e "e2e quarantine request $tok" "${kq:-/dev/null}"

# drop_with_warning on tool.exe.
tok=$(new_token)
before=$(kq_count)
gen_msg exe "$tok" "ACT=drop_warn $tok" sender@outside.test "$USER_RCPT" "$SD/exe-drop.eml"
swaks_send "$SD/drop-warn.txt" --data @"$SD/exe-drop.eml"
expect_reply "drop_with_warning: SMTP 250" "$SD/drop-warn.txt" "250*"
expect_delivered "drop_with_warning: delivered" user "$tok"
[ -n "$DELIVERED" ] && mime_report "drop_with_warning" drop_warn "$DELIVERED" "$PDF" \
	"The attachment tool.exe was removed by the e2e filter $tok"
expect_new_kq "drop_with_warning: one new .kq" "$before" "$tok"
kq=$(kq_with "$tok")
check "drop_with_warning: the .kq holds the original, tool.exe included" "${kq:-no .kq}" \
	grep -q -F -e 'filename="tool.exe"' "${kq:-/dev/null}"
save_transcript filter-2-drop-with-warning

# replace_with_warning on tool.exe: the structure keeps its shape.
tok=$(new_token)
before=$(kq_count)
gen_msg exe "$tok" "ACT=replace_warn $tok" sender@outside.test "$USER_RCPT" "$SD/exe-replace.eml"
swaks_send "$SD/replace-warn.txt" --data @"$SD/exe-replace.eml"
expect_reply "replace_with_warning: SMTP 250" "$SD/replace-warn.txt" "250*"
expect_delivered "replace_with_warning: delivered" user "$tok"
[ -n "$DELIVERED" ] && mime_report "replace_with_warning" replace_warn "$DELIVERED" "$PDF" \
	"The attachment tool.exe was replaced by the e2e filter $tok"
expect_new_kq "replace_with_warning: one new .kq" "$before" "$tok"

# drop on the text/html leaf of a multipart/alternative inside mixed.
tok=$(new_token)
before=$(kq_count)
gen_msg alt "$tok" "ACT=drop_alt $tok" sender@outside.test "$USER_RCPT" "$SD/alt.eml"
swaks_send "$SD/drop-alt.txt" --data @"$SD/alt.eml"
expect_reply "drop (alternative leaf): SMTP 250" "$SD/drop-alt.txt" "250*"
expect_delivered "drop (alternative leaf): delivered" user "$tok"
[ -n "$DELIVERED" ] && mime_report "drop (alternative leaf)" drop_alt "$DELIVERED" "$PDF" "$tok"
expect_new_kq "drop (alternative leaf): one new .kq (dropped content is kept)" "$before" "$tok"

# Header edits.
tok=$(new_token)
send_plain "$SD/headers.txt" "ACT=headers $tok" --header "X-Drop-Me: please $tok" \
	--header "X-Change-Me: original $tok"
expect_reply "headers: SMTP 250" "$SD/headers.txt" "250*"
expect_delivered "headers: delivered" user "$tok"
if [ -n "$DELIVERED" ]; then
	hb=$(header_block "$DELIVERED")
	# hval NAME: the values of the NAME fields, leading blanks dropped.
	hval() { grep -i "^$1:" <<<"$hb" | sed -E 's/^[^:]*:[ \t]*//'; }
	check "headers: action_add_header added X-Filter-Added" "$(grep -i '^X-Filter' <<<"$hb" | oneline)" \
		eval '[ "$(hval X-Filter-Added)" = "added $tok" ]'
	check "headers: action_change_header changed X-Change-Me (one field, the new value)" \
		"$(grep -i '^X-Change-Me' <<<"$hb" | oneline)" eval '[ "$(hval X-Change-Me)" = "changed $tok" ]'
	check "headers: action_delete_header removed X-Drop-Me" "$(grep -i '^X-Drop-Me' <<<"$hb" | oneline)" \
		eval '! grep -q -i "^X-Drop-Me:" <<<"$hb"'
	check "headers: X-Virus-Scanned still added" "no X-Virus-Scanned" \
		grep -q -i '^X-Virus-Scanned:' <<<"$hb"
	# klaxon negotiates SMFIP_HDR_LEADSPC, so the MTA writes "Name:" and the
	# value exactly as given: the space must be part of the value.
	check "headers: the filter's fields are written 'Name: value', like the rest of the header" \
		"$(grep -i -E '^(X-Filter-Added|X-Change-Me):' <<<"$hb" | oneline)" \
		eval 'grep -q -x -F -e "X-Filter-Added: added $tok" <<<"$hb" && grep -q -x -F -e "X-Change-Me: changed $tok" <<<"$hb"'
fi

# add_recipient: alerts@ gets a copy too.
tok=$(new_token)
send_plain "$SD/add-rcpt.txt" "ACT=add_rcpt $tok"
expect_reply "add_recipient: SMTP 250" "$SD/add-rcpt.txt" "250*"
expect_delivered "add_recipient: delivered to the original recipient" user "$tok"
expect_delivered "add_recipient: delivered to the added recipient $ALERT_RCPT" alerts "$tok"

# delete_recipient: sent to user@ and alerts@, alerts@ removed.
tok=$(new_token)
send_plain "$SD/del-rcpt.txt" "ACT=del_rcpt $tok" --to "$USER_RCPT,$ALERT_RCPT"
expect_reply "delete_recipient: SMTP 250" "$SD/del-rcpt.txt" "250*"
expect_delivered "delete_recipient: delivered to the remaining recipient" user "$tok"
sleep 2
check "delete_recipient: nothing for the deleted recipient $ALERT_RCPT" "$(mail_files alerts "$tok" | oneline)" \
	eval '[ "$(mail_count alerts "$tok")" -eq 0 ]'

# change_sender: the delivered Return-Path is the new sender.
tok=$(new_token)
send_plain "$SD/chg-sender.txt" "ACT=chg_sender $tok"
expect_reply "change_sender: SMTP 250" "$SD/chg-sender.txt" "250*"
expect_delivered "change_sender: delivered" user "$tok"
if [ -n "$DELIVERED" ]; then
	rp=$(header_block "$DELIVERED" | grep -i '^Return-Path:')
	check "change_sender: Return-Path is the new sender" "'$rp'" \
		test "$rp" = "Return-Path: <changed-$tok@outside.test>"
fi

# notify_administrator: an alert mail to alerts@ with the filter's text.
tok=$(new_token)
send_plain "$SD/notify-admin.txt" "ACT=notify_admin $tok"
expect_reply "notify_administrator: SMTP 250" "$SD/notify-admin.txt" "250*"
expect_delivered "notify_administrator: the message is delivered" user "$tok"
expect_delivered "notify_administrator: an alert with the filter's text reaches $ALERT_RCPT" alerts \
	"Admin notice from the e2e filter $tok"

# notify_sender, positive control: user@ sends (from outside) to alerts@
# and receives the notice.
tok=$(new_token)
send_plain "$SD/notify-sender.txt" "ACT=notify_sender $tok" --from "$USER_RCPT" --to "$ALERT_RCPT"
expect_reply "notify_sender: SMTP 250" "$SD/notify-sender.txt" "250*"
expect_delivered "notify_sender: the message is delivered" alerts "$tok"
expect_delivered "notify_sender: the notice with the filter's text reaches the sender" user \
	"Sender notice from the e2e filter $tok"
if [ -n "$DELIVERED" ]; then
	check "notify_sender: the notice's Subject is 'Notice about your message'" \
		"$(header_block "$DELIVERED" | grep -i '^Subject:')" \
		eval 'header_block "$DELIVERED" | grep -q -i "^Subject: Notice about your message"'
fi

# notify_sender refused: the same request from filter() for part 1 of a
# message whose part 3 is EICAR. The built-in policy decides (550 for an
# external virus) and no notice is ever sent.
tok=$(new_token)
off=$(klog_size)
gen_msg eicar3 "$tok" "ACT=notify_sender_virus $tok" "$USER_RCPT" "$ALERT_RCPT" "$SD/eicar3.eml" eicar.dat
swaks_send "$SD/notify-virus.txt" --from "$USER_RCPT" --to "$ALERT_RCPT" --data @"$SD/eicar3.eml"
reply=$(smtp_data_reply "$SD/notify-virus.txt")
if [[ $reply == "550 5.7.1 "* && $reply == *"$EICAR_NAME"* ]]; then
	pass "notify_sender+virus: built-in policy: 550 5.7.1 naming $EICAR_NAME"
else
	fail "notify_sender+virus: built-in policy: 550 5.7.1 naming $EICAR_NAME" "reply '$reply'"
fi
expect_not_delivered "notify_sender+virus: not delivered" alerts "$tok"
sleep 3 # with not_delivered's 2 s: 5 s for a notice that must never come
check "notify_sender+virus: no notice reaches the sender" "$(mail_files user "$tok" | oneline)" \
	eval '[ "$(mail_count user "$tok")" -eq 0 ]'
check "notify_sender+virus: klaxon logs 'notify_sender ... refused'" \
	"$(klog_since "$off" | grep -i notify | tail -n 2 | oneline)" \
	eval 'klog_since "$off" | grep -q -E "notify_sender.*refused"'
save_transcript filter-3-notify-sender-refused

# A virus the filter drops: delivered without it, WARNING part, the original kept.
tok=$(new_token)
before=$(kq_count)
gen_msg eicar3 "$tok" "ACT=virus_drop $tok" sender@outside.test "$USER_RCPT" "$SD/virus-drop.eml" eicar.dat
swaks_send "$SD/virus-drop.txt" --data @"$SD/virus-drop.eml"
expect_reply "virus dropped by the filter: SMTP 250 (rebuilt message rescans clean)" \
	"$SD/virus-drop.txt" "250*"
expect_delivered "virus dropped by the filter: delivered" user "$tok"
[ -n "$DELIVERED" ] && mime_report "virus dropped by the filter" virus_drop "$DELIVERED" "$EICAR" \
	"was removed from eicar.dat by the e2e filter $tok" "$tok" eicar.dat
expect_new_kq "virus dropped by the filter: one new .kq" "$before" "$tok"
kq=$(kq_with "$tok")
check "virus dropped by the filter: the .kq holds the original with the virus" "${kq:-no .kq}" \
	grep -q -F -e "$(base64 -w 0 <<<"$EICAR" | cut -c 1-40)" "${kq:-/dev/null}"

# The same with the virus in a part whose name is also banned (eicar.com):
# entity_contains_virus() must still see the virus in that part.
tok=$(new_token)
gen_msg eicar3 "$tok" "ACT=virus_drop $tok" sender@outside.test "$USER_RCPT" "$SD/virus-drop-com.eml" eicar.com
swaks_send "$SD/virus-drop-com.txt" --data @"$SD/virus-drop-com.eml"
expect_reply "virus in a banned-name part dropped by the filter: SMTP 250" "$SD/virus-drop-com.txt" "250*"
expect_delivered "virus in a banned-name part dropped by the filter: delivered" user "$tok"
[ -n "$DELIVERED" ] && mime_report "virus in a banned-name part dropped by the filter" virus_drop \
	"$DELIVERED" "$EICAR" "was removed from eicar.com by the e2e filter $tok" "$tok" eicar.com
save_transcript filter-4-virus-dropped

# ---------------------------------------------------------------------------
# A filter that loops or fails: 4xx, FILE:LINE in the log, service goes on
# ---------------------------------------------------------------------------

loop_line=$(line_of "while true do end" "$FILTER")
tok=$(new_token)
off=$(klog_size)
t0=$SECONDS
send_plain "$SD/loop.txt" "ACT=loop $tok"
took=$((SECONDS - t0))
expect_reply "loop: 4xx" "$SD/loop.txt" "4[0-9][0-9] *"
check "loop: answered within 15 s (filter_time_limit = 2, budget 2000000)" "took $took s" \
	test "$took" -le 15
check "loop: klaxon logs $(basename "$FILTER"):$loop_line" \
	"$(klog_since "$off" | grep -i filter | tail -n 2 | oneline)" \
	eval 'klog_since "$off" | grep -q -F -e "$(basename "$FILTER"):$loop_line"'
expect_not_delivered "loop: not delivered" user "$tok"
tok=$(new_token)
send_plain "$SD/after-loop.txt" "after the loop $tok"
expect_reply "loop: the next message is accepted" "$SD/after-loop.txt" "250*"
expect_delivered "loop: the next message is delivered" user "$tok"
check "loop: daemon still running" "daemon exited" pid_alive "$KLAXON_PID"

err_line=$(line_of "missing(tok)" "$FILTER")
tok=$(new_token)
off=$(klog_size)
send_plain "$SD/error.txt" "ACT=error $tok"
expect_reply "runtime error: 4xx" "$SD/error.txt" "4[0-9][0-9] *"
check "runtime error: klaxon logs $(basename "$FILTER"):$err_line" \
	"$(klog_since "$off" | grep -i filter | tail -n 2 | oneline)" \
	eval 'klog_since "$off" | grep -q -F -e "$(basename "$FILTER"):$err_line"'
expect_not_delivered "runtime error: not delivered" user "$tok"
save_transcript filter-5-runtime-error

# ---------------------------------------------------------------------------
# Early callbacks through Postfix
# ---------------------------------------------------------------------------

# filter_sender: reject at MAIL FROM.
tok=$(new_token)
send_plain "$SD/sender.txt" "early sender $tok" --from "goaway-$tok@outside.test"
last=$(smtp_last_reply "$SD/sender.txt")
check "filter_sender reject: 550 5.7.1 Go away at MAIL FROM" "last reply '$last'" \
	eval '[ "$last" = "550 5.7.1 Go away" ] && grep -q -E "^ *-> MAIL FROM:" "$SD/sender.txt" && ! grep -q -E "^ *-> RCPT TO:" "$SD/sender.txt"'
expect_not_delivered "filter_sender reject: not delivered" user "$tok"

# filter_recipient: tempfail at RCPT TO.
tok=$(new_token)
send_plain "$SD/rcpt-tempfail.txt" "early rcpt $tok" --from "rcpt-tempfail-$tok@outside.test"
last=$(smtp_last_reply "$SD/rcpt-tempfail.txt")
check "filter_recipient tempfail: 450 4.2.1 with the filter's text at RCPT TO" "last reply '$last'" \
	eval '[ "$last" = "450 4.2.1 Mailbox busy, says the e2e filter" ] && ! grep -q -E "^ *-> DATA" "$SD/rcpt-tempfail.txt"'
expect_not_delivered "filter_recipient tempfail: not delivered" user "$tok"

# filter_recipient: "reject" with a 4xx code is a filter error: 4xx, logged.
tok=$(new_token)
off=$(klog_size)
send_plain "$SD/rcpt-badcode.txt" "early badcode $tok" --from "rcpt-badcode-$tok@outside.test"
last=$(smtp_last_reply "$SD/rcpt-badcode.txt")
check "filter_recipient reject with code 451: klaxon answers 4xx at RCPT TO, never 5xx" "last reply '$last'" \
	eval '[[ $last == 4[0-9][0-9]\ * ]] && ! grep -q -E "^ *-> DATA" "$SD/rcpt-badcode.txt"'
check "filter_recipient reject with code 451: klaxon logs why (filter_recipient, 451)" \
	"$(klog_since "$off" | tail -n 3 | oneline)" \
	eval 'klog_since "$off" | grep "filter_recipient" | grep -q "451"'
expect_not_delivered "filter_recipient reject with code 451: not delivered" user "$tok"

# filter_helo: discard for one HELO name: 250, nothing delivered, a copy.
tok=$(new_token)
before=$(kq_count)
send_plain "$SD/helo-discard.txt" "early helo discard $tok" --helo discard-me.test
expect_reply "filter_helo discard: SMTP 250 at end of data" "$SD/helo-discard.txt" "250*"
expect_not_delivered "filter_helo discard: not delivered" user "$tok"
expect_new_kq "filter_helo discard: one new .kq holding the message" "$before" "$tok"

# filter_helo: tempfail for another HELO name.
tok=$(new_token)
send_plain "$SD/helo-tempfail.txt" "early helo tempfail $tok" --helo tempfail-me.test
last=$(smtp_last_reply "$SD/helo-tempfail.txt")
check "filter_helo tempfail: 450 4.7.1 with the filter's text" "last reply '$last'" \
	test "$last" = "450 4.7.1 HELO deferred by the e2e filter"
expect_not_delivered "filter_helo tempfail: not delivered" user "$tok"

# filter_relay: reject the client 127.0.0.3. Postfix answers a milter's
# connect-time reject with its own "554 ... not accepting connections" and
# logs the milter's reply.
tok=$(new_token)
send_plain "$SD/relay.txt" "early relay $tok" --local-interface 127.0.0.3
last=$(smtp_last_reply "$SD/relay.txt")
check "filter_relay reject: 554 at connect" "last reply '$last'" \
	eval '[[ $last == 554\ * ]] && ! grep -q -E "^ *-> MAIL FROM" "$SD/relay.txt"'
# shellcheck disable=SC2034 # used in the eval below
relay_log="milter-reject: CONNECT from unknown[127.0.0.3]: 554 5.7.1 Connections from this host are refused by the e2e filter"
check "filter_relay reject: Postfix logs the filter's 554 5.7.1 reply" \
	"$(log_since mx | grep -F 127.0.0.3 | tail -n 2 | oneline)" eval 'log_since mx | grep -q -F -e "$relay_log"'
expect_not_delivered "filter_relay reject: not delivered" user "$tok"
save_transcript filter-6-early

# ---------------------------------------------------------------------------
# Reload
# ---------------------------------------------------------------------------

# A filter with a syntax error: refused, with FILE:LINE; the old one stays.
cp "$FILTER" "$SD/filter-good.lua"
{
	cat "$SD/filter-good.lua"
	echo "function broken("
	echo "  this is not Lua"
} >"$FILTER"
bad_line=$(($(wc -l <"$SD/filter-good.lua") + 2))
n=$(klog_count "reload failed")
if out=$("$KLAXON_BIN" reload --config "$CONF" 2>&1); then
	note "klaxon reload: $out"
else
	# `klaxon reload` refused it up front; the daemon must refuse it too.
	note "klaxon reload refused the filter itself: $out"
	check "reload/bad filter: klaxon reload's refusal names $(basename "$FILTER"):$bad_line:" "$out" \
		eval '[[ $out == *"$(basename "$FILTER"):$bad_line:"* ]]'
	kill -USR1 "$KLAXON_PID"
fi
check "reload/bad filter: daemon logs 'reload failed'" "no new 'reload failed' line in 15 s" \
	wait_until 15 klog_count_gt "reload failed" "$n"
check "reload/bad filter: the log names $(basename "$FILTER"):$bad_line:, the syntax error" \
	"$(grep 'reload failed' "$LOG" | tail -n 1)" \
	eval 'grep "reload failed" "$LOG" | tail -n 1 | grep -q -F -e "$(basename "$FILTER"):$bad_line:"'
tok=$(new_token)
send_plain "$SD/reload-bad.txt" "ACT=bounce $tok"
expect_reply "reload/bad filter: the old filter still in force (ACT=bounce bounces)" "$SD/reload-bad.txt" \
	"554 5.7.1 Bounced by the e2e filter $tok"

# A good new filter takes effect.
sed 's/Bounced by the e2e filter/Bounced by the reloaded e2e filter/' "$SD/filter-good.lua" >"$FILTER"
n=$(klog_count "reloaded configuration")
out=$("$KLAXON_BIN" reload --config "$CONF" 2>&1) || note "klaxon reload: $out"
check "reload/good filter: daemon logs the reload" "no new 'reloaded configuration' line in 15 s" \
	wait_until 15 klog_count_gt "reloaded configuration" "$n"
tok=$(new_token)
send_plain "$SD/reload-good.txt" "ACT=bounce $tok"
expect_reply "reload/good filter: the new filter is in force" "$SD/reload-good.txt" \
	"554 5.7.1 Bounced by the reloaded e2e filter $tok"

check "filter: daemon still running" "daemon exited" pid_alive "$KLAXON_PID"
e2e_finish
