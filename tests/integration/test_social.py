"""The social layer against the real cluster: friend requests (the `friend_request` frame,
accept, decline, who may answer), the friend list, unfriending, blocks (a blocked send
gets `blocked` and nothing is stored or pushed, at once even with the relation cache
warm), and single_chat_policy changed live through etcd."""
import queue
import time

import pytest

from client import Client, api, cid_of, uname
from cluster import wait_for

POLICY_KEY = "/im/config/im-logic/single_chat_policy"


@pytest.fixture(scope="module")
def soc(infra):
    infra.etcd.delete(POLICY_KEY)
    infra.start("im-repo", "srepo-1")
    logics = [infra.start("im-logic", "slogic-%d" % i) for i in (1, 2)]
    gws = [infra.start_gateway("sgw-%d" % i, CIM_SEND_RATE=100000, CIM_SEND_BURST=100000) for i in (1, 2)]
    yield {"infra": infra, "gws": gws, "logics": logics}
    infra.etcd.delete(POLICY_KEY)
    infra.stop_daemons()


def people(s, n, prefix="so"):
    return [Client(s["gws"][i % 2].url, uname(prefix)) for i in range(n)]


def names(body, key):
    return [u["username"] for u in body[key]]


def stored(infra, cid):
    return int(infra.sql("SELECT COUNT(*) FROM messages WHERE conversation_id = '%s'" % cid)[0][0])


def quiet(c, seconds=1.0):
    """Frames that arrive within `seconds` (none expected)."""
    time.sleep(seconds)
    out = list(c.buf)
    while not c.frames.empty():
        out.append(c.frames.get())
    return [f for f in out if f.get("op") not in ("pong",)]


def test_request_frame_accept_list_and_unfriend(soc):
    a, b, c = people(soc, 3)
    b.connect()
    status, body = api(a, "POST", "/api/friends/requests", {"user_id": b.user_id, "message": "hi, it's Ann 👋"})
    assert status == 201, body
    rid = body["request_id"]
    f = b.expect("friend_request")
    assert (f["request_id"], f["from"]["user_id"], f["from"]["username"], f["message"]) == \
        (rid, a.user_id, a.username, "hi, it's Ann 👋")
    for who, other in ((a, b), (b, a)):
        status, body = api(who, "GET", "/api/friends/requests")
        assert status == 200 and len(body["requests"]) == 1, body
        r = body["requests"][0]
        assert (r["request_id"], r["from"]["user_id"], r["to"]["user_id"]) == (rid, a.user_id, b.user_id)
    # only the recipient answers
    for who in (c, a):
        status, body = api(who, "POST", "/api/friends/requests/%d/accept" % rid)
        assert (status, body["error"]) == (403, "forbidden"), body
    assert api(b, "POST", "/api/friends/requests/%d/accept" % rid) == (200, {})
    status, body = api(b, "POST", "/api/friends/requests/%d/accept" % rid)
    assert (status, body["error"]) == (400, "invalid_argument")        # answered already
    assert names(api(a, "GET", "/api/friends")[1], "friends") == [b.username]
    assert names(api(b, "GET", "/api/friends")[1], "friends") == [a.username]
    assert api(a, "GET", "/api/friends/requests")[1]["requests"] == []
    status, body = api(a, "POST", "/api/friends/requests", {"user_id": b.user_id})
    assert (status, body["message"]) == (400, "already friends")
    assert api(b, "DELETE", "/api/friends/%d" % a.user_id) == (200, {})
    assert api(a, "GET", "/api/friends")[1]["friends"] == []
    assert api(b, "GET", "/api/friends")[1]["friends"] == []
    b.close()


def test_friends_sorted_decline_and_ask_again(soc):
    me, zed, amy, bob = people(soc, 4)
    for who, nick in ((zed, "Zed"), (amy, "amy"), (bob, "Bob")):
        assert api(who, "PATCH", "/api/me", {"nickname": nick})[0] == 200
        rid = api(me, "POST", "/api/friends/requests", {"user_id": who.user_id})[1]["request_id"]
        assert api(who, "POST", "/api/friends/requests/%d/accept" % rid)[0] == 200
    assert [u["nickname"] for u in api(me, "GET", "/api/friends")[1]["friends"]] == ["amy", "Bob", "Zed"]
    x, y = people(soc, 2, "dec")
    rid = api(x, "POST", "/api/friends/requests", {"user_id": y.user_id})[1]["request_id"]
    assert api(y, "POST", "/api/friends/requests/%d/decline" % rid) == (200, {})
    assert api(y, "GET", "/api/friends/requests")[1]["requests"] == []
    assert api(x, "GET", "/api/friends")[1]["friends"] == []
    status, body = api(x, "POST", "/api/friends/requests", {"user_id": y.user_id, "message": "again"})
    assert (status, body["request_id"]) == (201, rid)                   # the same row, pending again
    assert api(y, "GET", "/api/friends/requests")[1]["requests"][0]["message"] == "again"


