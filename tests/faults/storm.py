#!/usr/bin/python3
"""storm.py [--conns 10000] — a reconnect storm: every client of the cluster dropped at
once and reconnecting at once. See docs/RELIABILITY.md ("Reconnect storm").

A cluster of real daemons (2 gateways, 2 im-logic, 1 im-repo, 1 im-task) on real MariaDB,
Redis, etcd and Kafka is started as tests/faults/run.py does (tests/lib/cluster.py; the
per-address login/connection/REST limits lifted as Cluster.common_env does, the send
limit raised, --conn-per-min to set the per-address connection limit). Then:

 1. registers --conns/4 users over REST (4 connections each; a thread pool) and --senders
    more, and opens every connection (asyncio, a minimal WebSocket client in this file:
    no package beyond the standard library), alternating the two gateways;
 2. --sample users get one message each from a sender (who stays connected to gw-2);
 3. the storm: SIGKILL gw-1 and, at the same moment, every client socket closed
    abruptly (RST, SO_LINGER 0), on both gateways;
 4. while every client is down, each sender sends --down-msgs more to each sample user
    (all acked `sent` before going on); gw-1 is started again (same port, same id);
 5. every client reconnects at once to its gateway, `sync`s its conversation from the last
    seq it saw, and counts as back when that is answered and the connection is still up
    --admit-wait s later (admission is decided a few ms after `hello`: a refusal is
    `error rate_limited`, then the end). A failed attempt is
    retried with exponential backoff and jitter, a refused one no sooner than its
    retry_after_ms; a `sync` answered with another error (logic busy) is asked again on
    the same connection, backing off;
 6. each sample connection's `sync` from the last seq it saw must return exactly the
    messages sent while it was down, seqs contiguous (caught up);
 7. user_session:{uid} in Redis must hold exactly the live connections (conn ids from
    `hello`): no field of a dropped connection left, none missing.
Steps 3-7 run --rounds times in a row (1; 3 shows whether the gateways' RSS levels off).

Gateways' RSS (VmRSS): before any connection, with every connection open, the peak during
the storm, and after it. Checks (exit 1 if any fails): every connection back within
--deadline s, every sample connection caught up, no stale or missing session field, and
each gateway's peak RSS below its idle RSS + --rss-per-1k MB per 1,000 of the
connections it held at the peak (+ --rss-slack MB), its RSS after the storm below
--rss-after x its RSS before. Prints a one-screen summary.

The logics hash new passwords with CIM_HASH_MEMORY_KIB=1024 (the server's own argon2id,
cheaper: the bench setting im-logic's config documents) so that thousands of users
register in seconds. Needs `ulimit -n` above --conns + 100 (raised up to 20,000 here).
"""
import argparse
import asyncio
import base64
import json
import os
import random
import resource
import signal
import socket
import struct
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from cluster import Cluster, http, wait_for  # noqa: E402

PASSWORD = "correct horse battery"
GW_ENV = {"CIM_SEND_RATE": 100000, "CIM_SEND_BURST": 100000, "CIM_CURSOR_RATE": 100000, "CIM_CURSOR_BURST": 100000}


