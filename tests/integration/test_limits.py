"""Rate limits shared by every gateway (Redis token buckets): login attempts per username
and per client address (brute force), and REST calls per user, each answered 429
rate_limited with a Retry-After header; WebSocket sends per user (`error rate_limited`
with retry_after_ms for that cmid) and new WebSocket connections per client address
(that error, then the connection ends); all counted across both gateways."""
import http.client
import json
import queue
import socket
import struct
import threading
import time
import urllib.parse

import pytest
import websocket

from client import Client, cid_of, uname
from cluster import wait_for


@pytest.fixture(scope="module")
def lim(infra):
    infra.start("im-repo", "lrepo-1")
    infra.start("im-logic", "llogic-1")
    gws = [infra.start_gateway("lgw-%d" % i, CIM_LOGIN_USER_PER_MIN=5, CIM_REST_RATE=1, CIM_REST_BURST=5,
                               CIM_CONN_ADDR_PER_MIN=1000000,
                               CIM_TRUSTED_PROXIES="127.0.0.9, 127.0.0.5")   # a "balancer" (test_forwarded_for)
           for i in (1, 2)]                         # the per-address limits stay lifted: test clients are 127.0.0.1
    yield {"infra": infra, "gws": gws}
    infra.stop_daemons()


def set_live(infra, gws, key, value):
    """Puts /im/config/im-gateway/<key> (None: deletes it) and waits for every gateway to apply it."""
    path = "/im/config/im-gateway/" + key
    marks = [gw.log_text().count("key=%s " % key) for gw in gws]
    if value is None:
        infra.etcd.delete(path)
    else:
        infra.etcd.put(path, str(value))
    wait_for("%s applied" % key, lambda: all(gw.log_text().count("key=%s " % key) > m for gw, m in zip(gws, marks)),
             timeout=10)


def ws_open(gw_url, token, source="127.0.0.1", forwarded=None, rcvbuf=None):
    """A WebSocket to the gateway from the source address (with X-Forwarded-For: forwarded),
    nothing read yet. rcvbuf: a small receive buffer, for a client that does not read."""
    u = urllib.parse.urlparse(gw_url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(10)
    sock.bind((source, 0))
    sock.connect((u.hostname, u.port))
    return websocket.create_connection(gw_url.replace("http://", "ws://") + "/ws?token=" + token, socket=sock,
                                       header=["X-Forwarded-For: " + forwarded] if forwarded else [], timeout=10)


def until_close(ws, timeout=2.0):
    """(frames, close code) read from ws: the code None if it was still open after timeout."""
    frames, deadline = [], time.time() + timeout
    while time.time() < deadline:
        ws.settimeout(max(0.05, deadline - time.time()))
        try:
            frame = ws.recv_frame()   # as sent: a close is not answered, only read
        except websocket.WebSocketTimeoutException:
            break
        except (websocket.WebSocketConnectionClosedException, OSError):
            return frames, 1006
        if frame.opcode == websocket.ABNF.OPCODE_CLOSE:
            return frames, struct.unpack("!H", frame.data[:2])[0] if len(frame.data) >= 2 else 1005
        if frame.opcode == websocket.ABNF.OPCODE_TEXT:
            frames.append(json.loads(frame.data))
    return frames, None


def connect_from(c, source, url=None, forwarded=None):
    """Client.connect, from the source address: c's frames then arrive in c.frames."""
    c.url = url or c.url
    c.ws = ws_open(c.url, c.token, source, forwarded)
    c.ws.settimeout(None)   # the reader waits as long as it takes (a quiet spell is no close)
    c.frames, c.buf = queue.Queue(), []
    c.reader = threading.Thread(target=Client._read, args=(c.ws, c.frames), daemon=True)
    c.reader.start()
    c.conn_id = c.expect("hello")["conn_id"]


def call(url, method, path, body=None, token=None, source="127.0.0.1", forwarded=None):
    """(status, JSON body, Retry-After header) of one request from the source address
    (with X-Forwarded-For: forwarded, if given)."""
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10, source_address=(source, 0))
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    if forwarded:
        headers["X-Forwarded-For"] = forwarded
    conn.request(method, path, json.dumps(body) if body is not None else None, headers)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, json.loads(data or b"{}"), r.getheader("Retry-After")


