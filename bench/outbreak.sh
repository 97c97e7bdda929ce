#!/bin/bash
# bench/outbreak.sh - the Sobig.F day at full size: COPIES copies of one worm
# (default 250,000) and SINGULAR items a person may want back (default 500)
# over RCPTS recipients (default 500, about 500 copies each), then one
# quarantine digest per recipient.
#
#   bench/outbreak.sh             # measure, verify, print the figures
#   bench/outbreak.sh --record    # and append them to bench/RESULTS.md
#
# Measures (wall clock, and peak RSS from /usr/bin/time):
#   gen     tests/quarantine/gen_outbreak writing the entries (no fsync: see there)
#   first   `klaxon digest --stdout`, every recipient, with an empty index:
#           the first index sync (every entry read and indexed) plus the digests
#   second  the same again with the index synced: the digests themselves
#   sync    `klaxon digest --stdout --rcpt nobody@...` with the index synced:
#           start-up and the no-op sync (the directory is still listed)
#   one     `klaxon digest --stdout --rcpt user007@example.org`: one digest
#   send    `klaxon digest --send` with sendmail_command = /bin/cat (its output
#           discarded by submit_message): one submission per recipient, each marked
#   resend  `klaxon digest --send` again: nothing new, nothing sent
# and verifies the second run's output with tests/quarantine/digest_check.py
# (one digest per recipient, text part <= 40 lines, every singular item in
# its recipient's digest, the worm one row with the right count, MIME clean).
#
# Environment: KLAXON_BIN [build/klaxon], COPIES, RCPTS, SINGULAR, WORK (a
# directory to keep; default a temporary one, removed at the end).
set -euo pipefail
cd "$(dirname "$0")/.."
KLAXON_BIN=${KLAXON_BIN:-build/klaxon}
COPIES=${COPIES:-250000}
RCPTS=${RCPTS:-500}
SINGULAR=${SINGULAR:-500}
RECORD=no
[ "${1:-}" = --record ] && RECORD=yes

if [ -n "${WORK:-}" ]; then
	mkdir -p "$WORK"
	W=$WORK
else
	W=$(mktemp -d /tmp/klaxon-outbreak.XXXXXX)
	trap 'rm -rf "$W"' EXIT
fi
[ -x "$KLAXON_BIN" ] || { echo "outbreak: $KLAXON_BIN is not built (make all)" >&2; exit 1; }
rm -rf "$W/q"
cc -std=c17 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -o "$W/gen_outbreak" tests/quarantine/gen_outbreak.c
cat >"$W/klaxon.conf" <<EOF
quarantine_dir = $W/q
hostname = mx.bench.example
digest_from = quarantine@bench.example
sendmail_command = /bin/cat
EOF

# measure NAME CMD... - run CMD, keep "seconds peak-RSS-KiB" in $W/NAME.time
measure() {
	local name=$1
	shift
	/usr/bin/time -f '%e %M' -o "$W/$name.time" "$@"
	echo "outbreak: $name: $(cut -d' ' -f1 "$W/$name.time") s, peak RSS $(cut -d' ' -f2 "$W/$name.time") KiB" >&2
}
secs() { cut -d' ' -f1 "$W/$1.time"; }
rss_mb() { awk '{ printf "%.0f", $2 / 1024 }' "$W/$1.time"; }

sync
measure gen "$W/gen_outbreak" --dir "$W/q" --copies "$COPIES" --rcpts "$RCPTS" \
	--singular "$SINGULAR" --manifest "$W/manifest"
entries=$(find "$W/q" -name '*.kq' | wc -l)
qsize=$(du -sm "$W/q" | cut -f1)
KD=("$KLAXON_BIN" digest --config "$W/klaxon.conf" --stdout)
measure first "${KD[@]}" >"$W/first.out" 2>"$W/first.err"
measure second "${KD[@]}" >"$W/second.out" 2>"$W/second.err"
measure sync "${KD[@]}" --rcpt nobody@example.org >/dev/null 2>"$W/sync.err"
measure one "${KD[@]}" --rcpt user007@example.org >"$W/one.out" 2>"$W/one.err"
KS=("$KLAXON_BIN" digest --config "$W/klaxon.conf" --send)
measure send "${KS[@]}" 2>"$W/send.err"
measure resend "${KS[@]}" 2>"$W/resend.err"
sent=$(grep -o '[0-9]* digests\? sent' "$W/send.err" || true)
resent=$(grep -o '[0-9]* digests\? sent' "$W/resend.err" || true)
cat "$W/first.err" "$W/second.err" >&2
isize=$(du -sm "$W/q/index.sqlite" | cut -f1)
digests=$(grep -c '^==== digest for .* ====$' "$W/second.out" || true)
outsize=$(du -k "$W/second.out" | cut -f1)

python3 tests/quarantine/digest_check.py --manifest "$W/manifest" --input "$W/second.out" \
	>"$W/check.out" 2>&1 && verdict=passed || verdict=FAILED
