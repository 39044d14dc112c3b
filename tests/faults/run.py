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
  sync_bad: participants whose own WebSocket `sync` of the conversation is not exactly
    the stored messages, each once, in seq order;
  fault_s: how long the fault lasted (killed until restarted and answering);
  recovery: the longest time without any new `sent` from the fault's start on.

Besides the single chats, `--groups` groups of `--group-size` members (spread over both
gateways, every member sending, `--group-rate` msg/s over all groups) are driven and
checked the same way: each scenario prints a `single` and a `group` row. Exits 1 if any
acked message was lost or stored twice, seqs have a gap or mismatch, a send stayed
unanswered, or a participant's sync differs. Scenarios: """
import argparse
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from cluster import ROOT, Cluster, http, wait_for  # noqa: E402
from load import SYSTEM_TYPE, Group, Pair, login  # noqa: E402


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


class Proxy:
    """A TCP proxy on loopback between one daemon and a server (the daemon is pointed at
    .port). It forwards until cut(): then, as in a network partition, nothing passes
    either way (bytes read are dropped, new connections are accepted and left silent),
    and heal() closes every connection that lived through the cut (their streams lost
    bytes) before forwarding again. All of it is in this process: killing the harness
    leaves no rule or namespace behind."""

    def __init__(self, target_port):
        self.target = target_port
        self.lsock = socket.create_server(("127.0.0.1", 0))
        self.port = self.lsock.getsockname()[1]
        self.lock = threading.Lock()
        self.cutting = False
        self.socks = set()       # every open socket, both sides
        self.doomed = set()      # sockets that lived through the cut: closed at heal()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            with self.lock:
                cutting = self.cutting
            try:
                u = None if cutting else socket.create_connection(("127.0.0.1", self.target), timeout=2)
            except OSError:
                c.close()
                continue
            if u:
                u.settimeout(None)
            with self.lock:
                self.socks.update(x for x in (c, u) if x)
                if cutting:
                    self.doomed.add(c)
            threading.Thread(target=self._pump, args=(c, u), daemon=True).start()

    def _pump(self, c, u):
        ends = [x for x in (c, u) if x]
        try:
            while not self.closed:
                r, _, _ = select.select(ends, [], [], 0.2)
                for s in r:
                    data = s.recv(65536)
                    if not data:
                        return
                    with self.lock:
                        drop = self.cutting or u is None
                    if not drop:
                        (u if s is c else c).sendall(data)
        except (OSError, ValueError):   # closed by heal() or close()
            pass
        finally:
            with self.lock:
                for x in ends:
                    self.socks.discard(x)
                    self.doomed.discard(x)
            for x in ends:
                x.close()

    def cut(self):
        with self.lock:
            self.cutting = True
            self.doomed |= self.socks

    def heal(self):
        with self.lock:
            doomed, self.doomed = self.doomed, set()
            self.cutting = False
        for x in doomed:
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.closed = True
        self.lsock.close()
        self.heal()
        with self.lock:
            socks = list(self.socks)
        for x in socks:
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Faults:
    def __init__(self, cl):
        self.cl = cl
        self.d = {}
        self.env = {}
        self.proxies = {}

    def start(self, name, service, **env):
        self.env[name] = env
        self.d[name] = self.cl.start(service, name, **env)
        return self.d[name]

    def restart(self, name, sig=signal.SIGKILL, down_s=3):
        d = self.d[name]
        d.kill(sig)
        self.cl.daemons.remove(d)
        time.sleep(down_s)
        env = dict(self.env[name])
        if d.service == "im-gateway":
            env["CIM_PORT"] = d.addr.rsplit(":", 1)[1]
        self.start(name, d.service, **env)

    def proxied(self, name, server_port):
        """The environment that points a daemon at a proxy of server_port, kept for cut()."""
        self.proxies[name] = Proxy(int(server_port))
        return self.proxies[name].port

    def partition(self, name, seconds=6):
        """Cuts daemon name from the server its proxy stands for, for seconds."""
        p = self.proxies[name]
        p.cut()
        time.sleep(seconds)
        p.heal()

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
    "logic-redis-cut": ("cut one of two im-logic off from Redis for 6 s (its proxy drops every byte, "
                        "then its connections), the other keeps Redis", lambda f: f.partition("logic-2")),
}
__doc__ += ", ".join(SCENARIOS)


