#!/usr/bin/env python3
"""The floor: the least a client can do for one e-mail round trip, with the standard library.

Submits one message over SMTP with STARTTLS and AUTH, then logs in over IMAP with implicit TLS,
selects INBOX, looks for the message among its newest ten every 10 ms until it is there,
deletes it (UID STORE \\Deleted, UID EXPUNGE) and logs out. Nothing
else: no junk folder, no verification beyond the certificate, no history. What it takes is
what the servers need, plus one TLS handshake and one login per side.

    BENCH_PW=... floor.py --host localhost --smtp-port N --imap-port N --ca CA.pem --user ADDR

Prints one JSON line: total_ms (first connect to logout, in-process: the interpreter's start
is not counted), submit_ms, seen_ms (sent -> visible over IMAP), polls. Exit 0 when the
message was seen and removed, 2 when it was not seen within --timeout seconds.
"""

import argparse
import imaplib
import json
import os
import smtplib
import ssl
import sys
import time
import uuid


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="localhost")
    ap.add_argument("--smtp-port", type=int, required=True)
    ap.add_argument("--imap-port", type=int, required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password-env", default="BENCH_PW")
    ap.add_argument("--interval", type=float, default=0.010)
    ap.add_argument("--timeout", type=float, default=30.0)
    a = ap.parse_args()
    password = os.environ[a.password_env]

    t0 = time.perf_counter()
    ctx = ssl.create_default_context(cafile=a.ca)
    token = uuid.uuid4().hex
    msg = (
        f"From: <{a.user}>\r\nTo: <{a.user}>\r\nSubject: floor {token}\r\n"
        f"Message-ID: <{token}@floor.bench>\r\n\r\nround trip floor\r\n"
    )
    with smtplib.SMTP(a.host, a.smtp_port, timeout=a.timeout) as s:
        s.starttls(context=ctx)
        s.login(a.user, password)
        s.sendmail(a.user, [a.user], msg)
        t_sent = time.perf_counter()
        # QUIT is part of the exchange; its reply is awaited by the context manager.
    t_quit = time.perf_counter()

    im = imaplib.IMAP4_SSL(a.host, a.imap_port, ssl_context=ctx, timeout=a.timeout)
    im.login(a.user, password)
    _, data = im.select("INBOX")
    # Only the newest messages are searched (the message can only be among them), so that
    # the search does not grow with the mailbox.
    first = max(1, int(data[0]) - 9)
    polls = 0
    uids: list[bytes] = []
    deadline = t_sent + a.timeout
    while True:
        polls += 1
        typ, data = im.uid("SEARCH", None, f"{first}:*", "HEADER", "Message-ID",
                           f"<{token}@floor.bench>")
        uids = data[0].split() if typ == "OK" and data and data[0] else []
        if uids or time.perf_counter() > deadline:
            break
        time.sleep(a.interval)
    t_seen = time.perf_counter()
    if uids:
        uid_set = b",".join(uids).decode()
        im.uid("STORE", uid_set, "+FLAGS.SILENT", r"(\Deleted)")
        im.uid("EXPUNGE", uid_set)
    im.logout()
    t_end = time.perf_counter()

    print(json.dumps({
        "ok": bool(uids),
        "total_ms": round((t_end - t0) * 1000, 2),
        "submit_ms": round((t_sent - t0) * 1000, 2),
        "quit_ms": round((t_quit - t_sent) * 1000, 2),
        "seen_ms": round((t_seen - t_sent) * 1000, 2),
        "polls": polls,
    }))
    return 0 if uids else 2


if __name__ == "__main__":
    sys.exit(main())
