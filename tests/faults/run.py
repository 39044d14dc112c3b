#!/usr/bin/python3
"""run.py [SCENARIO ...] — cim under a steady load while one part fails, one scenario at a
time, with exact accounting (load.py). A cluster of real daemons (2 gateways, 2 logic,
1 repo, 1 task) on real MariaDB, Redis, etcd and Kafka is started once; each scenario
runs `--pairs` conversations at `--rate` msg/s in all for `--seconds`, injects its fault
at a third of the way, undoes it, stops sending, drains, and checks:

  every send answered (`sent` or a final `error`) within --answer-bound seconds, or
    counted `unanswered` (the client still retries it: the protocol's cmid makes that safe);
  every acked cmid stored exactly once, seqs of each conversation contiguous from 1, the
    `sent` seq equal to the stored one (no seq reused after a Redis loss);
  nothing stored that was not acked by the end (a send the client gave up on);
  duplicates on the wire (`sent` or `msg` frames twice): counted; the client protocol
    (cmid for `sent`, seq for `msg`) removes them;
  fault_s: how long the fault lasted (killed until restarted and answering);
  recovery: the longest time without any new `sent` from the fault's start on.

Prints one row per scenario and exits 1 if any acked message was lost or stored twice,
or seqs have a gap. Scenarios: """
import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from cluster import ROOT, Cluster, http, wait_for  # noqa: E402
from load import Pair  # noqa: E402


def infra_pid(cl, name):
    with open(os.path.join(cl.run, "pids", name + ".pid")) as f:
        return int(f.read().strip())


def restart_infra(cl, name, sig=signal.SIGKILL, down_s=5):
    """Kills an infrastructure server, waits down_s, starts it again (infra.sh starts what
    is not running, on the same ports and data)."""
    pid = infra_pid(cl, name)
    os.kill(pid, sig)
    for _ in range(100):
        try:
            os.kill(pid, 0)
            time.sleep(0.1)
        except ProcessLookupError:
            break
    time.sleep(down_s)
    env = dict(os.environ, CIM_KAFKA_JVM=os.environ.get("CIM_KAFKA_JVM", "-XX:TieredStopAtLevel=1"))
    subprocess.run([os.path.join(ROOT, "deploy", "local", "infra.sh"), cl.run], check=True,
                   stdout=subprocess.DEVNULL, env=env)


class Faults:
    def __init__(self, cl):
        self.cl = cl
        self.d = {}

    def start(self, name, service, **env):
        self.d[name] = self.cl.start(service, name, **env)
        return self.d[name]

    def restart(self, name, sig=signal.SIGKILL, down_s=3):
        d = self.d[name]
        d.kill(sig)
        self.cl.daemons.remove(d)
        time.sleep(down_s)
        env = {"CIM_PORT": d.addr.rsplit(":", 1)[1]} if d.service == "im-gateway" else {}
        self.start(name, d.service, **self.env_of(d.service), **env)

    def env_of(self, service):
        if service == "im-gateway":
            return {"CIM_SEND_RATE": 100000, "CIM_SEND_BURST": 100000}
        return {}

    def pause(self, name, seconds=8):
        pid = self.d[name].proc.pid
        os.kill(pid, signal.SIGSTOP)
        time.sleep(seconds)
        os.kill(pid, signal.SIGCONT)


# name -> (what it does, fn(faults))
SCENARIOS = {
    "logic-kill": ("SIGKILL one of two im-logic, restart 3 s later", lambda f: f.restart("logic-1")),
    "logic-stop": ("SIGSTOP one of two im-logic for 8 s (hung, not dead), then SIGCONT",
                   lambda f: f.pause("logic-1")),
    "repo-kill": ("SIGKILL the only im-repo, restart 3 s later", lambda f: f.restart("repo-1")),
    "gateway-kill": ("SIGKILL one of two gateways (its clients reconnect to the other), restart 3 s later",
                     lambda f: f.restart("gw-1")),
    "task-kill": ("SIGKILL im-task, restart 3 s later", lambda f: f.restart("task-1")),
    "kafka-kill": ("SIGKILL the Kafka broker, restart 5 s later", lambda f: restart_infra(f.cl, "kafka")),
    "mariadb-restart": ("SIGTERM MariaDB, restart 5 s later", lambda f: restart_infra(f.cl, "mariadb", signal.SIGTERM)),
    "redis-kill": ("SIGKILL Redis (seq counters, dedup, sessions lost), restart 3 s later",
                   lambda f: restart_infra(f.cl, "redis", down_s=3)),
    "redis-flushall": ("FLUSHALL on Redis (every key lost, server up)", lambda f: f.cl.redis("FLUSHALL")),
    "etcd-restart": ("SIGKILL etcd, restart 5 s later (daemons keep serving, register again)",
                     lambda f: restart_infra(f.cl, "etcd")),
}
__doc__ += ", ".join(SCENARIOS)


