#!/usr/bin/env python3
"""Hold one SMTP session open across an event (used by test_reload.sh).

Usage: smtp_hold.py PORT SOURCE_IP RCPT TOKEN READY_FILE GO_FILE OUT_FILE

Connects to 127.0.0.1:PORT from SOURCE_IP, sends EHLO, MAIL FROM and RCPT TO,
creates READY_FILE, then waits (30 s max) for GO_FILE to exist before it sends
a small clean message with TOKEN in it. The reply to the end of DATA, e.g.
"250 2.0.0 Ok: queued as ...", is written to OUT_FILE ("ERROR ..." on any
failure). For Postfix this means the milter connection that smtpd opened at
connect time is used again after the event.
"""
import os
import smtplib
import sys
import time


def main():
    port, src, rcpt, token, ready, go, out = sys.argv[1:8]
    result = "ERROR no result"
    try:
        s = smtplib.SMTP("127.0.0.1", int(port), timeout=60, source_address=(src, 0))
        s.ehlo("held.test")
        code, msg = s.mail("held@outside.test")
        if code != 250:
            raise RuntimeError("MAIL FROM: %d %s" % (code, msg.decode()))
        code, msg = s.rcpt(rcpt)
        if code != 250:
            raise RuntimeError("RCPT TO: %d %s" % (code, msg.decode()))
        open(ready, "w").close()
        deadline = time.time() + 30
        while not os.path.exists(go):
            if time.time() > deadline:
                raise RuntimeError("no go file within 30 s")
            time.sleep(0.05)
        body = "Subject: held %s\r\nFrom: held@outside.test\r\nTo: %s\r\n\r\nheld %s\r\n" % (
            token, rcpt, token)
        try:
            code, msg = s.data(body)
        except smtplib.SMTPDataError as e:
            code, msg = e.smtp_code, e.smtp_error
        result = "%d %s" % (code, msg.decode(errors="replace"))
        s.quit()
    except Exception as e:  # any failure is a result to report
        result = "ERROR %s" % e
    with open(out, "w") as f:
        f.write(result + "\n")


if __name__ == "__main__":
    main()
