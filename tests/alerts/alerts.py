#!/usr/bin/env python3
"""tests/alerts/alerts.py - aggregated alerts (src/alertagg.h) end to end.

The real daemon, driven by bench/milterload over the milter protocol:

  flood    ALERTS_MESSAGES (10,000) EICAR messages from one internal address
           (10.66.1.2): every one quarantined and discarded, exactly one
           immediate alert, and when the window has ended one summary whose
           count, plus that alert, is every message.
  restart  from a second address (10.66.1.3) half the messages, SIGTERM,
           a new daemon on the same state, the other half: one immediate
           alert in all, and one summary counting both halves.

The restart runs first, so the whole run lasts about one window. Afterwards
the daemon must still be running, stop cleanly, leave no alert in the
spool, and (with a sanitizer build) print no sanitizer report.

Environment:
    KLAXON_BIN        binary under test (default <repo>/build/klaxon)
    MILTERLOAD        load client (default <repo>/bench/milterload)
    ALERTS_MESSAGES   messages in the flood (default 10000)
    ALERTS_WINDOW     alert_window in seconds (default 60, at least 10); the
                      flood must fit in it for "exactly one immediate alert"
                      (10,000 take about 10 s plain, 40 s with sanitizers)
    ALERTS_KEEP=1     keep the work dir (its path is printed)
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(REPO, os.environ.get("KLAXON_BIN", "build/klaxon"))
LOAD = os.path.join(REPO, os.environ.get("MILTERLOAD", "bench/milterload"))
MESSAGES = int(os.environ.get("ALERTS_MESSAGES", "10000"))
WINDOW = max(10, int(os.environ.get("ALERTS_WINDOW", "60")))
FLOOD_IP, RESTART_IP = "10.66.1.2", "10.66.1.3"
RESTART_HALF = 250
SANITIZER = re.compile(r"AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:")

results = []
daemons = []  # every Daemon started, so that a failed run leaves none behind


def tap(ok, what, why=""):
    results.append(ok)
    line = "%sok %d - %s" % ("" if ok else "not ", len(results), what)
    if not ok and why:
        line += " (%s)" % why
    print(line, flush=True)
    return ok


class Daemon:
    """One `klaxon serve --foreground`; its log is kept per start."""

    def __init__(self, work, conf):
        self.work, self.conf, self.proc, self.logs, self.starts = work, conf, None, [], 0

    def start(self):
        self.starts += 1
        log = os.path.join(self.work, "klaxon.%d.log" % self.starts)
        self.logs.append(log)
        sock = os.path.join(self.work, "klaxon.sock")
        with open(log, "wb") as out:
            self.proc = subprocess.Popen([BIN, "serve", "--config", self.conf, "--foreground"],
                                         stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
        deadline = time.time() + 30
        while time.time() < deadline:
            if os.path.exists(sock) and "listening on" in self.log_text(log):
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.1)
        return False

    def stop(self):
        """SIGTERM and wait; the exit status, or None if it would not stop."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    @staticmethod
    def log_text(path):
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def all_logs(self):
        return "".join(self.log_text(p) for p in self.logs)


def setup(work):
    mail = os.path.join(work, "mail")
    os.makedirs(mail)
    sendmail = os.path.join(work, "sendmail")
    with open(sendmail, "w") as f:
        f.write("#!/bin/sh\n"
                "# fake sendmail_command: one file per alert\n"
                "f=$(mktemp '%s/XXXXXXXX') || exit 75\n"
                "cat > \"$f.tmp\" && mv \"$f.tmp\" \"$f.msg\"\n"
                "rm -f \"$f\"\n" % mail)
    os.chmod(sendmail, 0o755)
    conf = os.path.join(work, "klaxon.conf")
    with open(conf, "w") as f:
        f.write("milter_socket = unix:%s/klaxon.sock\n" % work +
                "pid_file = %s/klaxon.pid\n" % work +
                "quarantine_dir = %s/q\n" % work +
                "alert_spool_dir = %s/alerts\n" % work +
                "spool_dir = %s/spool\n" % work +
                "clamav_db = %s/tests/sigs\n" % REPO +
                "internal_networks = 10.66.0.0/16, 127.0.0.0/8\n"
                "sendmail_command = %s -oi -t\n" % sendmail +
                "alert_to = security@example.org\n"
                "alert_window = %d\n" % WINDOW +
                "alert_max_per_hour = 30\n"
                "alert_retry_interval = 60\n")
    return conf, mail