cat "$W/check.out"
# The longest text part, decoded, over every digest.
maxlines=$(python3 - "$W/second.out" <<'EOF'
import email, email.policy, re, sys
data = open(sys.argv[1], "rb").read()
chunks = re.split(rb"^==== digest for .* ====\n", data, flags=re.M)[1:]
print(max(len(email.message_from_bytes(c, policy=email.policy.default)
              .get_body(("plain",)).get_content().splitlines()) for c in chunks))
EOF
)
compose=$(awk -v a="$(secs second)" -v b="$(secs sync)" 'BEGIN { printf "%.2f", a - b }')
firstsync=$(awk -v a="$(secs first)" -v b="$(secs second)" -v c="$(secs sync)" \
	'BEGIN { printf "%.1f", a - (b - c) }')
rev=$(git rev-parse --short HEAD)
dirty=$(git status --porcelain -- src | grep -q . && echo " + uncommitted src changes" || true)

# commas N - 250000 as 250,000 (printf's %'d needs a locale that groups digits)
commas() { echo "$1" | sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/' -e 'ta'; }

report() {
	local cpu
	cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
	cat <<EOF

## Outbreak digests (issue 5)

The Sobig.F day at full size, through \`klaxon digest\`: $(commas "$COPIES") copies of one worm
(class virus, virus "Worm.Sobig.F", one payload, forged senders from a pool of 1,200, nine in
ten from outside) and $(commas "$SINGULAR") singular items (banned attachments, ambiguous messages,
policy holds; one in 25 with a hostile subject) over $(commas "$RCPTS") recipients, times spread
over one day. klaxon $rev$dirty; $(nproc) vCPUs ($cpu), Linux $(uname -r),
$(date -u +%Y-%m-%d). The quarantine is on the root file system and the page cache was warm
(the entries had just been written).

| step | wall | peak RSS |
|---|---|---|
| generate $(commas "$entries") entries (\`gen_outbreak\`, no fsync; ${qsize} MB on disk) | $(secs gen) s | $(rss_mb gen) MB |
| \`klaxon digest --stdout\`, all $(commas "$RCPTS") recipients, empty index (first sync + digests) | $(secs first) s | $(rss_mb first) MB |
| the same again, index synced | $(secs second) s | $(rss_mb second) MB |
| start-up and no-op sync alone (\`--rcpt nobody@example.org\`) | $(secs sync) s | $(rss_mb sync) MB |
| one recipient (\`--rcpt user007@example.org\`), index synced | $(secs one) s | $(rss_mb one) MB |
| \`--send\` through a stand-in sendmail (\`/bin/cat\`): $sent, each marked | $(secs send) s | $(rss_mb send) MB |
| \`--send\` again: nothing new ($resent) | $(secs resend) s | $(rss_mb resend) MB |

Derived: the first index sync of $(commas "$entries") entries took about ${firstsync} s (the first
run less the digest work of the second); composing and writing the $digests digests took about
${compose} s (the second run less the no-op sync). index.sqlite is ${isize} MB. The $digests digests
are ${outsize} KB in all, and the longest text part is $maxlines lines (limit 40).
tests/quarantine/digest_check.py on the second run's output: $verdict,
$(grep -c '^ok - ' "$W/check.out" || true) properties ok and $(grep -c '^not ok - ' "$W/check.out" || true) not ok (one digest per recipient; every text
part at most 40 lines; every singular item in its recipient's digest, text and HTML; the worm
one row per recipient with that recipient's count; MIME parsed by Python's email package without
defects; hostile subjects escaped).

Commands (W is a temporary directory; \`WORK=dir\` keeps it):

    make all
    bench/outbreak.sh --record      # COPIES=$COPIES RCPTS=$RCPTS SINGULAR=$SINGULAR
    # which runs:
    cc -std=c17 -D_GNU_SOURCE -O2 -o W/gen_outbreak tests/quarantine/gen_outbreak.c
    W/gen_outbreak --dir W/q --copies $COPIES --rcpts $RCPTS --singular $SINGULAR --manifest W/manifest
    klaxon digest --config W/klaxon.conf --stdout >W/first.out     # empty index
    klaxon digest --config W/klaxon.conf --stdout >W/second.out    # index synced
    klaxon digest --config W/klaxon.conf --stdout --rcpt nobody@example.org
    klaxon digest --config W/klaxon.conf --stdout --rcpt user007@example.org
    klaxon digest --config W/klaxon.conf --send                    # twice
    tests/quarantine/digest_check.py --manifest W/manifest --input W/second.out

(W/klaxon.conf sets only quarantine_dir, hostname, digest_from and sendmail_command = /bin/cat;
each step is timed with \`/usr/bin/time -f '%e %M'\`.)

What to keep in mind:

- The generator's time is the file system's, not the CPU's: in this session the same
  command took from 7 s to 120 s, almost all of it system time. After many files are deleted,
  ext4's inode allocator checks each recently freed inode before it reuses it
  (\`recently_deleted()\`; perf shows it at about 70% of the time), so for a few minutes after a
  quarter of a million files are removed (a previous run, another session's tests, or
  \`klaxon quarantine expire\` after an outbreak) creating files is an order of magnitude slower.
  The daemon's quarantine writes would feel the same.
- The page cache was warm. A cold first sync reads the header of every entry from disk.
- Most of a digest run with a synced index is SQLite (page reads and the locks of each query,
  per perf); grouping and composing 500 digests is a small share of it.
EOF
}
report | tee "$W/results.md"
if [ "$RECORD" = yes ]; then
	report >>bench/RESULTS.md
	echo "outbreak: appended to bench/RESULTS.md" >&2
fi
[ "$verdict" = passed ]