def test_block_refuses_sends_and_requests_at_once(soc):
    infra = soc["infra"]
    a, b = people(soc, 2, "blk")
    a.connect()
    b.connect()
    cid = cid_of(a.user_id, b.user_id)
    first = a.send(b.user_id, "before the block")          # warms user_rel:{b}
    a.expect("sent", where=lambda f: f["cmid"] == first)
    b.expect("msg")
    assert infra.redis("HGET", "user_rel:%d" % b.user_id, "0") == "1"
    assert api(b, "POST", "/api/blocks", {"user_id": a.user_id}) == (201, {})
    cmid = a.send(b.user_id, "after the block")
    e = a.expect("error", where=lambda f: f.get("cmid") == cmid)
    assert e["code"] == "blocked", e
    assert stored(infra, cid) == 1                          # nothing stored
    assert [f for f in quiet(b) if f.get("op") == "msg"] == []   # nothing pushed
    status, body = api(a, "POST", "/api/friends/requests", {"user_id": b.user_id})
    assert (status, body["error"]) == (403, "blocked")
    assert names(api(b, "GET", "/api/blocks")[1], "blocks") == [a.username]
    back = b.send(a.user_id, "the blocker may still write")
    b.expect("sent", where=lambda f: f["cmid"] == back)
    assert api(b, "DELETE", "/api/blocks/%d" % a.user_id) == (200, {})
    again = a.send(b.user_id, "after the unblock")
    assert a.expect("sent", where=lambda f: f["cmid"] == again)["seq"] == 3
    assert b.expect("msg", where=lambda f: f["message"]["content"] == "after the unblock")
    assert api(b, "GET", "/api/blocks")[1]["blocks"] == []
    a.close()
    b.close()


def answer(c, cmid, timeout=10):
    """The `sent` or `error` frame answering cmid."""
    deadline = time.time() + timeout
    while True:
        for i, f in enumerate(c.buf):
            if f.get("cmid") == cmid and f.get("op") in ("sent", "error"):
                return c.buf.pop(i)
        left = deadline - time.time()
        if left <= 0:
            raise TimeoutError("no answer to %s" % cmid)
        try:
            c.buf.append(c.frames.get(timeout=left))
        except queue.Empty:
            pass


def test_single_chat_policy_friends_is_live(soc):
    infra = soc["infra"]
    a, friend, stranger = people(soc, 3, "pol")
    rid = api(a, "POST", "/api/friends/requests", {"user_id": friend.user_id})[1]["request_id"]
    assert api(friend, "POST", "/api/friends/requests/%d/accept" % rid)[0] == 200
    for c in (friend, stranger):
        c.connect()
    try:
        infra.etcd.put(POLICY_KEY, "friends")
        wait_for("policy applied", lambda: answer(stranger, stranger.send(a.user_id, "hello?")).get("code") ==
                 "forbidden", timeout=20)
        assert answer(friend, friend.send(a.user_id, "friends may"))["op"] == "sent"
    finally:
        infra.etcd.delete(POLICY_KEY)
    wait_for("policy back to anyone", lambda: answer(stranger, stranger.send(a.user_id, "now?"))["op"] == "sent",
             timeout=20)
    for c in (friend, stranger):
        c.close()


def test_bad_relation_input(soc):
    a, b = people(soc, 2, "bad")
    cases = [
        ("POST", "/api/friends/requests", {"user_id": a.user_id}, 400, "invalid_argument"),
        ("POST", "/api/friends/requests", {"user_id": 999999999}, 404, "not_found"),
        ("POST", "/api/friends/requests", {"user_id": "x"}, 400, "invalid_argument"),
        ("POST", "/api/friends/requests", {"user_id": b.user_id, "message": "m" * 201}, 400, "invalid_argument"),
        ("POST", "/api/friends/requests", [], 400, "invalid_argument"),
        ("POST", "/api/friends/requests/999999999/accept", None, 404, "not_found"),
        ("POST", "/api/friends/requests/abc/decline", None, 404, "not_found"),
        ("POST", "/api/blocks", {"user_id": a.user_id}, 400, "invalid_argument"),
        ("POST", "/api/blocks", {"user_id": 999999999}, 404, "not_found"),
        ("DELETE", "/api/blocks/x", None, 404, "not_found"),
    ]
    for method, path, body, status, code in cases:
        got, reply = api(a, method, path, body)
        assert (got, reply.get("error")) == (status, code), (method, path, body, got, reply)
    assert api(a, "GET", "/api/friends/requests")[1]["requests"] == []
    assert api(a, "DELETE", "/api/friends/%d" % b.user_id) == (200, {})    # not friends: nothing to do
