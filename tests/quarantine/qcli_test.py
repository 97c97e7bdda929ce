#!/usr/bin/env python3
"""tests/quarantine: `klaxon quarantine` end to end, without an MTA.

Run through tests/quarantine/run.sh. In a private directory:

  1. entries are made the way the daemon makes them, with `klaxon check`:
     internal EICAR (discard + quarantine, class virus), a banned .pif from
     outside with on_banned_external = discard (class banned), a Lua filter's
     hold (action_quarantine_entire_message + action_discard: class policy,
     and class spam), a banned .pif from the null sender; and old entries
     are written straight in the documented .kq format (quarantine.h) with
     times 20 to 1000 days back, for expiry;
  2. every command runs with and without --json and its output is checked:
     list and its filters (--class, --rcpt, --virus, --since, --until, --limit,
     every form of T), show (envelope, header block, part tree), release (a
     virus refused without --force; a fake sendmail_command records argv and
     stdin: "-f SENDER -- RCPT", no -t, the message byte for byte; --to; the
     null sender; a failing sendmail; the release token and what `klaxon
     check` then does with the same message), delete (file, row, audit line),
     expire (--dry-run, then for real; retention 0 keeps; stale tokens
     pruned), reindex after index.sqlite is deleted, stats, usage errors,
     audit.log (mode 0600, one line per release or delete).

TAP: "ok N - what" / "not ok N - what: why", then "1..N"; exit 1 on any
failure. KLAXON_BIN (default <repo>/build/klaxon); KLAXON_QTEST_KEEP=1 keeps
the work directory.
"""
import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SIGS = os.path.join(REPO, "tests", "sigs")
KLAXON = os.environ.get("KLAXON_BIN", os.path.join(REPO, "build", "klaxon"))
if not os.path.isabs(KLAXON):
    KLAXON = os.path.join(os.getcwd(), KLAXON)

EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-" + b"STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
EICAR_NAME = "Klaxon.Test.EICAR"    # ClamAV may add ".UNOFFICIAL"; VNAME is the name as stored
VNAME = EICAR_NAME
SANITIZER = re.compile(rb"(ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:)[^\n]*")
E = b"\r\n"
DAY = 86400

N = 0
FAILED = 0


def tap(ok, what, why=""):
    global N, FAILED
    N += 1
    if ok:
        print("ok %d - %s" % (N, what))
    else:
        FAILED += 1
        why = " ".join(str(why).split())[:400]
        print("not ok %d - %s: %s" % (N, what, why))
    sys.stdout.flush()
    return ok


# ---------------------------------------------------------------------------
# The work directory: configs, a fake sendmail, a filter
# ---------------------------------------------------------------------------

class Work:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="klaxon-qtest-")
        os.chmod(self.dir, 0o755)
        self.q = os.path.join(self.dir, "q")
        self.sent = os.path.join(self.dir, "sent")
        os.makedirs(self.sent)
        self.sendmail = self.script("sendmail", (
            "#!/bin/sh\n"
            "# fake sendmail_command: argv (NUL-separated) and stdin, one pair per call\n"
            "f=$(mktemp '%s/XXXXXXXX') || exit 75\n"
            "printf '%%s\\0' \"$0\" \"$@\" > \"$f.argv\"\n"
            "cat > \"$f.msg\"\n"
            "rm -f \"$f\"\n") % self.sent)
        self.badmail = self.script("badmail", "#!/bin/sh\ncat >/dev/null\necho 'queue file write error' >&2\nexit 75\n")
        self.filter = os.path.join(self.dir, "hold.lua")
        with open(self.filter, "w") as f:
            f.write('-- hold messages whose Subject says so\n'
                    'function filter_end(msg)\n'
                    '  local s = msg.header["subject"] or ""\n'
                    '  if s:find("HOLD-SPAM", 1, true) then\n'
                    '    action_quarantine_entire_message("looks like spam", "spam")\n'
                    '    action_discard()\n'
                    '  elseif s:find("HOLD", 1, true) then\n'
                    '    action_quarantine_entire_message("held by policy")\n'
                    '    action_discard()\n'
                    '  end\n'
                    'end\n')
        base = {
            "clamav_db": SIGS,
            "quarantine_dir": self.q,
            "alert_spool_dir": os.path.join(self.dir, "alerts"),
            "spool_dir": os.path.join(self.dir, "spool"),
            "internal_networks": "127.0.0.0/8",
            "on_banned_external": "discard",
            "sendmail_command": self.sendmail + " -oi -t",
            "sendmail_timeout": "10",
            "alert_to": "alerts@example.test",
            "alert_from": "klaxon@mx.example.test",
            "hostname": "mx.example.test",
            "quarantine_retention_virus": "30",
            "quarantine_retention_banned": "30",
            "quarantine_retention_ambiguous": "0",
            "quarantine_retention_policy": "90",
            "quarantine_retention_spam": "14",
            "release_window": "3600",
        }
        self.conf = self.write_conf("klaxon.conf", base)
        self.conf_filter = self.write_conf("filter.conf", dict(base, filter=self.filter))
        self.conf_bad = self.write_conf("bad.conf", dict(base, sendmail_command=self.badmail))

    def script(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o755)
        return path

    def write_conf(self, name, keys):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write("# written by tests/quarantine/qcli_test.py\n")
            f.write("".join("%s = %s\n" % kv for kv in keys.items()))
        return path

    def sent_calls(self):
        """[(argv list, message bytes)] of every sendmail call, oldest first"""
        calls = []
        for name in os.listdir(self.sent):
            if name.endswith(".argv"):
                base = os.path.join(self.sent, name[:-5])
                with open(base + ".argv", "rb") as f:
                    argv = f.read().split(b"\0")[:-1]
                with open(base + ".msg", "rb") as f:
                    msg = f.read()
                calls.append((os.path.getmtime(base + ".argv"), [a.decode() for a in argv], msg))
        calls.sort(key=lambda c: c[0])
        return [(a, m) for _, a, m in calls]

    def releases(self):
        """the sendmail calls of releases (alerts use -t, releases never)"""
        return [(a, m) for a, m in self.sent_calls() if "-t" not in a]


