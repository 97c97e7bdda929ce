#!/usr/bin/env python3
"""tests/mime/make_samples.py: writes the MIME golden samples and their
expectations (tests/mime/data and tests/mime/garbage).

    python3 tests/mime/make_samples.py            # rewrite every sample
    python3 tests/mime/make_samples.py --check    # only verify the committed files

Each sample is NAME.eml (byte-exact) plus NAME.expect.json. The expected part
tree is NOT taken from klaxon: every leaf's size and SHA-256 come from the
payload bytes this script put into the message, decoded by this script's own
reading of RFC 2045/2046 and of the contract in src/mime.h, and every
well-formed sample is cross-checked against Python's email package
(quoted-printable hard line breaks compared as CRLF, since RFC 2045 section
6.7 rule 4 and src/decode.h say a hard break decodes to CRLF, where quopri
gives LF).

Expectation keys (tests/mime/mime_test.py reads them):
    description   what the sample is and why the expectation holds
    config        klaxon.conf overrides for this sample
    verdict       the top-level verdict ("clean", "virus", "banned", "limit")
    viruses       the exact virus list (sorted)
    reply_prefix  smtp_reply starts with this
    reply_has     smtp_reply contains every string in this list
    banned_has    the banned reason contains every string in this list
    limit         true: "limit" must be set; false: it must be null
    flags         the exact set of top-level flag names
    flags_include flag names the top-level set must hold
    flags_exclude flag names the top-level set must not hold
    parts         the exact default-reading part tree: each entry compares
                  the keys it has (path, type, filename, size, sha256, and
                  flags_include for that part's own flags)
    parts_prefix  like parts, but the tree may have more parts after these
"""
import base64
import binascii
import email
import email.header
import email.policy
import hashlib
import io
import json
import os
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))

# Anomaly flag names (src/mime.h enum mime_flag, names from mime_flag_name()).
F_DUP_CT = "duplicate-content-type"
F_DUP_CTE = "duplicate-cte"
F_BND_MISSING = "boundary-missing"
F_BND_UNCLOSED = "boundary-unclosed"
F_BND_REUSED = "boundary-reused"
F_BND_NOT_FOUND = "boundary-not-found"
F_B64 = "base64-invalid"
F_QP = "qp-invalid"
F_NUL = "header-nul"
F_BARE_CR = "header-bare-cr"
F_8BIT = "header-8bit"
F_PARTIAL = "message-partial"
F_PREAMBLE = "preamble-content"
F_EPILOGUE = "epilogue-content"
F_MIXED_EOL = "mixed-eol"
F_UNKNOWN_CTE = "unknown-cte"
F_BAD_HDR = "bad-header-syntax"
F_ENC_MULTI = "encoded-multipart"
F_LIMIT = "limit"

EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-" + b"STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
EICAR_SIG = "Klaxon.Test.EICAR.UNOFFICIAL"
assert len(EICAR) == 68

SAMPLES = []  # (folder, name, raw bytes, expect dict)


def sha(b):
    return hashlib.sha256(b).hexdigest()


def blob(seed, n):
    """n deterministic pseudo-random bytes"""
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(b"%s:%d" % (seed.encode(), i)).digest()
        i += 1
    return out[:n]


def b64lines(data, eol, width=76):
    s = base64.b64encode(data).decode()
    return eol.join(s[i:i + width] for i in range(0, len(s), width))


def leaf(path, ctype, data, filename=None, **extra):
    d = {"path": path, "type": ctype, "filename": filename, "size": len(data), "sha256": sha(data)}
    if ctype is None:
        del d["type"]
    d.update(extra)
    return d


def node(path, ctype, filename=None, **extra):
    d = {"path": path, "type": ctype, "filename": filename, "sha256": None}
    d.update(extra)
    return d


def qp_decode(body, eol, final_eol):
    """RFC 2045 6.7 as src/decode.h states it: line by line, trailing white
    space dropped, '=' + 2 hex digits decodes, any other '=' stays literal,
    '=' at the end is a soft break, a hard break is CRLF."""
    eol = eol.encode()
    if final_eol:
        assert body.endswith(eol)
        body = body[:-len(eol)]
    lines = body.split(eol)
    out = b""
    for i, line in enumerate(lines):
        has_eol = i < len(lines) - 1 or final_eol
        line = line.rstrip(b" \t")
        soft = line.endswith(b"=")
        if soft:
            line = line[:-1]
        j = 0
        while j < len(line):
            seg = line[j + 1:j + 3]
            if line[j:j + 1] == b"=" and len(seg) == 2 and all(ch in b"0123456789abcdefABCDEF" for ch in seg):
                out += bytes([int(seg, 16)])
                j += 3
            else:
                out += line[j:j + 1]
                j += 1
        if has_eol and not soft:
            out += b"\r\n"
    return out


def add(folder, name, raw, expect):
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    SAMPLES.append((folder, name, raw, expect))


