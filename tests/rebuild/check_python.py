#!/usr/bin/env python3
"""check_python - rebuilt messages as another MIME reader sees them.

Generates sample messages in the shapes real clients write (Thunderbird,
Outlook, Apple Mail; base64 attachments, alternative inside mixed,
related inside alternative, forwarded message/rfc822, LF-only), runs
rebuild_tool on each with some ops, and reads the result with Python's
email package (BytesParser, policy.default):

  - no defects on the message or on any part;
  - the content types in walk order are the expected ones;
  - every kept attachment decodes to the same bytes as in the input, and
    its raw lines are in the output unchanged;
  - every dropped attachment is gone;
  - every warning text is in a WARNING.TXT part (or, for a root edit, is
    the body), which decodes as UTF-8 text;
  - our parser and Python's agree on the input's parts, in order (the ops
    name parts by index).

Usage: check_python.py TOOL      prints "ok N - name" / "not ok N - name"
lines, and exits 1 if any check failed.
"""
import base64
import email.parser
import email.policy
import hashlib
import os
import subprocess
import sys
import tempfile

TOOL = None
RANDOM_TREES = int(os.environ.get("REBUILD_RANDOM_TREES", "300"))


def b64(data, width=76):
    """base64 lines of width characters, CRLF-joined, as most clients wrap them."""
    s = base64.b64encode(data).decode()
    return "\r\n".join(s[i:i + width] for i in range(0, len(s), width))


def blob(seed, n):
    """n reproducible pseudo-random bytes."""
    out = b""
    k = 0
    while len(out) < n:
        out += hashlib.sha256(b"%s-%d" % (seed.encode(), k)).digest()
        k += 1
    return out[:n]


PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + blob("pdf", 3000)
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + blob("exe", 2000)
ZIP = b"PK\x03\x04" + blob("zip", 1500)
PNG = b"\x89PNG\r\n\x1a\n" + blob("png", 900)
DOCM = b"PK\x03\x04" + blob("docm", 2500)


def tb_attachment(ctype, name, data):
    return (f"Content-Type: {ctype}; name=\"{name}\"\r\n"
            f"Content-Disposition: attachment; filename=\"{name}\"\r\n"
            f"Content-Transfer-Encoding: base64\r\n\r\n{b64(data, 72)}\r\n")


def thunderbird_mixed():
    b = "------------0VfR3Tq9mYb5C1nNw8KxZp2L"
    return (
        "Message-ID: <0a1b2c3d-tb@example.org>\r\n"
        "Date: Mon, 6 May 2024 10:11:12 +0200\r\n"
        "MIME-Version: 1.0\r\n"
        "User-Agent: Mozilla Thunderbird\r\n"
        "Content-Language: en-US\r\n"
        "To: bob@example.org\r\n"
        "From: Alice <alice@example.org>\r\n"
        "Subject: Quarterly report\r\n"
        f"Content-Type: multipart/mixed; boundary=\"{b}\"\r\n"
        "\r\n"
        "This is a multi-part message in MIME format.\r\n"
        f"--{b}\r\n"
        "Content-Type: text/plain; charset=UTF-8; format=flowed\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n"
        "Hi Bob, the report is attached. Gr\u00fc\u00dfe\r\n"
        "\r\n"
        f"--{b}\r\n"
        + tb_attachment("application/pdf", "report.pdf", PDF) + "\r\n"
        f"--{b}\r\n"
        + tb_attachment("application/x-msdownload", "setup.exe", EXE) + "\r\n"
        f"--{b}--\r\n").encode("utf-8")


def thunderbird_html_with_zip():
    m, a = "------------mIxEd5Fz0Q", "------------aLt3rN8vE"
    return (
        "From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: pics\r\n"
        "MIME-Version: 1.0\r\n"
        f"Content-Type: multipart/mixed; boundary=\"{m}\"\r\n\r\n"
        "This is a multi-part message in MIME format.\r\n"
        f"--{m}\r\n"
        f"Content-Type: multipart/alternative;\r\n boundary=\"{a}\"\r\n\r\n"
        f"--{a}\r\n"
        "Content-Type: text/plain; charset=UTF-8; format=flowed\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
        "Zip attached.\r\n\r\n"
        f"--{a}\r\n"
        "Content-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
        "<html><body><p>Zip attached.</p></body></html>\r\n\r\n"
        f"--{a}--\r\n"
        f"--{m}\r\n"
        + tb_attachment("application/zip", "pics.zip", ZIP) + "\r\n"
        f"--{m}--\r\n").encode()


