#!/usr/bin/env python3
"""tests/filter: conf/filter.lua decides exactly what the built-in policy decides.

Run through tests/filter/run.sh. For every message of the corpus and two
origins (an external TEST-NET address and the internal 127.0.0.2), run
`klaxon check --json` twice, each time in a fresh private directory:

    builtin   the test config (clamav_db = tests/sigs, private quarantine,
              alert spool and spool, a fake sendmail that records)
    filter    the same config plus `filter = <repo>/conf/filter.lua`

and compare what a user of the policy can see: "action", "smtp_reply",
"verdict", and whether "quarantine_id" and "alert_id" are set (the
booleans, not the ids). One TAP line per comparison,

    ok N - <file> <origin>
    not ok N - <file> <origin>: <what differs>

then the plan "1..N" and a count on stderr; exit 1 on any failure.

The corpus: tests/data/*.eml, tests/mime/data/*.eml and
tests/mime/garbage/*.eml (each with the "config" of its .expect.json, in
both configs, so the limit samples reach their limits), the messages
tests/check/gen_corpus.py writes, and synthetic messages written here that
hit every branch of conf/filter.lua: clean, EICAR (rejected from outside,
discarded with a copy and an alert from inside), a virus in an attachment
whose name is banned too (the virus wins), banned .pif, .exe inside a zip,
a banned name with '%' and a control character (the reply sanitising),
message/partial, nesting deeper than mime_max_depth (set low in both
configs), and a refused anomaly (anomalies_refuse set in both configs).

Extra observations that are not part of the contract are printed as TAP
comments ("# note: ..."), for instance a difference in the X-Virus-Scanned
header of accepted mail. A case known to be out of the filter's reach with
the current API is marked "# TODO" (TAP: its failure does not fail the run).

Environment:
    KLAXON_BIN            binary under test (default <repo>/build/klaxon)
    KLAXON_FILTER         the filter to compare (default <repo>/conf/filter.lua)
    KLAXON_FILTER_ONLY    a regular expression on "<file> <origin>": run only those
    KLAXON_FILTER_KEEP=1  keep the work dir (its path is printed on stderr)
    KLAXON_FILTER_SELFTEST=1
                          leave the filter key out of the second config too:
                          both runs are then the built-in policy and every
                          comparison must pass. This checks the harness itself
                          (corpus, configs, comparison), with no filter support.
    KLAXON_FILTER_JOBS    parallel klaxon runs (default 4)
"""
import base64
import concurrent.futures
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SIGS = os.path.join(REPO, "tests", "sigs")
GEN_CORPUS = os.path.join(REPO, "tests", "check", "gen_corpus.py")

EXT_IP = "192.0.2.25"       # TEST-NET-1: outside internal_networks
INT_IP = "127.0.0.2"        # inside the default 127.0.0.0/8
ORIGINS = (("external", EXT_IP), ("internal", INT_IP))
SENDER = "sender@outside.example.net"
RCPT = "bob@example.test"

# EICAR, split so that this file is not itself a test virus
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-" + b"STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"

SANITIZER = re.compile(rb"(ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:)[^\n]*")

# ---------------------------------------------------------------------------
# Synthetic messages: (name, bytes, config overrides for both runs, todo note)
# ---------------------------------------------------------------------------

E = "\r\n"


def head(subject, extra=()):
    h = ["From: Eve <eve@outside.example.net>", "To: Bob <bob@example.test>", "Subject: " + subject,
         "Date: Fri, 27 Nov 2026 09:00:00 +0000",
         "Message-ID: <%s@outside.example.net>" % re.sub(r"\W", "", subject), "MIME-Version: 1.0"]
    return E.join(h + list(extra)) + E


def b64(data):
    s = base64.b64encode(data).decode()
    return E.join(s[i:i + 76] for i in range(0, len(s), 76))


def with_attachment(subject, filename_params, ctype, payload):
    """multipart/mixed: a text part and one base64 attachment"""
    return (head(subject, ['Content-Type: multipart/mixed; boundary="syn"']) + E +
            "--syn" + E + "Content-Type: text/plain; charset=us-ascii" + E + E + "See the attachment." + E +
            "--syn" + E + "Content-Type: " + ctype + E +
            "Content-Disposition: attachment; " + filename_params + E +
            "Content-Transfer-Encoding: base64" + E + E + b64(payload) + E + "--syn--" + E).encode()