GATEWAY_ENV = {"CIM_SEND_RATE": 100000, "CIM_SEND_BURST": 100000}
COLS = ["sends", "acked", "refused", "unanswered", "stored", "lost", "stored_twice", "seq_gaps", "seq_mismatch",
        "stored_unacked", "sync_bad", "dup_sent", "dup_msg", "reconnects", "fault_s", "recovery_s"]


def run_scenario(f, k, name, args, accounts):
    """Scenario number k: sender i of the pairs chats with receiver i + k, so no two
    scenarios share a conversation (accounts["receivers"] has one per scenario at least)."""
    gws = [f.d["gw-1"].url, f.d["gw-2"].url]
    senders, receivers = accounts["senders"], accounts["receivers"]
    pairs = [Pair([gws[i % 2], gws[(i + 1) % 2]], senders[i], receivers[(i + k) % len(receivers)],
                  args.rate / args.pairs, args.answer_bound) for i in range(args.pairs)]
    group_accounts = accounts["groups"]
    groups = [Group([gws[i % 2], gws[(i + 1) % 2]], "%s g%d" % (name, i), accs, args.group_rate / len(group_accounts),
                    args.answer_bound) for i, accs in enumerate(group_accounts)]
    members = [m for c in pairs + groups for m in c.members]
    wait_for("every client connected", lambda: all(m.conn.ws for m in members), timeout=30)
    t0 = time.monotonic()
    stop_at = t0 + args.seconds
    senders = [m for c in pairs + groups for m in c.senders]
    threads = [threading.Thread(target=m.pace, args=(stop_at, i / (args.rate + args.group_rate)), daemon=True)
               for i, m in enumerate(senders)]
    for t in threads:
        t.start()
    time.sleep(args.seconds / 3)
    fault_at = time.monotonic()
    SCENARIOS[name][1](f)
    fault_done = time.monotonic()
    for t in threads:
        t.join()
    deadline = time.monotonic() + args.drain
    for m in senders:
        m.drain(deadline)
    time.sleep(2)   # the last `msg` frames and acks
    rows = {"single": account(pairs, gws, fault_at), "group": account(groups, gws, fault_at)}
    for r in rows.values():
        r["fault_s"] = fault_done - fault_at
    for c in pairs + groups:
        c.close()
    return rows


def account(convs, gws, fault_at):
    """The books of convs (Pairs or Groups) against what is stored and what each member's
    sync returns."""
    r = dict(sends=0, acked=0, refused=0, unanswered=0, stored=0, lost=0, stored_twice=0, seq_gaps=0,
             seq_mismatch=0, stored_unacked=0, sync_bad=0, delivered_live=0, dup_sent=0, dup_msg=0, pending=0,
             reconnects=0)
    acks = []
    members = [(c, m) for c in convs for m in c.members]
    with ThreadPoolExecutor(8) as ex:   # each member's own sync, several at a time
        views = dict(zip((id(m) for _, m in members), ex.map(lambda cm: cm[1].sync_all(cm[0].cid), members)))
    for c in convs:
        stored = c.stored(gws[0])
        by_cmid = {}
        for msg in stored:
            if msg["type"] != SYSTEM_TYPE:
                by_cmid.setdefault((msg["sender_id"], msg["cmid"]), []).append(msg)
        seqs = [msg["seq"] for msg in stored]
        r["seq_gaps"] += 0 if seqs == list(range(1, len(seqs) + 1)) else 1
        r["stored"] += sum(len(ms) for ms in by_cmid.values())
        r["stored_twice"] += sum(1 for ms in by_cmid.values() if len(ms) > 1)
        acked_keys = set()
        for s in c.senders:
            with s.lock:
                acked_keys |= {(s.user_id, cmid) for cmid in s.acked}
                r["sends"] += len(s.acked) + len(s.refused) + len(s.pending)
                r["acked"] += len(s.acked)
                r["refused"] += len(s.refused)
                r["pending"] += len(s.pending)
                r["unanswered"] += len(s.unanswered)
                r["lost"] += sum(1 for cmid in s.acked if (s.user_id, cmid) not in by_cmid)
                r["seq_mismatch"] += sum(1 for cmid, (mid, seq, _) in s.acked.items()
                                         if (s.user_id, cmid) in by_cmid and
                                         (by_cmid[(s.user_id, cmid)][0]["seq"] != seq or
                                          by_cmid[(s.user_id, cmid)][0]["msg_id"] != mid))
                r["dup_sent"] += sum(n - 1 for n in s.sent_frames.values() if n > 1)
                acks += s.ack_times
        r["stored_unacked"] += sum(1 for k in by_cmid if k not in acked_keys)
        want = [(msg["seq"], msg["sender_id"], msg.get("cmid") or "") for msg in stored]
        for m in c.members:
            got = views[id(m)]
            if got != want:
                r["sync_bad"] += 1
                print("  sync of %s by user %d: %s" % (c.cid, m.user_id, "failed" if got is None else
                      "%d messages, %d stored" % (len(got), len(want))), flush=True)
            with m.lock:
                r["delivered_live"] += sum(1 for seq, _, _ in want if seq in m.msgs)
                r["dup_msg"] += sum(n - 1 for n in m.msgs.values() if n > 1)
            r["reconnects"] += m.conn.reconnects
    acks = sorted(t for t in acks if t >= fault_at)
    gaps = [b - a for a, b in zip([fault_at] + acks, acks)]
    r["recovery_s"] = max(gaps) if gaps else float("inf")
    return r