def login(url, name, password, source="127.0.0.1", forwarded=None):
    return call(url, "POST", "/api/login", {"username": name, "password": password}, source=source,
                forwarded=forwarded)


def test_login_attempts_per_username_across_gateways(lim):
    g1, g2 = (g.url for g in lim["gws"])
    victim, other = Client(g1, uname("lv")), Client(g1, uname("lo"))
    tries = [login(g1, victim.username, "wrong guess %d" % i) for i in range(2)] + \
            [login(g2, victim.username, "wrong guess %d" % i) for i in range(2)]
    assert [s for s, _, _ in tries] == [401] * 4                       # with the Client's own login: 5 a minute
    status, body, retry = login(g1, victim.username, victim.password)  # even the right password
    assert (status, body["error"]) == (429, "rate_limited") and int(retry) >= 1
    assert login(g2, victim.username, victim.password)[0] == 429
    assert login(g2, other.username, other.password)[0] == 200         # another name is not held back


def test_login_attempts_per_client_address(lim):
    infra = lim["infra"]
    g1, g2 = (g.url for g in lim["gws"])
    users = [Client(g1, uname("la")) for _ in range(4)]
    key = "/im/config/im-gateway/login_addr_per_min"
    marks = [gw.log_text().count("event=config.applied key=login_addr_per_min") for gw in lim["gws"]]
    infra.etcd.put(key, "6")                                            # live, on both gateways
    try:
        wait_for("both gateways applied it", lambda: all(
            gw.log_text().count("event=config.applied key=login_addr_per_min") > m for gw, m in zip(lim["gws"], marks)))
        got = [login((g1, g2)[i % 2], users[i % 4].username, users[i % 4].password, source="127.0.0.2")[0]
               for i in range(6)]
        assert got == [200] * 6                                         # 6 a minute from 127.0.0.2
        status, body, retry = login(g1, users[0].username, users[0].password, source="127.0.0.2")
        assert (status, body["error"]) == (429, "rate_limited") and int(retry) >= 1
        assert login(g2, users[1].username, users[1].password, source="127.0.0.2")[0] == 429
        assert login(g1, users[0].username, users[0].password, source="127.0.0.3")[0] == 200   # another address
    finally:
        infra.etcd.delete(key)


def test_forwarded_for_only_from_a_trusted_balancer(lim):
    """Behind a balancer every client has its address: the per-address limit counts the
    X-Forwarded-For entry the trusted balancer (127.0.0.5) added, and ignores the header
    from anyone else."""
    infra = lim["infra"]
    g1 = lim["gws"][0]
    u, v, w = (Client(g1.url, uname("lx")) for _ in range(3))   # each under its own per-username limit
    key = "/im/config/im-gateway/login_addr_per_min"
    mark = g1.log_text().count("event=config.applied key=login_addr_per_min")
    infra.etcd.put(key, "3")
    try:
        wait_for("applied", lambda: g1.log_text().count("event=config.applied key=login_addr_per_min") > mark)
        via_lb = [login(g1.url, u.username, u.password, source="127.0.0.5", forwarded="6.6.6.6, 10.9.9.1")[0]
                  for _ in range(4)]
        assert via_lb == [200, 200, 200, 429]                        # 10.9.9.1 spent its 3 (the 6.6.6.6 is its word)
        assert login(g1.url, v.username, v.password, source="127.0.0.5", forwarded="10.9.9.2")[0] == 200
        direct = [login(g1.url, w.username, w.password, source="127.0.0.4", forwarded="10.9.9.%d" % (10 + i))[0]
                  for i in range(4)]
        assert direct == [200, 200, 200, 429]                        # not a balancer: counted as 127.0.0.4
    finally:
        infra.etcd.delete(key)