def outlook_related():
    m = "_004_DB9PR01MB1234ABCDEFGH_"
    a = "_000_DB9PR01MB1234ABCDEFGH_"
    r = "_003_DB9PR01MB1234ABCDEFGH_"
    return (
        "From: Dave <dave@example.com>\r\nTo: bob@example.org\r\nSubject: RE: invoice\r\n"
        "Thread-Topic: invoice\r\nContent-Language: de-DE\r\n"
        f"Content-Type: multipart/mixed;\r\n\tboundary=\"{m}\"\r\n"
        "MIME-Version: 1.0\r\n\r\n"
        f"--{m}\r\n"
        f"Content-Type: multipart/related;\r\n\tboundary=\"{r}\";\r\n\ttype=\"multipart/alternative\"\r\n\r\n"
        f"--{r}\r\n"
        f"Content-Type: multipart/alternative;\r\n\tboundary=\"{a}\"\r\n\r\n"
        f"--{a}\r\n"
        "Content-Type: text/plain; charset=\"iso-8859-1\"\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        "Please see the invoice. Gr=FC=DFe\r\n\r\n"
        f"--{a}\r\n"
        "Content-Type: text/html; charset=\"iso-8859-1\"\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        "<html><body><p>Please see the invoice.</p><img src=3D\"cid:image001.png@01DA\"></body></html>\r\n\r\n"
        f"--{a}--\r\n\r\n"
        f"--{r}\r\n"
        "Content-Type: image/png; name=\"image001.png\"\r\n"
        "Content-Description: image001.png\r\n"
        "Content-Disposition: inline; filename=\"image001.png\"; size=917\r\n"
        "Content-ID: <image001.png@01DA>\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n"
        f"{b64(PNG)}\r\n\r\n"
        f"--{r}--\r\n\r\n"
        f"--{m}\r\n"
        "Content-Type: application/vnd.ms-word.document.macroEnabled.12;\r\n\tname=\"invoice.docm\"\r\n"
        "Content-Description: invoice.docm\r\n"
        "Content-Disposition: attachment;\r\n\tfilename=\"invoice.docm\"; size=2504\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n"
        f"{b64(DOCM)}\r\n\r\n"
        f"--{m}--\r\n").encode()


def outlook_alternative():
    a = "----=_NextPart_000_0012_01DA9F3C.5E8A7B20"
    return (
        "From: Erin <erin@example.net>\r\nTo: bob@example.org\r\nSubject: newsletter\r\n"
        "MIME-Version: 1.0\r\n"
        f"Content-Type: multipart/alternative;\r\n\tboundary=\"{a}\"\r\n"
        "X-Mailer: Microsoft Outlook 16.0\r\n\r\n"
        "This is a multipart message in MIME format.\r\n\r\n"
        f"--{a}\r\n"
        "Content-Type: text/plain;\r\n\tcharset=\"us-ascii\"\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
        "Read the newsletter online.\r\n\r\n"
        f"--{a}\r\n"
        "Content-Type: text/html;\r\n\tcharset=\"us-ascii\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        "<html><body><a href=3D\"http://phish.example/\">Read</a></body></html>\r\n\r\n"
        f"--{a}--\r\n").encode()


def forwarded():
    o, i = "=_outer_fwd_1", "=_inner_fwd_2"
    inner = (
        "From: Mallory <m@example.biz>\r\nTo: alice@example.org\r\nSubject: invoice\r\n"
        "MIME-Version: 1.0\r\n"
        f"Content-Type: multipart/mixed; boundary=\"{i}\"\r\n\r\n"
        f"--{i}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nOpen the attachment.\r\n"
        f"--{i}\r\n"
        + tb_attachment("application/octet-stream", "invoice.exe", EXE) +
        f"--{i}--\r\n")
    return (
        "From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: Fwd: invoice\r\n"
        "MIME-Version: 1.0\r\n"
        f"Content-Type: multipart/mixed; boundary=\"{o}\"\r\n\r\n"
        f"--{o}\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
        "Is this real?\r\n\r\n"
        f"--{o}\r\n"
        "Content-Type: message/rfc822\r\n"
        "Content-Disposition: attachment; filename=\"invoice.eml\"\r\n\r\n"
        + inner +
        f"\r\n--{o}\r\n"
        + tb_attachment("application/pdf", "note.pdf", PDF) +
        f"--{o}--\r\n").encode()