# ---------------------------------------------------------------- a minimal WebSocket client
class WS:
    """RFC 6455 client over asyncio streams: text frames out (masked), text/ping/close in."""

    def __init__(self, reader, writer):
        self.r, self.w = reader, writer

    @classmethod
    async def connect(cls, host, port, path, timeout):
        """The upgraded connection; on any failure or timeout the socket is reset, not left
        open (a socket left open is a live connection to the gateway)."""
        conn = {}

        async def go():
            r, w = conn["rw"] = await asyncio.open_connection(host, port)
            key = base64.b64encode(os.urandom(16)).decode()
            w.write(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path, host, port, key)).encode())
            head = await r.readuntil(b"\r\n\r\n")
            if b" 101 " not in head.split(b"\r\n", 1)[0]:
                raise ConnectionError(head.split(b"\r\n", 1)[0].decode(errors="replace"))
            return cls(r, w)
        try:
            return await asyncio.wait_for(go(), timeout)
        except BaseException:
            if "rw" in conn:
                cls(*conn["rw"]).abort()
            raise

    async def recv(self):
        """The next text message (str), or None when the connection ended."""
        buf = b""
        try:
            while True:
                b0, b1 = await self.r.readexactly(2)
                n = b1 & 0x7F
                if n == 126:
                    n = struct.unpack("!H", await self.r.readexactly(2))[0]
                elif n == 127:
                    n = struct.unpack("!Q", await self.r.readexactly(8))[0]
                mask = await self.r.readexactly(4) if b1 & 0x80 else None
                data = await self.r.readexactly(n)
                if mask:
                    data = bytes(c ^ mask[i % 4] for i, c in enumerate(data))
                op = b0 & 0x0F
                if op == 8:
                    return None
                if op == 9:
                    self._frame(0xA, data)
                    continue
                if op in (0, 1, 2):
                    buf += data
                    if b0 & 0x80:
                        return buf.decode()
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            return None

    def _frame(self, op, data):
        mask = os.urandom(4)
        n = len(data)
        head = bytes([0x80 | op]) + (bytes([0x80 | n]) if n < 126 else
                                     bytes([0xFE]) + struct.pack("!H", n) if n < 65536 else
                                     bytes([0xFF]) + struct.pack("!Q", n))
        body = b""
        if n:
            m = (mask * (n // 4 + 1))[:n]
            body = (int.from_bytes(data, "big") ^ int.from_bytes(m, "big")).to_bytes(n, "big")
        self.w.write(head + mask + body)

    def send(self, obj):
        self._frame(0x1, json.dumps(obj).encode())

    def abort(self):
        """Gone at once: RST, no close frame, no FIN."""
        sock = self.w.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        self.w.transport.abort()


# ---------------------------------------------------------------- one client connection
class Conn:
    """One WebSocket of a user, pinned to a gateway, with its user's conversation with a
    sender: every seq it got (from `msg` and `sync`) and the end of their unbroken run."""

    def __init__(self, user, gw_index, cid):
        self.user, self.gw, self.cid = user, gw_index, cid
        self.ws = None
        self.conn_id = None
        self.last_seq = 0
        self.seqs = set()
        self.synced = None           # future: the `sync` answer after a (re)connect
        self.ended = None            # future: the connection's end (the last error frame)
        self.attempts = 0
        self.reader = None

    async def open(self, st, deadline, admit_wait=None):
        """Connects (retrying, backing off, honouring retry_after_ms) until a `sync` is
        answered: then the connection is admitted and caught up. Returns the sync frame."""
        backoff = 0.2
        while time.monotonic() < deadline:
            self.attempts += 1
            host, port = st.gw_addr(self.gw)
            try:
                ws = await WS.connect(host, port, "/ws?token=" + self.user["token"], timeout=10)
            except (OSError, asyncio.TimeoutError, ConnectionError, asyncio.IncompleteReadError):
                await asyncio.sleep(backoff * (1 + random.random()))
                backoff = min(backoff * 2, 5.0)
                continue
            try:
                raw = await asyncio.wait_for(ws.recv(), 10)
            except asyncio.TimeoutError:
                raw = None
            hello = json.loads(raw) if raw else {}
            if hello.get("op") != "hello":
                ws.abort()
                await asyncio.sleep(backoff * (1 + random.random()))
                backoff = min(backoff * 2, 5.0)
                continue
            self.ws, self.conn_id = ws, hello["conn_id"]
            self.gateway_id = hello["gateway_id"]
            loop = asyncio.get_running_loop()
            self.ended, self.synced, self.last_error = loop.create_future(), loop.create_future(), None
            self.synced_from = self.last_seq
            self.reader = asyncio.ensure_future(self.read(ws, self.ended))
            res, sync_backoff = None, 0.5
            while time.monotonic() < deadline:
                if self.synced.done():
                    self.synced = loop.create_future()
                ws.send({"op": "sync", "conversation_id": self.cid, "after_seq": self.last_seq, "limit": 200})
                await asyncio.wait({self.synced, self.ended}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
                if self.ended.done() or not self.synced.done():   # ended, or no answer: reconnect
                    res = self.ended.result() if self.ended.done() else None
                    break
                res = self.synced.result()
                if res.get("op") == "sync":
                    # admission is decided off the gateway's service thread: a frame sent
                    # right after `hello` may be answered before the refusal comes; so a
                    # connection is back only if it is still up admit_wait after the answer
                    at = time.monotonic()
                    await asyncio.wait({self.ended}, timeout=st.args.admit_wait if admit_wait is None else admit_wait)
                    if not self.ended.done():
                        self.back_at = at
                        self.got([m["seq"] for m in res["messages"]])
                        return res
                    res = self.ended.result()
                    if isinstance(res, dict) and res.get("code") == "rate_limited":
                        st.late_refused += 1
                    break
                # an error: `rate_limited` then the end is the refusal; anything else (logic
                # busy: `unavailable`, `timeout`) is answered by asking again, backing off
                await asyncio.wait({self.ended}, timeout=max(res.get("retry_after_ms", 0) / 1000.0, sync_backoff))
                if self.ended.done():
                    res = self.ended.result()
                    break
                st.sync_retries += 1
                sync_backoff = min(sync_backoff * 2, 5.0)
            # refused (rate_limited then the end), dropped, or no answer: back off and retry
            self.abort()
            wait = 0.0
            if isinstance(res, dict) and res.get("code") == "rate_limited":
                st.refused += 1
                wait = res.get("retry_after_ms", 1000) / 1000.0
            await asyncio.sleep(wait + backoff * (1 + random.random()))
            backoff = min(backoff * 2, 5.0)
        raise TimeoutError("user %d conn never back" % self.user["user_id"])

    def got(self, seqs):
        """Seqs received: last_seq is the end of the unbroken run from 1 (a client syncs
        from there: a push past a gap does not move it)."""
        self.seqs.update(seqs)
        while self.last_seq + 1 in self.seqs:
            self.last_seq += 1

    async def read(self, ws, ended):
        while True:
            raw = await ws.recv()
            if raw is None:
                ended.set_result(self.last_error)
                return
            f = json.loads(raw)
            op = f.get("op")
            if op == "msg":
                m = f["message"]
                if m["conversation_id"] == self.cid:
                    self.got([m["seq"]])
            elif op == "sync" and f.get("conversation_id") == self.cid and not self.synced.done():
                self.synced.set_result(f)
            elif op == "error" and not f.get("cmid"):
                self.last_error = f
                if not self.synced.done():
                    self.synced.set_result(f)

    def abort(self):
        if self.ws:
            self.ws.abort()
            self.ws = None
        if self.reader:
            self.reader.cancel()


class Sender:
    """A user that stays connected to gw-2 and sends to the sample users."""

    def __init__(self, user):
        self.user = user
        self.acked = {}      # cmid -> seq
        self.waiting = {}    # cmid -> future

    async def open(self, st):
        host, port = st.gw_addr(1)
        self.ws = await WS.connect(host, port, "/ws?token=" + self.user["token"], timeout=10)
        hello = json.loads(await self.ws.recv())
        self.conn_id, self.gateway_id = hello["conn_id"], hello["gateway_id"]
        self.reader = asyncio.ensure_future(self.read())

    async def read(self):
        while True:
            raw = await self.ws.recv()
            if raw is None:
                return
            f = json.loads(raw)
            if f.get("op") == "sent":
                self.acked[f["cmid"]] = f["seq"]
                fut = self.waiting.pop(f["cmid"], None)
                if fut and not fut.done():
                    fut.set_result(f["seq"])

    async def send(self, to, content):
        """Sends until acked (same cmid on every retry); returns (cmid, seq)."""
        cmid = uuid.uuid4().hex
        for _ in range(12):
            fut = asyncio.get_running_loop().create_future()
            self.waiting[cmid] = fut
            self.ws.send({"op": "send", "cmid": cmid, "to": to, "type": 1, "content": content})
            try:
                return cmid, await asyncio.wait_for(fut, 5)
            except asyncio.TimeoutError:
                if cmid in self.acked:
                    return cmid, self.acked[cmid]
        raise TimeoutError("send to %d never acked" % to)


# ---------------------------------------------------------------- the run
class Storm:
    def __init__(self, cl, args):
        self.cl, self.args = cl, args
        self.gws = {}
        self.refused = self.late_refused = self.sync_retries = 0

    def gw_addr(self, i):
        host, port = self.gws["gw-%d" % (i + 1)].addr.rsplit(":", 1)
        return host, int(port)


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def register(url, name):
    for _ in range(5):
        st, body = http("POST", url + "/api/register", {"username": name, "password": PASSWORD}, timeout=60)
        if st in (201, 409):
            break
        time.sleep(1)
    st, body = http("POST", url + "/api/login", {"username": name, "password": PASSWORD}, timeout=60)
    assert st == 200, (st, body)
    return {"name": name, "token": body["token"], "user_id": body["user_id"]}


def sessions(cl):
    """{(uid, conn_id, gateway_id)} of every user_session field in Redis."""
    script = ("local out = {} for _, k in ipairs(redis.call('KEYS', 'user_session:*')) do "
              "local h = redis.call('HGETALL', k) for i = 1, #h, 2 do "
              "out[#out + 1] = k .. ' ' .. h[i] .. ' ' .. h[i + 1] end end return out")
    out = set()
    for line in cl.redis("EVAL", script, "0").splitlines():
        parts = line.split(" ")
        if len(parts) == 3:
            out.add((int(parts[0].split(":")[1]), parts[1], parts[2]))
    return out


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))] if xs else float("nan")


