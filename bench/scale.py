#!/usr/bin/env python3
"""Runs `mailcanary run` over N harness mailboxes and measures it in its steady state.
Started by bench/scale, which builds mailcanary, starts the mail server and adds the
mailboxes; see there.

For each run: start `mailcanary run` (release build) on a fresh data directory; wait until
every mailbox has finished its first check (the warm-up: the leftover sweep, the first
logins, the first IDLE watches); then measure a window of --window seconds:

  checks/s    checks that started and ended inside the window, per second
  ok          how many of them found mail flowing (every other status is a failure here)
  p50, p95    their round trips (duration_ms as recorded in the history)
  CPU         user + system time of the process during the window, as % of one core
  CPU/check   that CPU time divided by the checks in the window
  RSS         the largest resident size sampled once a second in the window, and the
              process's peak (VmHWM) over the whole run, warm-up included
  wake-ups/s  context switches of all its threads during the window, per second
"""

import argparse
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import time


def threads_switches(pid):
    """Context switches so far of each thread: {tid: count}."""
    counts = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                counts[tid] = sum(int(line.split()[1]) for line in f if line.startswith(
                    ("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")))
        except (FileNotFoundError, ProcessLookupError):
            pass  # a thread that just ended
    return counts


class Switches:
    """Context switches of a process over a window, threads that come and go included: a
    thread's count is read at every sample, so one that ends keeps its last reading (what it
    did after that reading, and threads living less than a sample, are missed)."""

    def __init__(self, pid):
        self.pid = pid
        self.base = threads_switches(pid)
        self.last = dict(self.base)

    def sample(self):
        self.last.update(threads_switches(self.pid))

    def total(self):
        return sum(v - self.base.get(tid, 0) for tid, v in self.last.items())


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is the state (field 3); utime and stime are fields 14 and 15
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def status_kb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def db_query(path, sql, args=()):
    # The monitor holds the database open; a reader may meet a write in progress.
    for _ in range(50):
        try:
            con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
            try:
                return con.execute(sql, args).fetchall()
            finally:
                con.close()
        except sqlite3.OperationalError:
            time.sleep(0.1)
    raise RuntimeError(f"cannot read {path}")


def percentile(values, p):
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(p / 100 * (len(s) - 1))))
    return s[k]


def run_one(a):
    os.makedirs(a.data_dir, exist_ok=True)
    db = os.path.join(a.data_dir, "history.sqlite3")
    cmd = [a.mailcanary, "--config", a.config, "--data-dir", a.data_dir, "--lang", "en",
           "run", "--interval", str(a.interval), "--attachments-every", "off"]
    if a.no_watch:
        cmd.append("--no-watch")
    log = open(a.log, "w")
    started = time.monotonic()
    p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        # Warm-up: every mailbox has finished its first check.
        deadline = started + a.warmup_limit
        while True:
            if p.poll() is not None:
                raise RuntimeError(f"mailcanary run exited with {p.returncode}; see {a.log}")
            done = 0
            if os.path.exists(db):
                done = db_query(db, "select count(distinct mailbox) from checks")[0][0]
            if done >= a.mailboxes:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {done} of {a.mailboxes} mailboxes checked after "
                                   f"{a.warmup_limit} s; see {a.log}")
            time.sleep(0.5)
        warmup_s = time.monotonic() - started
        # The window.
        t0_ms = int(time.time() * 1000)
        t0 = time.monotonic()
        cpu0 = cpu_seconds(p.pid)
        switches = Switches(p.pid)
        rss_max = 0
        while time.monotonic() - t0 < a.window:
            rss_max = max(rss_max, status_kb(p.pid, "VmRSS"))
            switches.sample()
            time.sleep(1)
        cpu1 = cpu_seconds(p.pid)
        switches.sample()
        t1 = time.monotonic()
        t1_ms = int(time.time() * 1000)
        rss_max = max(rss_max, status_kb(p.pid, "VmRSS"))
        hwm = status_kb(p.pid, "VmHWM")
        threads = len(os.listdir(f"/proc/{p.pid}/task"))
        fds = len(os.listdir(f"/proc/{p.pid}/fd"))
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        log.close()
    rows = db_query(db, "select duration_ms, status from checks "
                        "where started_at_ms >= ? and started_at_ms + duration_ms <= ?",
                    (t0_ms, t1_ms))
    span = t1 - t0
    durations = [r[0] for r in rows]
    failed = [r[1] for r in rows if r[1] != "ok"]
    cpu = cpu1 - cpu0
    return {
        "mailboxes": a.mailboxes,
        "interval_s": a.interval,
        "watch": not a.no_watch,
        "warmup_s": round(warmup_s, 1),
        "window_s": round(span, 1),
        "checks": len(rows),
        "failed": len(failed),
        "failed_statuses": sorted(set(failed)),
        "checks_per_s": round(len(rows) / span, 3),
        "p50_ms": statistics.median(durations) if durations else None,
        "p95_ms": percentile(durations, 95),
        "cpu_percent": round(100 * cpu / span, 2),
        "cpu_ms_per_check": round(1000 * cpu / len(rows), 2) if rows else None,
        "rss_max_mb": round(rss_max / 1024, 1),
        "peak_rss_mb": round(hwm / 1024, 1),
        "wakeups_per_s": round(switches.total() / span, 1),
        "threads": threads,
        "fds": fds,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mailcanary", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--mailboxes", type=int, required=True)
    ap.add_argument("--interval", type=int, default=60)
    ap.add_argument("--window", type=int, default=120)
    ap.add_argument("--warmup-limit", type=int, default=900)
    ap.add_argument("--no-watch", action="store_true")
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    result = run_one(a)
    print(json.dumps(result), flush=True)
    if result["failed"]:
        print(f"scale.py: {result['failed']} checks failed: {result['failed_statuses']}",
              file=sys.stderr)


if __name__ == "__main__":
    main()