def run_scenario(f, name, args):
    gws = [f.d["gw-1"].url, f.d["gw-2"].url]
    pairs = [Pair([gws[i % 2], gws[(i + 1) % 2]], "%s%d" % (name[:4], i), args.rate / args.pairs, args.answer_bound)
             for i in range(args.pairs)]
    wait_for("every client connected", lambda: all(p.sender.ws and p.receiver.ws for p in pairs), timeout=30)
    t0 = time.monotonic()
    stop_at = t0 + args.seconds
    threads = [threading.Thread(target=p.pace, args=(stop_at, i / args.rate), daemon=True) for i, p in enumerate(pairs)]
    for t in threads:
        t.start()
    time.sleep(args.seconds / 3)
    fault_at = time.monotonic()
    SCENARIOS[name][1](f)
    fault_done = time.monotonic()
    for t in threads:
        t.join()
    deadline = time.monotonic() + args.drain
    for p in pairs:
        p.drain(deadline)
    time.sleep(2)   # the last `msg` frames and acks
    row = account(pairs, gws, fault_at)
    row["fault_s"] = fault_done - fault_at
    for p in pairs:
        p.close()
    return row


def account(pairs, gws, fault_at):
    r = dict(sends=0, acked=0, refused=0, unanswered=0, stored=0, lost=0, stored_twice=0, seq_gaps=0,
             seq_mismatch=0, stored_unacked=0, delivered_live=0, dup_sent=0, dup_msg=0, pending=0, reconnects=0)
    acks = []
    for p in pairs:
        stored = p.stored(gws[0])
        by_cmid = {}
        for m in stored:
            by_cmid.setdefault(m["cmid"], []).append(m)
        seqs = [m["seq"] for m in stored]
        with p.lock:
            r["sends"] += len(p.acked) + len(p.refused) + len(p.pending)
            r["acked"] += len(p.acked)
            r["refused"] += len(p.refused)
            r["pending"] += len(p.pending)
            r["unanswered"] += len(p.unanswered)
            r["stored"] += len(stored)
            r["lost"] += sum(1 for c in p.acked if c not in by_cmid)
            r["stored_twice"] += sum(1 for ms in by_cmid.values() if len(ms) > 1)
            r["seq_gaps"] += 0 if seqs == list(range(1, len(seqs) + 1)) else 1
            r["seq_mismatch"] += sum(1 for c, (mid, seq, _) in p.acked.items()
                                     if c in by_cmid and (by_cmid[c][0]["seq"] != seq or by_cmid[c][0]["msg_id"] != mid))
            r["stored_unacked"] += sum(1 for c in by_cmid if c not in p.acked)
            r["delivered_live"] += sum(1 for m in stored if m["seq"] in p.msgs)
            r["dup_sent"] += sum(n - 1 for n in p.sent_frames.values() if n > 1)
            r["dup_msg"] += sum(n - 1 for n in p.msgs.values() if n > 1)
            r["reconnects"] += p.sender.reconnects + p.receiver.reconnects
            acks += p.ack_times
    acks = sorted(t for t in acks if t >= fault_at)
    gaps = [b - a for a, b in zip([fault_at] + acks, acks)]
    r["recovery_s"] = max(gaps) if gaps else float("inf")
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenarios", nargs="*", default=list(SCENARIOS))
    ap.add_argument("--pairs", type=int, default=20)
    ap.add_argument("--rate", type=float, default=100.0, help="msg/s over all pairs")
    ap.add_argument("--seconds", type=float, default=24.0)
    ap.add_argument("--answer-bound", type=float, default=35.0,
                    help="the gateway answers a send Kafka has not taken within 30 s (message.timeout.ms) `unavailable`")
    ap.add_argument("--drain", type=float, default=60.0)
    args = ap.parse_args()
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown:
        ap.error("unknown scenario(s): %s" % ", ".join(unknown))
    run = os.environ.get("CIM_FAULTS_RUN") or tempfile.mkdtemp(prefix="cim-faults-")
    cl = Cluster(run)
    f = Faults(cl)
    failed = False
    try:
        f.start("repo-1", "im-repo")
        f.start("logic-1", "im-logic")
        f.start("logic-2", "im-logic")
        f.start("task-1", "im-task")
        for g in ("gw-1", "gw-2"):
            f.start(g, "im-gateway", **f.env_of("im-gateway"))
            wait_for("gateway ready", lambda: http("GET", f.d[g].url + "/api/ping")[0] == 200)
        cols = ["sends", "acked", "refused", "unanswered", "stored", "lost", "stored_twice", "seq_gaps",
                "seq_mismatch", "stored_unacked", "dup_sent", "dup_msg", "reconnects", "fault_s", "recovery_s"]
        print("%-16s %s" % ("scenario", " ".join("%12s" % c for c in cols)), flush=True)
        for name in args.scenarios:
            row = run_scenario(f, name, args)
            bad = row["lost"] or row["stored_twice"] or row["seq_gaps"] or row["seq_mismatch"] or row["pending"]
            failed |= bool(bad)
            print("%-16s %s%s" % (name, " ".join("%12s" % (("%.1f" % row[c]) if c.endswith("_s") else row[c])
                                                  for c in cols), "   FAIL" if bad else ""), flush=True)
            wait_for("cluster healthy again", lambda: all(http("GET", f.d[g].url + "/api/ping")[0] == 200
                                                          for g in ("gw-1", "gw-2")), timeout=60)
    finally:
        cl.down()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
