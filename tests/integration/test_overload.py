"""Overload: one abusive client floods sends, login attempts, REST calls and reconnects
while other users chat across two gateways. The others' messages all arrive, with a
send -> msg latency near a quiet baseline measured in the same test; the abuser is
refused with the documented codes (429 + Retry-After, `error rate_limited` with
retry_after_ms, then the connection ends) and can chat again once the flood stops, with no restart.
Also: a connection that does not read has its hints (typing) shed, never its messages."""
import re
import statistics
import threading
import time

import pytest

from client import Client, cid_of, uname
from cluster import wait_for
from test_limits import call, connect_from, login, set_live, until_close, ws_open

def chatty(i):
    """The address of well-behaved client i: one each, so none shares the abuser's budget
    of new connections (conn_addr_per_min) nor anyone else's."""
    return "127.0.0.%d" % (71 + i)   # 71..82: never the abuser's
ABUSER = "127.0.0.66"   # the flood's address


@pytest.fixture(scope="module")
def ov(infra):
    infra.start("im-repo", "orepo-1")
    infra.start("im-logic", "ologic-1", CIM_MAX_CONTENT=60000)   # long messages fill a socket fast
    limits = dict(CIM_SEND_RATE=20, CIM_SEND_BURST=40, CIM_REST_RATE=5, CIM_REST_BURST=10,
                  CIM_LOGIN_USER_PER_MIN=10, CIM_CONN_ADDR_PER_MIN=5, CIM_MAX_FRAME=65536)
    gws = [infra.start_gateway("ogw-%d" % i, **limits) for i in (1, 2)]
    yield {"infra": infra, "gws": gws}
    infra.stop_daemons()


def latencies(pairs, rounds, tag):
    """Each pair (a, b) sends `rounds` messages a -> b, one at a time; the seconds from each
    send to b's `msg`, and whether a got every `sent`."""
    out = []
    for i in range(rounds):
        for a, b in pairs:
            t0 = time.time()
            cmid = a.send(b.user_id, "%s %d" % (tag, i))
            b.expect("msg", timeout=20, where=lambda f, cmid=cmid: f["message"]["cmid"] == cmid)
            out.append(time.time() - t0)
            a.expect("sent", timeout=20, where=lambda f, cmid=cmid: f["cmid"] == cmid)
    return out


class Flood:
    """The abuser's threads, each hammering one door until stop; what came back, by door."""

    def __init__(self, gws, abuser, reconnector, victim_name, sink):
        self.gws, self.abuser, self.victim, self.sink = gws, abuser, victim_name, sink
        self.reconnector = reconnector   # a second account of the abuser's: its sockets get no pushes
        self.stop = threading.Event()
        self.got = {"send": [], "login": [], "rest": [], "conn": []}
        self.conns = []
        self.threads = [threading.Thread(target=f, daemon=True) for f in
                        (self.sends, self.logins, self.rest, self.reconnects)]

    def __enter__(self):
        # the send flood's connections first: the reconnect flood spends the address's budget
        self.conns = [ws_open(gw.url, self.abuser.token, source=ABUSER) for gw in self.gws]
        self.threads += [threading.Thread(target=self.replies, args=(ws,), daemon=True) for ws in self.conns]
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        time.sleep(1.0)                            # the last sends' answers
        for ws in self.conns:
            ws.close()
        for t in self.threads:
            t.join(timeout=30)

    def sends(self):
        """Sends as fast as the sockets take them, over both gateways."""
        n = 0
        while not self.stop.is_set():
            for ws in self.conns:
                ws.send('{"op":"send","cmid":"flood-%d","to":%d,"type":1,"content":"spam"}' % (n, self.sink.user_id))
                n += 1
            time.sleep(0.002)

    def replies(self, ws):
        while True:
            frames, code = until_close(ws, 0.5)
            self.got["send"] += [f for f in frames if f["op"] in ("sent", "error")]
            if code is not None or (self.stop.is_set() and not frames):
                return

    def logins(self):
        while not self.stop.is_set():
            self.got["login"].append(login(self.gws[0].url, self.victim, "guess", source=ABUSER))

    def rest(self):
        while not self.stop.is_set():
            self.got["rest"].append(call(self.gws[1].url, "GET", "/api/me", token=self.abuser.token, source=ABUSER))

    def reconnects(self):
        """A storm: 20 new connections from the flood's address as fast as they open (the
        first few fit its budget), then what each got (a refusal takes a Redis round trip
        on the gateway's session thread: each is read for up to a second)."""
        opened = []
        while not self.stop.is_set() and len(opened) < 20:
            try:
                opened.append(ws_open(self.gws[len(opened) % 2].url, self.reconnector.token, source=ABUSER))
            except OSError:   # the gateway's backlog is full for a moment: try again
                continue
        for ws in opened:
            self.got["conn"].append(until_close(ws, 1.0))
            ws.shutdown()   # gone at once, as a storm's clients are


