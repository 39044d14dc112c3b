#!/usr/bin/python3
"""soak.py [--minutes 30] — cim under a modest mixed load for a long time, watching every
daemon for slow leaks. Not part of tests/run.sh (it takes half an hour); see
docs/RELIABILITY.md ("Soak").

A cluster of real daemons (2 gateways, 2 im-logic, 1 im-repo, 1 im-task) on real MariaDB,
Redis, etcd and Kafka is started as tests/faults/run.py does (tests/lib/cluster.py), then
for --minutes:
  - single-chat sends: `im-bench p2p` (--pairs pairs at --rate msg/s in all, each pair's
    two clients on different gateways; it checks at the end that every acked message is
    stored once and delivered once);
  - group sends: `im-bench group` (--members members, --group-rate msg/s);
  - connection churn and reads: a thread logs a pool of users in and out over WebSocket
    (hello, a `sync`, close) and reads REST history, about --churn cycles a second.
Every --every seconds (30) it samples each daemon's RSS (VmRSS), open fds (/proc/PID/fd)
and threads (Threads) into RUN/soak.csv (the churn is paused while it samples, so the
fd count does not catch a churn connection half-open).

Checks, for every daemon, the last 3 samples against the first 3 after the warm-up
(--warmup minutes, 5; a third of the run if the run is shorter than 15 minutes):
  RSS (median of 3) grew less than --rss-growth % (10);
  open fds and threads (the fewest of the last 3) are not above the most of the first 3
    (+ --fd-slack, 2, fds: a connection to a peer being re-made is not a leak, and a
    leak is still there three samples on);
  both im-bench runs passed (nothing lost, nothing duplicated).
Prints a table (per daemon: RSS, fds, threads at warm-up end, max, end) and exits 1 if a
check failed. The run folder (logs, CSV, im-bench output) is kept; its path is printed.
"""
import argparse
import csv
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from statistics import median

import websocket

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from cluster import BUILD, Cluster, http, wait_for  # noqa: E402

GW_ENV = {"CIM_SEND_RATE": 100000, "CIM_SEND_BURST": 100000, "CIM_CURSOR_RATE": 100000, "CIM_CURSOR_BURST": 100000}


def proc_stats(pid):
    """(rss_kb, fds, threads) of a live process."""
    rss = threads = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    return rss, len(os.listdir("/proc/%d/fd" % pid)), threads


class Churn(threading.Thread):
    """Users logging in and out (WebSocket hello, a sync, close) and REST history reads.
    `pause` is held for each cycle, so a sampler holding it sees no churn connection."""

    def __init__(self, gws, users, per_s, stop):
        super().__init__(daemon=True)
        self.gws, self.per_s, self.stop = gws, per_s, stop
        self.pause = threading.Lock()
        self.cycles = self.errors = 0
        self.users = []
        tag = "%x" % random.getrandbits(24)
        for i in range(users):
            name = "soak_%s_%d" % (tag, i)
            st, body = http("POST", gws[0] + "/api/register", {"username": name, "password": "correct horse battery"})
            assert st == 201, body
            st, body = http("POST", gws[0] + "/api/login", {"username": name, "password": "correct horse battery"})
            assert st == 200, body
            self.users.append((body["token"], body["user_id"]))
        # every user has one conversation to read: user i wrote to user i+1 once
        self.cids = []
        for i, (tok, uid) in enumerate(self.users):
            peer = self.users[(i + 1) % users][1]
            self.cids.append("s_%d_%d" % (min(uid, peer), max(uid, peer)))
            ws = websocket.create_connection(gws[0].replace("http", "ws") + "/ws?token=" + tok, timeout=10)
            ws.recv()
            ws.send('{"op":"send","cmid":"soak%d","to":%d,"type":1,"content":"hi"}' % (i, peer))
            while '"sent"' not in ws.recv():
                pass
            ws.close()

    def cycle(self, k):
        i = k % len(self.users)
        tok, _ = self.users[i]
        gw = self.gws[k % len(self.gws)]
        ws = websocket.create_connection(gw.replace("http", "ws") + "/ws?token=" + tok, timeout=10)
        try:
            assert '"hello"' in ws.recv()
            ws.send('{"op":"sync","conversation_id":"%s","after_seq":0,"limit":50}' % self.cids[i])
            while '"sync"' not in ws.recv():
                pass
        finally:
            ws.close()
        st, _ = http("GET", "%s/api/conversations/%s/messages?limit=50" % (gw, self.cids[i]), token=tok)
        assert st == 200, st

    def run(self):
        k = 0
        while not self.stop.is_set():
            with self.pause:
                try:
                    self.cycle(k)
                    self.cycles += 1
                except Exception:  # noqa: BLE001 - counted, the soak goes on
                    self.errors += 1
            k += 1
            self.stop.wait(1.0 / self.per_s)