def single_pdf():
    return ("From: scanner@example.org\r\nTo: bob@example.org\r\nSubject: scan\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: application/pdf; name=\"scan.pdf\"\r\n"
            "Content-Disposition: attachment; filename=\"scan.pdf\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n"
            f"{b64(PDF)}\r\n").encode()


def apple_mail():
    b = "Apple-Mail=_6C1C7E2E-4F0A-4B1E-9F0D-2B7A1C3D4E5F"
    return (
        f"Content-Type: multipart/mixed;\r\n\tboundary=\"{b}\"\r\n"
        "Mime-Version: 1.0 (Mac OS X Mail 16.0)\r\n"
        "Subject: two zips\r\nFrom: Frank <frank@example.com>\r\nTo: bob@example.org\r\n\r\n"
        f"\r\n--{b}\r\n"
        "Content-Transfer-Encoding: 7bit\r\nContent-Type: text/plain;\r\n\tcharset=us-ascii\r\n\r\n"
        "Both attached.\r\n"
        f"--{b}\r\n"
        "Content-Disposition: attachment;\r\n\tfilename=a.zip\r\nContent-Type: application/zip;\r\n"
        "\tx-unix-mode=0644;\r\n\tname=\"a.zip\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        f"{b64(ZIP)}\r\n"
        f"--{b}\r\n"
        "Content-Disposition: attachment;\r\n\tfilename=b.exe\r\nContent-Type: application/octet-stream;\r\n"
        "\tname=\"b.exe\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        f"{b64(EXE)}\r\n"
        f"--{b}--\r\n").encode()


def nested_mixed_lf():
    return (thunderbird_html_with_zip().replace(b"\r\n", b"\n")
            .replace(b"multipart/alternative;\n boundary", b"multipart/alternative; boundary"))


SAMPLES = {
    "thunderbird": thunderbird_mixed(),
    "thunderbird-html-zip": thunderbird_html_with_zip(),
    "outlook-related": outlook_related(),
    "outlook-alternative": outlook_alternative(),
    "forwarded": forwarded(),
    "single-pdf": single_pdf(),
    "apple-mail": apple_mail(),
    "thunderbird-lf": thunderbird_mixed().replace(b"\r\n", b"\n"),
    "html-zip-lf": nested_mixed_lf(),
}

W1 = "Virus Win.Trojan.Agent found in setup.exe; the attachment was removed."
W2 = "Die Datei wurde entfernt (Gr\u00fc\u00dfe)."

