"""Regression tests of the hardening issue: each fails on the code before its fix.

Real gateway, logic, repo over real Kafka, Redis, MariaDB and etcd; hostile or unlucky
clients over raw sockets."""
import os
import re
import signal
import socket
import threading
import time
import uuid

import pytest

from client import Client, cid_of, uname
from cluster import http, wait_for


@pytest.fixture(scope="module")
def hard(infra):
    infra.start("im-repo", "hrepo-1")
    logic = infra.start("im-logic", "hlogic-1")
    gw = infra.start_gateway("hgw-1", CIM_SEND_RATE=100000, CIM_SEND_BURST=100000,
                             CIM_CURSOR_RATE=100000, CIM_CURSOR_BURST=100000)
    yield {"infra": infra, "gw": gw, "logic": logic}
    infra.stop_daemons()


def pair(h):
    a, b = Client(h["gw"].url, uname("ha")), Client(h["gw"].url, uname("hb"))
    a.connect()
    b.connect()
    return a, b


def rss(gw):
    status, text = gw.admin("/metrics")
    assert status == 200
    return int(re.search(r"^process_resident_memory_bytes (\d+)", text, re.M).group(1))


def host_port(gw):
    host, port = gw.addr.rsplit(":", 1)
    return host, int(port)


def raw(gw, payload=b"", read=False, linger=0.0):
    """One connection: send payload, maybe read a little, close."""
    s = socket.create_connection(host_port(gw), timeout=5)
    try:
        if payload:
            s.sendall(payload)
        if linger:
            time.sleep(linger)
        if read:
            try:
                s.recv(4096)
            except OSError:
                pass
    finally:
        s.close()


# A TLS 1.2 ClientHello as a browser or load balancer would send to an https:// port.
CLIENT_HELLO = bytes.fromhex(
    "16030100a5010000a10303" + "00" * 32 + "00" + "0020" + "c02bc02fc02cc030cca9cca8c013c014"
    "009c009d002f0035000a0100" + "0058" + "0000000e000c0000096c6f63616c686f7374"
    "000b000403000102000a000c000a001d0017001e00190018" + "0023000000160000001700000d001e001c"
    "040305030603080708080809080a080b080408050806040105010601")

