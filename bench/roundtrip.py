#!/usr/bin/env python3
"""Times complete e-mail round trips against a running harness instance, contenders
interleaved, and prints medians and ratios. Started by bench/run, which builds mailcanary,
starts the mail server, adds the mailboxes and writes the config; see there.

Contenders, each a whole process timed from spawn to exit (wall clock):
  mailcanary  `mailcanary check office --json` (release build)
  floor       bench/floor.py (stdlib smtplib + imaplib); its in-process time is the floor
  ced-w1      check_email_delivery --wait 1
  ced-default check_email_delivery at its default wait (5 s)
and, for the mailbox-size part, `mailcanary check small` against `mailcanary check big`, with
the floor on the same two mailboxes as a control; all of that twice, with the mailboxes stored
as Maildir (small, big) and as mdbox (smalldb, bigdb).

Every run must succeed (exit 0 and an OK answer); a failed run is counted and left out.
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time

CED = "/usr/lib/nagios/plugins/check_email_delivery"


def load_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if "=" in line:
                k, v = line.split("=", 1)
                env[k] = v
    return env


class Bench:
    def __init__(self, a):
        self.a = a
        self.ms = load_env(a.env)
        self.samples = {}   # name -> list of dicts (wall_ms and extra figures)
        self.failures = {}  # name -> list of short reasons
        self.pw = os.environ["BENCH_PW"]

    # ------------------------------------------------------------ contenders --

    def mailcanary(self, mailbox):
        cmd = [self.a.mailcanary, "--config", self.a.config, "--data-dir", self.a.data_dir,
               "--lang", "en", "check", mailbox, "--json"]

        def judge(p):
            if p.returncode != 0:
                return None, f"exit {p.returncode}: {p.stdout.strip()[:200]}"
            r = json.loads(p.stdout.splitlines()[-1])
            if r.get("status") != "ok" or not r["canary"].get("cleaned"):
                return None, f"status {r.get('status')}: {r.get('summary')}"
            extra = {"duration_ms": r["duration_ms"], "latency_ms": r["canary"]["latency_ms"]}
            for s in r["stages"]:
                key = s["stage"] + (f"/{s['protocol']}" if s.get("protocol") else "")
                extra["stage:" + key] = extra.get("stage:" + key, 0) + s["ms"]
            # IMAP and SMTP connect and log in side by side; the rest follows in turn. What
            # the stages leave of duration_ms is the quota and notice reads and the logout.
            st = lambda k: extra.get("stage:" + k, 0)
            pre = max(sum(st(f"{x}/imap") for x in ("dns", "connect", "tls", "auth")),
                      sum(st(f"{x}/smtp") for x in ("dns", "connect", "tls", "auth")))
            path = pre + st("send/smtp") + st("receive/imap") + st("verify/imap") + st("cleanup/imap")
            extra["after cleanup"] = r["duration_ms"] - path
            return extra, None
        return cmd, os.environ.copy(), judge

    def floor(self, address=None):
        cmd = [sys.executable, self.a.floor, "--host", "localhost",
               "--smtp-port", self.ms["MS_SMTP_PORT"], "--imap-port", self.ms["MS_IMAPS_PORT"],
               "--ca", self.ms["MS_CA_FILE"], "--user", address or self.a.address]

        def judge(p):
            if p.returncode != 0:
                return None, f"exit {p.returncode}: {p.stderr.strip()[-200:]}"
            r = json.loads(p.stdout.splitlines()[-1])
            return {"inproc_ms": r["total_ms"], "seen_ms": r["seen_ms"]}, None
        return cmd, os.environ.copy(), judge

    def ced(self, wait):
        # The harness CA is trusted through SSL_CERT_FILE, which IO::Socket::SSL reads for
        # both check_smtp_send (Net::SMTP::TLS) and check_imap_receive; nothing is skipped.
        cmd = [CED, "-H", "localhost",
               "--smtp-port", self.ms["MS_SMTP_PORT"], "--smtptls",
               "--imap-port", self.ms["MS_IMAPS_PORT"], "--imapssl",
               "--mailto", self.a.address, "--mailfrom", self.a.address,
               "--username", self.a.address, "--password", self.pw]
        if wait is not None:
            cmd += ["--wait", str(wait)]
        env = os.environ.copy()
        env["SSL_CERT_FILE"] = self.ms["MS_CA_FILE"]

        def judge(p):
            out = p.stdout.strip()
            if p.returncode != 0 or not out.startswith("EMAIL DELIVERY OK"):
                return None, f"exit {p.returncode}: {out[:200].replace(self.pw, '***')}"
            return {}, None
        return cmd, env, judge

    # ---------------------------------------------------------------- timing --

    def run(self, name, spec, record=True):
        cmd, env, judge = spec
        t0 = time.perf_counter()
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        wall = (time.perf_counter() - t0) * 1000
        extra, err = judge(p)
        if not record:
            if err:
                print(f"  warm-up {name} failed: {err}", file=sys.stderr)
            return wall
        if err:
            self.failures.setdefault(name, []).append(err)
            return None
        self.samples.setdefault(name, []).append({"wall_ms": wall, **extra})
        return wall

    def med(self, name, field="wall_ms"):
        xs = [s[field] for s in self.samples.get(name, []) if field in s]
        return statistics.median(xs) if xs else float("nan")

    def n(self, name):
        return len(self.samples.get(name, []))

    # ---------------------------------------------------------------- parts --

    def round_trips(self, rounds, pairs, rnd):
        specs = {
            "mailcanary": lambda: self.mailcanary("office"),
            "floor": self.floor,
            "ced-w1": lambda: self.ced(1),
            "ced-default": lambda: self.ced(None),
        }
        for name, mk in specs.items():        # warm-up: caches, first TLS session, history db
            self.run(name, mk(), record=False)
        self.paired = {"mc/floor": [], "mc/floor-inproc": [], "w1/mc": [], "w5/mc": []}
        for r in range(rounds):
            # one round: `pairs` back-to-back (mailcanary, floor) pairs, each pair in random
            # order, with the two check_email_delivery runs at random places between them
            slots = ["pair"] * pairs + ["ced-w1", "ced-default"]
            rnd.shuffle(slots)
            mc_walls = []
            slow = {}
            for slot in slots:
                if slot == "pair":
                    order = ["mailcanary", "floor"]
                    rnd.shuffle(order)
                    got = {o: self.run(o, specs[o]()) for o in order}
                    if got["mailcanary"] and got["floor"]:
                        self.paired["mc/floor"].append(got["mailcanary"] / got["floor"])
                        inproc = self.samples["floor"][-1]["inproc_ms"]
                        self.paired["mc/floor-inproc"].append(got["mailcanary"] / inproc)
                    if got["mailcanary"]:
                        mc_walls.append(got["mailcanary"])
                else:
                    slow[slot] = self.run(slot, specs[slot]())
            # the slow tool against this round's mailcanary median
            if mc_walls:
                m = statistics.median(mc_walls)
                if slow.get("ced-w1"):
                    self.paired["w1/mc"].append(slow["ced-w1"] / m)
                if slow.get("ced-default"):
                    self.paired["w5/mc"].append(slow["ced-default"] / m)
            last = lambda k, f="wall_ms": (self.samples.get(k) or [{}])[-1].get(f, float("nan"))
            print(f"  round {r + 1}/{rounds}: mailcanary {last('mailcanary'):.0f} ms,"
                  f" floor {last('floor', 'inproc_ms'):.0f} ms in-process,"
                  f" ced --wait 1 {last('ced-w1'):.0f} ms", file=sys.stderr)

    def sizes(self, rounds, pairs, rnd):
        domain = self.a.address.split("@", 1)[1]
        specs = {}
        for box in ("small", "big", "smalldb", "bigdb"):
            specs[box] = (lambda b: lambda: self.mailcanary(b))(box)
            specs[f"floor-{box}"] = (lambda b: lambda: self.floor(f"{b}@{domain}"))(box)
        self.size_cold = {}
        for name in ("small", "big", "smalldb", "bigdb"):  # first check after the fill: not in the medians
            self.size_cold[name] = self.run(f"cold-{name}", specs[name](), record=False)
        for name in specs:
            self.run(name, specs[name](), record=False)
        blocks = [("small", "big", "big/small"),
                  ("floor-small", "floor-big", "floor big/small"),
                  ("smalldb", "bigdb", "bigdb/smalldb"),
                  ("floor-smalldb", "floor-bigdb", "floor bigdb/smalldb")]
        for _, _, key in blocks:
            self.paired[key] = []
        for r in range(rounds):
            for _ in range(pairs):
                # a (small, big) pair for mailcanary and one for the floor, for each storage,
                # each pair in random order, the pairs in random order
                rnd.shuffle(blocks)
                for small, big, key in blocks:
                    order = [small, big]
                    rnd.shuffle(order)
                    got = {o: self.run(o, specs[o]()) for o in order}
                    if got[small] and got[big]:
                        self.paired[key].append(got[big] / got[small])
            print(f"  size round {r + 1}/{rounds}: mailcanary small {self.med('small'):.0f} ms,"
                  f" big {self.med('big'):.0f} ms; mdbox {self.med('smalldb'):.0f} ms,"
                  f" {self.med('bigdb'):.0f} ms (medians so far)", file=sys.stderr)


def fmt_ms(x):
    return f"{x:,.0f} ms" if x >= 100 else f"{x:.1f} ms"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--env", required=True)
    ap.add_argument("--mailcanary", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--floor", required=True)
    ap.add_argument("--address", required=True)
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--size-rounds", type=int, default=7)
    ap.add_argument("--size-pairs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--fill", default="", help="how the big mailbox was filled (for the table)")
    ap.add_argument("--json-out", default="")
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else random.SystemRandom().randrange(1 << 30)
    rnd = random.Random(seed)
    b = Bench(a)

    t0 = time.time()
    print(f"round trips: {a.rounds} rounds x ({a.pairs} mailcanary/floor pairs + 2 check_email_delivery), seed {seed}", file=sys.stderr)
    b.round_trips(a.rounds, a.pairs, rnd)
    print("mailbox size: mailcanary check small vs big", file=sys.stderr)
    b.sizes(a.size_rounds, a.size_pairs, rnd)
    elapsed = time.time() - t0

    mc, fl = b.med("mailcanary"), b.med("floor", "inproc_ms")
    w1, w5 = b.med("ced-w1"), b.med("ced-default")
    sm, bg = b.med("small"), b.med("big")
    smd, bgd = b.med("smalldb"), b.med("bigdb")
    pm = lambda k: statistics.median(b.paired[k]) if b.paired.get(k) else float("nan")

    rows = [
        ("mailcanary check (whole process)", mc, b.n("mailcanary")),
        ("  its own duration_ms (in-process)", b.med("mailcanary", "duration_ms"), b.n("mailcanary")),
        ("  its canary.latency_ms (sent -> seen)", b.med("mailcanary", "latency_ms"), b.n("mailcanary")),
        ("floor.py, in-process (the floor)", fl, b.n("floor")),
        ("floor.py, whole process (with Python start)", b.med("floor"), b.n("floor")),
        ("check_email_delivery --wait 1", w1, b.n("ced-w1")),
        ("check_email_delivery (default wait 5 s)", w5, b.n("ced-default")),
    ]
    for fmt, sfx in (("Maildir", ""), ("mdbox", "db")):
        rows += [
            (f"{fmt}: mailcanary check, 10 messages in INBOX", b.med("small" + sfx), b.n("small" + sfx)),
            (f"{fmt}: mailcanary check, 100,000 in INBOX + 10,000 in Junk", b.med("big" + sfx), b.n("big" + sfx)),
            (f"{fmt}: floor.py whole process, 10 messages in INBOX", b.med("floor-small" + sfx), b.n("floor-small" + sfx)),
            (f"{fmt}: floor.py whole process, 100,000 in INBOX", b.med("floor-big" + sfx), b.n("floor-big" + sfx)),
            (f"{fmt}: floor.py in-process, 10 messages in INBOX", b.med("floor-small" + sfx, "inproc_ms"), b.n("floor-small" + sfx)),
            (f"{fmt}: floor.py in-process, 100,000 in INBOX", b.med("floor-big" + sfx, "inproc_ms"), b.n("floor-big" + sfx)),
        ]
    print()
    print(f"| figure | median | n |")
    print(f"|---|---:|---:|")
    for label, v, n in rows:
        print(f"| {label} | {fmt_ms(v)} | {n} |")
    print()
    ratios = [
        ("check_email_delivery --wait 1 / mailcanary", w1 / mc, pm("w1/mc"), "≥ 10×", w1 / mc >= 10),
        ("check_email_delivery default / mailcanary", w5 / mc, pm("w5/mc"), "—", None),
        ("mailcanary (whole process) / floor (in-process)", mc / fl, pm("mc/floor-inproc"), "≤ 1.5×", mc / fl <= 1.5),
        ("mailcanary / floor, both whole processes", mc / b.med("floor"), pm("mc/floor"), "—", None),
        ("Maildir: big mailbox / small mailbox (mailcanary)", bg / sm, pm("big/small"), "≤ 1.2×", bg / sm <= 1.2),
        ("Maildir: big mailbox / small mailbox (floor, whole process)", b.med("floor-big") / b.med("floor-small"),
         pm("floor big/small"), "—", None),
        ("Maildir: big mailbox / small mailbox (floor, in-process)",
         b.med("floor-big", "inproc_ms") / b.med("floor-small", "inproc_ms"), float("nan"), "—", None),
        ("mdbox: big mailbox / small mailbox (mailcanary)", bgd / smd, pm("bigdb/smalldb"), "≤ 1.2×", bgd / smd <= 1.2),
        ("mdbox: big mailbox / small mailbox (floor, whole process)", b.med("floor-bigdb") / b.med("floor-smalldb"),
         pm("floor bigdb/smalldb"), "—", None),
        ("mdbox: big mailbox / small mailbox (floor, in-process)",
         b.med("floor-bigdb", "inproc_ms") / b.med("floor-smalldb", "inproc_ms"), float("nan"), "—", None),
    ]
    print("| ratio | of medians | median of paired | target | met |")
    print("|---|---:|---:|---|---|")
    for label, r, p, target, met in ratios:
        m = "—" if met is None else ("yes" if met else "**no**")
        ps = "—" if p != p else f"{p:.2f}×"
        print(f"| {label} | {r:.2f}× | {ps} | {target} | {m} |")
    print()
    stage_keys = sorted({k for s in b.samples.get("mailcanary", []) for k in s if k.startswith("stage:")})
    boxes = ("mailcanary", "small", "big", "smalldb", "bigdb")
    print("mailcanary stage timings, medians in ms (office | small | big | mdbox: small | big):")
    for k in stage_keys + ["after cleanup", "duration_ms", "latency_ms"]:
        name = k[6:] if k.startswith("stage:") else k
        print(f"  {name:<16} " + " | ".join(f"{b.med(x, k):7.1f}" for x in boxes))
    print("  (after cleanup: quota, notice scan, logout: duration_ms minus the stages)")
    print("first check after the fill (not in the medians): "
          + ", ".join(f"{k} {v:.0f} ms" for k, v in b.size_cold.items()))
    if a.fill:
        print(f"fill: {a.fill}")
    fails = {k: len(v) for k, v in b.failures.items()}
    print(f"failed runs (left out): {fails if fails else 'none'}")
    for k, v in b.failures.items():
        print(f"  {k}: {v[0]}")
    print(f"measuring took {elapsed:.0f} s; seed {seed}")
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump({"samples": b.samples, "paired": b.paired, "failures": b.failures,
                       "cold": b.size_cold, "seed": seed}, f, indent=1)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