# name, sample, ops (by part index, or by attachment filename), expected content types in walk
# order, kept attachment names, dropped attachment names, warning texts
CASES = [
    ("thunderbird: dropwarn exe, warning appended", "thunderbird", {"setup.exe": "dropwarn:" + W1},
     ["multipart/mixed", "text/plain", "application/pdf", "text/plain"], ["report.pdf"], ["setup.exe"], [W1]),
    ("thunderbird: replace pdf in place, utf-8 text", "thunderbird", {"report.pdf": "replace:" + W2},
     ["multipart/mixed", "text/plain", "text/plain", "application/x-msdownload"], ["setup.exe"],
     ["report.pdf"], [W2]),
    ("thunderbird: every part dropped", "thunderbird", {1: "drop", "report.pdf": "dropwarn:pdf", "setup.exe": "drop"},
     ["multipart/mixed", "text/plain", "text/plain"], [], ["report.pdf", "setup.exe"],
     ["removed by the mail filter", "pdf"]),
    ("thunderbird html: zip replaced", "thunderbird-html-zip", {"pics.zip": "replace:zip blocked"},
     ["multipart/mixed", "multipart/alternative", "text/plain", "text/html", "text/plain"], [], ["pics.zip"],
     ["zip blocked"]),
    ("thunderbird html: html part dropwarn inside alternative", "thunderbird-html-zip", {3: "dropwarn:html gone"},
     ["multipart/mixed", "multipart/alternative", "text/plain", "application/zip", "text/plain"], ["pics.zip"],
     [], ["html gone"]),
    ("outlook: docm dropwarn, related kept", "outlook-related", {"invoice.docm": "dropwarn:macro document removed"},
     ["multipart/mixed", "multipart/related", "multipart/alternative", "text/plain", "text/html", "image/png",
      "text/plain"], ["image001.png"], ["invoice.docm"], ["macro document removed"]),
    ("outlook: inline image replaced", "outlook-related", {"image001.png": "replace:image removed"},
     ["multipart/mixed", "multipart/related", "multipart/alternative", "text/plain", "text/html", "text/plain",
      "application/vnd.ms-word.document.macroenabled.12"], ["invoice.docm"], ["image001.png"], ["image removed"]),
    ("outlook alternative root: wrapped", "outlook-alternative", {2: "dropwarn:suspicious link"},
     ["multipart/mixed", "multipart/alternative", "text/plain", "text/plain"], [], [], ["suspicious link"]),
    ("forwarded: exe inside the enclosed message", "forwarded", {"invoice.exe": "dropwarn:invoice.exe removed"},
     ["multipart/mixed", "text/plain", "message/rfc822", "multipart/mixed", "text/plain", "application/pdf",
      "text/plain"], ["note.pdf"], ["invoice.exe"], ["invoice.exe removed"]),
    ("forwarded: the enclosed message climbs", "forwarded", {3: "replace:forwarded message removed"},
     ["multipart/mixed", "text/plain", "text/plain", "application/pdf"], ["note.pdf"], ["invoice.exe"],
     ["forwarded message removed"]),
    ("single pdf: root edit", "single-pdf", {0: "dropwarn:scan removed"},
     ["text/plain"], [], [], ["scan removed"]),
    ("apple mail: silent drop", "apple-mail", {"b.exe": "drop"},
     ["multipart/mixed", "text/plain", "application/zip"], ["a.zip"], ["b.exe"], []),
    ("LF only: dropwarn exe", "thunderbird-lf", {"setup.exe": "dropwarn:" + W1},
     ["multipart/mixed", "text/plain", "application/pdf", "text/plain"], ["report.pdf"], ["setup.exe"], [W1]),
    ("LF only: alternative inside mixed, zip dropwarn", "html-zip-lf", {"pics.zip": "dropwarn:zip"},
     ["multipart/mixed", "multipart/alternative", "text/plain", "text/html", "text/plain"], [], ["pics.zip"],
     ["zip"]),
    ("no op: unchanged", "apple-mail", {},
     ["multipart/mixed", "text/plain", "application/zip", "application/octet-stream"], ["a.zip", "b.exe"], [], []),
]

PARSER = email.parser.BytesParser(policy=email.policy.default)


class Tree:
    """A random valid MIME tree, rendered with the quirks real mail has."""

    def __init__(self, rng, eol):
        self.rng, self.eol, self.n = rng, eol, 0

    def name(self):
        self.n += 1
        return f"f{self.n}.bin"

    def leaf(self):
        r, e = self.rng, self.eol
        kind = r.randrange(5)
        name = self.name()
        if kind == 0:  # base64 attachment
            data = blob(name, r.randrange(0, 400))
            body = b64(data, r.choice([60, 72, 76])).replace("\r\n", e)
            head = (f"Content-Type: application/octet-stream;{e}\tname=\"{name}\"{e}"
                    f"Content-Disposition: attachment; filename=\"{name}\"{e}"
                    f"Content-Transfer-Encoding: base64{e}")
        elif kind == 1:  # quoted-printable text
            body = f"caf=C3=A9 =3D ok{e}second line=\r\ncontinued"[: r.randrange(0, 40)].rstrip("=\r\\")
            body = body.replace("\r\n", e)
            head = (f"Content-Type: text/plain; charset=utf-8; name=\"{name}\"{e}"
                    f"Content-Transfer-Encoding: quoted-printable{e}")
        elif kind == 2:  # empty body
            body = ""
            head = f"Content-Type: image/gif; name=\"{name}\"{e}"
        else:  # plain text, maybe with blank lines at the end
            body = e.join(f"line {k}" for k in range(r.randrange(0, 4))) + e * r.randrange(0, 3)
            head = f"Content-Type: text/plain; name=\"{name}\"{e}"
        return head + e + body

    def multipart(self, depth):
        r, e = self.rng, self.eol
        sub = r.choice(["mixed", "alternative", "related", "mixed"])
        bnd = f"=_b{depth}_{r.randrange(10**6)}"
        fold = f";{e} boundary=\"{bnd}\"" if r.random() < 0.5 else f"; boundary=\"{bnd}\""
        out = f"Content-Type: multipart/{sub}{fold}{e}{e}"
        if r.random() < 0.5:
            out += f"This is a multi-part message in MIME format.{e}"
        for _ in range(r.randrange(1, 4)):
            out += f"--{bnd}{' ' if r.random() < 0.1 else ''}{e}" + self.part(depth + 1) + e
        out += f"--{bnd}--{e}"
        if r.random() < 0.3:
            out += f"epilogue{e}"
        return out

    def message(self, depth):
        e = self.eol
        return (f"Content-Type: message/rfc822{e}{e}Subject: inner {depth}{e}"
                + self.part(depth + 1))

    def part(self, depth):
        r = self.rng.random()
        if depth < 4 and r < 0.3:
            return self.multipart(depth)
        if depth < 4 and r < 0.4:
            return self.message(depth)
        return self.leaf()


