#!/usr/bin/env python3
"""tests/check: `klaxon check --json` against a table of expected decisions.

Run through tests/check/run.sh. Every case prints exactly one line,
"PASS: <name>" or "FAIL: <name>: <reason>"; the exit status is 1 when any
case failed.

Each case gets a private directory under one temp work dir:

    <case>/klaxon.conf   written by the test (clamav_db = tests/sigs)
    <case>/q/            quarantine_dir (klaxon must create it, 0700)
    <case>/alerts/       alert_spool_dir
    <case>/spool/        spool_dir
    <case>/sendmail      fake sendmail_command: argv and stdin of every call
    <case>/mail/         ... land here, as N.argv and N.msg

Environment:
    KLAXON_BIN          binary under test (default <repo>/build/klaxon)
    KLAXON_CHECK_KEEP=1 keep the work dir (its path is printed on stderr)
    KLAXON_CHECK_ONLY   a regular expression: run only the cases it matches
"""
import email.parser
import email.policy
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DATA = os.path.join(REPO, "tests", "data")
SIGS = os.path.join(REPO, "tests", "sigs")

EICAR = "Klaxon.Test.EICAR.UNOFFICIAL"
CLAM = "Klaxon.Test.ClamExe.UNOFFICIAL"

EXT_IP = "192.0.2.25"       # TEST-NET-1: outside internal_networks
INT_IP = "127.0.0.2"        # inside the default 127.0.0.0/8
SENDER = "sender@outside.example.net"
RCPT = "bob@example.test"
ALERT_TO = "alerts@example.test"
ALERT_FROM = "klaxon@mx.example.test"

JSON_KEYS = {"action", "smtp_reply", "origin", "verdict", "viruses", "quarantine_id", "alert_id",
             "alert_sent", "reason", "header", "size", "elapsed_ms",
             # the MIME engine's view of the message (tests/mime checks these in depth)
             "banned", "limit", "flags", "readings", "whole_message_scanned", "scans", "cache",
             "parts",
             # the Lua filter's outcome (null without a filter; tests/filter and e2e check it)
             "filter"}
ALERT_HEADERS = {"from", "to", "subject", "date", "message-id", "auto-submitted", "mime-version",
                 "content-type", "content-transfer-encoding"}
QID_RE = re.compile(r"^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{16}$")

# --------------------------------------------------------------------------
# The table. A case is one or more steps run in the same case directory.
#
# step keys (all optional except file):
#   file      tests/data name, or a gen_corpus.py name, or None (no FILE arg)
#   stdin     True: pass "-" and feed the file on standard input
#   ip, auth, client_name, helo, queue_id, from, rcpts   the envelope
#   args      a full argv after "check" instead of the built one
#   conf      dict of config overrides ({dir} is the case dir); None removes the key
#   conf_text literal config file text instead ({dir} is the case dir)
#   sendmail  "fake" (default), "false" (/bin/false), "hang" (never exits,
#             sendmail_timeout = 1) or "missing" (no such program)
# expectation keys:
#   exit      exit status (default 0; other values skip the JSON checks)
#   stderr    regular expression stderr must match (search)
#   action, origin, verdict          exact strings
#   code      the SMTP reply code ("550"), or None for no reply
#   xcode     the enhanced status code ("5.7.1")
#   names_virus  the reply text names every expected virus
#   viruses   the exact list (order-insensitive, no duplicates)
#   quarantine   True: id set, <id>.kq whole and holding the raw bytes
#   alert     "sent" | "spooled" | None
#   delivered    number of captured alert mails expected after the step
#   header    True: the X-Virus-Scanned value is set (clean mail)
#   alert_names  extra strings the alert text must contain
#   max_seconds  klaxon check must finish within this time
#   bug       a note: this case asserts correct behaviour klaxon lacked
# --------------------------------------------------------------------------

def accept(**kw):
    d = dict(action="accept", code=None, verdict="clean", viruses=[], quarantine=False,
             alert=None, header=True)
    d.update(kw)
    return d


def reject_virus(viruses, **kw):
    d = dict(action="reject", code="550", xcode="5.7.1", origin="external", verdict="virus",
             viruses=viruses, names_virus=True, quarantine=False, alert=None, header=False)
    d.update(kw)
    return d


def discard_virus(viruses, **kw):
    d = dict(action="discard", code=None, origin="internal", verdict="virus", viruses=viruses,
             quarantine=True, alert="sent", header=False)
    d.update(kw)
    return d


def tempfail_scanner(**kw):
    d = dict(action="tempfail", code="451", xcode="4.7.1", verdict="error", viruses=[],
             quarantine=False, alert=None, header=False)
    d.update(kw)
    return d