def bench(cl, gws, mode, args, seconds, log):
    """An im-bench run in the background, its output to log."""
    etcd = "http://127.0.0.1:%s" % cl.ports["CIM_ETCD_PORT"]
    cmd = [os.path.join(BUILD, "im-bench", "im-bench"), mode, "--gateways", ",".join(gws), "--etcd", etcd,
           "--duration", str(seconds), "--warmup", "1", "--drain", "30"]
    if mode == "p2p":
        cmd += ["--pairs", str(args.pairs), "--rate", str(args.rate)]
    else:
        cmd += ["--members", str(args.members), "--rate", str(args.group_rate)]
    return subprocess.Popen(cmd, stdout=open(log, "wb"), stderr=subprocess.STDOUT)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--warmup", type=float, default=5.0, help="minutes not judged (a third of a run under 15)")
    ap.add_argument("--every", type=float, default=30.0, help="seconds between samples")
    ap.add_argument("--pairs", type=int, default=20)
    ap.add_argument("--rate", type=int, default=150, help="single-chat msg/s in all")
    ap.add_argument("--members", type=int, default=10)
    ap.add_argument("--group-rate", type=int, default=5, help="group msg/s (each to every member)")
    ap.add_argument("--churn", type=float, default=2.0, help="connect/sync/close + history cycles a second")
    ap.add_argument("--churn-users", type=int, default=20)
    ap.add_argument("--rss-growth", type=float, default=10.0, help="percent allowed after the warm-up")
    ap.add_argument("--fd-slack", type=int, default=2)
    args = ap.parse_args()
    warmup_s = 60 * (args.warmup if args.minutes >= 15 else args.minutes / 3)
    seconds = int(args.minutes * 60)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 20000), hard))   # the daemons inherit it

    run = os.environ.get("CIM_FAULTS_RUN") or tempfile.mkdtemp(prefix="cim-soak-")
    print("soak: run folder %s" % run, flush=True)
    cl = Cluster(run)
    stop = threading.Event()
    benches = []
    failed = []
    try:
        cl.start("im-repo", "repo-1")
        # new passwords hashed with 1 MiB (im-logic's bench setting): the setup registers
        # ~100 users at once, which at the default 64 MiB x 2 at a time outlasts the
        # gateway's 3 s call to logic (HTTP 503)
        cl.start("im-logic", "logic-1", CIM_HASH_MEMORY_KIB=1024)
        cl.start("im-logic", "logic-2", CIM_HASH_MEMORY_KIB=1024)
        cl.start("im-task", "task-1")
        gws = [cl.start_gateway(g, **GW_ENV).url for g in ("gw-1", "gw-2")]
        churn = Churn(gws, args.churn_users, args.churn, stop)
        benches = [bench(cl, gws, "p2p", args, seconds, os.path.join(run, "bench-p2p.log")),
                   bench(cl, gws, "group", args, seconds, os.path.join(run, "bench-group.log"))]
        churn.start()
        t0 = time.monotonic()
        csv_path = os.path.join(run, "soak.csv")
        rows = []   # (t, instance, rss_kb, fds, threads)
        with open(csv_path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["t_s", "daemon", "pid", "rss_kb", "fds", "threads"])
            n = 0
            while True:
                due = t0 + n * args.every
                if due > t0 + seconds + 1:
                    break
                time.sleep(max(0.0, due - time.monotonic()))
                with churn.pause:
                    t = time.monotonic() - t0
                    for d in cl.daemons:
                        if d.proc.poll() is not None:
                            failed.append("%s exited (%s)" % (d.instance, d.proc.returncode))
                            continue
                        rss, fds, thr = proc_stats(d.proc.pid)
                        rows.append((t, d.instance, rss, fds, thr))
                        w.writerow(["%.0f" % t, d.instance, d.proc.pid, rss, fds, thr])
                f.flush()
                for name, b in zip(("p2p", "group"), benches):
                    if b.poll() is not None and time.monotonic() - t0 < seconds:
                        failed.append("im-bench %s ended early (%s): see %s/bench-%s.log" % (name, b.returncode, run, name))
                if failed:
                    break
                if n % 4 == 0:
                    print("soak: %5.0f s  %s" % (t, "  ".join("%s %.0fMB/%dfd/%dthr" % (r[1], r[2] / 1024, r[3], r[4])
                                                            for r in rows[-len(cl.daemons):])), flush=True)
                n += 1
        stop.set()
        churn.join(timeout=30)
        for name, b in zip(("p2p", "group"), benches):
            try:
                rc = b.wait(timeout=120)
            except subprocess.TimeoutExpired:
                b.kill()
                rc = "hung"
            if rc != 0 and not any(("im-bench %s" % name) in m for m in failed):
                failed.append("im-bench %s exited %s (see %s/bench-%s.log)" % (name, rc, run, name))
        failed += report(rows, warmup_s, args, churn)
        for name in ("p2p", "group"):
            print("--- im-bench %s (tail) ---" % name)
            with open(os.path.join(run, "bench-%s.log" % name), "rb") as f:
                print(b"\n".join(f.read().splitlines()[-12:]).decode(errors="replace"))
        print("samples: %s" % csv_path)
    finally:
        stop.set()
        for b in benches:
            if b.poll() is None:
                b.send_signal(signal.SIGKILL)
        cl.down()
    for msg in failed:
        print("FAIL: " + msg)
    print("soak: %s (%s)" % ("FAIL" if failed else "ok", run))
    sys.exit(1 if failed else 0)