def load(work, ip, n, tag):
    """milterload n EICAR messages from ip; (ok, why)"""
    out = os.path.join(work, "milterload.%s.out" % tag)
    cmd = [LOAD, "--socket", "unix:%s/klaxon.sock" % work, "--client-ip", ip, "--eicar", "100",
           "--messages", str(n), "--concurrency", "8", "--corpus", "text", "--size", "1k",
           "--timeout", "60", "--quiet"]
    with open(out, "wb") as f:
        rc = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT)
    text = Daemon.log_text(out)
    m = re.search(r"^RESULT .*\bmsgs=(\d+).*\bdiscard=(\d+)", text, re.M)
    if rc != 0 or m is None or int(m.group(1)) != n or int(m.group(2)) != n:
        return False, "milterload rc=%d: %s" % (rc, text.strip().splitlines()[-1] if text.strip() else "")
    return True, ""


def number(s):
    return int(s.replace(",", ""))


def read_mail(mail):
    """Every captured alert, as dicts: kind, ip, total, unalerted."""
    alerts = []
    for name in sorted(os.listdir(mail)):
        if not name.endswith(".msg"):
            continue
        text = Daemon.log_text(os.path.join(mail, name))
        subject = re.search(r"^Subject: (.*)$", text, re.M)
        subject = subject.group(1) if subject else ""
        m = re.match(r"klaxon: virus from internal host (\S+) ", subject)
        if m:
            alerts.append(dict(kind="immediate", ip=m.group(1), file=name))
            continue
        m = re.match(r"klaxon: ([\d,]+) infected messages? from internal host (\S+)", subject)
        line = re.search(r"^(\S+): ([\d,]+) infected messages?, .* to .*$", text, re.M)
        if m and line and line.group(1) == m.group(2):
            other = re.search(r"the other ([\d,]+) had none", text)
            total = number(line.group(2))
            alerts.append(dict(kind="summary", ip=m.group(2), total=total, file=name,
                               subject_total=number(m.group(1)),
                               unalerted=number(other.group(1)) if other else total))
            continue
        alerts.append(dict(kind="other", ip=None, file=name, subject=subject))
    return alerts


def wait_for_summaries(mail, ips, deadline):
    while time.time() < deadline:
        have = {a["ip"] for a in read_mail(mail) if a["kind"] == "summary"}
        if all(ip in have for ip in ips):
            return True
        time.sleep(0.5)
    return False


def check_source(alerts, ip, expected, what, windows):
    mine = [a for a in alerts if a["ip"] == ip]
    immediate = [a for a in mine if a["kind"] == "immediate"]
    summaries = [a for a in mine if a["kind"] == "summary"]
    tap(len(immediate) == 1, "%s: exactly one immediate alert" % what, "%d" % len(immediate))
    tap(len(immediate) <= windows and len(summaries) <= windows and len(mine) <= 2 * windows,
        "%s: %d alert mails for %d window(s), at most one immediate plus one summary each" %
        (what, len(mine), windows), "%d immediate, %d summaries" % (len(immediate), len(summaries)))
    totals = sum(a["total"] for a in summaries)
    unalerted = sum(a["unalerted"] for a in summaries)
    tap(unalerted + len(immediate) == expected and totals == expected and
        all(a["subject_total"] == a["total"] for a in summaries),
        "%s: summaries count %s, %s of them without an alert of their own: + %d immediate = %d" %
        (what, format(totals, ","), format(unalerted, ","), len(immediate), expected),
        "totals %s" % [a["total"] for a in summaries])


def count_kq(work):
    q = os.path.join(work, "q")
    return len([n for n in os.listdir(q) if n.endswith(".kq")]) if os.path.isdir(q) else 0


def counted_lines(text, ip):
    return len(re.findall(r"client=%s origin=internal .* alert=counted " % re.escape(ip), text))