CLAMD_DOWN = {"scanner": "clamd", "clamd_socket": "unix:/nonexistent/clamd.sock"}

CASES = [
    # ---- clean mail: accepted, with the X-Virus-Scanned value ----
    ("clean-plain-external", [dict(file="clean-plain.eml", ip=EXT_IP, **accept(origin="external"))]),
    ("clean-plain-internal", [dict(file="clean-plain.eml", ip=INT_IP, **accept(origin="internal"))]),
    ("clean-multipart-pdf", [dict(file="clean-multipart-pdf.eml", ip=EXT_IP, **accept(origin="external"))]),
    ("clean-crlf", [dict(file="clean-crlf.eml", ip=EXT_IP, **accept(origin="external"))]),
    ("clean-nonascii-subject", [dict(file="clean-nonascii-subject.eml", ip=EXT_IP,
                                     **accept(origin="external"))]),
    ("clean-no-headers", [dict(file="clean-no-headers.eml", ip=EXT_IP, **accept(origin="external"))]),
    ("clean-header-only", [dict(file="clean-header-only.eml", ip=EXT_IP, **accept(origin="external"))]),
    ("empty-file", [dict(file="empty.eml", ip=EXT_IP, **accept(origin="external"))]),
    ("clean-ipv6-loopback-internal", [dict(file="clean-plain.eml", ip="::1", **accept(origin="internal"))]),

    # ---- external viruses: 550 5.7.1 naming the virus, nothing kept ----
    ("eicar-inline-external", [dict(file="eicar-inline.eml", ip=EXT_IP, **reject_virus([EICAR]))]),
    ("eicar-base64-attachment-external", [dict(file="eicar-base64-attachment.eml", ip=EXT_IP,
                                               **reject_virus([EICAR]))]),
    ("eicar-base64-crlf-external", [dict(file="eicar-base64-crlf.eml", ip=EXT_IP, **reject_virus([EICAR]))]),
    ("eicar-no-headers-external", [dict(file="eicar-no-headers.eml", ip=EXT_IP, **reject_virus([EICAR]))]),
    # Text outside every part is scanned from the parser's copy (no re-reading).
    ("eicar-in-epilogue-external", [dict(file="eicar-in-epilogue.eml", ip=EXT_IP, **reject_virus([EICAR]))]),
    ("eicar-ipv6-external", [dict(file="eicar-inline.eml", ip="2001:db8::25", **reject_virus([EICAR]))]),
    ("clam-zip-external", [dict(file="attach-clam-zip.eml", ip=EXT_IP, **reject_virus([CLAM]))]),
    ("clam-7z-external", [dict(file="attach-clam-7z.eml", ip=EXT_IP, **reject_virus([CLAM]))]),
    ("clam-cab-external", [dict(file="attach-clam-cab.eml", ip=EXT_IP, **reject_virus([CLAM]))]),
    ("clam-tar-gz-external", [dict(file="attach-clam-tar-gz.eml", ip=EXT_IP, **reject_virus([CLAM]))]),
    ("clam-exe-bz2-external", [dict(file="attach-clam-exe-bz2.eml", ip=EXT_IP, **reject_virus([CLAM]))]),
    ("two-viruses-external", [dict(file="two-viruses.eml", ip=EXT_IP, **reject_virus([EICAR, CLAM]))]),

    # ---- internal viruses: quarantine, discard, alert to alert_to only ----
    ("eicar-inline-internal", [dict(file="eicar-inline.eml", ip=INT_IP, client_name="pc17.lan",
                                    helo="pc17", queue_id="4XyZ1", rcpts=[RCPT, "carol@example.test"],
                                    alert_names=["pc17.lan", "4XyZ1", "carol@example.test"],
                                    **discard_virus([EICAR]))]),
    ("eicar-base64-crlf-internal", [dict(file="eicar-base64-crlf.eml", ip=INT_IP, **discard_virus([EICAR]))]),
    ("eicar-nonascii-subject-internal", [dict(file="eicar-nonascii-subject.eml", ip=INT_IP,
                                              **discard_virus([EICAR]))]),
    ("eicar-ipv6-loopback-internal", [dict(file="eicar-inline.eml", ip="::1", **discard_virus([EICAR]))]),
    ("clam-zip-internal", [dict(file="attach-clam-zip.eml", ip=INT_IP, **discard_virus([CLAM]))]),
    ("two-viruses-internal", [dict(file="two-viruses.eml", ip=INT_IP, **discard_virus([EICAR, CLAM]))]),
    ("alert-header-injection", [dict(file="eicar-inline.eml", ip=INT_IP,
                                     client_name="evil.lan\r\nBcc: victim@example.org",
                                     helo="x\nCc: victim2@example.org",
                                     queue_id="Q1\r\nTo: victim3@example.org",
                                     **discard_virus([EICAR]))]),

    # ---- SMTP AUTH ----
    ("auth-makes-external-internal", [dict(file="eicar-inline.eml", ip=EXT_IP, auth="alice",
                                           alert_names=["alice"], **discard_virus([EICAR]))]),
    ("auth-untrusted-stays-external", [dict(file="eicar-inline.eml", ip=EXT_IP, auth="alice",
                                            conf={"trust_authenticated": "no"},
                                            **reject_virus([EICAR]))]),

    # ---- alert delivery failure and retry ----
    ("alert-spooled-then-delivered", [
        dict(file="eicar-inline.eml", ip=INT_IP, sendmail="false",
             **discard_virus([EICAR], alert="spooled", delivered=0)),
        dict(file="eicar-base64-attachment.eml", ip=INT_IP,
             **discard_virus([EICAR], alert="sent", delivered=2)),
    ]),

    ("alert-sendmail-hangs", [dict(file="eicar-inline.eml", ip=INT_IP, sendmail="hang", max_seconds=10,
                                   **discard_virus([EICAR], alert="spooled", delivered=0))]),
    ("alert-sendmail-missing", [dict(file="eicar-inline.eml", ip=INT_IP, sendmail="missing",
                                     **discard_virus([EICAR], alert="spooled", delivered=0))]),
    ("alert-to-two-addresses", [dict(file="eicar-inline.eml", ip=INT_IP,
                                     alert_to=["sec@example.test", "noc@example.test"],
                                     **discard_virus([EICAR]))]),

    # ---- the durable contract: no discard without a copy, no copy without its alert ----
    ("quarantine-write-fails", [dict(file="eicar-inline.eml", ip=INT_IP,
                                     conf={"quarantine_dir": "{dir}/klaxon.conf/q"},
                                     **tempfail_scanner(origin="internal", verdict="virus", viruses=[EICAR]))]),
    ("alert-spool-write-fails", [dict(file="eicar-inline.eml", ip=INT_IP,
                                      conf={"alert_spool_dir": "{dir}/klaxon.conf/alerts"},
                                      **tempfail_scanner(origin="internal", verdict="virus", viruses=[EICAR]))]),

    # ---- policy variants ----
    ("policy-external-discard", [dict(file="eicar-inline.eml", ip=EXT_IP, conf={"on_virus_external": "discard"},
                                      **discard_virus([EICAR], origin="external", alert=None))]),
    ("policy-external-alert-and-copy", [dict(file="eicar-inline.eml", ip=EXT_IP,
                                             conf={"alert_virus_external": "yes",
                                                   "quarantine_virus_external": "yes"},
                                             **reject_virus([EICAR], quarantine=True, alert="sent"))]),
    ("policy-internal-reject", [dict(file="eicar-inline.eml", ip=INT_IP, conf={"on_virus_internal": "reject"},
                                     **reject_virus([EICAR], origin="internal", quarantine=True,
                                                    alert="sent"))]),
    ("policy-no-scanned-header", [dict(file="clean-plain.eml", ip=EXT_IP, conf={"scanned_header": '""'},
                                       **accept(origin="external", header=False))]),
    ("internal-networks-custom-v6", [dict(file="eicar-inline.eml", ip="2001:db8::7",
                                          conf={"internal_networks": "10.0.0.0/8, 2001:db8::/32"},
                                          **discard_virus([EICAR]))]),
    ("internal-networks-custom-loopback-external", [dict(file="eicar-inline.eml", ip="127.0.0.1",
                                                         conf={"internal_networks": "10.0.0.0/8, 2001:db8::/32"},
                                                         **reject_virus([EICAR]))]),
    ("same-virus-twice-reported-once", [dict(file="zip-and-7z.eml", ip=EXT_IP, **reject_virus([CLAM]))]),

    # ---- scanner failure: 451, never a quarantine copy ----
    ("scanner-down-internal", [dict(file="eicar-inline.eml", ip=INT_IP, conf=CLAMD_DOWN,
                                    **tempfail_scanner(origin="internal"))]),
    ("scanner-down-external", [dict(file="eicar-inline.eml", ip=EXT_IP, conf=CLAMD_DOWN,
                                    **tempfail_scanner(origin="external"))]),
    ("scanner-down-clean", [dict(file="clean-plain.eml", ip=EXT_IP, conf=CLAMD_DOWN,
                                 **tempfail_scanner(origin="external"))]),

    # ---- size limits ----
    ("oversize-552", [dict(file="big-clean-5k.eml", ip=EXT_IP, conf={"max_message_size": "1K"},
                           action="reject", code="552", origin="external", verdict="oversize",
                           viruses=[], quarantine=False, alert=None, header=False)]),
    ("oversize-552-internal", [dict(file="big-clean-5k.eml", ip=INT_IP, conf={"max_message_size": "1K"},
                                    action="reject", code="552", origin="internal", verdict="oversize",
                                    viruses=[], quarantine=False, alert=None, header=False)]),
    ("oversize-4xx-tempfails", [dict(file="big-clean-5k.eml", ip=EXT_IP,
                                     conf={"max_message_size": "1K",
                                           "reply_oversize": '"452 4.3.4 too big"'},
                                     action="tempfail", code="452", xcode="4.3.4", origin="external",
                                     verdict="oversize", viruses=[], quarantine=False, alert=None,
                                     header=False)]),
    ("size-at-limit-accepted", [dict(file="exact-1024.eml", ip=EXT_IP, conf={"max_message_size": "1K"},
                                     **accept(origin="external"))]),
    ("size-one-over-limit-rejected", [dict(file="exact-1025.eml", ip=EXT_IP, conf={"max_message_size": "1K"},
                                           action="reject", code="552", origin="external", verdict="oversize",
                                           viruses=[], quarantine=False, alert=None, header=False)]),
    ("file-spool-internal", [dict(file="big-eicar-5k.eml", ip=INT_IP, conf={"memory_spool_limit": "1K"},
                                  **discard_virus([EICAR]))]),
    ("file-spool-external", [dict(file="big-eicar-5k.eml", ip=EXT_IP, conf={"memory_spool_limit": "1K"},
                                  **reject_virus([EICAR]))]),

    # ---- standard input ----
    ("stdin-clean", [dict(file="clean-multipart-pdf.eml", stdin=True, ip=EXT_IP, **accept(origin="external"))]),
    ("stdin-eicar-external", [dict(file="eicar-inline.eml", stdin=True, ip=EXT_IP, **reject_virus([EICAR]))]),
    ("stdin-eicar-internal", [dict(file="eicar-base64-crlf.eml", stdin=True, ip=INT_IP,
                                   **discard_virus([EICAR]))]),
    ("stdin-256k-internal", [dict(file="big-eicar-256k.eml", stdin=True, ip=INT_IP,
                                  conf={"memory_spool_limit": "64K"}, **discard_virus([EICAR]))]),
    ("stdin-256k-external", [dict(file="big-eicar-256k.eml", stdin=True, ip=EXT_IP,
                                  **reject_virus([EICAR]))]),
    ("stdin-empty", [dict(file="empty.eml", stdin=True, ip=EXT_IP, **accept(origin="external"))]),

    # ---- config and usage errors ----
    ("config-unknown-key", [dict(file="clean-plain.eml", ip=EXT_IP, exit=1, stderr=r"{conf}:3:",
                                 conf_text="clamav_db = {sigs}\n# a comment\nno_such_key = 1\n")]),
    ("config-bad-value", [dict(file="clean-plain.eml", ip=EXT_IP, exit=1, stderr=r"{conf}:2:",
                               conf_text="clamav_db = {sigs}\nmax_message_size = lots\n")]),
    ("config-key-twice", [dict(file="clean-plain.eml", ip=EXT_IP, exit=1, stderr=r"{conf}:4:",
                               conf_text="clamav_db = {sigs}\nalert_to = a@example.test\n\n"
                                         "alert_to = b@example.test\n")]),
    ("config-no-equals", [dict(file="clean-plain.eml", ip=EXT_IP, exit=1, stderr=r"{conf}:2:",
                               conf_text="clamav_db = {sigs}\nthis line is broken\n")]),
    ("config-missing-file", [dict(args=["--config", "{dir}/absent.conf", "--client-ip", EXT_IP,
                                        "--from", SENDER, "--rcpt", RCPT, "--json", "{data}/clean-plain.eml"],
                                  exit=1, stderr=r"absent\.conf")]),
    ("input-missing-file", [dict(args=["--config", "{conf}", "--client-ip", EXT_IP, "--from", SENDER,
                                       "--rcpt", RCPT, "--json", "{dir}/absent.eml"],
                                 exit=1, stderr=r"absent\.eml")]),
    ("usage-missing-from", [dict(args=["--config", "{conf}", "--client-ip", EXT_IP, "--rcpt", RCPT,
                                       "--json", "{data}/clean-plain.eml"], exit=2, stderr=r"usage")]),
    ("usage-missing-rcpt", [dict(args=["--config", "{conf}", "--client-ip", EXT_IP, "--from", SENDER,
                                       "--json", "{data}/clean-plain.eml"], exit=2, stderr=r"usage")]),
    ("usage-missing-client-ip", [dict(args=["--config", "{conf}", "--from", SENDER, "--rcpt", RCPT,
                                            "--json", "{data}/clean-plain.eml"], exit=2, stderr=r"usage")]),
    ("usage-no-file", [dict(args=["--config", "{conf}", "--client-ip", EXT_IP, "--from", SENDER,
                                  "--rcpt", RCPT, "--json"], exit=2, stderr=r"usage")]),
]

