#!/bin/bash
# digest_test - `klaxon digest` over an outbreak day, at a scale `make test`
# can afford: COPIES worm copies (default 25,000) over RCPTS recipients
# (default 50, so about 500 each, as on the Sobig.F day) plus SINGULAR
# items a person may want back (default 50).
#
#   - --stdout: one digest per recipient, each text part at most 40 lines,
#     every singular item of that recipient in it (by id), the worm one
#     group row with the recipient's count, MIME that Python's email package
#     parses without defects (digest_check.py), and no state changed;
#   - --rcpt: one digest, for that recipient only (any case);
#   - --send with a fake sendmail_command (stores argv and stdin): a failing
#     one marks nothing; a working one sends one digest per recipient with
#     sendmail_argv as configured; a second --send sends nothing; an item
#     quarantined after it gets a digest of its own at the next --send.
#
# Prints TAP lines "ok N - ..." / "not ok N - ..."; exits 1 if any failed.
# KLAXON_BIN (default build/klaxon); CC (default cc).
set -u
cd "$(dirname "$0")/../.."
KLAXON_BIN=${KLAXON_BIN:-build/klaxon}
COPIES=${COPIES:-25000}
RCPTS=${RCPTS:-50}
SINGULAR=${SINGULAR:-50}
HERE=tests/quarantine

work=$(mktemp -d /tmp/klaxon-digest.XXXXXX) || exit 1
trap 'rm -rf "$work"' EXIT
n=0
failed=0

ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() { local desc=$1; shift; if "$@"; then ok "$desc"; else not_ok "$desc"; fi; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# checker - run digest_check.py and turn its "ok - ..." lines into numbered TAP
checker() {
	local line
	python3 "$HERE/digest_check.py" "$@" >"$work/check.out" 2>&1
	local rc=$?
	while IFS= read -r line; do
		case $line in
		"ok - "*) ok "${line#ok - }" ;;
		"not ok - "*) not_ok "${line#not ok - }" ;;
		*) echo "$line" ;;
		esac
	done <"$work/check.out"
	[ "$rc" -eq 0 ] || grep -q '^not ok' "$work/check.out" || not_ok "digest_check.py exited $rc"
}

# count_digests FILE - how many digests a --stdout output holds
count_digests() { grep -c '^==== digest for .* ====$' "$1"; }

# digest ARGS... - klaxon digest with the test config; stdout to $work/out, stderr to $work/err
digest() { "$KLAXON_BIN" digest --config "$work/klaxon.conf" "$@" >"$work/out" 2>"$work/err"; }

if [ ! -x "$KLAXON_BIN" ]; then
	echo "not ok 1 - $KLAXON_BIN is not built"
	exit 1
fi
if ! ${CC:-cc} -std=c17 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -o "$work/gen_outbreak" "$HERE/gen_outbreak.c"; then
	echo "not ok 1 - gen_outbreak builds"
	exit 1
fi

mkdir -p "$work/sent"
cat >"$work/fake-sendmail" <<'EOF'
#!/bin/sh
# Stores its argv and its input in sent/; fails while a file named "fail" exists.
d=$(dirname "$0")
[ -e "$d/fail" ] && { echo "fake-sendmail: told to fail" >&2; exit 75; }
f=$(mktemp "$d/sent/msg.XXXXXX") || exit 75
printf '%s\n' "$@" >"$f.argv"
cat >"$f" || exit 75
EOF
chmod 755 "$work/fake-sendmail"
cat >"$work/klaxon.conf" <<EOF
quarantine_dir = $work/q
sendmail_command = $work/fake-sendmail -oi -t
hostname = mx.test.example
digest_from = quarantine@test.example
EOF

t0=$(date +%s.%N)
"$work/gen_outbreak" --dir "$work/q" --copies "$COPIES" --rcpts "$RCPTS" --singular "$SINGULAR" \
	--manifest "$work/manifest"
rc=$?
t1=$(date +%s.%N)
total=$((COPIES + SINGULAR))
check "gen_outbreak writes $total entries ($(elapsed "$t0" "$t1") s)" \
	test "$rc" -eq 0 -a "$(find "$work/q" -name '*.kq' | wc -l)" -eq "$total"

# --stdout, all recipients: the index is built on the way.
digest --stdout
rc=$?
t2=$(date +%s.%N)
check "digest --stdout exits 0 ($(elapsed "$t1" "$t2") s with the first index sync)" test "$rc" -eq 0
check "the index holds every entry, none damaged" \
	grep -q "index: $total entries (.* 0 damaged" "$work/err"
nrcpt=$(cut -f2 "$work/manifest" | sort -u | wc -l)
check "one digest per recipient ($nrcpt)" test "$(count_digests "$work/out")" -eq "$nrcpt"
checker --manifest "$work/manifest" --input "$work/out"

# --stdout again: nothing was marked, so the same digests come out.
digest --stdout
rc=$?
check "--stdout changes no state (a second run writes $nrcpt digests again)" \
	test "$rc" -eq 0 -a "$(count_digests "$work/out")" -eq "$nrcpt"