def run(work):
    conf, mail = setup(work)
    d = Daemon(work, conf)
    daemons.append(d)
    if not tap(d.start(), "daemon starts (%s, alert_window = %d)" % (os.path.relpath(BIN, REPO), WINDOW),
               d.all_logs()[-500:]):
        return

    # The restart first: its window then ends while the flood's is still open, and the
    # whole run takes about one window.
    t1 = time.time()
    ok1, why1 = load(work, RESTART_IP, RESTART_HALF, "before")
    rc = d.stop()
    tap(rc == 0, "restart: SIGTERM stops the daemon cleanly mid-window", "exit status %s" % rc)
    started = d.start()
    ok2, why2 = load(work, RESTART_IP, RESTART_HALF, "after") if started else (False, "no daemon")
    tap(ok1 and started and ok2, "restart: %d messages from %s before and %d after a restart" %
        (RESTART_HALF, RESTART_IP, RESTART_HALF), why1 or why2 or d.all_logs()[-500:])
    restart_s = time.time() - t1
    restart_windows = int(restart_s // WINDOW) + 1

    # The flood.
    kq_before = count_kq(work)
    t0 = time.time()
    ok, why = load(work, FLOOD_IP, MESSAGES, "flood")
    flood_s = time.time() - t0
    tap(ok, "flood: %s EICAR messages from %s discarded in %.1f s" % (format(MESSAGES, ","), FLOOD_IP, flood_s),
        why)
    kq = count_kq(work) - kq_before
    tap(kq == MESSAGES, "flood: every message has its quarantine copy", "%d .kq files" % kq)
    n = counted_lines(d.all_logs(), FLOOD_IP)
    tap(n == MESSAGES - 1, "flood: the log says alert=counted for all but the first", "%d lines" % n)
    if flood_s >= WINDOW:
        print("# the flood took longer than alert_window: raise ALERTS_WINDOW", flush=True)
    flood_windows = int(flood_s // WINDOW) + 1

    # Both windows end; their summaries go out within a round or two.
    got = wait_for_summaries(mail, [FLOOD_IP, RESTART_IP], max(t0, t1) + WINDOW + 20)
    tap(got, "a summary for each source arrives after its window ends")
    time.sleep(3)  # room for a duplicate to show itself
    alerts = read_mail(mail)
    check_source(alerts, FLOOD_IP, MESSAGES, "flood", flood_windows)
    check_source(alerts, RESTART_IP, 2 * RESTART_HALF, "restart", restart_windows)
    strays = [a for a in alerts if a["kind"] == "other"]
    tap(not strays, "no other mail", str(strays[:3]))
    n = counted_lines(d.all_logs(), RESTART_IP)
    tap(n == 2 * RESTART_HALF - 1, "restart: alert=counted for all but the first, across both daemons",
        "%d lines" % n)

    tap(d.running(), "the daemon is still running")
    spooled = [n for n in os.listdir(os.path.join(work, "alerts")) if n.endswith(".alert")]
    tap(not spooled, "nothing left in the alert spool", str(spooled))
    rc = d.stop()
    tap(rc == 0, "the daemon stops cleanly", "exit status %s" % rc)
    reports = [line for line in d.all_logs().splitlines() if SANITIZER.search(line)]
    tap(not reports, "no sanitizer report in the daemon's logs", "; ".join(reports[:3]))


def main():
    if not os.access(BIN, os.X_OK):
        print("not ok 1 - no klaxon binary at %s (build it, or set KLAXON_BIN)" % BIN)
        return 1
    if not os.access(LOAD, os.X_OK):
        subprocess.call(["make", "-s", "-C", os.path.join(REPO, "bench")])
    if not os.access(LOAD, os.X_OK):
        print("not ok 1 - no load client at %s (make -C bench)" % LOAD)
        return 1
    work = tempfile.mkdtemp(prefix="klaxon-alerts.")
    os.chmod(work, 0o755)
    keep = os.environ.get("ALERTS_KEEP") == "1"
    started = time.time()
    try:
        run(work)
    finally:
        for d in daemons:
            if d.running():
                d.proc.kill()
                d.proc.wait()
        if keep:
            print("# work dir kept: %s" % work, file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    failed = results.count(False)
    print("# %d passed, %d failed in %.0f s" % (len(results) - failed, failed, time.time() - started))
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())