def test_abuser_is_refused_and_others_keep_chatting(ov):
    gws = ov["gws"]
    pairs = []
    for i in range(3):                                      # a on one gateway, b on the other
        a, b = Client(gws[i % 2].url, uname("oa")), Client(gws[(i + 1) % 2].url, uname("ob"))
        connect_from(a, chatty(2 * i))
        connect_from(b, chatty(2 * i + 1))
        pairs.append((a, b))
    abuser, reconnector, sink, victim = (Client(gws[0].url, uname(p)) for p in ("ox", "oy", "oz", "ov"))

    latencies(pairs, 2, "warm up")                          # a fresh consumer's first records are late
    quiet = latencies(pairs, 8, "quiet")
    with Flood(gws, abuser, reconnector, victim.username, sink) as flood:
        time.sleep(1.0)                                     # the flood is on
        loaded = latencies(pairs, 8, "under load")
        # every door hammered past its limit however slow the box (a wrong password costs
        # an argon2 check): 12 logins for a limit of 10, 15 REST calls for a burst of 10
        deadline = time.time() + 60
        while time.time() < deadline and (len(flood.got["login"]) < 12 or len(flood.got["rest"]) < 15 or
                                          len(flood.got["conn"]) < 20):
            time.sleep(0.2)
    # every message of the others arrived (latencies() waited for each), and about as fast
    base = statistics.median(quiet)
    assert statistics.median(loaded) <= 10 * base + 0.2, (sorted(quiet), sorted(loaded))

    sends = flood.got["send"]
    ok = [f for f in sends if f["op"] == "sent"]
    refused = [f for f in sends if f["op"] == "error"]
    assert ok and refused and {f["code"] for f in refused} == {"rate_limited"}
    assert all(f["retry_after_ms"] > 0 for f in refused)
    assert len(ok) < len(sends) / 2                         # the budget, not the flood, went through
    for door in ("login", "rest"):
        statuses = [s for s, _, _ in flood.got[door]]
        limited = [(b, r) for s, b, r in flood.got[door] if s == 429]
        assert limited and set(statuses) <= {401, 200, 429}, (door, set(statuses))
        assert all(b["error"] == "rate_limited" and int(r) >= 1 for b, r in limited)
    conns = flood.got["conn"]
    closed = [(frames, code) for frames, code in conns if code is not None]
    assert closed, conns[:3]
    assert all(any(f["op"] == "error" and f["code"] == "rate_limited" and f["retry_after_ms"] > 0 for f in frames)
               for frames, _ in closed)

    # the flood is over: after the waits it was given, the abuser chats again
    wait_s = max([f["retry_after_ms"] for frames, _ in closed for f in frames if f["op"] == "error"] +
                 [f["retry_after_ms"] for f in refused]) / 1000.0
    time.sleep(wait_s)
    connect_from(abuser, ABUSER, gws[1].url)
    peer = pairs[0][1]
    cmid = abuser.send(peer.user_id, "sorry about that")
    abuser.expect("sent", where=lambda f: f["cmid"] == cmid)
    assert peer.expect("msg", where=lambda f: f["message"]["cmid"] == cmid)["message"]["sender_id"] == abuser.user_id
    retry = max(int(r) for s, _, r in flood.got["login"] if s == 429)
    time.sleep(retry)
    assert login(gws[0].url, victim.username, victim.password, source=ABUSER)[0] == 200
    for c in [x for p in pairs for x in p] + [abuser]:
        c.close()


def shed_count(gw):
    m = re.search(r"^cim_gateway_shed_frames_total (\d+)", gw.admin("/metrics")[1], re.M)
    return int(m.group(1)) if m else 0


def test_a_reader_that_stalls_loses_hints_not_messages(ov):
    """shed_outbox 8: once 8 frames wait for a connection that does not read (its socket
    full: 100 messages of 59 KB, more than the kernel buffers for it), the typing frames to
    it are dropped (cim_gateway_shed_frames_total); every message still arrives once it
    reads."""
    infra, gws = ov["infra"], ov["gws"]
    gw = gws[0]
    a, b = Client(gw.url, uname("os")), Client(gw.url, uname("os"))
    connect_from(a, chatty(10))
    slow = ws_open(gw.url, b.token, source=chatty(11), rcvbuf=4096)   # b reads nothing for now
    set_live(infra, [gw], "shed_outbox", 8)
    set_live(infra, gws, "send_rate", 1000)
    set_live(infra, gws, "send_burst", 1000)
    try:
        before = shed_count(gw)
        cid = cid_of(a.user_id, b.user_id)
        bulk = "x" * 59000
        cmids = [a.send(b.user_id, "%04d %s" % (i, bulk)) for i in range(100)]
        assert len(a.drain("sent", 100, timeout=60)) == 100
        for _ in range(5):
            a.send_json({"op": "typing", "conversation_id": cid})
        wait_for("typing shed", lambda: shed_count(gw) >= before + 5, timeout=20)
        frames, code = [], None
        deadline = time.time() + 60
        while time.time() < deadline and len([f for f in frames if f["op"] == "msg"]) < 100:
            got, code = until_close(slow, 1.0)
            assert code is None
            frames += got
        assert sorted(f["message"]["cmid"] for f in frames if f["op"] == "msg") == sorted(cmids)
        assert not [f for f in frames if f["op"] == "typing"]
        slow.close()
        a.close()
    finally:
        set_live(infra, [gw], "shed_outbox", None)
        set_live(infra, gws, "send_rate", None)
        set_live(infra, gws, "send_burst", None)