# --------------------------------------------------------------------------


class Fail(Exception):
    pass


def need(cond, why):
    if not cond:
        raise Fail(why)


def short(b, n=300):
    s = b.decode("utf-8", "replace") if isinstance(b, bytes) else str(b)
    s = s.strip().replace("\n", " | ")
    return s if len(s) <= n else s[:n] + "..."


class Ctx:
    def __init__(self, work, gen):
        self.work = work
        self.gen = gen

    def path_of(self, name):
        for d in (DATA, self.gen):
            p = os.path.join(d, name)
            if os.path.exists(p):
                return p
        raise Fail("no test file %s" % name)


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


def write_conf(cdir, step):
    conf = os.path.join(cdir, "klaxon.conf")
    if "conf_text" in step:
        text = step["conf_text"].format(sigs=SIGS, dir=cdir)
    else:
        kind = step.get("sendmail", "fake")
        if kind == "false":
            sm = "/bin/false"
        elif kind == "hang":
            sm = os.path.join(cdir, "hang")
            with open(sm, "w") as f:
                f.write("#!/bin/sh\nexec sleep 60\n")
            os.chmod(sm, 0o755)
        elif kind == "missing":
            sm = os.path.join(cdir, "no-such-sendmail") + " -t"
        else:
            sm = write_sendmail(cdir) + " -oi -t"
        keys = {
            "clamav_db": SIGS,
            "quarantine_dir": os.path.join(cdir, "q"),
            "alert_spool_dir": os.path.join(cdir, "alerts"),
            "spool_dir": os.path.join(cdir, "spool"),
            "sendmail_command": sm,
            "sendmail_timeout": "1" if kind == "hang" else "10",
            "scan_timeout": "10",
            "alert_to": ", ".join(step.get("alert_to", [ALERT_TO])),
            "alert_from": ALERT_FROM,
            "hostname": "mx.example.test",
            "pid_file": os.path.join(cdir, "klaxon.pid"),
            "milter_socket": "unix:" + os.path.join(cdir, "klaxon.sock"),
        }
        for k, v in step.get("conf", {}).items():
            if v is None:
                keys.pop(k, None)
            else:
                keys[k] = v.replace("{dir}", cdir)
        text = "# written by tests/check/check.py\n" + "".join("%s = %s\n" % kv for kv in keys.items())
    with open(conf, "w") as f:
        f.write(text)
    return conf


