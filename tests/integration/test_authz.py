"""The authorization matrix: every REST endpoint and WebSocket op that touches a group, a
conversation or a file, called as the group's owner, a member, an outsider, a member who
was kicked, without a token and with a revoked (logged-out) token; every cell's status
(and error code) asserted against docs/PROTOCOL.md's rules.

One closed group G (owner O, member M, kicked K), one message in it carrying a file O
uploaded, and one single chat O-M."""
import pytest
import websocket

from client import Client, api, cid_of, send_group, uname
from cluster import http
from test_files import upload

ROLES = ("owner", "member", "outsider", "kicked", "anonymous", "revoked")


@pytest.fixture(scope="module")
def world(infra):
    infra.start("im-repo", "zrepo-1")
    infra.start("im-logic", "zlogic-1")
    gw = infra.start_gateway("zgw-1", CIM_SEND_RATE=100000, CIM_SEND_BURST=100000)
    o, m, x, k, r = (Client(gw.url, uname(p)) for p in ("zo", "zm", "zx", "zk", "zr"))
    status, g = api(o, "POST", "/api/groups", {"name": "matrix", "member_ids": [m.user_id, k.user_id, r.user_id]})
    assert status == 201, g
    gid = g["group_id"]
    status, f = upload(o, b"a file only the group may read", name="plan.txt")
    assert status == 201, f
    o.connect()
    cmid = send_group(o, gid, '{"file_id":"%s"}' % f["file_id"], type=3)
    o.expect("sent", where=lambda fr: fr["cmid"] == cmid)
    cmid = o.send(m.user_id, "a private word")
    o.expect("sent", where=lambda fr: fr["cmid"] == cmid)
    o.close()
    assert api(o, "DELETE", "/api/groups/%d/members/%d" % (gid, k.user_id))[0] == 200
    assert api(r, "POST", "/api/logout")[0] == 200
    yield {"gw": gw, "gid": gid, "file": f["file_id"], "new": Client(gw.url, uname("zn")),
           "who": {"owner": o, "member": m, "outsider": x, "kicked": k, "anonymous": None, "revoked": r}}
    infra.stop_daemons()


def call(w, role, method, path, body=None):
    c = w["who"][role]
    status, reply = http(method, w["gw"].url + path, body, token=c.token if c else None)
    return status, reply.get("error") if isinstance(reply, dict) else None


# (method, path template, body, expected per role: status or (status, error code))
NO = (401, "unauthorized")
MATRIX = [
    ("GET", "/api/groups/{gid}", None,
     {"owner": 200, "member": 200, "outsider": (403, "forbidden"), "kicked": (403, "forbidden")}),
    ("GET", "/api/groups/{gid}/members", None,
     {"owner": 200, "member": 200, "outsider": (403, "forbidden"), "kicked": (403, "forbidden")}),
    ("PATCH", "/api/groups/{gid}", {"announcement": "read me"},
     {"owner": 200, "member": (403, "forbidden"), "outsider": (403, "forbidden"), "kicked": (403, "forbidden")}),
    ("POST", "/api/groups/{gid}/members", {"user_ids": ["{new}"]},
     {"owner": 200, "member": (403, "forbidden"), "outsider": (403, "forbidden"), "kicked": (403, "forbidden")}),
    ("POST", "/api/groups/{gid}/join", None,
     {"owner": 200, "member": 200, "outsider": (403, "forbidden"), "kicked": (403, "forbidden")}),
    ("PUT", "/api/groups/{gid}/members/{member}", {"role": "member"},   # M stays a member
     {"owner": 200, "member": (403, "forbidden"), "outsider": (403, "forbidden"), "kicked": (403, "forbidden")}),
    ("DELETE", "/api/groups/{gid}/members/{owner}", None,
     {"owner": (403, "forbidden"), "member": (403, "forbidden"), "outsider": (403, "forbidden"),
      "kicked": (403, "forbidden")}),
    ("GET", "/api/conversations/g_{gid}/messages", None,
     {"owner": 200, "member": 200, "outsider": (403, "forbidden"), "kicked": (403, "forbidden")}),
    ("GET", "/api/conversations/g_{gid}/reads", None,
     {"owner": 200, "member": 200, "outsider": (403, "forbidden"), "kicked": (403, "forbidden")}),
    ("GET", "/api/conversations/{single}/messages", None,
     {"owner": 200, "member": 200, "outsider": (403, "forbidden"), "kicked": (403, "forbidden")}),
    ("GET", "/api/files/{file}", None,
     {"owner": 200, "member": 200, "outsider": (403, "forbidden"), "kicked": (403, "forbidden")}),
    ("GET", "/api/me", None, {"owner": 200, "member": 200, "outsider": 200, "kicked": 200}),
    ("GET", "/api/conversations", None, {"owner": 200, "member": 200, "outsider": 200, "kicked": 200}),
    ("GET", "/api/groups", None, {"owner": 200, "member": 200, "outsider": 200, "kicked": 200}),
]


def fill(w, s):
    who = w["who"]
    return (s.replace("{gid}", str(w["gid"])).replace("{file}", w["file"])
            .replace("{member}", str(who["member"].user_id)).replace("{owner}", str(who["owner"].user_id))
            .replace("{single}", cid_of(who["owner"].user_id, who["member"].user_id)))


@pytest.mark.parametrize("method,path,body,want", MATRIX, ids=["%s %s" % (m, p) for m, p, _, _ in MATRIX])
def test_rest_matrix(world, method, path, body, want):
    want = dict(want, anonymous=NO, revoked=NO)
    got = {}
    for role in ROLES:
        b = None
        if body is not None:
            b = {k: ([world["new"].user_id] if v == ["{new}"] else v) for k, v in body.items()}
        status, code = call(world, role, method, fill(world, path), b)
        got[role] = status if status < 300 else (status, code)
    assert got == {r: want[r] for r in ROLES}


def test_ws_matrix(world):
    """sync, send and recall in the group over the WebSocket: members are served, an
    outsider and a kicked member get `error forbidden`; no token or a revoked one cannot
    even open the socket (401)."""
    gid, who = world["gid"], world["who"]
    for role in ("member", "owner", "outsider", "kicked"):   # the member tries the recall first
        c = who[role]
        c.connect()
        c.send_json({"op": "sync", "conversation_id": "g_%d" % gid, "after_seq": 0})
        if role in ("owner", "member"):
            assert c.expect("sync")["messages"], role
        else:
            assert c.expect("error")["code"] == "forbidden", role
        cmid = send_group(c, gid, "hello from " + role)
        if role in ("owner", "member"):
            c.expect("sent", where=lambda f: f["cmid"] == cmid)
        else:
            assert c.expect("error", where=lambda f: f.get("cmid") == cmid)["code"] == "forbidden", role
        c.send_json({"op": "recall", "conversation_id": "g_%d" % gid, "seq": 2})   # O's file (1: the group's creation)
        if role == "owner":
            assert c.expect("recalled")["seq"] == 2
        else:   # neither the sender nor an admin; or no participant at all
            assert c.expect("error")["code"] == "forbidden", role
        c.close()

    for role in ("anonymous", "revoked"):
        c = who[role]
        url = world["gw"].url.replace("http", "ws") + "/ws" + ("?token=" + c.token if c else "")
        with pytest.raises(websocket.WebSocketBadStatusException) as e:
            websocket.create_connection(url, timeout=5)
        assert e.value.status_code == 401, role