def nested(subject, depth):
    """depth multipart/mixed levels around one text leaf"""
    s = head(subject, ['Content-Type: multipart/mixed; boundary="n0"']) + E
    for i in range(1, depth):
        s += "--n%d" % (i - 1) + E + 'Content-Type: multipart/mixed; boundary="n%d"' % i + E + E
    s += "--n%d" % (depth - 1) + E + "Content-Type: text/plain" + E + E + "deep down" + E
    for i in reversed(range(depth)):
        s += "--n%d--" % i + E
    return s.encode()


def zip_of(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members:
            z.writestr(zipfile.ZipInfo(name, (2026, 11, 27, 9, 0, 0)), data)
    return buf.getvalue()


def synthetic():
    dup_cte = (head("two encodings", ["Content-Type: text/plain; charset=us-ascii",
                                      "Content-Transfer-Encoding: 7bit",
                                      "Content-Transfer-Encoding: quoted-printable"]) + E +
               "Hello, this is plain text." + E).encode()
    dup_cte_preamble = (head("two encodings and a preamble", ['Content-Type: multipart/mixed; boundary="p"']) +
                        E + "Some text before the first part." + E +
                        "--p" + E + "Content-Type: text/plain" + E + "Content-Transfer-Encoding: 7bit" + E +
                        "Content-Transfer-Encoding: base64" + E + E + "aGVsbG8K" + E + "--p--" + E).encode()
    return [
        ("clean", (head("hello", ["Content-Type: text/plain; charset=us-ascii"]) + E +
                   "Nothing to see here." + E).encode(), {}, None),
        ("clean-attachment", with_attachment("report", 'filename="report.pdf"', "application/pdf",
                                             b"%PDF-1.4\n% a harmless pretend PDF\n"), {}, None),
        ("eicar-inline", (head("test string", ["Content-Type: text/plain"]) + E +
                          EICAR.decode() + E).encode(), {}, None),
        ("eicar-attachment", with_attachment("file for you", 'filename="notes.txt"', "text/plain", EICAR),
         {}, None),
        # A virus in a banned name: virus wins (from inside: discard, never a bounce).
        ("eicar-in-banned-name", with_attachment("setup", 'filename="setup.pif"', "application/octet-stream",
                                                 EICAR), {}, None),
        ("banned-pif", with_attachment("setup", 'filename="setup.pif"', "application/octet-stream",
                                       b"MZ pretend program\n"), {}, None),
        ("banned-exe-in-zip", with_attachment("invoice", 'filename="invoice.zip"', "application/zip",
                                              zip_of([("readme.txt", b"hi\n"), ("invoice.exe", b"MZ\n")])),
         {}, None),
        # RFC 2231: "50%<U+0001>off.pif"; the reply must show '?' for both.
        ("banned-odd-name", with_attachment("sale", "filename*=utf-8''50%25%01off.pif",
                                            "application/octet-stream", b"MZ\n"), {}, None),
        ("message-partial", (head("partial", ['Content-Type: message/partial; id="syn@outside.example.net"; '
                                              'number=1; total=2']) + E +
                             "Subject: part one" + E + E + "first half" + E).encode(), {}, None),
        ("limit-depth", nested("deep", 4), {"mime_max_depth": "2"}, None),
        ("limit-depth-eicar", nested("deep", 4).replace(b"deep down", EICAR), {"mime_max_depth": "2"}, None),
        ("anomaly-dup-cte", dup_cte, {"anomalies_refuse": "duplicate-cte"}, None),
        ("anomaly-not-refused", dup_cte, {"anomalies_refuse": "boundary-reused"}, None),
        # The reply names the refused flags only (msg.reason), not every
        # flag found (msg.flags).
        ("anomaly-dup-cte-with-preamble", dup_cte_preamble, {"anomalies_refuse": "duplicate-cte"}, None),
    ]


# ---------------------------------------------------------------------------
# Running klaxon check
# ---------------------------------------------------------------------------


def write_sendmail(cdir):
    mail = os.path.join(cdir, "mail")
    os.makedirs(mail, exist_ok=True)
    script = os.path.join(cdir, "sendmail")
    with open(script, "w") as f:
        f.write("#!/bin/sh\n"
                "# fake sendmail_command: keep argv and the message, one pair per call\n"
                "f=$(mktemp '%s/XXXXXXXX') || exit 75\n"
                "printf '%%s\\n' \"$@\" > \"$f.argv\"\n"
                "cat >> \"$f.msg\"\n"
                "rm -f \"$f\"\n" % mail)
    os.chmod(script, 0o755)
    return script


def write_conf(cdir, overrides, filter_path):
    keys = {
        "clamav_db": SIGS,
        "quarantine_dir": os.path.join(cdir, "q"),
        "alert_spool_dir": os.path.join(cdir, "alerts"),
        "spool_dir": os.path.join(cdir, "spool"),
        "sendmail_command": write_sendmail(cdir) + " -oi -t",
        "sendmail_timeout": "10",
        "scan_timeout": "30",
        "alert_to": "alerts@example.test",
        "alert_from": "klaxon@mx.example.test",
        "hostname": "mx.example.test",
        "pid_file": os.path.join(cdir, "klaxon.pid"),
        "milter_socket": "unix:" + os.path.join(cdir, "klaxon.sock"),
    }
    keys.update(overrides)
    if filter_path:
        keys["filter"] = filter_path
    conf = os.path.join(cdir, "klaxon.conf")
    with open(conf, "w") as f:
        f.write("# written by tests/filter/equivalence.py\n")
        f.write("".join("%s = %s\n" % kv for kv in keys.items()))
    return conf


def short(b, n=240):
    s = b.decode("utf-8", "replace") if isinstance(b, bytes) else str(b)
    s = " | ".join(line for line in s.strip().splitlines() if line.strip())
    return s if len(s) <= n else s[:n] + "..."


def run_check(klaxon, cdir, conf, ip, path):
    """one klaxon check --json; returns (json, None) or (None, why)"""
    args = [klaxon, "check", "--config", conf, "--client-ip", ip, "--from", SENDER, "--rcpt", RCPT,
            "--json", path]
    try:
        p = subprocess.run(args, capture_output=True, timeout=120, cwd=cdir)
    except subprocess.TimeoutExpired:
        return None, "klaxon check timed out after 120 s"
    san = SANITIZER.search(p.stderr)
    if san:
        return None, "sanitizer: " + short(san.group(0))
    if p.returncode != 0:
        return None, "exit %d: %s" % (p.returncode, short(p.stderr))
    lines = p.stdout.decode("utf-8", "replace").splitlines()
    if len(lines) != 1:
        return None, "stdout has %d lines, want one JSON line" % len(lines)
    try:
        return json.loads(lines[0]), None
    except ValueError as e:
        return None, "stdout is not JSON (%s)" % e


def view(out):
    """what must be the same under both configs"""
    return {
        "action": out.get("action"),
        "smtp_reply": out.get("smtp_reply"),
        "verdict": out.get("verdict"),
        "quarantine": out.get("quarantine_id") is not None,
        "alert": out.get("alert_id") is not None,
    }


def compare(ctx, n, case, origin, ip):
    """run both configs for one message and origin; returns (ok, why, notes),
    ok None when a run failed outright (no JSON to compare)"""
    label, path, overrides = case["label"], case["path"], case["conf"]
    base = os.path.join(ctx.work, "%04d" % n)
    res = {}
    for side, fpath in (("builtin", None), ("filter", None if ctx.selftest else ctx.filter)):
        cdir = os.path.join(base, side)
        os.makedirs(cdir)
        conf = write_conf(cdir, overrides, fpath)
        out, why = run_check(ctx.klaxon, cdir, conf, ip, path)
        if out is None:
            # Not a difference of decisions: a TODO does not cover it.
            return None, "%s config: %s" % (side, why), []
        res[side] = out
    a, b = view(res["builtin"]), view(res["filter"])
    notes = []
    if (res["builtin"].get("header") is None) != (res["filter"].get("header") is None):
        notes.append("header %r under the built-in policy, %r with the filter" %
                     (res["builtin"].get("header"), res["filter"].get("header")))
    if a == b:
        return True, "", notes
    diff = "; ".join("%s: built-in %s, filter %s" % (k, json.dumps(a[k]), json.dumps(b[k]))
                     for k in a if a[k] != b[k])
    if res["filter"].get("reason"):
        diff += " (filter run reason: %s)" % short(res["filter"]["reason"])
    return False, diff, notes


# ---------------------------------------------------------------------------


class Ctx:
    pass


def tap_escape(s):
    return s.replace("\\", "\\\\").replace("#", "\\#")


def sample_config(eml):
    exp = eml[:-len(".eml")] + ".expect.json"
    if not os.path.exists(exp):
        return {}
    with open(exp) as f:
        return {k: str(v) for k, v in json.load(f).get("config", {}).items()}


def corpus(ctx):
    """every case: {label, path, conf, todo}; may raise RuntimeError on a setup error"""
    cases = []

    def rel(p):
        return os.path.relpath(p, REPO)

    for d in ("tests/data", "tests/mime/data", "tests/mime/garbage"):
        full = os.path.join(REPO, d)
        for name in sorted(os.listdir(full)) if os.path.isdir(full) else []:
            if name.endswith(".eml"):
                p = os.path.join(full, name)
                cases.append(dict(label=rel(p), path=p, conf=sample_config(p), todo=None))

    gen = os.path.join(ctx.work, "gen")
    g = subprocess.run([sys.executable, GEN_CORPUS, gen], capture_output=True)
    if g.returncode != 0:
        raise RuntimeError("gen_corpus.py: %s" % short(g.stderr))
    for p in sorted(line for line in g.stdout.decode().splitlines() if line.strip()):
        cases.append(dict(label="gen/" + os.path.basename(p), path=p, conf={}, todo=None))

    syn = os.path.join(ctx.work, "synthetic")
    os.makedirs(syn)
    for name, data, conf, todo in synthetic():
        p = os.path.join(syn, name + ".eml")
        with open(p, "wb") as f:
            f.write(data)
        cases.append(dict(label="synthetic/" + name + ".eml", path=p, conf=conf, todo=todo))
    return cases


def main():
    ctx = Ctx()
    ctx.klaxon = os.path.abspath(os.environ.get("KLAXON_BIN", os.path.join(REPO, "build", "klaxon")))
    ctx.filter = os.path.abspath(os.environ.get("KLAXON_FILTER", os.path.join(REPO, "conf", "filter.lua")))
    ctx.selftest = os.environ.get("KLAXON_FILTER_SELFTEST") == "1"
    only = re.compile(os.environ.get("KLAXON_FILTER_ONLY", ""))
    keep = os.environ.get("KLAXON_FILTER_KEEP") == "1"
    jobs = max(1, int(os.environ.get("KLAXON_FILTER_JOBS", "4")))

    if not os.access(ctx.klaxon, os.X_OK):
        print("not ok 1 - setup: no executable klaxon at %s (set KLAXON_BIN)" % ctx.klaxon)
        print("1..1")
        return 1
    if not os.path.isfile(ctx.filter):
        print("not ok 1 - setup: no filter at %s (set KLAXON_FILTER)" % ctx.filter)
        print("1..1")
        return 1

    ctx.work = tempfile.mkdtemp(prefix="klaxon-filter.")
    t0 = time.monotonic()
    failed = todo_failed = n = 0
    try:
        print("# klaxon %s, filter %s%s" % (ctx.klaxon, ctx.filter,
                                            " (SELFTEST: filter key left out, both runs built-in)"
                                            if ctx.selftest else ""))
        try:
            cases = corpus(ctx)
        except RuntimeError as e:
            print("not ok 1 - setup: %s" % e)
            print("1..1")
            return 1
        work = [(case, origin, ip) for case in cases for origin, ip in ORIGINS
                if only.search("%s %s" % (case["label"], origin))]
        with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(compare, ctx, i + 1, case, origin, ip)
                       for i, (case, origin, ip) in enumerate(work)]
            for (case, origin, _), fut in zip(work, futures):
                n += 1
                ok, why, notes = fut.result()
                # '#' would start a TAP directive
                name = tap_escape("%s %s" % (case["label"], origin))
                todo = case["todo"] if ok is not None else None
                directive = " # TODO %s" % tap_escape(todo) if todo else ""
                if ok:
                    print("ok %d - %s%s" % (n, name, directive))
                else:
                    print("not ok %d - %s: %s%s" % (n, name, tap_escape(why), directive))
                    if todo:
                        todo_failed += 1
                    else:
                        failed += 1
                for note in notes:
                    print("# note: %s: %s" % (name, note))
                sys.stdout.flush()
        print("1..%d" % n)
    finally:
        if keep:
            print("tests/filter: work dir kept: %s" % ctx.work, file=sys.stderr)
        else:
            shutil.rmtree(ctx.work, ignore_errors=True)
    print("# tests/filter: %d comparisons, %d passed, %d failed, %d todo failed, %.1f s" %
          (n, n - failed - todo_failed, failed, todo_failed, time.monotonic() - t0))
    print("tests/filter: %d passed, %d failed (%d todo)" % (n - failed - todo_failed, failed, todo_failed),
          file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