def build_args(ctx, cdir, conf, step):
    subst = dict(conf=conf, dir=cdir, data=DATA)
    if "args" in step:
        return [a.format(**subst) for a in step["args"]], None, None
    raw = None
    path = None
    if step.get("file") is not None:
        path = ctx.path_of(step["file"])
        with open(path, "rb") as f:
            raw = f.read()
    args = ["--config", conf, "--client-ip", step["ip"]]
    for opt, key in (("--client-name", "client_name"), ("--helo", "helo"), ("--auth", "auth"),
                     ("--queue-id", "queue_id")):
        if step.get(key) is not None:
            args += [opt, step[key]]
    args += ["--from", step.get("from", SENDER)]
    for r in step.get("rcpts", [RCPT]):
        args += ["--rcpt", r]
    args.append("--json")
    args.append("-" if step.get("stdin") else path)
    return args, raw, path


def kq_parse(data, qid):
    """Split a quarantine entry; returns (fields as list of (k, v), raw bytes)."""
    need(data.startswith(b"KLAXON-QUARANTINE 1\n"), "kq: bad magic line")
    head_end = data.find(b"\n\n")
    need(head_end > 0, "kq: no blank line after the fields")
    fields = []
    for line in data[len(b"KLAXON-QUARANTINE 1\n"):head_end].split(b"\n"):
        k, sep, v = line.partition(b": ")
        if not sep and line.endswith(b":"):
            k, v = line[:-1], b""
        need(sep or line.endswith(b":"), "kq: bad field line %r" % line[:80])
        fields.append((k.decode(), v.decode("utf-8", "replace")))
    size = [v for k, v in fields if k == "size"]
    need(len(size) == 1 and size[0].isdigit(), "kq: size field %r" % size)
    n = int(size[0])
    body = data[head_end + 2:head_end + 2 + n]
    trailer = data[head_end + 2 + n:]
    need(trailer == b"\nKLAXON-END " + qid.encode() + b"\n",
         "kq: trailer %r (want \\nKLAXON-END <id>\\n at exactly size bytes)" % trailer[:80])
    return fields, body