def run(args, conf=None, env=None, timeout=120):
    """klaxon with args; returns (rc, stdout str, stderr str); sanitizer reports are failures"""
    cmd = [KLAXON] + args[:1] + (["--config", conf] if conf else []) + args[1:]
    e = dict(os.environ)
    e.pop("SUDO_USER", None)
    e["LOGNAME"] = "qtester"
    if env:
        e.update(env)
    p = subprocess.run(cmd, capture_output=True, timeout=timeout, env=e, stdin=subprocess.DEVNULL)
    san = SANITIZER.search(p.stderr)
    if san:
        tap(False, "no sanitizer report from %s" % " ".join(args[:2]), san.group(0).decode("utf-8", "replace"))
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def qcli(w, *args, conf=None, env=None):
    return run(["quarantine"] + list(args), conf=conf or w.conf, env=env)


def qjson(w, *args, conf=None):
    rc, out, err = qcli(w, *args, "--json", conf=conf)
    try:
        return rc, json.loads(out), err
    except ValueError as e:
        return rc, None, "not JSON (%s): %s %s" % (e, out[:200], err[:200])


# ---------------------------------------------------------------------------
# Messages and entries
# ---------------------------------------------------------------------------

def message(subject, body=b"Hello.", attach=None, sender="someone@example.net"):
    h = [b"From: <" + sender.encode() + b">", b"To: Bob <bob@example.test>",
         b"Subject: " + subject.encode(), b"Date: Fri, 27 Nov 2026 09:00:00 +0000",
         b"Message-ID: <" + secrets.token_hex(8).encode() + b"@example.net>", b"MIME-Version: 1.0"]
    if attach is None:
        return E.join(h + [b"Content-Type: text/plain", b"", body, b""])
    name, data = attach
    b64 = base64.b64encode(data)
    lines = [b64[i:i + 76] for i in range(0, len(b64), 76)]
    return E.join(h + [b'Content-Type: multipart/mixed; boundary="qb"', b"",
                       b"--qb", b"Content-Type: text/plain", b"", body,
                       b"--qb", b"Content-Type: application/octet-stream",
                       b'Content-Disposition: attachment; filename="' + name.encode() + b'"',
                       b"Content-Transfer-Encoding: base64", b""] + lines + [b"--qb--", b""])


def check(w, name, msg, ip, sender, rcpts, conf=None):
    """klaxon check --json on msg; returns (json or None, why)"""
    path = os.path.join(w.dir, name + ".eml")
    with open(path, "wb") as f:
        f.write(msg)
    args = ["check", "--client-ip", ip, "--from", sender or "<>"]
    for r in rcpts:
        args += ["--rcpt", r]
    rc, out, err = run(args + ["--json", path], conf=conf or w.conf)
    if rc != 0:
        return None, "exit %d: %s" % (rc, err)
    try:
        return json.loads(out.strip().splitlines()[-1]), None
    except (ValueError, IndexError) as e:
        return None, "not JSON (%s): %s" % (e, out)


def kq_path(w, qid):
    return os.path.join(w.q, qid + ".kq")