def crosscheck(raw, expect):
    """Python's email package must agree with every leaf of a well-formed
    sample (uuencode children and QP line breaks aside)."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    got = []

    def walk(m, path):
        ct = m.get_content_type()
        fn = m.get_filename()
        if fn is not None:
            fn = str(email.header.make_header(email.header.decode_header(fn))) if "=?" in fn else fn
        if m.is_multipart() and ct.startswith("multipart/"):
            got.append((path, ct, None, None, False))
            for i, sub in enumerate(m.get_payload(), 1):
                walk(sub, "%s.%d" % (path, i))
        elif ct in ("message/rfc822", "message/global"):
            got.append((path, ct, None, None, False))
            walk(m.get_payload(0), path + ".1")
        else:
            data = m.get_payload(decode=True) or b""
            qp = (m.get("Content-Transfer-Encoding") or "").lower().strip() == "quoted-printable"
            if qp:
                # quopri keeps trailing blanks that RFC 2045 6.7 rule 3 says
                # a decoder deletes, and gives LF for a hard line break.
                data = b"\r\n".join(l.rstrip(b" \t\r") for l in data.split(b"\n"))
            got.append((path, ct, fn, data, qp))

    walk(msg, "1")
    want = [p for p in expect["parts"] if not p.get("uu")]
    if len(got) != len(want):
        raise SystemExit("crosscheck: %d parts from email, %d expected" % (len(got), len(want)))
    for (path, ct, fn, data, qp), w in zip(got, want):
        if path != w["path"] or ct != w["type"]:
            raise SystemExit("crosscheck: %s %s vs %s %s" % (path, ct, w["path"], w["type"]))
        if data is not None:
            if sha(data) != w["sha256"] and not (qp and sha(b"\r\n".join(
                    l.rstrip(b" \t") for l in data.split(b"\r\n"))) == w["sha256"]):
                raise SystemExit("crosscheck: %s data differs: %r" % (path, data[:80]))
            if fn != w["filename"]:
                raise SystemExit("crosscheck: %s filename %r vs %r" % (path, fn, w["filename"]))


def golden(name, raw, expect):
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    expect.setdefault("verdict", "clean")
    expect.setdefault("flags", [])
    expect.setdefault("limit", False)
    crosscheck(raw, expect)
    add("data", name, raw, expect)


HDR = ("From: Alice Example <alice@outside.example>{e}"
       "To: Bob <bob@example.test>{e}"
       "Subject: {subject}{e}"
       "Date: Fri, 27 Nov 2026 09:00:00 +0000{e}"
       "Message-ID: <{mid}@outside.example>{e}")


def hdr(subject, eol="\r\n", mime=True):
    h = HDR.format(e=eol, subject=subject, mid=subject.replace(" ", "-"))
    if mime:
        h += "MIME-Version: 1.0" + eol
    return h


# ---------------------------------------------------------------------------
# Well-formed samples (tests/mime/data)
# ---------------------------------------------------------------------------

def make_golden():
    E = "\r\n"
    # 1. plain text, CRLF, explicit charset
    body = "Hello Bob,\r\n\r\nthe meeting is at ten.\r\n\r\n-- \r\nAlice\r\n"
    golden("plain-text", hdr("plain text") + "Content-Type: text/plain; charset=us-ascii" + E +
           "Content-Transfer-Encoding: 7bit" + E + E + body,
           {"description": "text/plain, CRLF; the top-level leaf is the whole body including its last CRLF",
            "parts": [leaf("1", "text/plain", body.encode())]})

    # 2. no MIME headers at all, LF line endings: text/plain by default (RFC 2045 5.2)
    body = "No MIME headers here.\nJust two lines.\n"
    golden("plain-lf-no-mime", hdr("no mime", "\n", mime=False) + "\n" + body,
           {"description": "no Content-Type: text/plain (RFC 2045 5.2); LF only is not mixed-eol; "
                           "7bit bytes are kept as they are (LF stays LF)",
            "parts": [leaf("1", "text/plain", body.encode())]})

    # 3. multipart/mixed: text, base64 PDF, quoted-printable text attachment
    text = "Please find the report attached.\r\nRegards, Alice"
    pdf = b"%PDF-1.4\n" + blob("pdf", 2900) + b"\n%%EOF\n"
    qp_src = ("Line one has an equals sign =3D here.\r\n"
              "A long line that is wrapped by a soft line break, because quoted-printable lines=\r\n"
              " must stay under 76 characters.\r\n"
              "Caf=C3=A9 cr=C3=A8me br=C3=BBl=C3=A9e.\r\n"
              "trailing spaces are transport padding   \r\n"
              "Tab=09and =E2=82=AC sign.")
    qp_data = qp_decode(qp_src.encode(), E, False)
    assert qp_data == ("Line one has an equals sign = here.\r\n"
                       "A long line that is wrapped by a soft line break, because quoted-printable lines"
                       " must stay under 76 characters.\r\n"
                       "Café crème brûlée.\r\ntrailing spaces are transport padding\r\n"
                       "Tab\tand € sign.").encode()
    raw = (hdr("report") + 'Content-Type: multipart/mixed; boundary="=_mix_001"' + E + E +
           "This is a multi-part message in MIME format." + E +
           "--=_mix_001" + E + "Content-Type: text/plain; charset=utf-8" + E +
           "Content-Transfer-Encoding: 7bit" + E + E + text + E +
           "--=_mix_001" + E + 'Content-Type: application/pdf; name="report.pdf"' + E +
           "Content-Transfer-Encoding: base64" + E +
           'Content-Disposition: attachment; filename="report.pdf"' + E + E +
           b64lines(pdf, E) + E +
           "--=_mix_001" + E + 'Content-Type: text/plain; charset="utf-8"; name="notes.txt"' + E +
           "Content-Transfer-Encoding: quoted-printable" + E +
           'Content-Disposition: attachment; filename="notes.txt"' + E + E +
           qp_src + E + "--=_mix_001--" + E)
    golden("mixed-base64-qp", raw, {
        "description": "multipart/mixed with a 7bit text, a base64 PDF and a quoted-printable "
                       "attachment. The one-line preamble is the customary 'This is a multi-part "
                       "message' note: non-blank text before the first boundary, so "
                       "preamble-content by the letter of src/mime.h. QP hard breaks decode to CRLF, trailing blanks are dropped, "
                       "the CRLF before a delimiter belongs to the delimiter (RFC 2046 5.1.1)",
        "flags": [F_PREAMBLE],
        "parts": [node("1", "multipart/mixed"),
                  leaf("1.1", "text/plain", text.encode()),
                  leaf("1.2", "application/pdf", pdf, "report.pdf"),
                  leaf("1.3", "text/plain", qp_data, "notes.txt")]})

    # 4. multipart/alternative, text + QP html
    plain = "Hi,\r\nthis is the plain version."
    html_src = ('<html><body><p style=3D"color:red">Hi,</p><p>this is the =\r\n'
                'HTML version.</p></body></html>')
    html = qp_decode(html_src.encode(), E, False)
    raw = (hdr("alternative") + "Content-Type: multipart/alternative;" + E +
           '\tboundary="alt-boundary-42"' + E + E +
           "--alt-boundary-42" + E + "Content-Type: text/plain; charset=us-ascii" + E + E + plain + E +
           "--alt-boundary-42" + E + "Content-Type: text/html; charset=us-ascii" + E +
           "Content-Transfer-Encoding: quoted-printable" + E + E + html_src + E +
           "--alt-boundary-42--" + E)
    golden("alternative", raw, {
        "description": "multipart/alternative, boundary parameter on a folded line",
        "parts": [node("1", "multipart/alternative"), leaf("1.1", "text/plain", plain.encode()),
                  leaf("1.2", "text/html", html)]})

    # 5. nested multiparts: mixed { alternative { plain, related { html, png } }, zip }
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w", zipfile.ZIP_DEFLATED) as z:
        zi = zipfile.ZipInfo("readme.txt", date_time=(2026, 1, 2, 3, 4, 6))
        zi.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(zi, "nothing to see here\n" * 20)
        zi = zipfile.ZipInfo("docs/figures.csv", date_time=(2026, 1, 2, 3, 4, 6))
        zi.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(zi, "a,b\n1,2\n")
    zdata = zbuf.getvalue()
    png = b"\x89PNG\r\n\x1a\n" + blob("png", 700)
    plain = "Plain alternative."
    htmlt = '<html><body><img src="cid:logo@x"> Rich alternative.</body></html>'
    raw = (hdr("nested") + 'Content-Type: multipart/mixed; boundary="outer"' + E + E +
           "--outer" + E + 'Content-Type: multipart/alternative; boundary="middle"' + E + E +
           "--middle" + E + "Content-Type: text/plain" + E + E + plain + E +
           "--middle" + E + 'Content-Type: multipart/related; boundary="inner"; type="text/html"' + E + E +
           "--inner" + E + "Content-Type: text/html; charset=utf-8" + E + E + htmlt + E +
           "--inner" + E + "Content-Type: image/png" + E + "Content-Transfer-Encoding: base64" + E +
           "Content-ID: <logo@x>" + E + 'Content-Disposition: inline; filename="logo.png"' + E + E +
           b64lines(png, E) + E + "--inner--" + E +
           "--middle--" + E +
           "--outer" + E + "Content-Type: application/zip" + E + "Content-Transfer-Encoding: base64" + E +
           'Content-Disposition: attachment; filename="archive.zip"' + E + E +
           b64lines(zdata, E) + E + "--outer--" + E)
    golden("nested-multipart", raw, {
        "description": "three levels: mixed > alternative > related, and a zip beside them; "
                       "closing delimiters follow one another, so every epilogue is empty",
        "parts": [node("1", "multipart/mixed"), node("1.1", "multipart/alternative"),
                  leaf("1.1.1", "text/plain", plain.encode()), node("1.1.2", "multipart/related"),
                  leaf("1.1.2.1", "text/html", htmlt.encode()),
                  leaf("1.1.2.2", "image/png", png, "logo.png"),
                  leaf("1.2", "application/zip", zdata, "archive.zip")]})

    # 6. message/rfc822 forward with an attachment inside
    inner_text = "Original message text."
    dat = blob("forwarded", 1234)
    cover = "Forwarding the message below."
    inner = ("From: Carol <carol@elsewhere.example>" + E + "To: Alice <alice@outside.example>" + E +
             "Subject: the original" + E + "MIME-Version: 1.0" + E +
             'Content-Type: multipart/mixed; boundary="fwd-inner"' + E + E +
             "--fwd-inner" + E + "Content-Type: text/plain" + E + E + inner_text + E +
             "--fwd-inner" + E + 'Content-Type: application/octet-stream; name="data.bin"' + E +
             "Content-Transfer-Encoding: base64" + E +
             'Content-Disposition: attachment; filename="data.bin"' + E + E +
             b64lines(dat, E) + E + "--fwd-inner--" + E)
    raw = (hdr("forward") + 'Content-Type: multipart/mixed; boundary="fwd-outer"' + E + E +
           "--fwd-outer" + E + "Content-Type: text/plain" + E + E + cover + E +
           "--fwd-outer" + E + "Content-Type: message/rfc822" + E +
           "Content-Disposition: attachment" + E + E + inner + "--fwd-outer--" + E)
    golden("forward-rfc822", raw, {
        "description": "message/rfc822 has one child, the enclosed message (1.2.1), whose parts "
                       "are 1.2.1.1 and 1.2.1.2 (src/mime.h: parsed recursively)",
        "parts": [node("1", "multipart/mixed"), leaf("1.1", "text/plain", cover.encode()),
                  node("1.2", "message/rfc822"), node("1.2.1", "multipart/mixed"),
                  leaf("1.2.1.1", "text/plain", inner_text.encode()),
                  leaf("1.2.1.2", "application/octet-stream", dat, "data.bin")]})

    # 7. RFC 2231: charset, language, continuations
    a = blob("2231a", 100)
    b = blob("2231b", 200)
    c = blob("2231c", 300)
    d = blob("2231d", 50)
    name_a = "Grüße aus Köln.txt"
    name_b = "résumé été.pdf"
    name_c = "a-very-long-attachment-name-split-into-sections.dat"
    name_d = "naïve plan.doc"
    raw = (hdr("rfc2231") + 'Content-Type: multipart/mixed; boundary="r2231"' + E + E +
           "--r2231" + E + "Content-Type: application/octet-stream" + E +
           "Content-Transfer-Encoding: base64" + E +
           "Content-Disposition: attachment;" + E +
           " filename*0*=UTF-8'de'Gr%C3%BC%C3%9Fe%20aus;" + E +
           " filename*1*=%20K%C3%B6ln.txt" + E + E + b64lines(a, E) + E +
           "--r2231" + E + "Content-Type: application/pdf" + E +
           "Content-Transfer-Encoding: base64" + E +
           "Content-Disposition: attachment; filename*=iso-8859-1''r%E9sum%E9%20%E9t%E9.pdf" + E + E +
           b64lines(b, E) + E +
           "--r2231" + E + "Content-Type: application/octet-stream" + E +
           "Content-Transfer-Encoding: base64" + E +
           "Content-Disposition: attachment;" + E +
           ' filename*0="a-very-long-attachment-";' + E +
           ' filename*1="name-split-into-";' + E +
           ' filename*2="sections.dat"' + E + E + b64lines(c, E) + E +
           "--r2231" + E + "Content-Type: application/msword;" + E +
           " name*=UTF-8''na%C3%AFve%20plan.doc" + E +
           "Content-Transfer-Encoding: base64" + E + E + b64lines(d, E) + E +
           "--r2231--" + E)
    golden("rfc2231-filenames", raw, {
        "description": "RFC 2231 filename* with continuations and UTF-8 (with a language tag), "
                       "ISO-8859-1, plain (unencoded) continuations, and Content-Type name* only",
        "parts": [node("1", "multipart/mixed"),
                  leaf("1.1", "application/octet-stream", a, name_a),
                  leaf("1.2", "application/pdf", b, name_b),
                  leaf("1.3", "application/octet-stream", c, name_c),
                  leaf("1.4", "application/msword", d, name_d)]})

    # 8. RFC 2047 encoded filenames (non-standard but universal)
    a = blob("2047a", 64)
    b = blob("2047b", 65)
    name_a = "Überweisung März.pdf"
    name_b = "façade.odt"
    enc_a = "=?UTF-8?B?" + base64.b64encode(name_a.encode()).decode() + "?="
    raw = (hdr("rfc2047") + 'Content-Type: multipart/mixed; boundary="r2047"' + E + E +
           "--r2047" + E + "Content-Type: application/pdf" + E +
           "Content-Transfer-Encoding: base64" + E +
           'Content-Disposition: attachment; filename="' + enc_a + '"' + E + E + b64lines(a, E) + E +
           "--r2047" + E + 'Content-Type: application/vnd.oasis.opendocument.text;' + E +
           ' name="=?ISO-8859-1?Q?fa=E7ade=2Eodt?="' + E +
           "Content-Transfer-Encoding: base64" + E + E + b64lines(b, E) + E + "--r2047--" + E)
    golden("rfc2047-filenames", raw, {
        "description": "RFC 2047 encoded words inside quoted filename and name parameters "
                       "(B and Q encodings, UTF-8 and ISO-8859-1)",
        "parts": [node("1", "multipart/mixed"), leaf("1.1", "application/pdf", a, name_a),
                  leaf("1.2", "application/vnd.oasis.opendocument.text", b, name_b)]})

    # 9. Content-Type name only; and disposition name beats Content-Type name
    a = blob("nameonly", 333)
    b = blob("bothnames", 222)
    raw = (hdr("name only") + 'Content-Type: multipart/mixed; boundary="nm"' + E + E +
           "--nm" + E + 'Content-Type: application/octet-stream; name="only-name.dat"' + E +
           "Content-Transfer-Encoding: base64" + E + E + b64lines(a, E) + E +
           "--nm" + E + 'Content-Type: application/octet-stream; name="ct-name.dat"' + E +
           "Content-Transfer-Encoding: base64" + E +
           'Content-Disposition: attachment; filename="cd-name.dat"' + E + E + b64lines(b, E) + E +
           "--nm--" + E)
    golden("content-type-name", raw, {
        "description": "a filename only in Content-Type name; and with both, the "
                       "Content-Disposition filename is the best name (src/mime.h order)",
        "parts": [node("1", "multipart/mixed"),
                  leaf("1.1", "application/octet-stream", a, "only-name.dat"),
                  leaf("1.2", "application/octet-stream", b, "cd-name.dat")]})

    # 10. uuencoded block inside a text body
    payload = b"Hello from a uuencoded file.\nSecond line, with bytes \x00\x01\xff.\n" + blob("uu", 150)
    lines = []
    for i in range(0, len(payload), 45):
        lines.append(binascii.b2a_uu(payload[i:i + 45], backtick=True).decode().rstrip("\n"))
    assert b"".join(binascii.a2b_uu(l) for l in lines) == payload
    text = ("Here is the file, uuencoded the old way:\r\n\r\n"
            "begin 644 hello.txt\r\n" + "\r\n".join(lines) + "\r\n`\r\nend\r\n\r\nbye\r\n")
    raw = hdr("uuencode") + "Content-Type: text/plain; charset=us-ascii" + E + E + text
    golden("uuencode", raw, {
        "description": "a uuencoded block in a text/plain body: a child leaf 1.1 named by the "
                       "begin line; the text part keeps every line (src/mime.h)",
        "parts": [leaf("1", "text/plain", text.encode()),
                  dict(leaf("1.1", None, payload, "hello.txt"), uu=True)]})

    # 11. multipart/digest: children default to message/rfc822
    m1 = "From: a@x.example" + E + "Subject: one" + E + E + "first digest entry"
    m2 = "From: b@x.example" + E + "Subject: two" + E + E + "second digest entry"
    raw = (hdr("digest") + 'Content-Type: multipart/digest; boundary="dg"' + E + E +
           "--dg" + E + E + m1 + E + "--dg" + E + E + m2 + E + "--dg--" + E)
    golden("digest", raw, {
        "description": "multipart/digest: parts without Content-Type are message/rfc822 "
                       "(RFC 2046 5.1.5), each with its enclosed message as child",
        "parts": [node("1", "multipart/digest"), node("1.1", "message/rfc822"),
                  leaf("1.1.1", "text/plain", b"first digest entry"), node("1.2", "message/rfc822"),
                  leaf("1.2.1", "text/plain", b"second digest entry")]})

    # 12. LF-only multipart, 8bit text, upper-case type, transport padding
    t1 = "Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich.\nZweite Zeile."
    bin1 = blob("lfmulti", 500)
    raw = (hdr("lf multipart", "\n") + "Content-Type: Multipart/Mixed;\n" +
           '  boundary="Boundary-00=_mvhpFky0yqNhsa4"\n\n' +
           "--Boundary-00=_mvhpFky0yqNhsa4 \t\n" +
           "Content-Type: Text/Plain; charset=\"utf-8\"\nContent-Transfer-Encoding: 8bit\n\n" + t1 + "\n" +
           "--Boundary-00=_mvhpFky0yqNhsa4\n" +
           "Content-Type: APPLICATION/OCTET-STREAM; name=\"blob.bin\"\n" +
           "Content-Transfer-Encoding: BASE64\n\n" + b64lines(bin1, "\n") + "\n" +
           "--Boundary-00=_mvhpFky0yqNhsa4--  \n")
    golden("lf-multipart-8bit", raw, {
        "description": "LF line endings throughout, 8bit UTF-8 body (not a header anomaly), "
                       "upper-case type and CTE, transport padding after delimiters "
                       "(RFC 2046 5.1.1), Postfix's mime_garb boundary with '=' in it",
        "parts": [node("1", "multipart/mixed"), leaf("1.1", "text/plain", t1.encode()),
                  leaf("1.2", "application/octet-stream", bin1, "blob.bin")]})

    # 13. empty attachment and empty text part
    raw = (hdr("empty parts") + 'Content-Type: multipart/mixed; boundary="ep"' + E + E +
           "--ep" + E + "Content-Type: text/plain" + E + E + E +
           "--ep" + E + "Content-Type: application/octet-stream" + E +
           "Content-Transfer-Encoding: base64" + E +
           'Content-Disposition: attachment; filename="empty.bin"' + E + E + E + "--ep--" + E)
    golden("empty-parts", raw, {
        "description": "a text part and a base64 attachment that are both empty (the CRLF "
                       "before each delimiter belongs to the delimiter)",
        "parts": [node("1", "multipart/mixed"), leaf("1.1", "text/plain", b""),
                  leaf("1.2", "application/octet-stream", b"", "empty.bin")]})

    # 14. top-level base64 attachment (single part message) and top-level QP body
    pic = b"GIF89a" + blob("gif", 400)
    raw = (hdr("single part") + 'Content-Type: image/gif; name="tiny.gif"' + E +
           "Content-Transfer-Encoding: base64" + E +
           'Content-Disposition: attachment; filename="tiny.gif"' + E + E + b64lines(pic, E) + E)
    golden("single-part-base64", raw, {
        "description": "the message itself is a base64 image (the leaf is part 1)",
        "parts": [leaf("1", "image/gif", pic, "tiny.gif")]})
    qsrc = "Soft=\r\nbreak and a hard one.\r\nLast line=2E\r\n"
    raw = (hdr("top qp") + "Content-Type: text/plain; charset=us-ascii" + E +
           "Content-Transfer-Encoding: quoted-printable" + E + E + qsrc)
    golden("top-level-qp", raw, {
        "description": "a top-level QP body: its final line ending is part of the body and "
                       "decodes to CRLF",
        "parts": [leaf("1", "text/plain", qp_decode(qsrc.encode(), E, True))]})
    assert qp_decode(qsrc.encode(), E, True) == b"Softbreak and a hard one.\r\nLast line.\r\n"


# ---------------------------------------------------------------------------
# Hostile samples (tests/mime/garbage), after Postfix's mime_garb*.in and the
# ambiguities of RFC 7103 / draft-chen-email-mime-ambiguity-defense
# ---------------------------------------------------------------------------

def garbage(name, raw, expect):
    expect.setdefault("verdict", "clean")
    add("garbage", name, raw, expect)


def eicar_part(E, bnd, name="eicar.com"):
    return ("--" + bnd + E + 'Content-Type: application/octet-stream; name="' + name + '"' + E +
            "Content-Transfer-Encoding: base64" + E + E + b64lines(EICAR, E) + E)


def nest(E, depth, leaftext):
    """depth nested multipart/mixed levels around one text leaf at that depth"""
    s = 'Content-Type: multipart/mixed; boundary="n0"' + E + E
    for i in range(depth - 1):
        s += "--n%d" % i + E + 'Content-Type: multipart/mixed; boundary="n%d"' % (i + 1) + E + E
    s += "--n%d" % (depth - 1) + E + "Content-Type: text/plain" + E + E + leaftext + E
    for i in reversed(range(depth)):
        s += "--n%d--" % i + E
    return s


def make_garbage():
    E = "\r\n"
    VIRUS = {"verdict": "virus", "viruses": [EICAR_SIG], "reply_prefix": "550 5.7.1",
             "reply_has": [EICAR_SIG]}

    # --- duplicate Content-Type, different boundaries
    vis = "visible under AAA"
    hidden_block = ("--BBB" + E + "Content-Type: text/plain" + E + E + "hidden under BBB" + E + "--BBB--")
    raw = (hdr("dup ctype") + 'Content-Type: multipart/mixed; boundary="AAA"' + E +
           'Content-Type: multipart/mixed; boundary="BBB"' + E + E +
           "--AAA" + E + "Content-Type: text/plain" + E + E + vis + E + hidden_block + E + "--AAA--" + E)
    garbage("dup-content-type", raw, {
        "description": "two Content-Type headers with different boundaries; the default reading "
                       "takes the first (src/mime.h), so BBB's lines are text of part 1.1",
        "flags_include": [F_DUP_CT],
        "parts": [node("1", "multipart/mixed", flags_include=[F_DUP_CT]),
                  leaf("1.1", "text/plain", (vis + E + hidden_block).encode())]})

    # the explicit requirement: EICAR visible only under the SECOND header's boundary
    raw = (hdr("dup ctype eicar") + 'Content-Type: multipart/mixed; boundary="AAA"' + E +
           'Content-Type: multipart/mixed; boundary="BBB"' + E + E +
           "--AAA" + E + "Content-Type: text/plain" + E + E + "nothing to see" + E +
           "--BBB" + E + "Content-Type: text/plain" + E + E + "cover text" + E +
           eicar_part(E, "BBB") + "--BBB--" + E + "--AAA--" + E)
    garbage("trick-dup-ctype-eicar", raw, dict(VIRUS, **{
        "description": "EICAR (base64) is an attachment only when the message is read with the "
                       "second Content-Type's boundary BBB: every reading must be scanned",
        "flags_include": [F_DUP_CT],
        "parts_prefix": [node("1", "multipart/mixed")]}))

    # duplicate boundary parameter in one Content-Type, plain twice and
    # plain + RFC 2231: readers differ on which one wins
    raw = (hdr("dup boundary param") + 'Content-Type: multipart/mixed; boundary="AAA"; boundary="BBB"' + E + E +
           "--AAA" + E + "Content-Type: text/plain" + E + E + "nothing to see" + E +
           "--BBB" + E + "Content-Type: text/plain" + E + E + "cover text" + E +
           eicar_part(E, "BBB") + "--BBB--" + E + "--AAA--" + E)
    garbage("trick-dup-boundary-param-eicar", raw, dict(VIRUS, **{
        "description": "boundary given twice in one Content-Type; EICAR is an attachment only "
                       "for a reader that takes the last value (conflicting boundaries: "
                       "DESIGN.md, ambiguity defense)"}))
    raw = (hdr("boundary 2231 vs plain") + "Content-Type: multipart/mixed; boundary=\"AAA\"; "
           "boundary*=us-ascii''BBB" + E + E +
           "--BBB" + E + "Content-Type: text/plain" + E + E + "nothing to see" + E +
           "--AAA" + E + "Content-Type: text/plain" + E + E + "cover text" + E +
           eicar_part(E, "AAA") + "--AAA--" + E + "--BBB--" + E)
    garbage("trick-boundary-2231-vs-plain-eicar", raw, dict(VIRUS, **{
        "description": "boundary=\"AAA\" and boundary*=''BBB: an RFC 2231 reader takes BBB, a "
                       "reader without RFC 2231 (and ClamAV) takes AAA, behind which EICAR is"}))

    # --- duplicate Content-Transfer-Encoding
    pay = blob("dupcte", 120)
    b64 = b64lines(pay, E)
    raw = (hdr("dup cte") + 'Content-Type: multipart/mixed; boundary="dc"' + E + E +
           "--dc" + E + "Content-Type: text/plain" + E + E + "see attachment" + E +
           "--dc" + E + 'Content-Type: application/octet-stream; name="dup.bin"' + E +
           "Content-Transfer-Encoding: 7bit" + E + "Content-Transfer-Encoding: base64" + E + E +
           b64 + E + "--dc--" + E)
    garbage("dup-cte", raw, {
        "description": "7bit then base64: the default reading takes the first CTE, so part "
                       "1.2's bytes are the base64 text itself",
        "flags_include": [F_DUP_CTE],
        "parts": [node("1", "multipart/mixed"), leaf("1.1", "text/plain", b"see attachment"),
                  leaf("1.2", "application/octet-stream", b64.encode(), "dup.bin",
                       flags_include=[F_DUP_CTE])]})
    raw = (hdr("dup cte eicar") + 'Content-Type: multipart/mixed; boundary="dc"' + E + E +
           "--dc" + E + 'Content-Type: application/octet-stream; name="dup.bin"' + E +
           "Content-Transfer-Encoding: 7bit" + E + "Content-Transfer-Encoding: base64" + E + E +
           b64lines(EICAR, E) + E + "--dc--" + E)
    garbage("trick-dup-cte-eicar", raw, dict(VIRUS, **{
        "description": "EICAR appears only when the second CTE (base64) is applied",
        "flags_include": [F_DUP_CTE]}))

    # --- boundary parameter missing; a lenient reader guesses "--zzz"
    raw = (hdr("no boundary") + "Content-Type: multipart/mixed" + E + E +
           "--zzz" + E + "Content-Type: text/plain" + E + E + "part one" + E +
           "--zzz" + E + "Content-Type: text/plain" + E + E + "part two" + E + "--zzz--" + E)
    garbage("boundary-missing", raw, {
        "description": "multipart/mixed without a boundary parameter",
        "flags_include": [F_BND_MISSING]})
    raw = (hdr("no boundary eicar") + "Content-Type: multipart/mixed" + E + E +
           "--zzz" + E + "Content-Type: text/plain" + E + E + "part one" + E +
           eicar_part(E, "zzz") + "--zzz--" + E)
    garbage("trick-guess-boundary-eicar", raw, dict(VIRUS, **{
        "description": "EICAR (base64) behind a boundary only a lenient reader finds (the "
                       "first '--' line of a multipart without a boundary parameter)",
        "flags_include": [F_BND_MISSING]}))
    raw = (hdr("empty boundary") + 'Content-Type: multipart/mixed; boundary=""' + E + E +
           "--" + E + "Content-Type: text/plain" + E + E + "part one" + E + "----" + E)
    garbage("boundary-empty", raw, {
        "description": 'boundary="" is no usable boundary (RFC 2046: 1 to 70 characters)',
        "flags_include": [F_BND_MISSING]})

    # --- boundary never closed
    tail = blob("unclosed", 300)
    raw = (hdr("unclosed") + 'Content-Type: multipart/mixed; boundary="u1"' + E + E +
           "--u1" + E + "Content-Type: text/plain" + E + E + "hello" + E +
           "--u1" + E + 'Content-Type: application/octet-stream; name="tail.bin"' + E +
           "Content-Transfer-Encoding: base64" + E + E + b64lines(tail, E) + E)
    garbage("boundary-unclosed", raw, {
        "description": "no closing delimiter: the last part runs to the end of the message",
        "flags_include": [F_BND_UNCLOSED],
        "parts": [node("1", "multipart/mixed"), leaf("1.1", "text/plain", b"hello"),
                  leaf("1.2", "application/octet-stream", tail, "tail.bin")]})

    # --- nested part reusing the parent's boundary
    raw = (hdr("reused") + 'Content-Type: multipart/mixed; boundary="R"' + E + E +
           "--R" + E + 'Content-Type: multipart/alternative; boundary="R"' + E + E +
           "--R" + E + "Content-Type: text/plain" + E + E + "inner or outer?" + E +
           "--R--" + E +
           "--R" + E + "Content-Type: text/plain" + E + E + "last" + E + "--R--" + E)
    garbage("boundary-reused", raw, {
        "description": "a nested multipart with its parent's boundary",
        "flags_include": [F_BND_REUSED]})

    # --- the boundary never appears
    raw = (hdr("not found") + 'Content-Type: multipart/mixed; boundary="nothere"' + E + E +
           "--elsewhere" + E + "Content-Type: text/plain" + E + E + "text" + E + "--elsewhere--" + E)
    garbage("boundary-not-found", raw, {
        "description": "the declared boundary is never used in the body",
        "flags_include": [F_BND_NOT_FOUND]})

    # --- base64: junk, missing padding, data after padding, a lone last symbol
    pay = blob("b64junk", 300)
    s = base64.b64encode(pay).decode()
    junky = s[:40] + "!!" + s[40:81] + "*" + s[81:120] + "." + s[120:]
    lines = E.join(junky[i:i + 76] for i in range(0, len(junky), 76))
    raw = (hdr("b64 junk") + 'Content-Type: multipart/mixed; boundary="bj"' + E + E +
           "--bj" + E + 'Content-Type: application/octet-stream; name="junk.bin"' + E +
           "Content-Transfer-Encoding: base64" + E + E + lines + E + "--bj--" + E)
    garbage("base64-junk", raw, {
        "description": "bytes outside the base64 alphabet mid-stream: the default (lenient) "
                       "reading skips them (src/decode.h), so the payload decodes whole",
        "flags_include": [F_B64],
        "parts": [node("1", "multipart/mixed"),
                  leaf("1.1", "application/octet-stream", pay, "junk.bin", flags_include=[F_B64])]})

    pay = blob("b64nopad", 301)  # 301 % 3 == 1: "==" padding normally
    s = base64.b64encode(pay).decode().rstrip("=")
    raw = (hdr("b64 nopad") + 'Content-Type: application/octet-stream; name="nopad.bin"' + E +
           "Content-Transfer-Encoding: base64" + E + E +
           E.join(s[i:i + 76] for i in range(0, len(s), 76)) + E)
    garbage("base64-no-padding", raw, {
        "description": "final group of 2 symbols without '=': decoded (DECODE_B64_NO_PAD)",
        "flags_include": [F_B64],
        "parts": [leaf("1", "application/octet-stream", pay, "nopad.bin")]})

    p1 = blob("afterpad1", 100)  # 100 % 3 == 1
    p2 = blob("afterpad2", 60)
    s = base64.b64encode(p1).decode() + base64.b64encode(p2).decode()
    raw = (hdr("b64 after pad") + 'Content-Type: application/octet-stream; name="afterpad.bin"' + E +
           "Content-Transfer-Encoding: base64" + E + E +
           E.join(s[i:i + 76] for i in range(0, len(s), 76)) + E)
    garbage("base64-after-padding", raw, {
        "description": "two base64 streams glued: data after '==' is a new group in the default "
                       "(lenient) reading (DECODE_B64_AFTER_PAD)",
        "flags_include": [F_B64],
        "parts": [leaf("1", "application/octet-stream", p1 + p2, "afterpad.bin")]})

    pay = blob("b64trunc", 300)
    s = base64.b64encode(pay).decode() + "Q"
    raw = (hdr("b64 trunc") + 'Content-Type: application/octet-stream; name="trunc.bin"' + E +
           "Content-Transfer-Encoding: base64" + E + E +
           E.join(s[i:i + 76] for i in range(0, len(s), 76)) + E)
    garbage("base64-truncated", raw, {
        "description": "one lone symbol after the last whole group: 6 bits, no byte "
                       "(DECODE_B64_TRUNCATED)",
        "flags_include": [F_B64],
        "parts": [leaf("1", "application/octet-stream", pay, "trunc.bin")]})

    # EICAR with junk in the middle: strict decoding stops before the virus
    s = base64.b64encode(EICAR).decode()
    junky = s[:20] + "!#" + s[20:]
    raw = (hdr("b64 junk eicar") + 'Content-Type: multipart/mixed; boundary="bje"' + E + E +
           "--bje" + E + "Content-Type: text/plain" + E + E + "see attachment" + E +
           "--bje" + E + 'Content-Type: application/octet-stream; name="e.bin"' + E +
           "Content-Transfer-Encoding: base64" + E + E + junky + E + "--bje--" + E)
    garbage("trick-base64-junk-eicar", raw, dict(VIRUS, **{
        "description": "EICAR base64 with junk after 20 symbols: strict decoding stops there, "
                       "lenient decoding gives the whole string",
        "flags_include": [F_B64]}))
    s = base64.b64encode(b"A").decode() + base64.b64encode(EICAR).decode()
    raw = (hdr("b64 pad eicar") + 'Content-Type: application/octet-stream; name="e.bin"' + E +
           "Content-Transfer-Encoding: base64" + E + E + s + E)
    garbage("trick-base64-after-pad-eicar", raw, dict(VIRUS, **{
        "description": "'QQ==' then EICAR in base64: strict decoding stops at the padding",
        "flags_include": [F_B64]}))

    # --- invalid quoted-printable
    src = ("bad escape =ZZ here\r\n"
           "lower case =3d is legal\r\n"
           "a = b is a literal equals\r\n"
           "half =4\r\n"
           "caf=C3=A9")
    raw = (hdr("qp invalid") + 'Content-Type: multipart/mixed; boundary="qp"' + E + E +
           "--qp" + E + "Content-Type: text/plain; charset=utf-8" + E +
           "Content-Transfer-Encoding: quoted-printable" + E + E + src + E + "--qp--" + E)
    want = b"bad escape =ZZ here\r\nlower case = is legal\r\na = b is a literal equals\r\nhalf =4\r\ncaf\xc3\xa9"
    assert qp_decode(src.encode(), E, False) == want
    garbage("qp-invalid", raw, {
        "description": "'=' not followed by two hex digits is kept literally "
                       "(DECODE_QP_BAD_ESCAPE); lower-case hex decodes",
        "flags_include": [F_QP],
        "parts": [node("1", "multipart/mixed"), leaf("1.1", "text/plain", want, flags_include=[F_QP])]})

    # --- NUL, bare CR and 8-bit bytes in headers
    body = "body text" + E
    raw = (hdr("nul") + "X-Note: before\x00after" + E + "Content-Type: text/plain" + E + E + body)
    garbage("header-nul", raw, {
        "description": "a NUL byte inside a header field",
        "flags_include": [F_NUL],
        "parts": [leaf("1", "text/plain", body.encode())]})
    raw = (hdr("bare cr") + "X-Note: one\rtwo" + E + "Content-Type: text/plain" + E + E + body)
    garbage("header-bare-cr", raw, {
        "description": "a CR not followed by LF inside a header field",
        "flags_include": [F_BARE_CR],
        "parts": [leaf("1", "text/plain", body.encode())]})
    raw = (hdr("bare cr eicar") + "Content-Type: text/plain;\r" +
           'Content-Type: multipart/mixed; boundary="crb"' + E + E +
           "--crb" + E + "Content-Type: text/plain" + E + E + "hi" + E +
           eicar_part(E, "crb") + "--crb--" + E)
    garbage("trick-bare-cr-ctype", raw, dict(VIRUS, **{
        "description": "'Content-Type: text/plain;<CR>Content-Type: multipart/mixed; "
                       "boundary=crb': a reader that ends lines at a bare CR sees a second "
                       "Content-Type and the EICAR attachment behind it",
        "flags_include": [F_BARE_CR]}))
    att = blob("8bit", 90)
    raw = (hdr("Grüße 8bit") + 'Content-Type: multipart/mixed; boundary="8b"' + E + E +
           "--8b" + E + "Content-Type: application/octet-stream" + E +
           "Content-Transfer-Encoding: base64" + E +
           'Content-Disposition: attachment; filename="naïve.txt"' + E + E + b64lines(att, E) + E +
           "--8b--" + E)
    garbage("header-8bit", raw, {
        "description": "raw UTF-8 in Subject and in a filename parameter (read as UTF-8)",
        "flags_include": [F_8BIT],
        "parts": [node("1", "multipart/mixed"),
                  leaf("1.1", "application/octet-stream", att, "naïve.txt", flags_include=[F_8BIT])]})

    # --- message/partial
    body = "Subject: part one of two" + E + E + "first half of a message" + E
    raw = (hdr("partial") + 'Content-Type: message/partial; id="abc@outside.example"; number=1; total=2' +
           E + E + body)
    garbage("message-partial", raw, {
        "description": "message/partial is a leaf (not rfc822/global) and banned "
                       "(src/inspect.h): 554 5.7.1",
        "verdict": "banned", "reply_prefix": "554 5.7.1", "banned_has": ["message/partial"],
        "flags_include": [F_PARTIAL],
        "parts": [leaf("1", "message/partial", body.encode())]})

    # --- preamble and epilogue text
    raw = (hdr("pre epi") + 'Content-Type: multipart/mixed; boundary="pe"' + E + E +
           "Hidden preamble text that clients do not show." + E + E +
           "--pe" + E + "Content-Type: text/plain" + E + E + "the part" + E + "--pe--" + E +
           "Epilogue text after the close." + E)
    garbage("preamble-epilogue", raw, {
        "description": "non-blank text before the first and after the closing delimiter",
        "flags_include": [F_PREAMBLE, F_EPILOGUE],
        "parts": [node("1", "multipart/mixed"), leaf("1.1", "text/plain", b"the part")]})

    # --- mixed CRLF and LF
    raw = (hdr("mixed eol") + 'Content-Type: multipart/mixed; boundary="me"' + E + E +
           "--me\n" + "Content-Type: text/plain\r\n\n" + "line a\r\nline b\nline c" + "\n--me--\r\n")
    garbage("mixed-eol", raw, {
        "description": "CRLF and bare LF line endings in one message; the part's bytes are "
                       "kept as given, the LF before the delimiter belongs to it",
        "flags_include": [F_MIXED_EOL],
        "parts": [node("1", "multipart/mixed"), leaf("1.1", "text/plain", b"line a\r\nline b\nline c")]})

    # --- limits
    LIMIT = {"verdict": "limit", "limit": True, "reply_prefix": "554 5.6.0", "flags_include": [F_LIMIT]}
    garbage("depth-default-over", hdr("deep") + nest(E, 25, "deep down"), dict(LIMIT, **{
        "description": "25 nested multiparts, mime_max_depth 20 (default): limit, 554"}))
    fwd = "From: x@y.example" + E + "Subject: level 25" + E + E + "innermost" + E
    for i in range(24, 0, -1):
        fwd = ("From: x@y.example" + E + "Subject: level %d" % i + E + "MIME-Version: 1.0" + E +
               "Content-Type: message/rfc822" + E + E + fwd)
    garbage("depth-rfc822-over", hdr("deep fwd") + "Content-Type: message/rfc822" + E + E + fwd,
            dict(LIMIT, **{"description": "25 message/rfc822 inside one another (the innermost "
                                          "text at depth 25), default mime_max_depth 20: limit"}))
    leafd = nest(E, 5, "at the limit")
    parts = [node("1", "multipart/mixed")] + [node("1" + ".1" * i, "multipart/mixed") for i in range(1, 5)]
    parts.append(leaf("1" + ".1" * 5, "text/plain", b"at the limit"))
    garbage("depth-at-limit", hdr("depth 5") + leafd, {
        "description": "mime_max_depth 5: five multiparts (depths 0-4), the leaf at depth 5: "
                       "within the limit",
        "config": {"mime_max_depth": "5"}, "limit": False, "flags_exclude": [F_LIMIT],
        "parts": parts})
    garbage("depth-over-limit", hdr("depth 6") + nest(E, 6, "one too deep"), dict(LIMIT, **{
        "description": "mime_max_depth 5: six multiparts, the leaf at depth 6",
        "config": {"mime_max_depth": "5"}}))

    def many(n):
        s = hdr("parts %d" % n) + 'Content-Type: multipart/mixed; boundary="mp"' + E + E
        for i in range(n):
            s += "--mp" + E + "Content-Type: text/plain" + E + E + "part %d" % (i + 1) + E
        return s + "--mp--" + E
    garbage("parts-at-limit", many(9), {
        "description": "mime_max_parts 10: the message and 9 parts, 10 in all",
        "config": {"mime_max_parts": "10"}, "limit": False, "flags_exclude": [F_LIMIT],
        "parts": [node("1", "multipart/mixed")] +
                 [leaf("1.%d" % (i + 1), "text/plain", b"part %d" % (i + 1)) for i in range(9)]})
    garbage("parts-over-limit", many(11), dict(LIMIT, **{
        "description": "mime_max_parts 10: the message and 11 parts",
        "config": {"mime_max_parts": "10"}}))
    garbage("parts-default-over", many(1100), dict(LIMIT, **{
        "description": "1100 parts, default mime_max_parts 1000"}))

    longh = "X-Long: " + (E + " ").join("word%04d-" % i + "x" * 50 for i in range(40))
    garbage("header-over-limit", hdr("long header") + longh + E + "Content-Type: text/plain" + E + E +
            "text" + E, dict(LIMIT, **{
                "description": "mime_max_header_length 1K: one folded header of 2.4 KB unfolded, "
                               "every physical line short",
                "config": {"mime_max_header_length": "1K"}}))
    okh = "X-Long: " + (E + " ").join("word%04d-" % i + "x" * 50 for i in range(12))
    garbage("header-at-limit", hdr("ok header") + okh + E + "Content-Type: text/plain" + E + E +
            "text" + E, {
                "description": "mime_max_header_length 1K: a folded header of about 730 bytes",
                "config": {"mime_max_header_length": "1K"}, "limit": False, "flags_exclude": [F_LIMIT],
                "parts": [leaf("1", "text/plain", b"text" + E.encode())]})
    longname = "a" * 3000 + ".txt"
    garbage("part-header-over-limit",
            hdr("long part header") + 'Content-Type: multipart/mixed; boundary="ph"' + E + E +
            "--ph" + E + 'Content-Type: text/plain' + E +
            'Content-Disposition: attachment; filename="' + longname + '"' + E + E + "x" + E +
            "--ph--" + E, dict(LIMIT, **{
                "description": "mime_max_header_length 1K: a 3 KB Content-Disposition inside a part",
                "config": {"mime_max_header_length": "1K"}}))
    garbage("line-over-limit", hdr("long line") + "Content-Type: text/plain" + E + E +
            "short" + E + "B" * 5000 + E + "short" + E, dict(LIMIT, **{
                "description": "mime_max_line_length 1K: a 5000-byte body line",
                "config": {"mime_max_line_length": "1K"}}))
    okbody = "short" + E + "B" * 1000 + E
    garbage("line-at-limit", hdr("ok line") + "Content-Type: text/plain" + E + E + okbody, {
        "description": "mime_max_line_length 1K: a 1000-byte body line is fine",
        "config": {"mime_max_line_length": "1K"}, "limit": False, "flags_exclude": [F_LIMIT],
        "parts": [leaf("1", "text/plain", okbody.encode())]})
    big = blob("decoded", 4000)
    garbage("decoded-over-limit", hdr("decoded") + 'Content-Type: application/octet-stream; name="big.bin"' +
            E + "Content-Transfer-Encoding: base64" + E + E + b64lines(big, E) + E, dict(LIMIT, **{
                "description": "mime_max_decoded_size 1K: a 4000-byte attachment",
                "config": {"mime_max_decoded_size": "1K"}}))

    # --- encoded multipart and encoded message/rfc822 (Postfix mime_garb1/2)
    inner = ("--em" + E + "Content-Type: text/plain" + E + E + "inside an encoded multipart" + E + "--em--" + E)
    raw = (hdr("encoded multipart") + 'Content-Type: multipart/mixed; boundary="em"' + E +
           "Content-Transfer-Encoding: base64" + E + E + b64lines(inner.encode(), E) + E)
    garbage("encoded-multipart", raw, {
        "description": "multipart/mixed with Content-Transfer-Encoding: base64 (RFC 2045 6.4 "
                       "forbids it)",
        "flags_include": [F_ENC_MULTI]})
    inner = ("--em" + E + "Content-Type: text/plain" + E + E + EICAR.decode() + E + "--em--" + E)
    raw = (hdr("encoded multipart eicar") + 'Content-Type: multipart/mixed; boundary="em"' + E +
           "Content-Transfer-Encoding: base64" + E + E + b64lines(inner.encode(), E) + E)
    garbage("trick-encoded-multipart-eicar", raw, dict(VIRUS, **{
        "description": "EICAR inside a base64-encoded multipart: a reader that applies the "
                       "(illegal) CTE sees it",
        "flags_include": [F_ENC_MULTI]}))
    for n, frm in (("postfix-garb1", "=46rom"), ("postfix-garb2", "From")):
        raw = ("From: Some One <user@example.com>\nTo: Some One <user@example.com>\nSubject: Test\n"
               "MIME-Version: 1.0\nContent-Type: Multipart/Mixed;\n  boundary=\"Boundary-00=_mvhpFky0yqNhsa4\"\n\n"
               "--Boundary-00=_mvhpFky0yqNhsa4\nContent-Type: text/plain;\n  charset=\"utf-8\"\n"
               "Content-Transfer-Encoding: quoted-printable\nContent-Disposition: inline\n\nThis is a test\n"
               "--Boundary-00=_mvhpFky0yqNhsa4\nContent-Type: message/rfc822;\n  name=\"forwarded message\"\n"
               "Content-Transfer-Encoding: quoted-printable\nContent-Disposition: inline\n\n"
               + frm + " user@example.com Thu Jan 11 13:08:21 CET 2007\nTo: user@example.com\n"
               + frm + ": Some One <user@example.com>\nSubject: Forwarded Test\n\nBlah\n\n")
        garbage(n, raw, {
            "description": "Postfix src/global/mime_garb%s.in: message/rfc822 with "
                           "quoted-printable (invalid encoding domain), never closed" % n[-1],
            "flags_include": [F_ENC_MULTI, F_BND_UNCLOSED],
            "parts_prefix": [node("1", "multipart/mixed"),
                             leaf("1.1", "text/plain", b"This is a test")]})
    raw = ("From: Some One <user@example.com>\nTo: Some One <user@example.com>\nSubject: Test\n"
           "MIME-Version: 1.0\nContent-Type: Multipart/Mixed;\n  boundary=\"Boundary-00=_mvhpFky0yqNhsa4\"\n"
           "junk in primary header\n\n"
           "--Boundary-00=_mvhpFky0yqNhsa4\nContent-Type: text/plain;\n  charset=\"utf-8\"\n"
           "Content-Transfer-Encoding: quoted-printable\nContent-Disposition: inline\njunk in multipart header\n\n"
           "This is a test\n"
           "--Boundary-00=_mvhpFky0yqNhsa4\nContent-Type: message/rfc822;\n  name=\"forwarded message\"\n"
           "Content-Transfer-Encoding: quoted-printable\nContent-Disposition: inline\n\n"
           "=46rom user@example.com Thu Jan 11 13:08:21 CET 2007\nTo: user@example.com\n"
           "=46rom: Some One <user@example.com>\nSubject: Forwarded Test\n\nBlah\n\n")
    garbage("postfix-garb3", raw, {
        "description": "Postfix src/global/mime_garb3.in: lines without a colon in the primary, "
                       "a multipart and a nested header",
        "flags_include": [F_BAD_HDR, F_ENC_MULTI]})

    # --- unknown transfer encoding: kept raw
    rawbody = "=?not really encoded?=" + E + "second line"
    raw = (hdr("unknown cte") + 'Content-Type: multipart/mixed; boundary="uc"' + E + E +
           "--uc" + E + 'Content-Type: application/octet-stream; name="odd.bin"' + E +
           "Content-Transfer-Encoding: x-klaxon-weird" + E + E + rawbody + E + "--uc--" + E)
    garbage("unknown-cte", raw, {
        "description": "an unknown Content-Transfer-Encoding: the bytes are kept raw",
        "flags_include": [F_UNKNOWN_CTE],
        "parts": [node("1", "multipart/mixed"),
                  leaf("1.1", "application/octet-stream", rawbody.encode(), "odd.bin",
                       flags_include=[F_UNKNOWN_CTE])]})


def main():
    check = "--check" in sys.argv[1:]
    make_golden()
    make_garbage()
    bad = 0
    names = set()
    for folder, name, raw, expect in SAMPLES:
        assert name not in names, name
        names.add(name)
        if expect.get("flags", ()) is None:
            del expect["flags"]
        for p in expect.get("parts", []) + expect.get("parts_prefix", []):
            p.pop("uu", None)
        base = os.path.join(HERE, folder, name)
        ej = json.dumps(expect, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
        if check:
            for path, content in ((base + ".eml", raw), (base + ".expect.json", ej.encode())):
                try:
                    with open(path, "rb") as f:
                        ok = f.read() == content
                except OSError:
                    ok = False
                if not ok:
                    print("differs: %s" % path)
                    bad += 1
            continue
        os.makedirs(os.path.dirname(base), exist_ok=True)
        with open(base + ".eml", "wb") as f:
            f.write(raw)
        with open(base + ".expect.json", "w", encoding="utf-8") as f:
            f.write(ej)
    print("%d samples (%d well-formed, %d hostile)%s" % (
        len(SAMPLES), sum(1 for s in SAMPLES if s[0] == "data"),
        sum(1 for s in SAMPLES if s[0] == "garbage"), ", %d differ" % bad if check else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