def check_quarantine(cdir, step, out, raw, viruses, known_ids):
    qdir = os.path.join(cdir, "q")
    qid = out["quarantine_id"]
    if not step.get("quarantine"):
        need(qid is None, "quarantine_id %r, want null" % qid)
        kqs = [f for f in os.listdir(qdir) if f.endswith(".kq")] if os.path.isdir(qdir) else []
        need(set(kqs) <= known_ids, "a quarantine file was written: %s" % sorted(set(kqs) - known_ids))
        return
    need(isinstance(qid, str) and QID_RE.match(qid), "quarantine_id %r is not an id" % qid)
    st = os.stat(qdir)
    need(stat.S_IMODE(st.st_mode) == 0o700, "quarantine dir mode %o, want 700" % stat.S_IMODE(st.st_mode))
    kq = os.path.join(qdir, qid + ".kq")
    need(os.path.isfile(kq), "no quarantine file %s" % kq)
    st = os.lstat(kq)
    need(stat.S_ISREG(st.st_mode), "%s is not a regular file" % kq)
    need(stat.S_IMODE(st.st_mode) == 0o600, "quarantine file mode %o, want 600" % stat.S_IMODE(st.st_mode))
    with open(kq, "rb") as f:
        data = f.read()
    fields, body = kq_parse(data, qid)
    if body != raw:
        at = next((i for i, (a, b) in enumerate(zip(body, raw)) if a != b), min(len(body), len(raw)))
        raise Fail("kq body (%d bytes) is not the raw message (%d bytes): first difference at byte %d"
                   % (len(body), len(raw), at))
    fd = dict(fields)
    need(fd.get("id") == qid, "kq id field %r" % fd.get("id"))
    need(fd.get("sender") == step.get("from", SENDER), "kq sender field %r" % fd.get("sender"))
    need(fd.get("client-addr") == step["ip"], "kq client-addr field %r" % fd.get("client-addr"))
    need(sorted(v for k, v in fields if k == "virus") == sorted(viruses),
         "kq virus fields %r" % [v for k, v in fields if k == "virus"])
    need([v for k, v in fields if k == "rcpt"] == step.get("rcpts", [RCPT]),
         "kq rcpt fields %r" % [v for k, v in fields if k == "rcpt"])
    known_ids.add(qid + ".kq")