def write_kq(w, when, cls, sender, rcpts, subject, virus=None, reason="", origin="external"):
    """an entry in the documented format (quarantine.h), dated `when`"""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(when))
    qid = "%s-%s" % (stamp, secrets.token_hex(8))
    raw = message(subject, b"old body " + qid.encode(), sender=sender)
    fields = [("id", qid), ("time", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))),
              ("class", cls), ("origin", origin), ("client-addr", "192.0.2.7"),
              ("client-name", "old.example.net"), ("helo", "old.example.net"), ("auth-user", ""),
              ("sender", sender)]
    fields += [("rcpt", r) for r in rcpts]
    fields += [("queue-id", "OLD1"), ("subject", subject)]
    if virus:
        fields.append(("virus", virus))
    fields += [("payload", ""), ("reason", reason), ("size", str(len(raw)))]
    head = "KLAXON-QUARANTINE 1\n" + "".join("%s: %s\n" % kv for kv in fields) + "\n"
    os.makedirs(w.q, mode=0o700, exist_ok=True)
    with open(kq_path(w, qid), "wb") as f:
        f.write(head.encode() + raw + b"\nKLAXON-END " + qid.encode() + b"\n")
    os.chmod(kq_path(w, qid), 0o600)
    return qid


def body_hash(raw):
    """release.h: SHA-256 of the body after the first blank line, CRs removed"""
    flat = raw.replace(b"\r", b"")
    if flat.startswith(b"\n"):
        body = flat[1:]
    else:
        i = flat.find(b"\n\n")
        body = flat[i + 2:] if i >= 0 else b""
    return hashlib.sha256(body).hexdigest()


def audit_lines(w):
    try:
        with open(os.path.join(w.q, "audit.log"), encoding="utf-8", errors="replace") as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def audit_has(w, cmd, qid, result):
    pat = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ %s id=%s rcpts=\S+ who=\S+( sudo_user=\S+)? uid=\d+ result=%s\b"
                     % (cmd, re.escape(qid), result))
    return any(pat.search(line) for line in audit_lines(w))


def list_ids(w, *args, conf=None):
    rc, rows, err = qjson(w, "list", *args, conf=conf)
    if rc != 0 or rows is None:
        return None
    return [r["id"] for r in rows]


# ---------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------

def make_entries(w):
    """the fresh entries, through klaxon check; returns {name: (id, raw message)}"""
    made = {}
    cases = [
        ("virus", message("virus inside", b"see below\r\n" + EICAR), "127.0.0.2", "alice@inside.test",
         ["bob@example.test", "carol@example.test"], None, "virus"),
        ("banned", message("banned pif", attach=("clip.pif", b"not a program\r\n")), "192.0.2.25",
         "eve@outside.example", ["bob@example.test"], None, "banned"),
        ("policy", message("HOLD me please", b"policy hold\r\n.\r\nline after a lone dot\r\n"),
         "192.0.2.26", "mallory@outside.example", ["dave@example.test"], w.conf_filter, "policy"),
        ("spam", message("HOLD-SPAM cheap pills"), "192.0.2.27", "spammer@outside.example",
         ["dave@example.test", "erin@example.test", "frank@example.test"], w.conf_filter, "spam"),
        ("null", message("bounce with pif", attach=("back.pif", b"harmless\r\n")), "192.0.2.28", "",
         ["bob@example.test"], None, "banned"),
    ]
    for name, raw, ip, sender, rcpts, conf, cls in cases:
        res, why = check(w, name, raw, ip, sender, rcpts, conf=conf)
        qid = res.get("quarantine_id") if res else None
        if tap(res is not None and res.get("action") == "discard" and qid,
               "check: %s message discarded with a quarantine copy" % name, why or res):
            made[name] = (qid, raw, cls)
    return made


