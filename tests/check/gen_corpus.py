#!/usr/bin/env python3
"""Generate the binary-derived test messages for tests/check at test time.

usage: gen_corpus.py OUTDIR

The clamav-testfiles samples (all of them unpack to clam.exe, which
tests/sigs knows as Klaxon.Test.ClamExe) are attached, base64-encoded, to
messages built with the email package, so no binary is ever committed.
Also writes the large messages the size-limit cases need.

Every file name written is printed, one per line.
"""
import os
import sys
from email.message import EmailMessage
from email.policy import SMTP, default

TESTFILES = "/usr/share/clamav-testfiles"
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"

# file in clamav-testfiles -> (MIME type, line ending of the generated message)
ATTACHMENTS = {
    "clam.zip": ("application/zip", "\n"),
    "clam.7z": ("application/x-7z-compressed", "\r\n"),
    "clam.cab": ("application/vnd.ms-cab-compressed", "\n"),
    "clam.tar.gz": ("application/gzip", "\r\n"),
    "clam.exe.bz2": ("application/x-bzip2", "\n"),
}


def base_message(subject, msgid):
    m = EmailMessage()
    m["From"] = "Eve <eve@example.net>"
    m["To"] = "Bob <bob@example.test>"
    m["Subject"] = subject
    m["Date"] = "Mon, 02 Jan 2023 12:00:00 +0000"
    m["Message-ID"] = "<%s@example.net>" % msgid
    return m


def serialise(m, linesep):
    pol = SMTP if linesep == "\r\n" else default
    return m.as_bytes(policy=pol.clone(linesep=linesep, max_line_length=78))


def write(outdir, name, data):
    path = os.path.join(outdir, name)
    with open(path, "wb") as f:
        f.write(data)
    print(path)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gen_corpus.py OUTDIR")
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)

    for sample, (ctype, linesep) in ATTACHMENTS.items():
        with open(os.path.join(TESTFILES, sample), "rb") as f:
            payload = f.read()
        m = base_message("your files: " + sample, "gen-" + sample)
        m.set_content("The file you asked for is attached.\n")
        maintype, subtype = ctype.split("/")
        m.add_attachment(payload, maintype=maintype, subtype=subtype, filename=sample)
        write(outdir, "attach-%s.eml" % sample.replace(".", "-"), serialise(m, linesep))

    # Two different viruses: EICAR in the text part, clam.exe as an attachment.
    with open(os.path.join(TESTFILES, "clam.exe"), "rb") as f:
        clam = f.read()
    m = base_message("two for the price of one", "gen-two-viruses")
    m.set_content("Inline test string:\n" + EICAR.decode() + "\n")
    m.add_attachment(clam, maintype="application", subtype="x-msdownload", filename="clam.exe")
    write(outdir, "two-viruses.eml", serialise(m, "\n"))

    # The same virus twice (clam.zip and clam.7z): one name in the verdict.
    m = base_message("two archives", "gen-zip-and-7z")
    m.set_content("Two archives, one payload.\n")
    for sample, ctype in (("clam.zip", "application/zip"), ("clam.7z", "application/x-7z-compressed")):
        with open(os.path.join(TESTFILES, sample), "rb") as f:
            m.add_attachment(f.read(), maintype=ctype.split("/")[0], subtype=ctype.split("/")[1],
                             filename=sample)
    write(outdir, "zip-and-7z.eml", serialise(m, "\n"))

    # About 5 KiB of clean text (over max_message_size = 1K).
    m = base_message("a long clean letter", "gen-big-clean")
    line = "All work and no play makes Jack a dull boy. 0123456789\n"
    m.set_content(line * 95)
    write(outdir, "big-clean-5k.eml", serialise(m, "\n"))

    # About 5 KiB with EICAR at the very end (over memory_spool_limit = 1K).
    m = base_message("a long letter with a sting", "gen-big-eicar")
    m.set_content(line * 90 + EICAR.decode() + "\n")
    write(outdir, "big-eicar-5k.eml", serialise(m, "\n"))


    # Exactly at and one byte over max_message_size = 1K.
    for n in (1024, 1025):
        head = b"Subject: %d bytes\n\n" % n
        write(outdir, "exact-%d.eml" % n, head + b"a" * (n - len(head) - 1) + b"\n")

    # About 256 KiB, read in several chunks, with EICAR across a 64 KiB
    # boundary (262144) and more text after it.
    head = b"Subject: a very long letter\n\n" + (b"x" * 70 + b"\n") * 3000
    pad = 262144 - len(head) - 30
    write(outdir, "big-eicar-256k.eml", head + b"y" * (pad - 1) + b"\n" + EICAR + b"\n" + b"z" * 999 + b"\n")


if __name__ == "__main__":
    main()