def spool_files(d):
    return sorted(f for f in os.listdir(d) if not f.startswith(".")) if os.path.isdir(d) else []


def check_alert_mail(argv, msg, step, out):
    need(SENDER not in argv and step.get("from", SENDER) not in argv,
         "sendmail argv names the envelope sender: %r" % argv)
    head, sep, _ = msg.partition(b"\n\n")
    need(sep, "alert has no blank line after its header")
    names = []
    for line in head.split(b"\n"):
        need(not line.endswith(b"\r"), "alert header line ends in CR: %r" % line[:60])
        if line[:1] in (b" ", b"\t"):
            continue
        name, colon, _ = line.partition(b":")
        need(colon, "alert header line without a colon: %r" % line[:80])
        names.append(name.decode("ascii", "replace").lower())
    extra = set(names) - ALERT_HEADERS
    need(not extra, "alert has unexpected header(s) %s (injection?)" % sorted(extra))
    for h in ("from", "to", "subject", "date", "message-id", "auto-submitted"):
        need(names.count(h) == 1, "alert has %d %s header(s)" % (names.count(h), h))
    m = email.parser.BytesParser(policy=email.policy.default).parsebytes(msg)
    to = [a.addr_spec for a in m["To"].addresses]
    want_to = step.get("alert_to", [ALERT_TO])
    need(to == want_to, "alert To is %r, want only %s" % (to, want_to))
    need(m["Auto-Submitted"] == "auto-generated", "Auto-Submitted %r" % m["Auto-Submitted"])
    text = m.get_content() if not m.is_multipart() else msg.decode("utf-8", "replace")
    want = [step["ip"], step.get("from", SENDER), out["quarantine_id"]] + out["viruses"] + \
        step.get("alert_names", [])
    for w in want:
        need(w in text, "alert text does not name %r" % w)