def test_list(w, made, old):
    rc, out, err = qcli(w, "list")
    lines = out.splitlines()
    tap(rc == 0 and len(lines) == len(made) + len(old), "list: one line per entry",
        "rc %d, %d lines for %d entries: %s" % (rc, len(lines), len(made) + len(old), err))
    global VNAME
    vid = made["virus"][0]
    rc, rows, err = qjson(w, "list", "--class", "virus", "--since", "1d")
    if rows and rows[0]["virus"] and rows[0]["virus"].startswith(EICAR_NAME):
        VNAME = rows[0]["virus"]
    vline = [l for l in lines if vid in l]
    tap(len(vline) == 1 and all(s in vline[0] for s in
                                ("virus", "alice@inside.test", "bob@example.test (+1)", VNAME, "virus inside")),
        "list: virus line has class, sender, first recipient (+1), virus, subject", vline)
    sline = [l for l in lines if made["spam"][0] in l]
    tap(sline and "dave@example.test (+2)" in sline[0] and "looks like spam" in sline[0],
        "list: spam line has first recipient (+2) and the reason", sline)
    nline = [l for l in lines if made["null"][0] in l]
    tap(nline and "  <>  " in nline[0], "list: the null sender shows as <>", nline)
    tap(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ  \d{8}T\d{6}Z-[0-9a-f]{16}  ", lines[0] if lines else ""),
        "list: a line starts with the time and the id", lines[:1])
    # newest first
    rc, rows, err = qjson(w, "list")
    tap(rc == 0 and rows is not None and len(rows) == len(lines), "list --json: an array of every entry",
        err or (rows and len(rows)))
    if rows:
        times = [r["time"] for r in rows]
        tap(times == sorted(times, reverse=True), "list --json: newest first", times)
        v = [r for r in rows if r["id"] == vid]
        tap(v and v[0]["class"] == "virus" and v[0]["sender"] == "alice@inside.test" and
            v[0]["rcpt"] == "bob@example.test" and v[0]["nrcpts"] == 2 and v[0]["virus"] == VNAME and
            v[0]["origin"] == "internal" and v[0]["client_addr"] == "127.0.0.2" and v[0]["subject"] == "virus inside",
            "list --json: the virus entry's fields", v)
        n = [r for r in rows if r["id"] == made["null"][0]]
        tap(n and n[0]["sender"] == "", "list --json: the null sender is \"\"", n)

    def same(label, got, want):
        tap(got is not None and sorted(got) == sorted(want), "list %s" % label, "got %s want %s" % (got, want))

    allfresh = [v[0] for v in made.values()]
    same("--class virus", list_ids(w, "--class", "virus"),
         [made["virus"][0]] + [q for q, c in old.items() if c == "virus"])
    same("--class BANNED (any case)", list_ids(w, "--class", "BANNED"),
         [made["banned"][0], made["null"][0]] + [q for q, c in old.items() if c == "banned"])
    same("--rcpt dave@example.test", list_ids(w, "--rcpt", "dave@example.test"),
         [made["policy"][0], made["spam"][0]])
    same("--rcpt is case-insensitive", list_ids(w, "--rcpt", "ERIN@Example.Test"), [made["spam"][0]])
    same("--virus " + VNAME, list_ids(w, "--virus", VNAME), [made["virus"][0]])
    same("--since 1d", list_ids(w, "--since", "1d"), allfresh)
    same("--since 90m", list_ids(w, "--since", "90m"), allfresh)
    same("--since 2h --class spam", list_ids(w, "--since", "2h", "--class", "spam"), [made["spam"][0]])
    same("--until 10d (only the old ones)", list_ids(w, "--until", "10d"), list(old))
    same("--until 35d --since 45d", list_ids(w, "--until", "35d", "--since", "45d"),
         [q for q, c in old.items() if c == "virus"])
    today = time.strftime("%Y-%m-%d", time.gmtime())
    same("--since " + today + " (a date)", list_ids(w, "--since", today), allfresh)
    t = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    same("--since " + t + " (RFC 3339)", list_ids(w, "--since", t), allfresh)
    t = time.strftime("%Y-%m-%dT%H:%M:%S+02:00", time.gmtime(time.time() - 3600 + 7200))
    same("--since " + t + " (RFC 3339 with an offset)", list_ids(w, "--since", t), allfresh)
    got = list_ids(w, "--limit", "2")
    tap(got is not None and len(got) == 2 and rows and got == [r["id"] for r in rows[:2]],
        "list --limit 2: the two newest", got)
    rc, out, err = qcli(w, "list", "--rcpt", "nobody@example.test")
    tap(rc == 0 and out == "", "list: no match prints nothing, exit 0", (rc, out, err))
    rc, rows, err = qjson(w, "list", "--rcpt", "nobody@example.test")
    tap(rc == 0 and rows == [], "list --json: no match is []", (rc, rows, err))


def test_usage(w, made):
    cases = [
        (["list", "--class", "nope"], 2, "unknown class"),
        (["list", "--since", "yesterday"], 2, "bad time"),
        (["list", "--since", "2026-13-45"], 2, "bad time"),
        (["list", "--limit", "0"], 2, "limit"),
        (["list", "--to", "x@y"], 2, "not an option of list"),
        (["list", "--bogus"], 2, "unknown option"),
        (["list", "extra"], 2, "usage"),
        (["show"], 2, "usage"),
        (["frobnicate"], 2, "unknown command"),
        ([], 2, "usage"),
        (["delete", made["virus"][0], "--force"], 2, "not an option of delete"),
        (["show", "../../etc/passwd"], 1, "not a quarantine id"),
        (["show", "20200101T000000Z-0000000000000000"], 1, ""),
    ]
    for args, want, text in cases:
        rc, out, err = qcli(w, *args)
        tap(rc == want and text in err, "usage: quarantine %s exits %d" % (" ".join(args), want),
            "rc %d, stderr %r" % (rc, err))
    rc, out, err = run(["quarantine", "--help"])
    tap(rc == 0 and "release ID" in out and "expire" in out, "quarantine --help lists the commands", out)


def field(label, value):
    """a line of show's text output"""
    return "\n%-12s %s\n" % (label, value)


