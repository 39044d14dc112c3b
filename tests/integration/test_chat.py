"""Single chat end to end: real gateways, logic, repo, task over real Kafka, Redis, MySQL."""
import base64
import json
import os
import re
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import websocket

from client import Client, api, cid_of, uname
from cluster import http, wait_for


class Webhook:
    """A real HTTP endpoint that records the offline pushes im-task POSTs."""

    def __init__(self):
        self.posts = []
        hook = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                hook.posts.append(json.loads(self.rfile.read(n)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d/push" % self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture(scope="module")
def chat(infra):
    hook = Webhook()
    infra.start("im-repo", "repo-1")
    logics = [infra.start("im-logic", "logic-%d" % i, CIM_BATCH_MAX=64) for i in (1, 2)]
    gws = [infra.start_gateway("gw-%d" % i, CIM_SEND_RATE=100000, CIM_SEND_BURST=100000,
                               CIM_MAX_FRAME=4096, CIM_HEARTBEAT_S=30) for i in (1, 2)]
    infra.start("im-task", "task-1", CIM_PUSH_PROVIDER="webhook", CIM_WEBHOOK_URL=hook.url)
    yield {"infra": infra, "gws": gws, "logics": logics, "hook": hook}
    infra.stop_daemons()
    hook.close()


def pair(chat):
    a = Client(chat["gws"][0].url, uname("alice"))
    b = Client(chat["gws"][1].url, uname("bob"))
    a.connect()
    b.connect()
    return a, b


def stored(infra, cid):
    return infra.sql("SELECT seq, sender_id, client_msg_id, content FROM messages "
                     "WHERE conversation_id = '%s' ORDER BY seq" % cid)


def test_two_gateways_exchange_both_ways_in_seq_order(chat):
    a, b = pair(chat)
    cid = cid_of(a.user_id, b.user_id)
    sent = []
    for i in range(10):
        sender, receiver = (a, b) if i % 2 == 0 else (b, a)
        cmid = sender.send(receiver.user_id, "hello %d 你好 🙂" % i)
        ack = sender.expect("sent", where=lambda f, c=cmid: f["cmid"] == c)
        assert ack["conversation_id"] == cid and isinstance(ack["msg_id"], str)
        got = receiver.expect("msg", where=lambda f, c=cmid: f["message"]["cmid"] == c)["message"]
        assert got["content"] == "hello %d 你好 🙂" % i
        assert got["seq"] == ack["seq"] and got["msg_id"] == ack["msg_id"]
        assert got["sender_id"] == sender.user_id
        sent.append(ack["seq"])
    assert sent == sorted(sent) and len(set(sent)) == 10
    rows = stored(chat["infra"], cid)
    assert [int(r[0]) for r in rows] == sent               # exactly one row per message
    # the conversation list shows it with the last message and unread count; your own
    # messages never count as unread: b sent the last one, a has that one unread
    status, body = b.get("/api/conversations")
    conv = [c for c in body["conversations"] if c["conversation_id"] == cid][0]
    assert conv["peer"]["user_id"] == a.user_id and conv["max_seq"] == sent[-1]
    assert conv["last_message"]["content"] == "hello 9 你好 🙂"
    assert conv["unread"] == 0
    conv = [c for c in a.get("/api/conversations")[1]["conversations"] if c["conversation_id"] == cid][0]
    assert conv["unread"] == 1 and conv["last_read_seq"] == sent[-2]
    a.send_json({"op": "read", "conversation_id": cid, "seq": sent[-1]})
    receipt = b.expect("receipt")
    assert receipt["seq"] == sent[-1] and receipt["user_id"] == a.user_id
    conv = [c for c in a.get("/api/conversations")[1]["conversations"] if c["conversation_id"] == cid][0]
    assert conv["unread"] == 0
    # REST history in pages
    status, page = b.get("/api/conversations/%s/messages?before_seq=%d&limit=3" % (cid, sent[-1] + 1))
    assert status == 200 and [m["seq"] for m in page["messages"]] == sent[-3:]
    # the sender's other device gets its own messages too
    a2 = Client(a.url, a.username, register=False)
    a2.connect(chat["gws"][1].url)
    cmid = a.send(b.user_id, "to both my devices")
    assert a2.expect("msg", where=lambda f: f["message"]["cmid"] == cmid)["message"]["sender_id"] == a.user_id
    for c in (a, b, a2):
        c.close()


def test_same_cmid_three_times_one_message_three_identical_acks(chat):
    a, b = pair(chat)
    cmid = uuid.uuid4().hex
    acks = []
    for i in range(3):
        a.send(b.user_id, "only once", cmid=cmid)
        acks.append(a.expect("sent", where=lambda f: f["cmid"] == cmid))
        if i == 1:                                   # the third try comes after a reconnect
            a.close()
            a.connect(chat["gws"][1].url)
    assert acks[0] == acks[1] == acks[2]
    rows = chat["infra"].sql("SELECT COUNT(*) FROM messages WHERE sender_id = %d AND client_msg_id = '%s'"
                             % (a.user_id, cmid))
    assert rows == [["1"]]
    b.expect("msg", where=lambda f: f["message"]["cmid"] == cmid)
    with pytest.raises(TimeoutError):                # and b saw it only once
        b.expect("msg", where=lambda f: f["message"]["cmid"] == cmid, timeout=2)
    a.close()
    b.close()


def test_offline_recipient_syncs_twenty_in_order_and_gets_pushes(chat):
    a, b = pair(chat)
    b.close()
    wait_for("b offline in redis", lambda: chat["infra"].redis("HLEN", "user_session:%d" % b.user_id) == "0")
    cid = cid_of(a.user_id, b.user_id)
    cmids = [a.send(b.user_id, "offline %d" % i) for i in range(20)]
    acks = {f["cmid"]: f for f in a.drain("sent", 20)}
    assert set(acks) == set(cmids)
    b.connect()
    msgs = b.sync_all(cid)
    assert [m["cmid"] for m in msgs] == cmids
    seqs = [m["seq"] for m in msgs]
    assert seqs == sorted(seqs) and len(set(seqs)) == 20
    pushed = wait_for("20 webhook pushes", lambda: [p for p in chat["hook"].posts
                                                    if p["user_id"] == b.user_id] if len(
        [p for p in chat["hook"].posts if p["user_id"] == b.user_id]) >= 20 else None, timeout=30)
    assert {p["message"]["cmid"] for p in pushed} == set(cmids)
    a.close()
    b.close()


def test_flushall_seq_continues_above_stored(chat):
    a, b = pair(chat)
    cid = cid_of(a.user_id, b.user_id)
    for i in range(5):
        a.send(b.user_id, "before %d" % i)
    last = max(f["seq"] for f in a.drain("sent", 5))
    chat["infra"].redis("FLUSHALL")
    a.send(b.user_id, "after flush")
    ack = a.expect("sent")
    assert ack["seq"] == last + 1
    assert [int(r[0]) for r in stored(chat["infra"], cid)] == list(range(1, last + 2))
    # sessions were flushed too: reconnecting registers again and pushes resume
    a.close()
    b.close()
    a.connect()
    b.connect()
    cmid = a.send(b.user_id, "after reconnect")
    assert b.expect("msg", where=lambda f: f["message"]["cmid"] == cmid)["message"]["seq"] == last + 2
    a.close()
    b.close()


def test_sigkill_one_logic_while_sending_500(chat):
    infra = chat["infra"]
    a, b = pair(chat)
    cid = cid_of(a.user_id, b.user_id)
    acked = {}
    stop = threading.Event()

    def collect():
        while not stop.is_set() or len(acked) < 500:
            try:
                f = a.expect("sent", timeout=1)
            except TimeoutError:
                if stop.is_set():
                    return
                continue
            acked[f["cmid"]] = f

    t = threading.Thread(target=collect)
    t.start()
    cmids = []
    for i in range(500):
        cmids.append(a.send(b.user_id, "load %d" % i))
        if i == 150:
            victim = chat["logics"][0]
            victim.kill()
        time.sleep(0.004)
    # a real client retries what was not acked, with the same cmid
    deadline = time.time() + 60
    while len(acked) < 500 and time.time() < deadline:
        time.sleep(2)
        for c in cmids:
            if c not in acked:
                a.send(b.user_id, "load %d" % cmids.index(c), cmid=c)
    stop.set()
    t.join()
    assert len(acked) == 500
    rows = stored(infra, cid)
    assert len(rows) == 500 and {r[2] for r in rows} == set(cmids)      # each stored exactly once
    seqs = {f["seq"] for f in acked.values()}
    assert len(seqs) == 500
    got = {m["cmid"] for m in b.sync_all(cid)}                          # reaches the recipient
    assert got == set(cmids)
    # restart the victim for the following tests
    chat["logics"][0] = infra.start("im-logic", "logic-1")
    a.close()
    b.close()


def test_a_seq_taken_by_a_killed_logic_is_the_one_stored(chat):
    """A logic takes a send's seq, then dies before its commit came back (the messages table
    is locked from another MariaDB session, so the commit waits): the logic that reads the
    record again stores it under that same seq, and the conversation's seqs have no gap."""
    infra = chat["infra"]
    a, b = pair(chat)
    cid = cid_of(a.user_id, b.user_id)
    a.send(b.user_id, "before")
    first = a.expect("sent")["seq"]
    locker = subprocess.Popen(["mariadb", "-h127.0.0.1", "-P" + infra.ports["CIM_MYSQL_PORT"], "-ucim",
                               "-pcim", "-N", "-B", "--unbuffered", "cim"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        locker.stdin.write("LOCK TABLES messages WRITE; SELECT 'locked';\n")
        locker.stdin.flush()
        assert locker.stdout.readline().strip() == "locked"
        cmid = a.send(b.user_id, "taken, then its logic died")
        wait_for("seq taken", lambda: infra.redis("GET", "conv_seq:" + cid) == str(first + 1), timeout=10)
        for d in chat["logics"]:
            d.kill()
    finally:
        locker.kill()                                    # its session ends: the lock goes
        locker.wait()
    chat["logics"] = [infra.start("im-logic", "logic-%d" % i, CIM_BATCH_MAX=64) for i in (1, 2)]
    sent = a.expect("sent", where=lambda f: f["cmid"] == cmid, timeout=60)
    assert sent["seq"] == first + 1
    after = a.send(b.user_id, "after")
    assert a.expect("sent", where=lambda f: f["cmid"] == after)["seq"] == first + 2
    assert [int(r[0]) for r in stored(infra, cid)] == [first, first + 1, first + 2]
    assert [m["seq"] for m in b.sync_all(cid)] == [first, first + 1, first + 2]
    a.close()
    b.close()


def test_third_user_is_forbidden_and_bad_tokens_refused(chat):
    a, b = pair(chat)
    a.send(b.user_id, "private")
    a.expect("sent")
    cid = cid_of(a.user_id, b.user_id)
    eve = Client(chat["gws"][0].url, uname("eve"))
    status, body = eve.get("/api/conversations/%s/messages" % cid)
    assert status == 403 and body["error"] == "forbidden"
    eve.connect()
    eve.send_json({"op": "sync", "conversation_id": cid, "after_seq": 0})
    err = eve.expect("error")
    assert err["code"] == "forbidden"
    assert all(c["conversation_id"] != cid for c in eve.get("/api/conversations")[1]["conversations"])

    header, claims, sig = a.token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(claims + "=="))
    def b64(d):
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()
    forged = "%s.%s.%s" % (header, b64(dict(payload, sub=str(eve.user_id))), sig)
    expired = "%s.%s.%s" % (header, b64(dict(payload, exp=1)), sig)
    none = "%s.%s." % (b64({"alg": "none", "typ": "JWT"}), claims)
    gw = chat["gws"][0].url
    for bad in (forged, expired, none, "garbage"):
        status, body = http("GET", gw + "/api/me", token=bad)
        assert status == 401 and body["error"] == "unauthorized"
        with pytest.raises(websocket.WebSocketBadStatusException) as e:
            websocket.create_connection(gw.replace("http", "ws") + "/ws?token=" + bad, timeout=5)
        assert e.value.status_code == 401
    for c in (a, b, eve):
        c.close()


def test_bad_input_gets_error_codes_and_connection_stays(chat):
    a, b = pair(chat)
    cases = [
        ('{"op": "send", "cmid": ', "invalid_argument"),                       # malformed JSON
        ('{"op": "dance"}', "invalid_argument"),                               # unknown op
        ('{"op": "send", "cmid": "x1", "to": %d}' % b.user_id, "invalid_argument"),   # no content
        ('{"op": "send", "cmid": "x2", "to": 999999999, "content": "hi"}', "not_found"),
        ('{"op": "send", "cmid": "x3", "to": %d, "content": "hi"}' % a.user_id, "invalid_argument"),
        ('{"op": "send", "cmid": "x4", "to": %d, "content": "%s"}' % (b.user_id, "a" * 4100), "too_large"),
        ('{"op": "send", "cmid": "x5", "to": %d, "content": "\'; DROP TABLE messages; --"}' % b.user_id, None),
    ]
    for text, code in cases:
        a.send_raw(text)
        if code:
            assert a.expect("error")["code"] == code, text
        else:
            assert a.expect("sent")["cmid"] == "x5"
    a.ws.send(b'{"op":"ping","x":"\xff\xfe"}', opcode=websocket.ABNF.OPCODE_TEXT)   # invalid UTF-8
    assert a.expect("error")["code"] == "invalid_argument"
    a.send_json({"op": "ping"})
    a.expect("pong")                                    # still connected after all of it
    assert chat["infra"].sql("SELECT COUNT(*) FROM messages WHERE content LIKE '%DROP TABLE%'") == [["1"]]
    status, body = http("POST", chat["gws"][0].url + "/api/register", b"{not json")
    assert status == 400 and body["error"] == "invalid_argument"
    status, body = http("POST", chat["gws"][0].url + "/api/register",
                        {"username": a.username, "password": "whatever123"})
    assert status == 409 and body["error"] == "username_taken"
    status, body = http("POST", chat["gws"][0].url + "/api/login", {"username": a.username, "password": "nope"})
    assert status == 401 and body["error"] == "invalid_credentials"
    a.close()
    b.close()


def test_rate_limit_refuses_without_producing(chat):
    infra = chat["infra"]
    gw = infra.start_gateway("gw-rl", CIM_SEND_RATE=1, CIM_SEND_BURST=3)
    a, b = Client(gw.url, uname("rl_a")), Client(gw.url, uname("rl_b"))
    a.connect()
    for i in range(6):
        a.send(b.user_id, "burst %d" % i, cmid="rl-%d" % i)
    errors = [a.expect("error") for _ in range(3)]
    assert all(e["code"] == "rate_limited" for e in errors)
    assert sorted(f["cmid"] for f in a.drain("sent", 3)) == ["rl-0", "rl-1", "rl-2"]
    time.sleep(1)
    assert infra.sql("SELECT COUNT(*) FROM messages WHERE sender_id = %d" % a.user_id) == [["3"]]
    a.close()
    infra.stop(gw)


def test_trace_id_in_every_daemon_log(chat):
    # per-message lines are debug (the hot path logs no info line per message): turn
    # debug on for the whole cluster through etcd, live, and back off after
    infra = chat["infra"]
    services = ("im-gateway", "im-logic", "im-repo", "im-task")
    for svc in services:
        infra.etcd.put("/im/config/%s/log_level" % svc, "debug")
    wait_for("debug on", lambda: all("event=config.applied key=log_level" in d.log_text()
                                     for d in infra.daemons))
    a, b = pair(chat)
    cmid = a.send(b.user_id, "trace me")
    a.expect("sent")
    b.expect("msg", where=lambda f: f["message"]["cmid"] == cmid)
    gw_log = "".join(g.log_text() for g in chat["gws"])
    m = re.search(r"event=ws\.send .*cmid=%s .*trace=([0-9a-f]{32})" % cmid, gw_log)
    assert m, "gateway logged the send with a trace id"
    trace = m.group(1)
    logic_logs = "".join(l.log_text() for l in chat["logics"])
    repo_log = [d for d in chat["infra"].daemons if d.service == "im-repo"][0].log_text()
    assert re.search(r"event=msg\.stored .*trace=" + trace, logic_logs)
    assert re.search(r"event=msg\.saved .*trace=" + trace, repo_log)
    for svc in services:                             # deleted: each reverts to its start value
        infra.etcd.delete("/im/config/%s/log_level" % svc)
    a.close()
    b.close()


def test_sessions_on_a_killed_gateway_count_as_offline(chat):
    infra = chat["infra"]
    doomed = infra.start("im-gateway", "gw-doomed")
    a = Client(chat["gws"][0].url, uname("alice"))
    b = Client(doomed.url, uname("bob"))
    a.connect()
    b.connect()
    wait_for("b's session in redis", lambda: infra.redis("HLEN", "user_session:%d" % b.user_id) == "1")
    doomed.kill()                                   # SIGKILL: its sessions stay in Redis
    infra.daemons.remove(doomed)
    wait_for("gateway gone from etcd", lambda: "gw-doomed" not in infra.etcd.services("im-gateway"), timeout=10)
    time.sleep(0.5)                                 # logic's watch has seen it too
    cmid = a.send(b.user_id, "are you there?")
    a.expect("sent", where=lambda f: f["cmid"] == cmid)
    wait_for("offline push for b", lambda: any(p["user_id"] == b.user_id and p["message"]["cmid"] == cmid
                                              for p in chat["hook"].posts), timeout=15)
    a.close()


def test_profile_change_is_seen_at_once_from_the_other_gateway(chat):
    """PATCH /api/me updates MySQL, then deletes user_info:{uid}: a reader on the other
    gateway whose cache was warm sees the new nickname on its next call."""
    a = Client(chat["gws"][0].url, uname("prof"))
    b = Client(chat["gws"][1].url, uname("peer"))
    status, body = api(b, "GET", "/api/users?ids=%d" % a.user_id)     # warms user_info:{a}
    assert status == 200 and body["users"][0]["nickname"] == a.username
    assert chat["infra"].redis("HGET", "user_info:%d" % a.user_id, "nickname") == a.username
    status, body = api(a, "PATCH", "/api/me", {"nickname": "Ada Lovelace ✨"})
    assert (status, body["nickname"], body["username"]) == (200, "Ada Lovelace ✨", a.username), body
    assert chat["infra"].redis("EXISTS", "user_info:%d" % a.user_id) == "0"
    status, body = api(b, "GET", "/api/users?ids=%d" % a.user_id)
    assert body["users"][0]["nickname"] == "Ada Lovelace ✨"
    assert api(a, "GET", "/api/me")[1]["nickname"] == "Ada Lovelace ✨"
    for bad in ({"nickname": "x" * 51}, {"nickname": 7}, {}, ["nickname"], {"nickname": "\udcff"}):
        status, body = api(a, "PATCH", "/api/me", bad)
        assert (status, body.get("error")) == (400, "invalid_argument"), (bad, status, body)
    assert api(a, "GET", "/api/me")[1]["nickname"] == "Ada Lovelace ✨"   # nothing changed
    status, _ = http("PATCH", chat["gws"][0].url + "/api/me", {"nickname": "nobody"})
    assert status == 401


def refused_everywhere(urls, token):
    for url in urls:
        status, body = http("GET", url + "/api/me", token=token)
        assert (status, body.get("error")) == (401, "unauthorized"), (url, status, body)
        with pytest.raises(websocket.WebSocketBadStatusException) as e:
            websocket.create_connection(url.replace("http", "ws") + "/ws?token=" + token, timeout=5)
        assert e.value.status_code == 401


def test_logout_revokes_the_token_on_every_gateway_and_closes_its_connections(chat):
    infra = chat["infra"]
    gw1, gw2 = chat["gws"][0].url, chat["gws"][1].url
    a = Client(gw1, uname("out"))                                  # token 1, on both gateways
    a_gw2 = Client(gw2, a.username, register=False)
    a_gw2.token = a.token
    phone = Client(gw2, a.username, register=False)                # token 2: another login
    assert phone.token != a.token
    for c in (a, a_gw2, phone):
        c.connect()
    status, body = api(a, "POST", "/api/logout")
    assert (status, body) == (200, {})
    a.expect("_closed", timeout=5)                                 # token 1's connections close
    a_gw2.expect("_closed", timeout=5)
    refused_everywhere([gw1, gw2], a.token)
    assert api(a, "POST", "/api/logout")[0] == 401                 # a revoked token cannot log out
    jti = json.loads(base64.urlsafe_b64decode(a.token.split(".")[1] + "=="))["jti"]
    ttl = int(infra.redis("TTL", "jwt_deny:" + jti))
    assert 0 < ttl <= 86400                                        # until the token would expire
    assert api(phone, "GET", "/api/me")[0] == 200                  # the other login is untouched
    phone.send_json({"op": "ping"})
    phone.expect("pong", timeout=5)
    gw3 = infra.start_gateway("gw-3")                              # started after the logout
    try:
        refused_everywhere([gw3.url], a.token)
        assert http("GET", gw3.url + "/api/me", token=phone.token)[0] == 200
    finally:
        infra.stop(gw3)
    phone.close()
