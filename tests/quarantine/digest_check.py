#!/usr/bin/env python3
"""digest_check - check `klaxon digest --stdout` output against gen_outbreak's manifest.

usage: digest_check.py --manifest FILE --input FILE [--rcpt ADDR] [--max-lines 40]

The input is a stream of digests, each after a line "==== digest for <rcpt> ====".
The manifest (gen_outbreak --manifest) says, per recipient, how many worm copies it
got and which singular items (id, class, hostile subject or not). With --rcpt only
that recipient is expected; otherwise every recipient in the manifest.

Prints one line per property, "ok - ..." or "not ok - ...: first problems", for
the calling shell script to number as TAP; exits 1 if any property failed.
"""
import argparse
import email
import email.policy
import re
import sys
from collections import defaultdict

SEPARATOR = re.compile(rb"^==== digest for (.*) ====$", re.M)
WORM = "Worm.Sobig.F"


def load_manifest(path):
    worms, singles = defaultdict(int), defaultdict(list)
    with open(path, encoding="utf-8") as fp:
        for line in fp:
            f = line.rstrip("\n").split("\t")
            if f[0] == "worm":
                worms[f[1]] += int(f[2])
            elif f[0] == "single":
                singles[f[1]].append({"id": f[2], "class": f[3], "hostile": f[4] == "1"})
    return worms, singles


def split_digests(data):
    """[(rcpt, raw bytes)] in input order; anything before the first separator is an error."""
    marks = list(SEPARATOR.finditer(data))
    out = []
    if marks and data[: marks[0].start()].strip():
        out.append((None, data[: marks[0].start()]))
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(data)
        out.append((m.group(1).decode("utf-8", "replace"), data[m.end() + 1 : end]))
    return out


class Checker:
    def __init__(self):
        self.problems = defaultdict(list)
        self.order = []

    def prop(self, name):
        if name not in self.problems:
            self.problems[name] = []
            self.order.append(name)

    def fail(self, name, detail):
        self.prop(name)
        self.problems[name].append(detail)

    def report(self):
        bad = 0
        for name in self.order:
            p = self.problems[name]
            if p:
                bad += 1
                more = f" (+{len(p) - 3} more)" if len(p) > 3 else ""
                print(f"not ok - {name}: {'; '.join(p[:3])}{more}")
            else:
                print(f"ok - {name}")
        return bad


def parts_of(c, rcpt, raw):
    """The text and HTML bodies, after the structural checks; None if it does not parse."""
    name = "every digest is multipart/alternative (text/plain, text/html; UTF-8, quoted-printable), no defects"
    c.prop(name)
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    if msg.defects:
        c.fail(name, f"{rcpt}: {msg.defects}")
    if msg.get_content_type() != "multipart/alternative":
        c.fail(name, f"{rcpt}: top type {msg.get_content_type()}")
        return msg, None, None
    parts = list(msg.iter_parts())
    types = [p.get_content_type() for p in parts]
    if types != ["text/plain", "text/html"]:
        c.fail(name, f"{rcpt}: parts {types}")
        return msg, None, None
    for p in parts:
        if p.defects:
            c.fail(name, f"{rcpt}: {p.get_content_type()} defects {p.defects}")
        if (p.get_content_charset() or "").lower() != "utf-8":
            c.fail(name, f"{rcpt}: charset {p.get_content_charset()}")
        if str(p.get("Content-Transfer-Encoding", "")).lower() != "quoted-printable":
            c.fail(name, f"{rcpt}: encoding {p.get('Content-Transfer-Encoding')}")
    return msg, parts[0].get_content(), parts[1].get_content()


def check_headers(c, rcpt, msg, worms, singles):
    name = "To is the recipient; Subject and the first line count its items and copies"
    c.prop(name)
    held = worms.get(rcpt, 0) + len(singles.get(rcpt, []))
    if str(msg["To"]) != rcpt:
        c.fail(name, f"{rcpt}: To {msg['To']!r}")
    want = f"Quarantine digest for {rcpt}: {held} held ({worms.get(rcpt, 0)} outbreak copies)"
    if str(msg["Subject"]) != want:
        c.fail(name, f"{rcpt}: Subject {msg['Subject']!r}, want {want!r}")
    for h in ("From", "Date", "Message-ID", "MIME-Version"):
        if msg[h] is None:
            c.fail(name, f"{rcpt}: no {h}")
    if str(msg.get("Auto-Submitted", "")) != "auto-generated":
        c.fail(name, f"{rcpt}: Auto-Submitted {msg.get('Auto-Submitted')!r}")
    return held