def test_show(w, made):
    qid, raw, _ = made["banned"]
    rc, out, err = qcli(w, "show", qid)
    tap(rc == 0, "show: exit 0", err)
    for want in [field("id:", qid), field("class:", "banned"), field("sender:", "eve@outside.example"),
                 field("recipients:", "bob@example.test"), field("client:", "192.0.2.25"),
                 field("subject:", "banned pif")] + [
                 "\nheader:\n  From: <someone@example.net>\n", "  Subject: banned pif\n",
                 "\nparts:\n", "multipart/mixed", "text/plain", '"clip.pif"', "15 bytes"]:
        tap(want in "\n" + out, "show: has %r" % want.strip(), out[:600])
    tap("\r" not in out, "show: no CR in the output", "")
    rc, obj, err = qjson(w, "show", qid)
    tap(rc == 0 and obj is not None, "show --json: one object", err)
    if obj:
        tap(obj["id"] == qid and obj["class"] == "banned" and obj["rcpts"] == ["bob@example.test"] and
            obj["sender"] == "eve@outside.example" and obj["origin"] == "external" and
            obj["size"] == len(raw), "show --json: envelope and size", obj)
        tap(any("clip.pif" in b for b in obj["banned"]), "show --json: the banned reason names clip.pif", obj["banned"])
        parts = obj["parts"]
        tap([p["path"] for p in parts] == ["1", "1.1", "1.2"] and parts[0]["type"] == "multipart/mixed" and
            parts[2]["filename"] == "clip.pif" and parts[2]["size"] == 15 and parts[2]["leaf"],
            "show --json: the part tree (path, type, filename, size)", parts)
        tap("Subject: banned pif\n" in obj["header"] and "\r" not in obj["header"],
            "show --json: the header block, CRs dropped", obj["header"][:200])
    vid = made["virus"][0]
    rc, obj, err = qjson(w, "show", vid)
    tap(rc == 0 and obj and obj["viruses"] == [VNAME] and obj["rcpts"] == ["bob@example.test", "carol@example.test"],
        "show --json: the virus entry's viruses and recipients", obj)


def test_show_hostile(w):
    """control characters from a message never reach the terminal"""
    raw = (b"From: <x@example.net>\r\nSubject: evil \x1b[31mred\x07 \xc2\x9b31m\r\nX-Nul: a\x00b\r\n\r\nbody\r\n")
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    qid = "%s-%s" % (stamp, secrets.token_hex(8))
    head = ("KLAXON-QUARANTINE 1\nid: %s\ntime: %s\nclass: policy\norigin: external\nsender: evil%%1B[2J@x\n"
            "rcpt: bob@example.test\nsubject: evil %%1B[31mred\nreason: \nsize: %d\n\n"
            % (qid, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), len(raw)))
    with open(kq_path(w, qid), "wb") as f:
        f.write(head.encode() + raw + b"\nKLAXON-END " + qid.encode() + b"\n")
    rc, out, err = qcli(w, "show", qid)
    bad = [c for c in out if ord(c) < 0x20 and c not in "\n"] + [c for c in out if 0x80 <= ord(c) < 0xa0]
    tap(rc == 0 and not bad and "evil?[2J@x" in out and "Subject: evil ?[31mred?" in out,
        "show: control characters (ESC, BEL, NUL, C1) become ?", (rc, bad, out[:400]))
    rc, out, err = qcli(w, "list")
    bad = [c for c in out if ord(c) < 0x20 and c not in "\n"]
    tap(rc == 0 and not bad, "list: no control characters from an entry", bad)
    rc, obj, err = qjson(w, "show", qid)
    tap(rc == 0 and obj and obj["sender"] == "evil\x1b[2J@x", "show --json: the value itself, JSON-escaped", obj)
    rc, out, err = qcli(w, "delete", qid)
    tap(rc == 0, "delete: the hostile entry", err)