async def storm(st, senders, conns, sample):
    args, cl = st.args, st.cl
    res = {}
    idle = {g: rss_mb(d.proc.pid) for g, d in st.gws.items()}
    for s in senders:
        await s.open(st)

    async def pinger():   # a connection silent for 2.5 heartbeats (30 s) is closed
        while True:
            await asyncio.sleep(15)
            for c in conns:
                if c.ws:
                    c.ws.send({"op": "ping"})
            for s in senders:
                s.ws.send({"op": "ping"})
    pings = asyncio.ensure_future(pinger())

    # 1. every connection, at most 200 handshakes in flight
    t = time.monotonic()
    sem = asyncio.Semaphore(200)

    async def first(c):
        async with sem:   # the admission wait for all at once, below
            await c.open(st, time.monotonic() + args.deadline, admit_wait=0)
    await asyncio.gather(*(first(c) for c in conns))
    await asyncio.sleep(args.admit_wait)
    late = [c for c in conns if c.ended.done()]
    await asyncio.gather(*(c.open(st, time.monotonic() + args.deadline) for c in late))
    res["connect_s"] = time.monotonic() - t
    print("storm: %d connections open in %.1f s" % (len(conns), res["connect_s"]), flush=True)

    # 2. one message to each sample user, before the storm
    by_user = {}
    for c in conns:
        by_user.setdefault(c.user["user_id"], []).append(c)
    await asyncio.gather(*(senders[i % len(senders)].send(u["user_id"], "before") for i, u in enumerate(sample)))
    await asyncio.sleep(2)   # the pushes
    before = {g: rss_mb(d.proc.pid) for g, d in st.gws.items()}
    st.refused = 0
    conns_on = {g: sum(1 for c in conns if "gw-%d" % (c.gw + 1) == g) for g in st.gws}

    res.update(idle=idle, before=before, conns_on=conns_on, rounds=[])
    sampled = {u["user_id"] for u in sample}
    res["sample_conns"] = sum(len(by_user[u]) for u in sampled)
    for rnd in range(args.rounds):
        res["rounds"].append(await one_round(st, senders, conns, sample, sampled))
        print("storm: round %d done" % (rnd + 1), flush=True)
    pings.cancel()
    for c in conns:
        c.abort()
    for s in senders:
        s.ws.abort()
    return res