def random_message(rng):
    eol = rng.choice(["\r\n", "\n"])
    t = Tree(rng, eol)
    head = f"From: a@example.org{eol}Subject: random{eol}"
    if rng.random() < 0.7:
        head += f"MIME-Version: 1.0{eol}"
    body = t.multipart(0) if rng.random() < 0.8 else t.part(0)
    return (head + body).encode()


def parents(walk):
    """The parent index of every part in walk order (None for the root)."""
    parent = {}

    def build(node, idx, par):
        parent[idx] = par
        nxt = idx + 1
        if node.is_multipart():
            for child in node.get_payload():
                nxt = build(child, nxt, idx)
        return nxt

    build(walk[0], 0, None)
    return parent


def chain(parent, i):
    """Part i and the containers above it."""
    out = []
    while i is not None:
        out.append(i)
        i = parent[i]
    return out


def kept_and_gone(walk, ops):
    """Leaf filenames that must survive and those that must be gone, by the spec's rules."""
    parent = parents(walk)
    edited = set()
    for i in ops:
        while i and walk[parent[i]].get_content_maintype() == "message":
            i = parent[i]  # an enclosed message's edit lands on its message/ part
        edited.add(i)
    kept, gone = [], []
    for i, p in enumerate(walk):
        if p.get_filename():
            hit = any(j in edited for j in chain(parent, i))
            (gone if hit else kept).append(p.get_filename())
    return kept, gone


def check_random(seed):
    """One random tree with random ops; returns a list of problems."""
    import random
    rng = random.Random(seed)
    raw = random_message(rng)
    src = PARSER.parsebytes(raw)
    walk = list(src.walk())
    if defects(src):
        return [f"seed {seed}: generator made a defective input: {defects(src)}"]
    ops = {}
    for i in range(len(walk)):
        r = rng.random()
        if (i > 0 and r < 0.35) or r < 0.03:
            ops[i] = rng.choice(["drop", "dropwarn:warn %d" % i, "replace:repl %d" % i])
    with tempfile.NamedTemporaryFile(suffix=".eml") as f:
        f.write(raw)
        f.flush()
        r = run_tool(f.name, ops)
    err = r.stderr.decode("utf-8", "replace")
    if r.returncode != 0:
        return [f"seed {seed}: exit {r.returncode}: {err.strip()}"]
    ours = [line.split()[3] for line in err.splitlines() if line.startswith("part ")]
    if ours != [p.get_content_type() for p in walk]:
        return [f"seed {seed}: part order differs"]
    msg = PARSER.parsebytes(r.stdout)
    problems = [f"seed {seed}: output defect {d}" for d in defects(msg)]
    kept, gone = kept_and_gone(walk, ops)
    before, after = by_name(src), by_name(msg)
    for n in kept:
        if n not in after or after[n].get_payload(decode=True) != before[n].get_payload(decode=True):
            problems.append(f"seed {seed}: kept {n} missing or changed")
    for n in gone:
        # A root edit can change only Content-Type, Content-Transfer-Encoding and
        # MIME-Version (rebuild.h), so the root's filename stays on the warning body.
        root_named = len(list(msg.walk())) == 1 and walk[0].get_filename() == n
        if n in after and not (root_named and after[n].get_content_type() == "text/plain"):
            problems.append(f"seed {seed}: {n} should be gone")
    text = "".join(p.get_content() for p in msg.walk()
                   if p.get_content_type() == "text/plain" and not p.is_multipart()
                   and (p.get_filename() == "WARNING.TXT" or len(list(msg.walk())) == 1))
    parent = parents(walk)
    for i, op in ops.items():
        w = op.split(":", 1)[1] if ":" in op else None
        if w and not any(j in ops for j in chain(parent, i)[1:]) and w not in text:
            problems.append(f"seed {seed}: warning {w!r} missing")
    return problems