def test_release(w, made):
    # A virus needs --force.
    vid, vraw, _ = made["virus"]
    before = len(w.releases())
    rc, out, err = qcli(w, "release", vid)
    tap(rc == 1 and "--force" in err and "virus" in err, "release: a virus entry without --force is refused (exit 1)",
        (rc, err))
    tap(len(w.releases()) == before, "release: nothing was sent for the refused virus", w.releases()[before:])
    tap(audit_has(w, "release", vid, "refused"), "audit: the refusal is recorded", audit_lines(w)[-2:])
    tap(not os.path.exists(os.path.join(w.q, "released", body_hash(vraw))),
        "release: no token for a refused release", "")

    # A banned entry goes to its recipient, with its envelope sender, byte for byte.
    qid, raw, _ = made["banned"]
    t0 = int(time.time())
    rc, out, err = qcli(w, "release", qid)
    tap(rc == 0 and ("released %s to bob@example.test" % qid) in out, "release: banned entry released (exit 0)",
        (rc, out, err))
    calls = w.releases()[before:]
    tap(len(calls) == 1, "release: one sendmail call", len(calls))
    if calls:
        argv, msg = calls[0]
        tap(argv[0] == w.sendmail and "-t" not in argv, "release: sendmail_command without -t", argv)
        tap(argv[-4:] == ["-f", "eve@outside.example", "--", "bob@example.test"],
            "release: argv ends with -f SENDER -- RCPT", argv)
        tap("-oi" in argv or "-i" in argv, "release: -oi kept (a lone dot is body)", argv)
        tap(msg == raw, "release: the message on stdin is byte-identical to the original",
            "%d bytes vs %d" % (len(msg), len(raw)))
    tap(audit_has(w, "release", qid, "ok"), "audit: the release is recorded with result=ok", audit_lines(w)[-1:])
    line = [l for l in audit_lines(w) if " release id=%s " % qid in l]
    tap(line and "rcpts=bob@example.test" in line[-1] and "who=qtester" in line[-1] and
        ("uid=%d" % os.getuid()) in line[-1], "audit: recipients, who (LOGNAME) and uid", line)
    tok = os.path.join(w.q, "released", body_hash(raw))
    try:
        with open(tok) as f:
            fields = f.read().split()
        st = os.stat(tok)
    except OSError as e:
        fields, st = [], None
        tap(False, "release: token quarantine_dir/released/<body hash> exists", e)
    if st:
        until = int(fields[2]) if len(fields) == 3 and fields[2].isdigit() else 0
        tap(fields[:2] == [qid, "qtester"] and t0 + 3600 <= until <= int(time.time()) + 3600 and
            stat.S_IMODE(st.st_mode) == 0o600, "release: the token names id, who and until (now + release_window), 0600",
            (fields, oct(st.st_mode)))
        tap(stat.S_IMODE(os.stat(os.path.join(w.q, "released")).st_mode) == 0o700,
            "release: released/ is 0700", "")

    # The pipeline lets the released body through once more (until the window ends).
    res, why = check(w, "banned-again", raw, "192.0.2.25", "eve@outside.example", ["bob@example.test"])
    tap(res is not None and res.get("action") == "accept" and not res.get("quarantine_id"),
        "check: the released message is accepted, not held again", why or res)
    other = raw.replace(b"not a program", b"not a programme")
    other = message("banned pif", attach=("clip.pif", b"another program\r\n"))
    res, why = check(w, "banned-other", other, "192.0.2.25", "eve@outside.example", ["bob@example.test"])
    tap(res is not None and res.get("action") == "discard", "check: another banned body is still held", why or res)
    # that hold is a new entry: forget it for the counts below
    if res and res.get("quarantine_id"):
        os.unlink(kq_path(w, res["quarantine_id"]))

    # --to replaces the recipients; several of them.
    pid, praw, _ = made["policy"]
    n0 = len(w.releases())
    rc, out, err = qcli(w, "release", pid, "--to", "boss@example.test", "--to", "-oops@example.test")
    calls = w.releases()[n0:]
    tap(rc == 0 and len(calls) == 1 and
        calls[0][0][-5:] == ["-f", "mallory@outside.example", "--", "boss@example.test", "-oops@example.test"],
        "release --to: the given recipients after --, even one that starts with -", (rc, err, calls and calls[0][0]))
    tap(calls and calls[0][1] == praw, "release --to: byte-identical message (with its lone-dot line)", "")
    tap(audit_has(w, "release", pid, "ok") and
        any("rcpts=boss@example.test,-oops@example.test" in l for l in audit_lines(w)),
        "audit: the --to recipients", audit_lines(w)[-1:])

    # The null sender.
    nid, nraw, _ = made["null"]
    n0 = len(w.releases())
    rc, out, err = qcli(w, "release", nid)
    calls = w.releases()[n0:]
    tap(rc == 0 and len(calls) == 1 and calls[0][0][-4:] == ["-f", "<>", "--", "bob@example.test"],
        "release: the null sender is -f <>", (rc, err, calls and calls[0][0]))

    # A sendmail that fails: exit 1, audited as failed.
    sid = made["spam"][0]
    rc, out, err = qcli(w, "release", sid, conf=w.conf_bad)
    tap(rc == 1 and "queue file write error" in err, "release: sendmail failure gives exit 1 and its stderr",
        (rc, err))
    tap(audit_has(w, "release", sid, "failed"), "audit: the failed release is recorded", audit_lines(w)[-1:])

    # --force releases a virus, to all its recipients, with SUDO_USER in the audit.
    n0 = len(w.releases())
    rc, out, err = qcli(w, "release", vid, "--force", env={"SUDO_USER": "admin"})
    calls = w.releases()[n0:]
    tap(rc == 0 and len(calls) == 1 and
        calls[0][0][-5:] == ["-f", "alice@inside.test", "--", "bob@example.test", "carol@example.test"] and
        calls[0][1] == vraw, "release --force: the virus entry goes to both recipients", (rc, err))
    line = [l for l in audit_lines(w) if " release id=%s " % vid in l]
    tap(line and "result=ok" in line[-1] and "sudo_user=admin" in line[-1], "audit: sudo_user is recorded", line)

    # Unknown id.
    rc, out, err = qcli(w, "release", "20200101T000000Z-0000000000000000")
    tap(rc == 1, "release: an unknown id gives exit 1", (rc, err))


