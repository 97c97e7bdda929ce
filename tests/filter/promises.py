#!/usr/bin/env python3
"""tests/filter/promises.py: what klaxon keeps whatever a filter says, through `klaxon check`.

Each case writes a small filter, runs `klaxon check --json` on one message and
checks the decision, the quarantine copy and the notices. Run by
tests/filter/run.sh after the equivalence test; TAP lines "ok N - ..." /
"not ok N - ...". KLAXON_BIN selects the binary (default build/klaxon).
"""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import equivalence as eq  # noqa: E402  (the same config writer and check runner)

CLEAN = (b"From: a@outside.example.net\r\nTo: bob@example.test\r\nSubject: hello\r\n\r\n"
         b"just text\r\n")

# (name, filter source, expected action, copy kept?, notices sent, notices refused)
CASES = [
    ("an early discard refuses a sender notice queued by an accepting filter",
     'function filter_sender(s) return "discard" end\n'
     'function filter_end(msg) action_notify_sender("hello") action_accept() end\n',
     "discard", True, 0, 1),
    ("the same notice goes out when nothing discards (the control)",
     'function filter_end(msg) action_notify_sender("hello") action_accept() end\n',
     "accept", False, 1, 0),
]


def main():
    klaxon = os.path.abspath(os.environ.get("KLAXON_BIN", os.path.join(eq.REPO, "build", "klaxon")))
    work = tempfile.mkdtemp(prefix="klaxon-promises-")
    failed = 0
    try:
        msg = os.path.join(work, "clean.eml")
        with open(msg, "wb") as f:
            f.write(CLEAN)
        for n, (name, src, action, copy, sent, refused) in enumerate(CASES, 1):
            cdir = os.path.join(work, "case%d" % n)
            os.makedirs(cdir)
            flt = os.path.join(cdir, "filter.lua")
            with open(flt, "w") as f:
                f.write(src)
            out, why = eq.run_check(klaxon, cdir, eq.write_conf(cdir, {}, flt), eq.EXT_IP, msg)
            if out is not None:
                got = (out["action"], out["quarantine_id"] is not None,
                       out["filter"]["notices_sent"], out["filter"]["notices_refused"])
                want = (action, copy, sent, refused)
                why = None if got == want else "got %r, want %r" % (got, want)
            print("%s %d - %s%s" % ("ok" if why is None else "not ok", n, name,
                                     "" if why is None else ": " + why))
            failed += why is not None
        print("1..%d" % len(CASES))
    finally:
        if os.environ.get("KLAXON_FILTER_KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