def defects(msg):
    out = [f"message: {d!r}" for d in msg.defects]
    for part in msg.walk():
        out += [f"{part.get_content_type()}: {d!r}" for d in part.defects]
    return out


def by_name(msg):
    return {p.get_filename(): p for p in msg.walk() if p.get_filename()}


def run_tool(path, ops):
    args = [TOOL, "-l", path] + [f"{i}={o}" for i, o in ops.items()]
    return subprocess.run(args, capture_output=True)


def check(name, sample, ops, types, kept, dropped, warnings):
    """Returns a list of problems (empty: ok)."""
    raw = SAMPLES[sample]
    src = PARSER.parsebytes(raw)
    problems = [f"input defect {d}" for d in defects(src)]
    walk = list(src.walk())
    index = {}
    for key, op in ops.items():
        if isinstance(key, int):
            index[key] = op
        else:
            idx = [i for i, p in enumerate(walk) if p.get_filename() == key]
            if len(idx) != 1:
                return [f"no single part named {key}"]
            index[idx[0]] = op
    with tempfile.NamedTemporaryFile(suffix=".eml") as f:
        f.write(raw)
        f.flush()
        r = run_tool(f.name, index)
    err = r.stderr.decode("utf-8", "replace")
    if r.returncode != 0:
        return problems + [f"rebuild_tool exit {r.returncode}: {err.strip()}"]
    ours = [line.split()[3] for line in err.splitlines() if line.startswith("part ")]
    theirs = [p.get_content_type() for p in walk]
    if ours != theirs:
        problems.append(f"part order: ours {ours}, python {theirs}")
    out = r.stdout
    if not ops and out != raw:
        problems.append("no op, but the output differs from the input")
    if ops and "\nchanged\n" not in "\n" + err:
        problems.append("not changed")
    msg = PARSER.parsebytes(out)
    problems += [f"output defect {d}" for d in defects(msg)]
    got = [p.get_content_type() for p in msg.walk()]
    if got != types:
        problems.append(f"types {got}, want {types}")
    before, after = by_name(src), by_name(msg)
    for n in kept:
        if n not in after:
            problems.append(f"kept {n} is missing")
            continue
        if after[n].get_payload(decode=True) != before[n].get_payload(decode=True):
            problems.append(f"kept {n} decodes differently")
        body = before[n].get_payload(decode=False)
        if isinstance(body, str) and body.strip() and body.strip().encode() not in out:
            problems.append(f"kept {n}: its raw lines changed")
    for n in dropped:
        if n in after:
            problems.append(f"dropped {n} is still there")
    texts = []
    for p in msg.walk():
        if p.get_filename() == "WARNING.TXT" or (not p.is_multipart() and len(got) == 1):
            texts.append(p.get_content())
            if p.get_content_charset() != "utf-8":
                problems.append(f"warning charset {p.get_content_charset()}")
    for w in warnings:
        if not any(w in t for t in texts):
            problems.append(f"warning text {w!r} not found in {texts!r}")
    return problems


def main():
    global TOOL
    if len(sys.argv) != 2 or not os.access(sys.argv[1], os.X_OK):
        print("usage: check_python.py TOOL", file=sys.stderr)
        return 2
    TOOL = sys.argv[1]
    failed = 0
    for n, case in enumerate(CASES, 1):
        problems = check(*case)
        if problems:
            failed += 1
            print(f"not ok {n} - {case[0]}")
            for p in problems:
                print(f"#   {p}")
        else:
            print(f"ok {n} - {case[0]}")
    n = len(CASES) + 1
    problems = [p for seed in range(RANDOM_TREES) for p in check_random(seed)]
    if problems:
        failed += 1
        print(f"not ok {n} - {RANDOM_TREES} random trees with random ops")
        for p in problems[:20]:
            print(f"#   {p}")
    else:
        print(f"ok {n} - {RANDOM_TREES} random trees with random ops")
    print(f"# {n - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
