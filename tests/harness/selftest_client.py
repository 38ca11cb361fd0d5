#!/usr/bin/env python3
"""Small IMAP/POP3/TLS probes for tests/harness/selftest.sh.

Every command prints one line that the shell test greps, and never raises:
    imap MODE PORT USER PASSWORD      MODE: starttls | plain | ssl
    imapcaps PORT                     capabilities after STARTTLS login-less
    imaplist PORT USER PASSWORD       LIST output (raw) after STARTTLS login
    pop3 MODE PORT USER PASSWORD      MODE: stls | ssl
    tls PORT HOSTNAME                 verify the certificate against MS_CA_FILE
The password is read from the environment variable named by PASSWORD when it
starts with "env:", so that it never shows in the process list.
"""
import imaplib
import os
import poplib
import socket
import ssl
import sys
import time

HOST = "127.0.0.1"


def ctx(hostname_check=True):
    c = ssl.create_default_context(cafile=os.environ["MS_CA_FILE"])
    c.check_hostname = hostname_check
    return c


def secret(arg):
    return os.environ[arg[4:]] if arg.startswith("env:") else arg


def imap(mode, port, user, pw):
    t0 = time.monotonic()
    try:
        if mode == "ssl":
            c = imaplib.IMAP4_SSL(HOST, port, ssl_context=ctx(), timeout=10)
        else:
            c = imaplib.IMAP4(HOST, port, timeout=10)
            if mode == "starttls":
                c.starttls(ssl_context=ctx())
        try:
            typ, data = c.login(user, pw)
            res = "OK " + data[0].decode()
            c.logout()
        except imaplib.IMAP4.error as e:
            res = "NO " + str(e)
    except Exception as e:  # noqa: BLE001 - report anything
        res = "ERROR %s: %s" % (type(e).__name__, e)
    print("%s (%.3fs)" % (res, time.monotonic() - t0))


def imapcaps(port):
    c = imaplib.IMAP4(HOST, port, timeout=10)
    c.starttls(ssl_context=ctx())
    typ, data = c.capability()
    print(data[0].decode())


def imaplist(port, user, pw):
    c = imaplib.IMAP4(HOST, port, timeout=10)
    c.starttls(ssl_context=ctx())
    c.login(user, pw)
    typ, caps = c.capability()
    typ, data = c.list()
    print(caps[0].decode())
    for line in data:
        print(line.decode())
    c.logout()


def pop3(mode, port, user, pw):
    try:
        if mode == "ssl":
            p = poplib.POP3_SSL(HOST, port, context=ctx(), timeout=10)
        else:
            p = poplib.POP3(HOST, port, timeout=10)
            p.stls(context=ctx())
        p.user(user)
        try:
            p.pass_(pw)
            print("OK", p.stat())
            p.quit()
        except poplib.error_proto as e:
            print("ERR", e.args[0].decode(errors="replace"))
    except Exception as e:  # noqa: BLE001
        print("ERROR %s: %s" % (type(e).__name__, e))


def tls(port, hostname):
    try:
        with socket.create_connection((HOST, port), timeout=10) as s:
            with ctx().wrap_socket(s, server_hostname=hostname) as t:
                print("VERIFIED", t.version())
    except ssl.SSLCertVerificationError as e:
        print("REJECTED", e.verify_message)
    except Exception as e:  # noqa: BLE001
        print("ERROR %s: %s" % (type(e).__name__, e))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "imap":
        imap(args[0], int(args[1]), args[2], secret(args[3]))
    elif cmd == "imapcaps":
        imapcaps(int(args[0]))
    elif cmd == "imaplist":
        imaplist(int(args[0]), args[1], secret(args[2]))
    elif cmd == "pop3":
        pop3(args[0], int(args[1]), args[2], secret(args[3]))
    elif cmd == "tls":
        tls(int(args[0]), args[1])
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