# --rcpt: one recipient, whatever the case of the address.
one=$(awk -F'\t' '$1 == "single" { print $2; exit }' "$work/manifest")
digest --stdout --rcpt "$(echo "$one" | tr a-z A-Z)"
rc=$?
check "--rcpt limits the run to one recipient ($one)" \
	test "$rc" -eq 0 -a "$(count_digests "$work/out")" -eq 1 -a "$(head -1 "$work/out")" = "==== digest for $one ===="
checker --manifest "$work/manifest" --input "$work/out" --rcpt "$one"

# Usage errors exit 2.
"$KLAXON_BIN" digest --config "$work/klaxon.conf" --since yesterday >/dev/null 2>&1
rc1=$?
"$KLAXON_BIN" digest --config "$work/klaxon.conf" --send --stdout >/dev/null 2>&1
rc2=$?
check "a bad --since or --send with --stdout is a usage error (exit 2)" test "$rc1" -eq 2 -a "$rc2" -eq 2

# --send with a failing MTA: exit 1, nothing marked.
touch "$work/fail"
digest --send
rc=$?
check "--send with a failing sendmail_command exits 1 and sends nothing" \
	test "$rc" -eq 1 -a "$(find "$work/sent" -type f | wc -l)" -eq 0
rm -f "$work/fail"

# --send: one per recipient, argv as configured, the same digests as --stdout.
digest --send
rc=$?
nsent=$(find "$work/sent" -name 'msg.??????' | wc -l)
check "--send exits 0 and submits one digest per recipient ($nsent of $nrcpt)" test "$rc" -eq 0 -a "$nsent" -eq "$nrcpt"
bad_argv=0
for f in "$work"/sent/msg.??????; do
	[ "$(cat "$f.argv")" = "$(printf -- '-oi\n-t')" ] || bad_argv=$((bad_argv + 1))
done
check "every submission used sendmail_argv as configured (-oi -t)" test "$bad_argv" -eq 0
: >"$work/sent.all"
for f in "$work"/sent/msg.??????; do
	rcpt=$(sed -n 's/^To: //p;/^$/q' "$f" | head -1)
	printf '==== digest for %s ====\n' "$rcpt" >>"$work/sent.all"
	cat "$f" >>"$work/sent.all"
done
checker --manifest "$work/manifest" --input "$work/sent.all"

# A second --send: everything was marked, nothing new to send.
digest --send
rc=$?
check "a second --send sends nothing new" \
	test "$rc" -eq 0 -a "$(find "$work/sent" -name 'msg.??????' | wc -l)" -eq "$nrcpt"

# An item quarantined after the last digest (at or after its mark) comes alone in the next.
t_after=$(date +%s)
"$work/gen_outbreak" --dir "$work/q" --copies 0 --rcpts "$RCPTS" --singular 1 --seed 99 \
	--end $((t_after - 60)) --span 0 --manifest "$work/manifest.new"
sleep 2
digest --send
rc=$?
newest=$(ls -t "$work"/sent/msg.?????? | head -1)
new_rcpt=$(cut -f2 "$work/manifest.new")
check "a new item gets exactly one new digest" \
	test "$rc" -eq 0 -a "$(find "$work/sent" -name 'msg.??????' | wc -l)" -eq $((nrcpt + 1))
{ printf '==== digest for %s ====\n' "$new_rcpt"; cat "$newest"; } >"$work/sent.new"
checker --manifest "$work/manifest.new" --input "$work/sent.new"

# An entry whose recipients cannot stand in a To header (one needs quoting, one carries
# CR LF and a Bcc, percent-encoded in the file): warned about, never mailed, not an error.
t=$(($(date +%s) - 300))
id="$(date -u -d "@$t" +%Y%m%dT%H%M%SZ)-00000000deadbeef"
body=$(printf 'From: <x@example.net>\r\nSubject: odd\r\n\r\nhello\r\n')
{
	printf 'KLAXON-QUARANTINE 1\nid: %s\ntime: %s\nclass: banned\norigin: external\n' "$id" \
		"$(date -u -d "@$t" +%Y-%m-%dT%H:%M:%SZ)"
	printf 'sender: x@example.net\nrcpt: "bob smith"@example.org\nrcpt: bob%%0D%%0ABcc: eve@example.org\n'
	printf 'subject: odd\npayload: \nreason: banned extension .pif\nsize: %d\n\n%s\nKLAXON-END %s\n' \
		"${#body}" "$body" "$id"
} >"$work/q/$id.kq"
digest --stdout
rc=$?
check "recipients that cannot stand in To are warned about, get no digest, and are not an error" \
	test "$rc" -eq 0 -a "$(count_digests "$work/out")" -eq 0 \
	-a "$(grep -c 'warning: .*1 item held; the address cannot stand in a To header' "$work/err")" -eq 2
check "the CR LF recipient reaches stderr without its line break" \
	test "$(grep -c '^Bcc' "$work/err")" -eq 0

echo "1..$n"
[ "$failed" -eq 0 ]
