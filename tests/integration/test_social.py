"""The social layer against the real cluster: friend requests (the `friend_request` frame,
accept, decline, who may answer), the friend list, unfriending, blocks (a blocked send
gets `blocked` and nothing is stored or pushed, at once even with the relation cache
warm), single_chat_policy changed live through etcd, and recall (who may, the window,
group admins, the `recalled` frames, history and sync after it)."""
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
    gws = [infra.start_gateway("sgw-%d" % i, CIM_SEND_RATE=100000, CIM_SEND_BURST=100000,
                               CIM_PRESENCE_GRACE_MS=1000) for i in (1, 2)]
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


# ---------------------------------------------------------------- recall

WINDOW_KEY = "/im/config/im-logic/recall_window_s"


def put_logic_config(s, key, value):
    """Put an im-logic key (None: delete it) and wait until both logic instances applied it."""
    name = key.rsplit("/", 1)[1]
    mark = "event=config.%s key=%s" % ("applied" if value is not None else "reverted", name)
    before = [l.log_text().count(mark) for l in s["logics"]]
    if value is None:
        s["infra"].etcd.delete(key)
    else:
        s["infra"].etcd.put(key, value)
    wait_for(mark, lambda: all(l.log_text().count(mark) > b for l, b in zip(s["logics"], before)), timeout=15)


def recall(c, cid, seq):
    c.send_json({"op": "recall", "conversation_id": cid, "seq": seq})


def test_recall_clears_the_message_everywhere_and_tells_both(soc):
    infra = soc["infra"]
    a, b, outsider = people(soc, 3, "rc")
    for c in (a, b, outsider):
        c.connect()
    cid = cid_of(a.user_id, b.user_id)
    cmids = [a.send(b.user_id, "keep me"), a.send(b.user_id, "oops, wrong chat")]
    seqs = [answer(a, m)["seq"] for m in cmids]
    assert seqs == [1, 2]
    for _ in seqs:
        b.expect("msg")
    for who, code in ((b, "forbidden"), (outsider, "forbidden")):   # not the sender; not a participant
        recall(who, cid, 2)
        assert who.expect("error")["code"] == code
    recall(a, cid, 99)
    assert a.expect("error")["code"] == "not_found"
    recall(a, cid, 0)
    assert a.expect("error")["code"] == "invalid_argument"
    recall(a, cid, 2)
    for c in (a, b):
        f = c.expect("recalled")
        assert (f["conversation_id"], f["seq"], f["by"]) == (cid, 2, a.user_id)
    assert quiet(outsider, 0.5) == []
    status, body = api(b, "GET", "/api/conversations/%s/messages?after_seq=0" % cid)
    assert status == 200
    got = {m["seq"]: m for m in body["messages"]}
    assert 2 in got, body
    assert (got[2]["content"], got[2].get("recalled")) == ("", True)     # the seq stays, the text is gone
    assert (got[1]["content"], "recalled" in got[1]) == ("keep me", False)
    synced = {m["seq"]: m for m in b.sync_all(cid)}
    assert synced[2]["recalled"] is True and synced[2]["content"] == ""
    assert infra.sql("SELECT content, recalled FROM messages WHERE conversation_id = '%s' AND seq = 2" % cid) == \
        [["", "1"]]
    recall(a, cid, 2)                                                   # again: fine, everyone told again
    assert a.expect("recalled")["seq"] == 2
    for c in (a, b, outsider):
        c.close()


def test_recall_window_and_group_admins(soc):
    o, m = people(soc, 2, "rw")
    for c in (o, m):
        c.connect()
    status, body = api(o, "POST", "/api/groups", {"name": "recalls", "member_ids": [m.user_id]})
    assert status == 201, body
    gid, cid = body["group_id"], body["conversation_id"]
    try:
        put_logic_config(soc, WINDOW_KEY, "1")
        m.send_json({"op": "send", "cmid": "late-1", "group": gid, "type": 1, "content": "too late"})
        seq = answer(m, "late-1")["seq"]
        time.sleep(1.5)
        recall(m, cid, seq)
        assert m.expect("error")["code"] == "recall_expired"
        assert [x for x in m.sync_all(cid) if x["seq"] == seq][0]["content"] == "too late"
        recall(o, cid, seq)                                             # the owner: any time
        for c in (o, m):
            f = c.expect("recalled")
            assert (f["seq"], f["by"]) == (seq, o.user_id)
        assert [x for x in o.sync_all(cid) if x["seq"] == seq][0]["recalled"] is True
        recall(o, cid, 1)                                               # the create notice
        assert o.expect("error")["code"] == "invalid_argument"
    finally:
        put_logic_config(soc, WINDOW_KEY, None)
    for c in (o, m):
        c.close()