def register(gateway, args):
    """Every user of the run, registered and logged in once (a password hash costs ~0.3 s
    on a loaded 2-core box): pair senders, receivers (one more each scenario rotates to),
    and the groups' members (a new group per scenario)."""
    tag = "%x" % (int(time.time() * 1000) % 0xffffff)
    names = {"senders": ["flt_s%d_%s" % (i, tag) for i in range(args.pairs)],
             "receivers": ["flt_r%d_%s" % (i, tag) for i in range(max(args.pairs, len(args.scenarios)))],
             "groups": ["flt_g%d_%s" % (i, tag) for i in range(args.groups * args.group_size)]}
    with ThreadPoolExecutor(4) as ex:
        accounts = {k: list(ex.map(lambda n: login(gateway, n), v)) for k, v in names.items()}
    g = accounts["groups"]
    accounts["groups"] = [g[i * args.group_size:(i + 1) * args.group_size] for i in range(args.groups)]
    return accounts


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenarios", nargs="*", default=list(SCENARIOS))
    ap.add_argument("--pairs", type=int, default=20)
    ap.add_argument("--rate", type=float, default=100.0, help="single-chat msg/s over all pairs")
    ap.add_argument("--groups", type=int, default=3)
    ap.add_argument("--group-size", type=int, default=5)
    ap.add_argument("--group-rate", type=float, default=15.0, help="group msg/s over all groups")
    ap.add_argument("--seconds", type=float, default=24.0)
    ap.add_argument("--answer-bound", type=float, default=35.0,
                    help="the gateway answers a send Kafka has not taken within 30 s (message.timeout.ms) `unavailable`")
    ap.add_argument("--drain", type=float, default=60.0)
    args = ap.parse_args()
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown:
        ap.error("unknown scenario(s): %s" % ", ".join(unknown))
    started = time.monotonic()
    run = os.environ.get("CIM_FAULTS_RUN") or tempfile.mkdtemp(prefix="cim-faults-")
    cl = Cluster(run)
    f = Faults(cl)
    failed = False
    try:
        f.start("repo-1", "im-repo")
        f.start("logic-1", "im-logic")
        f.start("logic-2", "im-logic", CIM_REDIS_PORT=f.proxied("logic-2", cl.ports["CIM_REDIS_PORT"]))
        f.start("task-1", "im-task")
        for g in ("gw-1", "gw-2"):
            f.start(g, "im-gateway", **GATEWAY_ENV)
            wait_for("gateway ready", lambda: http("GET", f.d[g].url + "/api/ping")[0] == 200)
        accounts = register(f.d["gw-1"].url, args)
        print("%-16s %-6s %s" % ("scenario", "kind", " ".join("%12s" % c for c in COLS)), flush=True)
        for k, name in enumerate(args.scenarios):
            rows = run_scenario(f, k, name, args, accounts)
            for kind, row in rows.items():
                bad = (row["lost"] or row["stored_twice"] or row["seq_gaps"] or row["seq_mismatch"] or row["pending"]
                       or row["sync_bad"])
                failed |= bool(bad)
                print("%-16s %-6s %s%s" % (name, kind, " ".join("%12s" % (("%.1f" % row[c]) if c.endswith("_s")
                                                                          else row[c]) for c in COLS),
                                           "   FAIL" if bad else ""), flush=True)
            wait_for("cluster healthy again", lambda: all(http("GET", f.d[g].url + "/api/ping")[0] == 200
                                                          for g in ("gw-1", "gw-2")), timeout=60)
        print("%d scenarios in %.0f s (cluster start included)" % (len(args.scenarios), time.monotonic() - started))
    finally:
        cl.down()
        for p in f.proxies.values():
            p.close()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