PROBES = {
    "connect_and_close": lambda gw, tok: raw(gw),
    "partial_request_line": lambda gw, tok: raw(gw, b"GET /api/pi"),
    "oversized_header_line": lambda gw, tok: raw(gw, b"GET /api/ping HTTP/1.1\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n",
                                                read=True),
    "headers_without_body": lambda gw, tok: raw(gw, b"POST /api/login HTTP/1.1\r\nHost: x\r\n"
                                                b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"),
    "body_cut_short": lambda gw, tok: raw(gw, b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
                                          b'{"username":"x","pass'),
    "tls_client_hello": lambda gw, tok: raw(gw, CLIENT_HELLO, read=True),
    "ws_upgrade_bad_token": lambda gw, tok: raw(gw, b"GET /ws?token=forged HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                                                b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                                b"Sec-WebSocket-Version: 13\r\n\r\n", read=True),
    "close_before_reply": lambda gw, tok: raw(gw, ("GET /api/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
                                                   % tok).encode()),
}


def test_hostile_connections_do_not_crash_or_leak(hard):
    gw = hard["gw"]
    c = Client(gw.url, uname("probe"))
    for probe in PROBES.values():       # warm up every path once before measuring memory
        probe(gw, c.token)
    time.sleep(0.5)
    before = rss(gw)
    for name, probe in PROBES.items():
        for _ in range(50):
            probe(gw, c.token)
        assert gw.proc.poll() is None, "gateway died on %s:\n%s" % (name, gw.tail())
        assert http("GET", gw.url + "/api/ping")[0] == 200, name
    time.sleep(0.5)
    grown = rss(gw) - before
    assert grown < 4 * 1024 * 1024, "RSS grew by %d bytes over 400 hostile connections" % grown
    assert c.get("/api/me")[0] == 200                   # and real clients are still served


def test_concurrent_logins_keep_the_gateway_up(hard):
    gw = hard["gw"]
    name = uname("many")
    assert http("POST", gw.url + "/api/register", {"username": name, "password": "correct horse battery"})[0] == 201
    results = []

    def login():
        results.append(http("POST", gw.url + "/api/login", {"username": name, "password": "correct horse battery"},
                            timeout=60)[0])
    threads = [threading.Thread(target=login) for _ in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert gw.proc.poll() is None, gw.tail()
    assert results.count(200) == 100, results


def test_resent_cmid_burns_no_seq_and_is_cached(hard):
    a, b = pair(hard)
    cid = cid_of(a.user_id, b.user_id)
    cmid = uuid.uuid4().hex
    a.send(b.user_id, "first", cmid=cmid)
    first = a.expect("sent", where=lambda f: f["cmid"] == cmid)
    for _ in range(3):
        a.send(b.user_id, "first", cmid=cmid)
        assert a.expect("sent", where=lambda f: f["cmid"] == cmid) == first
    nxt = a.send(b.user_id, "second")
    second = a.expect("sent", where=lambda f: f["cmid"] == nxt)
    assert second["seq"] == first["seq"] + 1               # contiguous: no seq burnt by the resends
    key = "msg_dedup:%d:%s" % (a.user_id, cmid)
    assert hard["infra"].redis("EXISTS", key) == "1"
    assert [m["seq"] for m in b.sync_all(cid)] == [first["seq"], second["seq"]]
    a.close()
    b.close()


def test_cmid_with_control_characters_is_refused_and_logs_stay_one_line_per_event(hard):
    a, b = pair(hard)
    evil = "x\nts=2025-01-01T00:00:00.000Z level=error daemon=im-gateway event=forged"
    a.send_json({"op": "send", "cmid": evil, "to": b.user_id, "type": 1, "content": "hi"})
    err = a.expect("error")
    assert err["code"] == "invalid_argument"
    a.send_json({"op": "send", "cmid": "ok-1", "to": b.user_id, "type": 4294967297, "content": "hi"})
    err = a.expect("error", where=lambda f: f.get("cmid") == "ok-1")
    assert err["code"] == "invalid_argument"            # not narrowed to type 1
    time.sleep(0.5)
    for d in hard["infra"].daemons:
        assert "event=forged" not in d.log_text()
    a.close()
    b.close()


def test_flushall_sessions_come_back_and_pushes_are_live(hard):
    a, b = pair(hard)
    infra = hard["infra"]
    infra.redis("FLUSHALL")
    # the gateway re-asserts its live sessions within a few seconds
    wait_for("session re-asserted", lambda: infra.redis("HLEN", "user_session:%d" % b.user_id) == "1", timeout=15)
    ttl = int(infra.redis("TTL", "user_session:%d" % b.user_id))
    assert ttl > 0                                      # sessions expire unless re-asserted
    cmid = a.send(b.user_id, "live after flush")
    got = b.expect("msg", where=lambda f: f["message"]["cmid"] == cmid, timeout=10)
    assert got["message"]["content"] == "live after flush"
    a.close()
    b.close()


def test_ack_and_read_are_rate_limited(hard):
    infra = hard["infra"]
    gw = infra.start_gateway("hgw-rl", CIM_CURSOR_RATE=5, CIM_CURSOR_BURST=5)
    a = Client(gw.url, uname("rl"))
    a.connect()
    for i in range(30):
        a.send_json({"op": "ack", "conversation_id": "s_1_%d" % a.user_id, "seq": i + 1})
    err = a.expect("error", timeout=5)
    assert err["code"] == "rate_limited"
    a.close()
    infra.stop(gw)


def test_sigterm_during_rest_calls_and_pushes_exits_zero(hard):
    infra = hard["infra"]
    gw = infra.start_gateway("hgw-term", CIM_SEND_RATE=100000, CIM_SEND_BURST=100000)
    a, b = Client(gw.url, uname("ta")), Client(gw.url, uname("tb"))
    a.connect()
    b.connect()
    stop = threading.Event()

    def pushes():
        i = 0
        while not stop.is_set():
            try:
                a.send(b.user_id, "push %d" % i)
            except Exception:  # noqa: BLE001 - the gateway is going away
                return
            i += 1
            time.sleep(0.002)

    def rest():
        try:
            http("POST", gw.url + "/api/login", {"username": a.username, "password": a.password}, timeout=10)
        except Exception:  # noqa: BLE001 - the gateway is going away
            pass
    sender = threading.Thread(target=pushes)
    sender.start()
    time.sleep(1.0)
    calls = [threading.Thread(target=rest) for _ in range(50)]
    for t in calls:
        t.start()
    time.sleep(0.05)                                   # argon2id keeps them in flight
    gw.proc.send_signal(signal.SIGTERM)
    rc = gw.proc.wait(timeout=30)
    stop.set()
    sender.join()
    for t in calls:
        t.join()
    assert rc == 0, gw.tail()
    infra.daemons.remove(gw)
    assert "hgw-term" not in infra.etcd.services("im-gateway")   # deregistered
    # flushed: every send the gateway produced before it stopped is stored, exactly once
    produced = int(re.search(r"event=gateway.stopped sends_produced=(\d+)", gw.log_text()).group(1))
    assert produced > 0
    cid = cid_of(a.user_id, b.user_id)
    wait_for("all produced sends stored", lambda: infra.sql(
        "SELECT COUNT(*) FROM messages WHERE conversation_id = '%s'" % cid) == [[str(produced)]], timeout=30)
    # and the sessions it held were removed on the way out
    assert infra.redis("HLEN", "user_session:%d" % a.user_id) == "0"
    assert "AddressSanitizer" not in gw.log_text()


def test_full_kafka_queue_answers_unavailable_at_once_and_the_socket_stays_served(hard):
    infra = hard["infra"]
    gw = infra.start_gateway("hgw-q", CIM_SEND_RATE=100000, CIM_SEND_BURST=100000, CIM_UP_QUEUE_MAX=5)
    a, b = Client(gw.url, uname("qa")), Client(hard["gw"].url, uname("qb"))
    a.connect()
    b.connect()
    first = a.send(b.user_id, "before the stop")       # the gateway's consumer is in its group
    a.expect("sent", where=lambda f: f["cmid"] == first, timeout=30)
    kafka = int(open(os.path.join(infra.run, "pids", "kafka.pid")).read())
    os.kill(kafka, signal.SIGSTOP)                  # the broker hangs: nothing is delivered
    try:
        cmids = [a.send(b.user_id, "queued %d" % i) for i in range(40)]
        refused = [a.expect("error", timeout=5) for _ in range(35)]   # 5 fit in the queue
        assert all(e["code"] == "unavailable" for e in refused)
        a.send_json({"op": "ping"})
        a.expect("pong", timeout=5)                 # the service thread never blocked
    finally:
        os.kill(kafka, signal.SIGCONT)
    acks = {}
    pending = [e["cmid"] for e in refused]
    deadline = time.time() + 60
    while len(acks) < 40 and time.time() < deadline:  # as a client does: resend what was refused
        for cmid in pending:
            a.send(b.user_id, "queued again", cmid=cmid)
        pending = []
        try:
            f = a.frames.get(timeout=1)
        except Exception:  # noqa: BLE001 - queue.Empty: nothing yet
            continue
        if f.get("op") == "sent":
            acks[f["cmid"]] = f
        elif f.get("op") == "error" and f.get("code") == "unavailable":
            time.sleep(0.1)
            pending.append(f["cmid"])
    assert sorted(acks) == sorted(cmids)
    cid = cid_of(a.user_id, b.user_id)
    assert sorted(f["seq"] for f in acks.values()) == list(range(2, 42))   # contiguous after the first
    assert infra.sql("SELECT COUNT(*) FROM messages WHERE conversation_id = '%s'" % cid) == [["41"]]
    a.close()
    b.close()
    infra.stop(gw)