async def one_round(st, senders, conns, sample, sampled):
    """Steps 3-7 once: drop, send while down, reconnect, check. Returns the round's row."""
    args, cl = st.args, st.cl
    st.refused = st.late_refused = st.sync_retries = 0
    for c in conns:
        c.attempts = 0
    row = {}
    # 3. the storm: gw-1 SIGKILLed, every client socket reset, at once
    gw1 = st.gws["gw-1"]
    port1 = gw1.addr.rsplit(":", 1)[1]
    os.kill(gw1.proc.pid, signal.SIGKILL)
    for c in conns:
        c.abort()
    gw1.proc.wait()
    cl.daemons.remove(gw1)

    # 4. messages to the sample users while they are down; gw-1 back
    down_sent = {}    # uid -> [(cmid, seq)]
    jobs = []
    for i, u in enumerate(sample):
        for k in range(args.down_msgs):
            jobs.append((u["user_id"], senders[i % len(senders)].send(u["user_id"], "down %d" % k)))
    got = await asyncio.gather(*(j for _, j in jobs))
    for (uid, _), cs in zip(jobs, got):
        down_sent.setdefault(uid, []).append(cs)
    row["down_sent"] = len(got)
    restart_at = time.monotonic()
    loop = asyncio.get_running_loop()
    st.gws["gw-1"] = await loop.run_in_executor(None, lambda: cl.start_gateway("gw-1", CIM_PORT=port1, **GW_ENV))
    row["gw1_restart_s"] = time.monotonic() - restart_at

    # 5. everyone back at once; RSS sampled meanwhile
    peak = {g: 0.0 for g in st.gws}
    done = asyncio.Event()

    async def sampler():
        while not done.is_set():
            for g, d in st.gws.items():
                peak[g] = max(peak[g], rss_mb(d.proc.pid))
            await asyncio.sleep(0.2)
    samp = asyncio.ensure_future(sampler())
    t0 = time.monotonic()
    times, failures = [], []

    async def back(c):
        try:
            r = await c.open(st, t0 + args.deadline)
            times.append(c.back_at - t0)
            return r
        except Exception as e:  # noqa: BLE001 - counted
            failures.append(repr(e))
            return None
    replies = await asyncio.gather(*(back(c) for c in conns))
    row["storm_s"] = time.monotonic() - t0
    await asyncio.sleep(3)
    done.set()
    await samp

    # 6. caught up: each sample connection's sync has exactly what was sent while down
    caught, behind = 0, []
    for c, r in zip(conns, replies):
        if c.user["user_id"] not in sampled or r is None:
            continue
        want = sorted(seq for _, seq in down_sent[c.user["user_id"]])
        seqs = [m["seq"] for m in r["messages"]]
        cmids = {m["cmid"] for m in r["messages"]}
        # from the seq after the last one this connection had without a gap, contiguous,
        # to the newest; every message sent while it was down in it (or pushed before it:
        # a sender's retry may push a message again, to a connection now up)
        ok = (seqs == list(range(c.synced_from + 1, want[-1] + 1))
              and all(cm in cmids or seq <= c.synced_from for cm, seq in down_sent[c.user["user_id"]]))
        caught += ok
        if not ok and len(behind) < 5:
            behind.append((c.user["user_id"], c.synced_from, seqs, want))
    row.update(caught=caught, behind=behind)

    # 7. sessions in Redis = the live connections (the writes are pipelined: let them land)
    live = ({(c.user["user_id"], c.conn_id, c.gateway_id) for c in conns if c.ws}
            | {(s.user["user_id"], s.conn_id, s.gateway_id) for s in senders})
    deadline = time.monotonic() + 15
    while True:
        red = sessions(cl)
        stale, missing = set(red) - live, live - set(red)
        if (not stale and not missing) or time.monotonic() > deadline:
            break
        await asyncio.sleep(1)
    row.update(live=len(live), redis=len(red), stale=len(stale), missing=len(missing),
               stale_eg=sorted(stale)[:3], missing_eg=sorted(missing)[:3])
    row.update(peak=peak, after={g: rss_mb(d.proc.pid) for g, d in st.gws.items()},
               times=times, failures=failures, attempts=sum(c.attempts for c in conns), refused=st.refused,
               late_refused=st.late_refused, sync_retries=st.sync_retries)
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--per-user", type=int, default=4, help="connections per user")
    ap.add_argument("--sample", type=int, default=500, help="users sent messages while down")
    ap.add_argument("--down-msgs", type=int, default=2, help="messages to each sample user while down")
    ap.add_argument("--senders", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=1, help="storms in a row (RSS should level off)")
    ap.add_argument("--admit-wait", type=float, default=2.0,
                    help="s a connection must stay up after its sync answer to count as admitted")
    ap.add_argument("--deadline", type=float, default=120.0, help="s for every connection to be back")
    ap.add_argument("--conn-per-min", type=int, default=1000000, help="gateways' conn_addr_per_min")
    ap.add_argument("--rss-per-1k", type=float, default=10.0, help="MB per 1,000 connections above idle")
    ap.add_argument("--rss-slack", type=float, default=5.0, help="MB above idle allowed at any count")
    ap.add_argument("--rss-after", type=float, default=1.5, help="after / before, at most")
    ap.add_argument("--setup-threads", type=int, default=16)
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 20000), hard))   # ours and the daemons'
    if args.conns + 200 > min(hard, 20000):
        ap.error("--conns needs %d open files, the limit is %d" % (args.conns + 200, min(hard, 20000)))
    run = os.environ.get("CIM_FAULTS_RUN") or tempfile.mkdtemp(prefix="cim-storm-")
    print("storm: run folder %s" % run, flush=True)
    t_all = time.monotonic()
    cl = Cluster(run)
    st = Storm(cl, args)
    try:
        cl.start("im-repo", "repo-1")
        cl.start("im-logic", "logic-1", CIM_HASH_MEMORY_KIB=1024)
        cl.start("im-logic", "logic-2", CIM_HASH_MEMORY_KIB=1024)
        cl.start("im-task", "task-1")
        env = dict(GW_ENV, CIM_CONN_ADDR_PER_MIN=args.conn_per_min)
        for g in ("gw-1", "gw-2"):
            st.gws[g] = cl.start_gateway(g, **env)
        GW_ENV.update(CIM_CONN_ADDR_PER_MIN=args.conn_per_min)
        nusers = (args.conns + args.per_user - 1) // args.per_user
        tag = "%x" % random.getrandbits(24)
        t = time.monotonic()
        urls = [st.gws["gw-1"].url, st.gws["gw-2"].url]
        with ThreadPoolExecutor(args.setup_threads) as ex:
            everyone = list(ex.map(lambda i: register(urls[i % 2], "st%s_%d" % (tag, i)),
                                   range(nusers + args.senders)))
        reg_s = time.monotonic() - t
        print("storm: %d users registered and logged in in %.1f s" % (len(everyone), reg_s), flush=True)
        users, senders = everyone[:nusers], [Sender(u) for u in everyone[nusers:]]
        conns = []
        for k in range(args.conns):
            u = users[k // args.per_user]
            s = senders[(k // args.per_user) % len(senders)].user["user_id"]
            conns.append(Conn(u, k % 2, "s_%d_%d" % (min(u["user_id"], s), max(u["user_id"], s))))
        # sample users: every len(users)/sample-th, so sender i % senders matches above
        sample = users[:min(args.sample, nusers)]
        res = asyncio.run(storm(st, senders, conns, sample))
    finally:
        cl.down()
    res["reg_s"], res["total_s"] = reg_s, time.monotonic() - t_all
    sys.exit(summary(args, res, len(users)))


def summary(args, r, nusers):
    fails = []
    print("\n== reconnect storm: %d connections (%d users x %d, %d sample users, %d senders), %d round(s) ==" %
          (args.conns, nusers, args.per_user, min(args.sample, nusers), args.senders, args.rounds))
    print("setup          register+login %.1f s, connect all %.1f s (200 handshakes at a time)"
          % (r["reg_s"], r["connect_s"]))
    print("each round     gw-1 SIGKILLed + every client socket reset; %d msgs sent to the sample while down; gw-1"
          " restarted; all reconnect at once" % r["rounds"][0]["down_sent"])
    print("%-5s %11s %7s %7s %7s %7s %8s %13s %6s %10s %6s %7s %9s %9s" % (
        "round", "back", "all s", "p50 s", "p99 s", "max s", "attempts", "refused(late)", "resync", "caught up", "stale",
        "missing", "gw-1 peak", "gw-2 peak"))
    for i, w in enumerate(r["rounds"], 1):
        t = w["times"]
        print("%-5d %5d/%-5d %7.1f %7.2f %7.2f %7.2f %8d %13s %6d %5d/%-4d %6d %7d %9.1f %9.1f" % (
            i, len(t), args.conns, w["storm_s"], pct(t, 50), pct(t, 99), max(t or [0]), w["attempts"],
            "%d(%d)" % (w["refused"], w["late_refused"]), w["sync_retries"], w["caught"], r["sample_conns"], w["stale"], w["missing"], w["peak"]["gw-1"],
            w["peak"]["gw-2"]))
        if len(t) != args.conns:
            fails.append("round %d: %d connections not back: %s" % (i, args.conns - len(t), w["failures"][:3]))
        if w["caught"] != r["sample_conns"]:
            fails.append("round %d: %d sample connections not caught up, e.g. %s"
                         % (i, r["sample_conns"] - w["caught"], w["behind"]))
        if w["stale"] or w["missing"]:
            fails.append("round %d: sessions (redis %d, live %d): stale %d %s, missing %d %s" % (
                i, w["redis"], w["live"], w["stale"], w["stale_eg"], w["missing"], w["missing_eg"]))
    print("(back: connections whose `sync` was answered and still up %.0f s later; times from the reconnect's\n"
          " start to that answer; refused: `rate_limited` answers, (late): after a `sync` answer; resync: a `sync`\n"
          " asked again after an error answer (logic busy); caught up: sample\n"
          " connections whose sync returned exactly the seqs after the last one seen, contiguous, the\n"
          " %d msgs sent while down among them; stale/missing: user_session fields vs live connections)"
          % (args.admit_wait, args.down_msgs))
    last = r["rounds"][-1]
    print("RSS MB  %-5s %6s %7s %7s %7s %6s  %s" % ("", "idle", "before", "peak", "after", "conns",
                                                  "after each round"))
    for g in sorted(r["idle"]):
        n = r["conns_on"][g]
        peak = max(w["peak"][g] for w in r["rounds"])
        bound = r["idle"][g] + args.rss_slack + args.rss_per_1k * n / 1000.0
        print("        %-5s %6.1f %7.1f %7.1f %7.1f %6d  %s" % (
            g, r["idle"][g], r["before"][g], peak, last["after"][g], n,
            " ".join("%.1f" % w["after"][g] for w in r["rounds"])))
        if peak > bound:
            fails.append("%s peak RSS %.1f MB > %.1f" % (g, peak, bound))
        if last["after"][g] > args.rss_after * r["before"][g]:
            fails.append("%s RSS after %.1f MB > %.1f x before %.1f" % (g, last["after"][g], args.rss_after,
                                                                     r["before"][g]))
    print("bounds: peak <= idle + %.0f MB + %.0f MB per 1,000 connections held; after <= %.1f x before"
          " (gw-1 idle/before: the first process)" % (args.rss_slack, args.rss_per_1k, args.rss_after))
    print("total   %.0f s" % r["total_s"])
    for f in fails:
        print("FAIL: " + f)
    print("storm: %s" % ("FAIL" if fails else "ok"))
    return 1 if fails else 0


if __name__ == "__main__":
    main()