def test_rest_calls_per_user_across_gateways(lim):
    g1, g2 = (g.url for g in lim["gws"])
    a, b = Client(g1, uname("lr")), Client(g1, uname("lr"))
    got = [call((g1, g2)[i % 2], "GET", "/api/me", token=a.token)[0] for i in range(5)]
    assert got == [200] * 5                                             # the burst, over both gateways
    status, body, retry = call(g2, "GET", "/api/me", token=a.token)
    assert (status, body["error"], retry) == (429, "rate_limited", "1")
    assert call(g1, "GET", "/api/me", token=b.token)[0] == 200          # per user
    assert call(g1, "POST", "/api/logout", token=a.token)[0] == 200     # a logout is never refused


def replies(c, n, timeout=10):
    """The next n `sent` or `error` frames on c, in arrival order (others stay buffered)."""
    got, deadline = [], time.time() + timeout
    while len(got) < n:
        hit = [f for f in c.buf if f.get("op") in ("sent", "error")]
        for f in hit[:n - len(got)]:
            c.buf.remove(f)
            got.append(f)
        if len(got) < n:
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError("%d of %d replies (buffered: %r)" % (len(got), n, c.buf[-5:]))
            try:
                c.buf.append(c.frames.get(timeout=left))
            except queue.Empty:
                pass
    return got


def test_sends_per_user_across_gateways(lim):
    """One user on both gateways shares one budget: send_burst at once, then send_rate a
    second; the rest is refused rate_limited with retry_after_ms and never stored."""
    infra, gws = lim["infra"], lim["gws"]
    a1, b = Client(gws[0].url, uname("ls")), Client(gws[0].url, uname("ls"))
    a2 = Client(gws[1].url, a1.username, register=False)          # the same user, on the other gateway
    set_live(infra, gws, "send_rate", 2)
    set_live(infra, gws, "send_burst", 10)
    try:
        for c in (a1, a2, b):
            c.connect()
        start = time.time()
        cmids = [(a1, a2)[i % 2].send(b.user_id, "budget %d" % i) for i in range(40)]
        answers = {f["cmid"]: f for c in (a1, a2) for f in replies(c, 20)}
        elapsed = time.time() - start
        assert set(answers) == set(cmids)
        sent = [m for m in cmids if answers[m]["op"] == "sent"]
        refused = [answers[m] for m in cmids if answers[m]["op"] == "error"]
        assert 10 <= len(sent) <= 10 + 2 * elapsed + 1, (len(sent), elapsed)    # one budget, not one per gateway
        assert {f["code"] for f in refused} == {"rate_limited"}
        assert all(0 < f["retry_after_ms"] <= 1000 for f in refused), refused[:3]   # a token every 500 ms
        cid = "s_%d_%d" % (min(a1.user_id, b.user_id), max(a1.user_id, b.user_id))
        stored = [m["cmid"] for m in b.sync_all(cid)]
        assert sorted(stored) == sorted(sent)                                    # refused ones never produced
        time.sleep(max(f["retry_after_ms"] for f in refused) / 1000.0)
        again = a2.send(b.user_id, "after the wait")
        assert a2.expect("sent", where=lambda f: f["cmid"] == again)["cmid"] == again
    finally:
        set_live(infra, gws, "send_rate", None)
        set_live(infra, gws, "send_burst", None)
        for c in (a1, a2, b):
            c.close()