def run_step(ctx, cdir, step, known_ids):
    conf = write_conf(cdir, step)
    args, raw, _ = build_args(ctx, cdir, conf, step)
    stdin = raw if step.get("stdin") else b""
    t0 = time.monotonic()
    try:
        p = subprocess.run([ctx.klaxon, "check"] + args, input=stdin, capture_output=True, timeout=25)
    except subprocess.TimeoutExpired:
        raise Fail("klaxon check did not finish in 25 s")
    took = time.monotonic() - t0
    ctx.elapsed += took
    sanitizer = re.search(rb"(ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:)[^\n]*", p.stderr)
    need(not sanitizer, "sanitizer: %s" % short(sanitizer.group(0) if sanitizer else b""))
    if "max_seconds" in step:
        need(took <= step["max_seconds"], "klaxon check took %.1f s, want at most %d" % (took, step["max_seconds"]))
    want_exit = step.get("exit", 0)
    need(p.returncode == want_exit, "exit %d, want %d; stderr: %s; stdout: %s" %
         (p.returncode, want_exit, short(p.stderr), short(p.stdout)))
    if "stderr" in step:
        pat = step["stderr"].replace("{conf}", re.escape(conf))
        need(re.search(pat.encode(), p.stderr), "stderr does not match /%s/: %s" % (pat, short(p.stderr)))
    if want_exit != 0:
        need(p.stdout.strip() == b"" or b"usage" in p.stdout,
             "unexpected output on stdout: %s" % short(p.stdout))
        return

    lines = p.stdout.decode("utf-8", "replace").splitlines()
    need(len(lines) == 1, "stdout has %d lines, want one JSON line: %s" % (len(lines), short(p.stdout)))
    try:
        out = json.loads(lines[0])
    except ValueError as e:
        raise Fail("stdout is not JSON (%s): %s" % (e, short(lines[0])))
    need(set(out) == JSON_KEYS, "JSON keys differ: missing %s, extra %s" %
         (sorted(JSON_KEYS - set(out)), sorted(set(out) - JSON_KEYS)))

    for key in ("action", "origin", "verdict"):
        if key in step:
            need(out[key] == step[key], "%s %r, want %r (reply %r, reason %r)" %
                 (key, out[key], step[key], out["smtp_reply"], out["reason"]))
    need(out["size"] == len(raw), "size %r, want %d" % (out["size"], len(raw)))
    need(isinstance(out["elapsed_ms"], int) and out["elapsed_ms"] >= 0, "elapsed_ms %r" % out["elapsed_ms"])

    viruses = step.get("viruses", [])
    need(isinstance(out["viruses"], list), "viruses is not an array")
    need(len(out["viruses"]) == len(set(out["viruses"])), "viruses has duplicates: %r" % out["viruses"])
    need(sorted(out["viruses"]) == sorted(viruses), "viruses %r, want %r" % (out["viruses"], viruses))

    if "code" in step:
        reply = out["smtp_reply"]
        if step["code"] is None:
            need(reply is None, "smtp_reply %r, want null" % reply)
        else:
            need(isinstance(reply, str), "smtp_reply %r, want a %s reply" % (reply, step["code"]))
            need(reply.startswith(step["code"] + " "), "smtp_reply %r, want code %s" % (reply, step["code"]))
            need("\r" not in reply and "\n" not in reply, "smtp_reply has CR or LF")
            if "xcode" in step:
                need(reply.split(" ")[1] == step["xcode"], "smtp_reply %r, want %s" % (reply, step["xcode"]))
            if step.get("names_virus"):
                for v in viruses:
                    need(v in reply, "smtp_reply %r does not name %s" % (reply, v))
    if "header" in step:
        if step["header"]:
            need(isinstance(out["header"], str) and out["header"], "header %r, want a value" % out["header"])
        else:
            need(out["header"] is None, "header %r, want null" % out["header"])

    check_quarantine(cdir, step, out, raw, viruses, known_ids)

    alerts_dir = os.path.join(cdir, "alerts")
    mail_dir = os.path.join(cdir, "mail")
    mails = sorted(f[:-4] for f in os.listdir(mail_dir) if f.endswith(".msg")) if os.path.isdir(mail_dir) else []
    alert = step.get("alert")
    if alert is None:
        need(out["alert_id"] is None and out["alert_sent"] is False,
             "alert_id %r alert_sent %r, want no alert" % (out["alert_id"], out["alert_sent"]))
        need(not spool_files(alerts_dir), "alert spool not empty: %s" % spool_files(alerts_dir))
        need(len(mails) == step.get("delivered", 0), "%d alert mail(s) sent, want none" % len(mails))
        return
    need(isinstance(out["alert_id"], str) and out["alert_id"], "alert_id %r, want an id" % out["alert_id"])
    if alert == "spooled":
        need(out["alert_sent"] is False, "alert_sent %r, want false" % out["alert_sent"])
        pending = spool_files(alerts_dir)
        need(pending, "the failed alert is not in alert_spool_dir")
        mode = stat.S_IMODE(os.stat(alerts_dir).st_mode)
        need(mode == 0o700, "alert_spool_dir mode %o, want 700" % mode)
        found = False
        for f in pending:
            mode = stat.S_IMODE(os.lstat(os.path.join(alerts_dir, f)).st_mode)
            need(mode == 0o600, "spooled alert %s mode %o, want 600" % (f, mode))
            with open(os.path.join(alerts_dir, f), "rb") as fh:
                found = found or out["quarantine_id"].encode() in fh.read()
        need(found, "no spooled alert names quarantine id %s" % out["quarantine_id"])
        need(len(mails) == step.get("delivered", 0), "%d alert mail(s) captured, want %d" %
             (len(mails), step.get("delivered", 0)))
        return
    need(out["alert_sent"] is True, "alert_sent %r, want true" % out["alert_sent"])
    need(not spool_files(alerts_dir), "alert spool not empty after sending: %s" % spool_files(alerts_dir))
    need(len(mails) == step.get("delivered", 1), "%d alert mail(s) captured, want %d" %
         (len(mails), step.get("delivered", 1)))
    mine = None
    for base in mails:
        with open(os.path.join(mail_dir, base + ".msg"), "rb") as f:
            msg = f.read()
        with open(os.path.join(mail_dir, base + ".argv"), "rb") as f:
            argv = f.read().decode("utf-8", "replace").splitlines()
        if out["quarantine_id"].encode() in msg:
            mine = (argv, msg)
        # every alert ever sent goes to alert_to only
        need(SENDER not in argv, "sendmail argv names the envelope sender: %r" % argv)
    need(mine is not None, "no captured alert names quarantine id %s" % out["quarantine_id"])
    check_alert_mail(mine[0], mine[1], step, out)
    # earlier spooled alerts (retry case) were delivered too
    for qf in known_ids:
        qid = qf[:-3]
        need(any(qid.encode() in open(os.path.join(mail_dir, b + ".msg"), "rb").read() for b in mails),
             "the alert for quarantine id %s was never delivered" % qid)