def report(rows, warmup_s, args, churn):
    """The table; returns the failed checks."""
    failed = []
    daemons = sorted({r[1] for r in rows})
    print("\nsoak: %d s, warm-up %d s, %d churn cycles (%d errors); RSS MB, fds, threads per daemon"
          % (rows[-1][0] if rows else 0, warmup_s, churn.cycles, churn.errors))
    print("%-8s %9s %9s %9s %7s | %5s %5s %5s | %4s %4s %4s | %s"
          % ("daemon", "rss@warm", "rss max", "rss end", "grow%", "fd@w", "max", "end", "th@w", "max", "end", "verdict"))
    for d in daemons:
        mine = [r for r in rows if r[1] == d]
        post = [r for r in mine if r[0] >= warmup_s - 1] or mine[-1:]
        first, last = post[:3], post[-3:]
        # base: the first 3 samples after the warm-up; end: the last 3 (a moment's
        # connection or buffer is not a leak: a leak is still there 3 samples on)
        base = (first[0][0], d, median(r[2] for r in first), max(r[3] for r in first), max(r[4] for r in first))
        end = (last[-1][0], d, median(r[2] for r in last), min(r[3] for r in last), min(r[4] for r in last))
        grow = 100.0 * (end[2] - base[2]) / base[2]
        bad = []
        if grow >= args.rss_growth:
            bad.append("rss +%.1f%%" % grow)
        if end[3] > base[3] + args.fd_slack:
            bad.append("fds %d -> %d" % (base[3], end[3]))
        if end[4] > base[4]:
            bad.append("threads %d -> %d" % (base[4], end[4]))
        failed += ["%s: %s" % (d, b) for b in bad]
        print("%-8s %9.1f %9.1f %9.1f %+7.1f | %5d %5d %5d | %4d %4d %4d | %s"
              % (d, base[2] / 1024, max(r[2] for r in mine) / 1024, end[2] / 1024, grow,
                 base[3], max(r[3] for r in mine), end[3], base[4], max(r[4] for r in mine), end[4],
                 ", ".join(bad) or "ok"))
    print("bounds: RSS (median of the last 3 samples) grew < %.0f %% over the median of the first 3 after the"
          " warm-up;\n        fds and threads (fewest of the last 3) <= the most of those first 3 (fds + %d)"
          % (args.rss_growth, args.fd_slack))
    if churn.errors:
        failed.append("%d churn cycles failed" % churn.errors)
    return failed


if __name__ == "__main__":
    main()