def test_reconnect_storm_refused_per_address(lim):
    """conn_addr_per_min connections a minute from one address, over both gateways; the
    next ones get `error rate_limited` with retry_after_ms and the connection ends, and no session.
    Another address, named by the trusted balancer, still gets in."""
    infra, gws = lim["infra"], lim["gws"]
    u = Client(gws[0].url, uname("lc"))
    set_live(infra, gws, "conn_addr_per_min", 20)
    held = []
    try:
        t0 = time.time()
        held = [ws_open(gws[i % 2].url, u.token, source="127.0.0.6") for i in range(20)]
        storm = [ws_open(gws[i % 2].url, u.token, source="127.0.0.6") for i in range(6)]
        refills = int((time.time() - t0) / 3.0)                              # 20 a minute: one token per 3 s
        storm = [until_close(ws, 3.0) for ws in storm]
        refused = [(frames, code) for frames, code in storm if code is not None]   # closed by the gateway
        assert len(refused) >= len(storm) - refills and refused, (storm, refills)
        for frames, code in refused:
            err = [f for f in frames if f["op"] == "error"]
            assert len(err) == 1 and err[0]["code"] == "rate_limited" and 0 < err[0]["retry_after_ms"] <= 3000
        storm = refused
        admitted = [until_close(ws, 0.05) for ws in held]                     # their refusal would be here by now
        assert all(code is None and [f["op"] for f in frames] == ["hello"] for frames, code in admitted), admitted
        refused_ids = {f["conn_id"] for frames, _ in storm for f in frames if f["op"] == "hello"}
        admitted_ids = {frames[0]["conn_id"] for frames, _ in admitted}
        sessions = set(infra.redis("HKEYS", "user_session:%d" % u.user_id).split())
        assert admitted_ids <= sessions and not refused_ids & sessions        # refused: never a session
        # not a balancer: its X-Forwarded-For is ignored, it is still 127.0.0.6
        # (a slow box may have refilled one token, at 20 a minute, since the storm: of three
        # forged ones at least two are refused)
        forged = [ws_open(gws[0].url, u.token, source="127.0.0.6", forwarded="10.8.8.8") for _ in range(3)]
        assert sum(until_close(ws, 3.0)[1] is not None for ws in forged) >= 2
        via_lb = [ws_open(gws[i % 2].url, u.token, source="127.0.0.5", forwarded="10.8.8.%d" % i) for i in range(3)]
        for ws in via_lb:
            frames, code = until_close(ws, 0.5)
            assert code is None and [f["op"] for f in frames] == ["hello"]
            ws.send(json.dumps({"op": "ping"}))
            assert until_close(ws, 1.0)[0] == [{"op": "pong"}]
            ws.close()
        time.sleep(max(f["retry_after_ms"] for frames, _ in storm for f in frames if f["op"] == "error") / 1000.0)
        frames, code = until_close(ws_open(gws[1].url, u.token, source="127.0.0.6"), 0.5)
        assert code is None and [f["op"] for f in frames] == ["hello"]          # a token came back
    finally:
        set_live(infra, gws, "conn_addr_per_min", None)
        for ws in held:
            ws.close()


def test_what_a_refused_connection_sent_is_never_handled(lim):
    """A connection is admitted or refused a moment after its `hello`. A `send` written at
    once is handled on an admitted connection (it waited for the admission), and never on
    a refused one: that gets only `error rate_limited` and its end, and nothing is stored."""
    infra, gws = lim["infra"], lim["gws"]
    a, b = Client(gws[0].url, uname("lh")), Client(gws[0].url, uname("lh"))
    cid = cid_of(a.user_id, b.user_id)

    def send_at_once(url, cmid):
        ws = ws_open(url, a.token, source="127.0.0.8")
        ws.send(json.dumps({"op": "send", "cmid": cmid, "to": b.user_id, "type": 1, "content": cmid}))
        return ws

    set_live(infra, gws, "conn_addr_per_min", 1)
    first = None
    try:
        first = send_at_once(gws[0].url, "admitted-0")
        frames, code = until_close(first, 2.0)
        assert code is None and [f["op"] for f in frames] == ["hello", "sent"], frames
        refused = [send_at_once(gws[i % 2].url, "refused-%d" % i) for i in range(5)]
        for ws in refused:
            frames, code = until_close(ws, 3.0)
            assert code is not None, frames
            assert [f["op"] for f in frames] == ["hello", "error"] and frames[1]["code"] == "rate_limited", frames
        time.sleep(1.0)   # a send that slipped through would be stored by now
        assert [r[0] for r in infra.sql("SELECT client_msg_id FROM messages WHERE conversation_id = '%s'" % cid)] \
            == ["admitted-0"]
    finally:
        set_live(infra, gws, "conn_addr_per_min", None)
        if first:
            first.close()