def run_case(ctx, name, steps):
    cdir = os.path.join(ctx.work, name)
    os.makedirs(cdir)
    known_ids = set()
    for i, step in enumerate(steps, 1):
        try:
            run_step(ctx, cdir, step, known_ids)
            sp = spool_files(os.path.join(cdir, "spool"))
            need(not sp, "spool_dir not empty after the run: %s" % sp)
        except Fail as e:
            why = str(e) if len(steps) == 1 else "step %d: %s" % (i, e)
            if step.get("bug"):
                why += " [known bug: %s]" % step["bug"]
            return why
    return None


def main():
    klaxon = os.environ.get("KLAXON_BIN", os.path.join(REPO, "build", "klaxon"))
    klaxon = os.path.abspath(klaxon)
    os.umask(0o000)  # the 0600/0700 modes must be klaxon's own doing, not the umask's
    if not os.access(klaxon, os.X_OK):
        print("FAIL: setup: no executable klaxon at %s (set KLAXON_BIN)" % klaxon)
        return 1
    only = re.compile(os.environ.get("KLAXON_CHECK_ONLY", ""))
    work = tempfile.mkdtemp(prefix="klaxon-check.")
    keep = os.environ.get("KLAXON_CHECK_KEEP") == "1"
    ctx = Ctx(work, os.path.join(work, "gen"))
    ctx.klaxon = klaxon
    ctx.elapsed = 0.0
    failed = 0
    t0 = time.monotonic()
    try:
        g = subprocess.run([sys.executable, os.path.join(HERE, "gen_corpus.py"), ctx.gen],
                           capture_output=True)
        if g.returncode != 0:
            print("FAIL: setup: gen_corpus.py: %s" % short(g.stderr))
            return 1
        for name, steps in CASES:
            if not only.search(name):
                continue
            why = run_case(ctx, name, steps)
            if why is None:
                print("PASS: %s" % name)
            else:
                failed += 1
                print("FAIL: %s: %s" % (name, why))
            sys.stdout.flush()
    finally:
        if keep:
            print("tests/check: work dir kept: %s" % work, file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("tests/check: %s, %.1f s (klaxon %.1f s), %d failed" %
          (os.path.basename(klaxon) if klaxon.endswith("/klaxon") else klaxon,
           time.monotonic() - t0, ctx.elapsed, failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