def test_single_chat_reads_for_the_read_mark(soc):
    a, b, outsider = people(soc, 3, "rd")
    a.connect()
    b.connect()
    cid = cid_of(a.user_id, b.user_id)
    for text in ("one", "two"):
        answer(a, a.send(b.user_id, text))
    b.send_json({"op": "read", "conversation_id": cid, "seq": 2})
    assert a.expect("receipt")["seq"] == 2

    def reads():
        status, body = api(a, "GET", "/api/conversations/%s/reads" % cid)
        assert status == 200, body
        return {r["user_id"]: r["last_read_seq"] for r in body["reads"]}
    wait_for("b's position stored", lambda: reads().get(b.user_id) == 2)
    assert set(reads()) == {a.user_id, b.user_id}
    status, body = api(outsider, "GET", "/api/conversations/%s/reads" % cid)
    assert (status, body["error"]) == (403, "forbidden")
    a.close()
    b.close()


# ---------------------------------------------------------------- presence

def presence_frames(c, who, seconds):
    """The `presence` frames about `who` that arrive within `seconds`."""
    return [f for f in quiet(c, seconds) if f.get("op") == "presence" and f["user_id"] == who]


def state(c, uid):
    status, body = api(c, "GET", "/api/presence?ids=%d" % uid)
    assert status == 200, body
    return body["presence"][0]


def test_presence_two_devices_grace_and_the_switch(soc):
    infra = soc["infra"]
    a, friend = people(soc, 2, "pr")
    rid = api(a, "POST", "/api/friends/requests", {"user_id": friend.user_id})[1]["request_id"]
    assert api(friend, "POST", "/api/friends/requests/%d/accept" % rid)[0] == 200
    friend.connect()
    assert state(friend, a.user_id)["online"] is False
    a.connect()                                                     # first connection: online
    f = friend.expect("presence", where=lambda f: f["user_id"] == a.user_id)
    assert f["online"] is True
    assert state(friend, a.user_id)["online"] is True
    phone = Client(soc["gws"][1].url, a.username, register=False)  # a second device, other gateway
    phone.connect()
    a.close()                                                       # one of two closed: still online
    assert presence_frames(friend, a.user_id, 2.0) == []            # past the grace (1 s)
    assert state(friend, a.user_id)["online"] is True
    phone.close()                                                   # the last one: offline after the grace
    f = friend.expect("presence", where=lambda f: f["user_id"] == a.user_id, timeout=10)
    assert f["online"] is False and f["last_seen"] > 0
    s = state(friend, a.user_id)
    assert (s["online"], s["last_seen"]) == (False, f["last_seen"])
    a.connect()                                                     # back: online again
    assert friend.expect("presence", where=lambda f: f["user_id"] == a.user_id)["online"] is True
    a.close()                                                       # a reconnect within the grace
    a.connect()
    assert presence_frames(friend, a.user_id, 2.0) == []            # is no flap
    infra.etcd.put("/im/config/im-gateway/presence_enabled", "no")
    try:
        time.sleep(1)                                               # the gateways apply it
        a.close()
        assert presence_frames(friend, a.user_id, 2.0) == []        # switched off: nothing announced
        assert state(friend, a.user_id)["online"] is False          # the state is still kept
    finally:
        infra.etcd.delete("/im/config/im-gateway/presence_enabled")
    for bad in ("", "0", "x", ",".join(["1"] * 101)):
        assert api(friend, "GET", "/api/presence?ids=" + bad)[0] == 400
    friend.close()
