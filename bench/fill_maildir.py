#!/usr/bin/env python3
"""Fills a Maildir folder fast by writing message files straight into cur/.

    fill_maildir.py DIR COUNT [--owner UID:GID] [--tag TAG]

DIR is a Maildir folder (the one holding cur/ new/ tmp/; created when missing). Each message
is a plain, slightly different ~1.3 KB office mail, already seen, dated over the last year.
File names carry S= (size) and W= (size with CRLF line ends) so that Dovecot need not read the
files to learn their sizes. Dovecot does not know about them until its index is synced:
run `doveadm force-resync -u USER FOLDER` afterwards.
"""

import argparse
import os
import random
import time
from email.utils import formatdate

SUBJECTS = [
    "Invoice for last month", "Meeting notes", "Re: delivery schedule", "Order confirmation",
    "Weekly report", "Re: Re: quotation", "Newsletter", "Your parcel is on its way",
]
BODY = (
    "Dear colleague,\n\n"
    + "Please find the details of the matter below. Thank you for your continued support.\n" * 12
    + "\nBest regards,\nThe office\n"
)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("count", type=int)
    ap.add_argument("--owner", default="8:8")
    ap.add_argument("--tag", default="fill")
    a = ap.parse_args()
    uid, gid = (int(x) for x in a.owner.split(":"))
    rnd = random.Random(42)
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(a.dir, sub), exist_ok=True)
        os.chown(os.path.join(a.dir, sub), uid, gid)
    os.chown(a.dir, uid, gid)
    cur = os.path.join(a.dir, "cur")
    now = int(time.time())
    start = now - 365 * 86400
    step = max(1, (365 * 86400) // max(1, a.count))
    host = "bench"
    for i in range(a.count):
        ts = start + i * step
        msg = (
            f"From: Sender {i % 97} <sender{i % 97}@customer{i % 13}.example>\n"
            f"To: office@example.test\n"
            f"Subject: {SUBJECTS[i % len(SUBJECTS)]} #{i}\n"
            f"Date: {formatdate(ts)}\n"
            f"Message-ID: <{a.tag}-{i}-{rnd.getrandbits(48):x}@customer.example>\n"
            f"MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n"
            f"{BODY}"
        ).encode()
        size = len(msg)
        vsize = size + msg.count(b"\n")
        name = f"{ts}.M{i}P{os.getpid()}.{host},S={size},W={vsize}:2,S"
        path = os.path.join(cur, name)
        with open(path, "wb") as f:
            f.write(msg)
        os.utime(path, (ts, ts))
        os.chown(path, uid, gid)


if __name__ == "__main__":
    main()