def check_text(c, rcpt, text, html, held, worms, singles, max_lines):
    name = f"every text part is at most {max_lines} lines"
    c.prop(name)
    lines = text.splitlines()
    if len(lines) > max_lines:
        c.fail(name, f"{rcpt}: {len(lines)} lines")
    name = "the first line says how many messages are held"
    c.prop(name)
    if not lines or not lines[0].startswith(f"{held} message{'' if held == 1 else 's'} held for you between "):
        c.fail(name, f"{rcpt}: {lines[0] if lines else ''!r}")
    name = "the worm is one group row with the recipient's count"
    c.prop(name)
    rows = [m for m in (re.match(rf"^  {re.escape(WORM)}: (\d+) cop(y|ies), ", l) for l in lines) if m]
    want = worms.get(rcpt, 0)
    if want and (len(rows) != 1 or int(rows[0].group(1)) != want):
        c.fail(name, f"{rcpt}: rows {[r.group(0) for r in rows]}, want {want} copies")
    if not want and rows:
        c.fail(name, f"{rcpt}: a worm row without copies")
    if WORM in html and html.count(f"<tr><td>{WORM}</td>") != (1 if want else 0):
        c.fail(name, f"{rcpt}: HTML has {html.count(WORM)} mentions")
    name = "the footer tells how to release"
    c.prop(name)
    if "ask your postmaster to run: klaxon quarantine release ID" not in text:
        c.fail(name, rcpt)


def check_singles(c, rcpt, text, html, singles, seen_ids):
    name = "every singular item is in its recipient's digest, text and HTML, once"
    c.prop(name)
    for s in singles.get(rcpt, []):
        if text.count(f"id {s['id']}\n") != 1 or html.count(f"<code>{s['id']}</code>") != 1:
            c.fail(name, f"{rcpt}: {s['id']} ({s['class']})")
    ids = set(re.findall(r"\bid (\d{8}T\d{6}Z-[0-9a-f]{16})$", text, re.M))
    mine = {s["id"] for s in singles.get(rcpt, [])}
    if ids - mine:
        c.fail(name, f"{rcpt}: not its items {sorted(ids - mine)[:3]}")
    seen_ids.update(ids)


def check_hostile(c, rcpt, raw, text, html, singles):
    name = "hostile subjects are escaped in HTML, controls never reach the reader"
    c.prop(name)
    if "<script" in html.lower() or "\x1b" in text or "\x1b" in html or b"\x1b" in raw:
        c.fail(name, f"{rcpt}: raw markup or ESC")
    if any(s["hostile"] for s in singles.get(rcpt, [])):
        if "&lt;script&gt;alert(&#39;digest&#39;)&lt;/script&gt; &amp; &quot;quoted&quot; ?[31mred" not in html:
            c.fail(name, f"{rcpt}: escaped subject missing from HTML")
        if "<script>alert('digest')</script> & \"quoted\" ?[31mred" not in text:
            c.fail(name, f"{rcpt}: cleaned subject missing from text")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--rcpt")
    ap.add_argument("--max-lines", type=int, default=40)
    a = ap.parse_args()

    worms, singles = load_manifest(a.manifest)
    expected = set(worms) | set(singles)
    if a.rcpt:
        expected &= {a.rcpt}
    with open(a.input, "rb") as fp:
        digests = split_digests(fp.read())
    c = Checker()
    name = "one digest per recipient with items, and only those"
    c.prop(name)
    got = [r for r, _ in digests]
    if None in got:
        c.fail(name, "text before the first separator")
    if len(got) != len(set(got)):
        c.fail(name, f"{len(got) - len(set(got))} recipients twice")
    if set(got) - {None} != expected:
        missing, extra = expected - set(got), set(got) - expected - {None}
        c.fail(name, f"{len(got)} digests for {len(expected)} recipients; missing {sorted(missing)[:3]}, "
                     f"extra {sorted(extra)[:3]}")
    seen_ids = set()
    for rcpt, raw in digests:
        if rcpt is None:
            continue
        msg, text, html = parts_of(c, rcpt, raw)
        held = check_headers(c, rcpt, msg, worms, singles)
        if text is None:
            continue
        check_text(c, rcpt, text, html, held, worms, singles, a.max_lines)
        check_singles(c, rcpt, text, html, singles, seen_ids)
        check_hostile(c, rcpt, raw, text, html, singles)
    name = "every singular item of the manifest was seen"
    c.prop(name)
    want_ids = {s["id"] for r in expected for s in singles.get(r, [])}
    if want_ids - seen_ids:
        c.fail(name, f"{len(want_ids - seen_ids)} missing, e.g. {sorted(want_ids - seen_ids)[:3]}")
    print(f"# {len(digests)} digests, {sum(worms[r] for r in expected)} worm copies, {len(want_ids)} singular items")
    return 1 if c.report() else 0


if __name__ == "__main__":
    sys.exit(main())
