#!/usr/bin/env python3
"""A tiny stand-in for Dovecot's auth service, for Postfix's smtpd_sasl_type = dovecot.

The e2e tests need SMTP AUTH on the private "mx" Postfix so that klaxon sees the
{auth_authen} macro. Postfix needs a SASL backend for that; Dovecot is not
installed and Cyrus' sasldb needs sasl2-bin. The Dovecot auth protocol (version
1.x, the client side of which is Postfix's xsasl_dovecot_server.c) is a handful
of tab-separated lines, so this script speaks just enough of it:

    server -> VERSION 1 2 / MECH PLAIN plaintext / MECH LOGIN plaintext /
              SPID / CUID / COOKIE / DONE
    client -> VERSION 1 x / CPID pid
    client -> AUTH id MECH service=smtp ... [resp=base64]
    server -> OK id user=NAME | FAIL id | CONT id base64-challenge
    client -> CONT id base64-response

Usage: fake_dovecot_auth.py SOCKET_PATH [USER:PASSWORD ...]
Default account: alice:secret. Listens on a unix socket (mode 0666) until
SIGTERM. Test-only: never use this for anything real.
"""
import base64
import os
import signal
import socketserver
import sys


class Handler(socketserver.StreamRequestHandler):
    accounts = {}

    def send(self, line):
        self.wfile.write((line + "\n").encode())
        self.wfile.flush()

    def handle(self):
        self.send("VERSION\t1\t2")
        self.send("MECH\tPLAIN\tplaintext")
        self.send("MECH\tLOGIN\tplaintext")
        self.send("SPID\t%d" % os.getpid())
        self.send("CUID\t1")
        self.send("COOKIE\t" + "0" * 32)
        self.send("DONE")
        # id -> state for multi-step mechanisms
        pending = {}
        for raw in self.rfile:
            fields = raw.decode(errors="replace").rstrip("\n").split("\t")
            cmd = fields[0]
            if cmd == "AUTH" and len(fields) >= 3:
                rid, mech = fields[1], fields[2].upper()
                resp = None
                for f in fields[3:]:
                    if f.startswith("resp="):
                        resp = f[5:]
                if mech == "PLAIN":
                    if resp is None:
                        pending[rid] = ("PLAIN", [])
                        self.send("CONT\t%s\t" % rid)
                    else:
                        self.finish_plain(rid, resp)
                elif mech == "LOGIN":
                    pending[rid] = ("LOGIN", [])
                    self.send("CONT\t%s\t%s" % (rid, b64("Username:")))
                else:
                    self.send("FAIL\t%s\treason=unsupported mechanism" % rid)
            elif cmd == "CONT" and len(fields) >= 3:
                rid, data = fields[1], fields[2]
                mech, got = pending.get(rid, (None, []))
                if mech == "PLAIN":
                    pending.pop(rid, None)
                    self.finish_plain(rid, data)
                elif mech == "LOGIN":
                    got.append(unb64(data))
                    if len(got) == 1:
                        self.send("CONT\t%s\t%s" % (rid, b64("Password:")))
                    else:
                        pending.pop(rid, None)
                        self.finish(rid, got[0], got[1])
                else:
                    self.send("FAIL\t%s" % rid)
            # VERSION, CPID and anything else need no answer.

    def finish_plain(self, rid, resp):
        parts = unb64(resp).split("\0")
        if len(parts) != 3:
            self.send("FAIL\t%s" % rid)
            return
        self.finish(rid, parts[1], parts[2])

    def finish(self, rid, user, password):
        ok = self.accounts.get(user) == password
        log("auth %s for %r" % ("ok" if ok else "FAILED", user))
        if ok:
            self.send("OK\t%s\tuser=%s" % (rid, user))
        else:
            self.send("FAIL\t%s\tuser=%s" % (rid, user))


def b64(s):
    return base64.b64encode(s.encode()).decode()


def unb64(s):
    try:
        return base64.b64decode(s).decode(errors="replace")
    except ValueError:
        return ""


def log(msg):
    print("fake_dovecot_auth: " + msg, file=sys.stderr, flush=True)


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    path = sys.argv[1]
    accounts = dict(a.split(":", 1) for a in sys.argv[2:]) or {"alice": "secret"}
    Handler.accounts = accounts
    if os.path.exists(path):
        os.unlink(path)
    server = Server(path, Handler)
    os.chmod(path, 0o666)

    def stop(*_):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    log("listening on %s" % path)
    try:
        server.serve_forever()
    finally:
        os.unlink(path)


if __name__ == "__main__":
    main()