def test_delete(w, made):
    qid = made["spam"][0]
    rc, out, err = qcli(w, "delete", qid)
    tap(rc == 0 and ("deleted " + qid) in out, "delete: exit 0", (rc, out, err))
    tap(not os.path.exists(kq_path(w, qid)), "delete: the .kq file is gone", "")
    ids = list_ids(w)
    tap(ids is not None and qid not in ids, "delete: the index row is gone", ids)
    line = [l for l in audit_lines(w) if " delete id=%s " % qid in l]
    tap(line and "result=ok" in line[-1] and "rcpts=dave@example.test,erin@example.test,frank@example.test" in line[-1],
        "audit: delete line with the recipients", line)
    rc, out, err = qcli(w, "delete", qid)
    tap(rc == 1 and audit_has(w, "delete", qid, "failed"), "delete: again gives exit 1, audited as failed",
        (rc, err))
    st = os.stat(os.path.join(w.q, "audit.log"))
    tap(stat.S_IMODE(st.st_mode) == 0o600, "audit.log is 0600", oct(st.st_mode))
    pat = re.compile(r"^\S+Z (release|delete) id=\S+ rcpts=\S+ who=\S+( sudo_user=\S+)? uid=\d+ result=(ok|failed|refused)( error=.*)?$")
    bad = [l for l in audit_lines(w) if not pat.match(l)]
    tap(not bad and len(audit_lines(w)) >= 9, "audit.log: every line is time, command, id, rcpts, who, uid, result",
        bad or len(audit_lines(w)))


def test_expire(w, made, old):
    expected = [q for q, c in old.items() if c != "ambiguous"]
    rel = os.path.join(w.q, "released")
    os.makedirs(rel, mode=0o700, exist_ok=True)
    stale = os.path.join(rel, "ab" * 32)
    with open(stale, "w") as f:
        f.write("20200101T000000Z-0000000000000000 root %d\n" % (int(time.time()) - 10))

    rc, out, err = qcli(w, "expire", "--dry-run")
    lines = out.splitlines()
    tap(rc == 0 and sorted(re.findall(r"^would expire (\S+) class=", out, re.M)) == sorted(expected),
        "expire --dry-run: names the entries past retention", (rc, out, err))
    tap(all(os.path.exists(kq_path(w, q)) for q in expected) and os.path.exists(stale),
        "expire --dry-run: removes nothing", "")
    tap(lines and lines[-1] == "would expire %d entries" % len(expected), "expire --dry-run: a summary", lines[-1:])

    rc, out, err = qcli(w, "expire")
    got = dict(re.findall(r"^expired (\S+) class=\S+ age=(\S+)$", out, re.M))
    tap(rc == 0 and sorted(got) == sorted(expected), "expire: removes exactly the entries past retention",
        (rc, out, err))
    ages = {"virus": "40d", "banned": "31d", "policy": "100d", "spam": "20d"}
    tap(all(got.get(q) == ages[c] for q, c in old.items() if c in ages), "expire: each line has class and age", got)
    tap(not any(os.path.exists(kq_path(w, q)) for q in expected), "expire: their files are gone", "")
    amb = [q for q, c in old.items() if c == "ambiguous"]
    tap(all(os.path.exists(kq_path(w, q)) for q in amb), "expire: retention 0 keeps a 1000-day-old entry", amb)
    ids = list_ids(w)
    tap(ids is not None and not set(expected) & set(ids) and set(amb) <= set(ids) and
        made["banned"][0] in ids, "expire: index rows gone, the rest still listed", ids)
    tap(re.search(r"^expired %d entries; removed 1 stale release tokens$" % len(expected), out, re.M)
        and not os.path.exists(stale), "expire: summary; the expired release token is pruned", out.splitlines()[-1:])
    tap(os.path.exists(os.path.join(rel, body_hash(made["banned"][1]))), "expire: a live release token stays", "")
    rc, out, err = qcli(w, "expire")
    tap(rc == 0 and "expired 0 entries" in out, "expire: nothing left to expire", (rc, out))


def test_reindex(w):
    before = list_ids(w)
    os.unlink(os.path.join(w.q, "index.sqlite"))
    for suffix in ("-wal", "-shm"):
        if os.path.exists(os.path.join(w.q, "index.sqlite" + suffix)):
            os.unlink(os.path.join(w.q, "index.sqlite" + suffix))
    rc, out, err = qcli(w, "reindex")
    tap(rc == 0 and re.search(r"^reindexed %d entries \(0 damaged" % len(before or []), out, re.M),
        "reindex: after index.sqlite was deleted, counts every entry", (rc, out, err))
    after = list_ids(w)
    tap(after is not None and sorted(after) == sorted(before or []), "reindex: list shows the same entries", after)
    # A damaged file is reported, never indexed.
    bad = "20261127T000000Z-" + "d" * 16
    with open(kq_path(w, bad), "wb") as f:
        f.write(b"KLAXON-QUARANTINE 1\nid: " + bad.encode() + b"\nsize: 100\n\nshort")
    rc, out, err = qcli(w, "reindex")
    tap(rc == 0 and re.search(r"^reindexed %d entries \(1 damaged" % len(before or []), out, re.M),
        "reindex: a damaged entry is counted, not indexed", (rc, out, err))
    ids = list_ids(w)
    tap(ids is not None and bad not in ids, "list: the damaged entry is not listed", ids)
    os.unlink(kq_path(w, bad))
    # Every command syncs first; a missing index is rebuilt and said so.
    os.unlink(os.path.join(w.q, "index.sqlite"))
    rc, out, err = qcli(w, "list")
    tap(rc == 0 and "rebuilt" in err and len(out.splitlines()) == len(before or []),
        "list: a missing index is rebuilt (said on stderr), same entries", (rc, err))
    # A new entry file appears in the list without a reindex.
    qid = write_kq(w, time.time() - 60, "policy", "late@example.net", ["bob@example.test"], "late")
    ids = list_ids(w)
    tap(ids is not None and qid in ids, "list: an entry written after the last command is synced in", ids)
    os.unlink(kq_path(w, qid))
    ids = list_ids(w)
    tap(ids is not None and qid not in ids, "list: an entry file removed behind its back is synced out", ids)


def test_stats(w):
    rc, rows, err = qjson(w, "list")
    if rows is None:
        tap(False, "stats: list for the expected counts", err)
        return
    rc, st, err = qjson(w, "stats")
    tap(rc == 0 and st is not None, "stats --json: one object", err)
    if st:
        want_class = {}
        for r in rows:
            want_class[r["class"]] = want_class.get(r["class"], 0) + 1
        tap(st["total"] == len(rows) and st["since"] is None, "stats --json: total", (st["total"], len(rows)))
        tap(st["class"] == want_class, "stats --json: per class", (st["class"], want_class))
        tap(st["virus"].get(VNAME) == 1, "stats --json: per virus", st["virus"])
        days = {}
        for r in rows:
            days[r["time"][:10]] = days.get(r["time"][:10], 0) + 1
        tap(st["day"] == days, "stats --json: per day", (st["day"], days))
        counts = list(st["class"].values())
        tap(counts == sorted(counts, reverse=True), "stats --json: largest first", counts)
    rc, st2, err = qjson(w, "stats", "--since", "1d")
    fresh = [r for r in rows if r["time"] >= time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - DAY))]
    tap(rc == 0 and st2 and st2["total"] == len(fresh) and st2["since"] and sum(st2["class"].values()) == len(fresh),
        "stats --since 1d --json: only the fresh entries", st2)
    rc, out, err = qcli(w, "stats")
    tap(rc == 0 and re.search(r"^entries: %d$" % len(rows), out, re.M) and "\nclass:\n" in out and
        "\nvirus:\n" in out and "\nday:\n" in out and re.search(r"^  %s +1$" % re.escape(VNAME), out, re.M),
        "stats: text by class, virus and day", out)


def main():
    if not os.access(KLAXON, os.X_OK):
        print("not ok 1 - klaxon binary %s missing (build it first)" % KLAXON)
        print("1..1")
        return 1
    w = Work()
    try:
        made = make_entries(w)
        now = time.time()
        old = {}
        for days, cls, virus in ((40, "virus", "Old.Worm"), (31, "banned", None), (100, "policy", None),
                                 (20, "spam", None), (1000, "ambiguous", None), (10, "spam", None)):
            qid = write_kq(w, now - days * DAY - 600, cls, "old-%s@example.net" % cls,
                           ["bob@example.test"], "old %s" % cls, virus=virus, reason="old %s" % cls)
            old[qid] = cls
        # The 10-day spam entry is inside its 14 days: not a candidate.
        keep_spam = [q for q, c in old.items() if c == "spam"][-1]
        old_expiring = {q: c for q, c in old.items() if q != keep_spam}
        if len(made) == 5:
            test_list(w, made, old)
            test_usage(w, made)
            test_show(w, made)
            test_show_hostile(w)
            test_release(w, made)
            test_delete(w, made)
            test_expire(w, made, old_expiring)
            test_reindex(w)
            test_stats(w)
        else:
            tap(False, "entries for the command tests", "only %s were made" % sorted(made))
    finally:
        if FAILED or os.environ.get("KLAXON_QTEST_KEEP") == "1":
            print("# work directory kept: %s" % w.dir)
        else:
            shutil.rmtree(w.dir, ignore_errors=True)
    print("1..%d" % N)
    print("%d passed, %d failed" % (N - FAILED, FAILED), file=sys.stderr)
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
