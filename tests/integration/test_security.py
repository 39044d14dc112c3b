"""Hostile input at the edge, each answered with the documented error and the daemons
unharmed (still serving a real client afterwards): forged and odd JWTs, SQL
metacharacters, path-like file names, overlong UTF-8, a WebSocket frame bomb of tiny
fragments, oversized headers and slow (slowloris) clients.

Real gateway, logic, repo over real Kafka, Redis, MariaDB and etcd; hostile clients over
raw sockets where the well-behaved libraries would not send such bytes."""
import base64
import hashlib
import hmac
import json
import os
import socket
import time
import urllib.parse

import pytest
import websocket

from client import Client, api, cid_of, uname
from cluster import JWT_SECRET, http
from test_files import download, upload


@pytest.fixture(scope="module")
def sec(infra):
    infra.start("im-repo", "srepo-1")
    infra.start("im-logic", "slogic-1")
    gw = infra.start_gateway("sgw-1")
    yield {"infra": infra, "gw": gw}
    infra.stop_daemons()


def b64(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def token(header, claims, key=JWT_SECRET.encode(), alg=hashlib.sha256):
    h, c = b64(json.dumps(header).encode()), b64(json.dumps(claims).encode())
    return "%s.%s.%s" % (h, c, b64(hmac.new(key, ("%s.%s" % (h, c)).encode(), alg).digest()))


def unharmed(gw, c):
    """The gateway process lives and serves a real client's REST call and WebSocket."""
    assert gw.proc.poll() is None, gw.tail()
    assert c.get("/api/me")[0] == 200
    c.connect()
    c.send_json({"op": "ping"})
    c.expect("pong")
    c.close()


def test_jwt_tricks_are_refused(sec):
    gw = sec["gw"]
    c = Client(gw.url, uname("sj"))
    now = int(time.time())
    good = {"sub": str(c.user_id), "exp": now + 600, "iat": now, "jti": "00000000deadbeef"}
    assert http("GET", gw.url + "/api/me", token=token({"alg": "HS256", "typ": "JWT"}, good))[0] == 200
    bad = {
        "alg none": "%s.%s." % (b64(b'{"alg":"none","typ":"JWT"}'), b64(json.dumps(good).encode())),
        "wrong key": token({"alg": "HS256"}, good, key=b"not-the-secret"),
        "HS512 with the key": token({"alg": "HS512"}, good, alg=hashlib.sha512),
        "issued in an hour": token({"alg": "HS256"}, dict(good, iat=now + 3600)),
        "expired": token({"alg": "HS256"}, dict(good, exp=now - 1)),
        "no jti": token({"alg": "HS256"}, {k: v for k, v in good.items() if k != "jti"}),
        "sub not a number": token({"alg": "HS256"}, dict(good, sub="1 OR 1=1")),
        "sub zero": token({"alg": "HS256"}, dict(good, sub="0")),
        "empty": "",
        "three dots": "...",
    }
    for what, t in bad.items():
        status, body = http("GET", gw.url + "/api/me", token=t)
        assert (status, body["error"]) == (401, "unauthorized"), what
        with pytest.raises(websocket.WebSocketBadStatusException) as e:
            websocket.create_connection(gw.url.replace("http", "ws") + "/ws?token=" + urllib.parse.quote(t), timeout=5)
        assert e.value.status_code == 401, what
    # kid is not used: a path or a URL there changes nothing about a token signed right
    for kid in ("../../../../etc/passwd", "http://evil.example/key", "' OR 1=1 --"):
        t = token({"alg": "HS256", "kid": kid}, good)
        assert http("GET", gw.url + "/api/me", token=t)[0] == 200, kid
    unharmed(gw, c)


def test_sql_metacharacters_are_data(sec):
    gw, infra = sec["gw"], sec["infra"]
    a, b = Client(gw.url, uname("sq")), Client(gw.url, uname("sq"))
    evil = "x'); DELETE FROM users; -- \\ % _ \" `"
    status, body = api(a, "PATCH", "/api/me", {"nickname": evil[:50]})
    assert status == 200 and body["nickname"] == evil[:50]
    status, body = a.get("/api/users?q=" + urllib.parse.quote("' OR '1'='1"))
    assert status in (200, 400) and (status == 400 or body.get("users", []) == []), body
    a.connect()
    cmid = a.send(b.user_id, evil)
    a.expect("sent", where=lambda f: f["cmid"] == cmid)
    msgs = a.sync(cid_of(a.user_id, b.user_id))["messages"]
    assert [m["content"] for m in msgs] == [evil]
    assert int(infra.sql("SELECT COUNT(*) FROM users")[0][0]) >= 2
    a.close()
    unharmed(gw, b)


def test_path_like_file_names_stay_names(sec):
    gw, infra = sec["gw"], sec["infra"]
    c = Client(gw.url, uname("sf"))
    files_dir = os.path.join(infra.run, "files")
    for name in ("../../../../tmp/pwned", "/etc/passwd", "..%2F..%2Fx", "a\\..\\..\\b", "x\r\nSet-Cookie: a=b"):
        status, body = upload(c, b"hello", name=name)
        assert status == 201, body
        status, headers, data = download(c, body["file_id"])
        assert status == 200 and data == b"hello"
        assert headers["content-disposition"].startswith("attachment")
        assert "set-cookie" not in headers
    assert not os.path.exists("/tmp/pwned")
    stored = [os.path.join(d, f) for d, _, fs in os.walk(files_dir) for f in fs]
    assert all(os.path.realpath(p).startswith(os.path.realpath(files_dir) + os.sep) for p in stored)
    unharmed(gw, c)


def ws_raw(gw, tok):
    """A WebSocket handshake over a raw socket; the socket, after the 101."""
    host, port = gw.addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=10)
    key = b64(os.urandom(16))
    s.sendall(("GET /ws?token=%s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s==\r\nSec-WebSocket-Version: 13\r\n\r\n" % (tok, key)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(4096)
    assert head.startswith(b"HTTP/1.1 101"), head[:100]
    return s, head.split(b"\r\n\r\n", 1)[1]


def frame(opcode, payload, fin=True):
    """One masked client frame."""
    mask = os.urandom(4)
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def read_frames(s, want, timeout=10):
    """Text frames (parsed) until one has op `want` or the timeout."""
    buf, out, end = b"", [], time.time() + timeout
    s.settimeout(1)
    while time.time() < end:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        if not chunk:
            break
        buf += chunk
        while len(buf) >= 2:
            n, off = buf[1] & 0x7F, 2
            if n == 126:
                n, off = int.from_bytes(buf[2:4], "big"), 4
            elif n == 127:
                n, off = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < off + n:
                break
            if buf[0] & 0x0F == 1:
                out.append(json.loads(buf[off:off + n]))
            buf = buf[off + n:]
        if any(f.get("op") == want for f in out):
            return out
    return out


def test_overlong_utf8_and_a_fragment_bomb(sec):
    gw = sec["gw"]
    c = Client(gw.url, uname("sb"))
    s, _ = ws_raw(gw, c.token)
    read_frames(s, "hello")
    # overlong encodings of '/' and of NUL, a surrogate, a code point past U+10FFFF
    for bad in (b"\xc0\xaf", b"\xe0\x80\xaf", b"\xc0\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"):
        s.sendall(frame(1, b'{"op":"ping","x":"' + bad + b'"}'))
        got = read_frames(s, "error")
        assert [f["code"] for f in got if f["op"] == "error"] == ["invalid_argument"], bad
    # 20,000 fragments of one byte: one message, reassembled, past max_frame: too_large
    s.sendall(frame(1, b"{", fin=False) + b"".join(frame(0, b" ", fin=False) for _ in range(19998)) +
              frame(0, b"}", fin=True))
    got = read_frames(s, "error", timeout=20)
    assert [f["code"] for f in got if f["op"] == "error"] in (["too_large"], ["invalid_argument"]), got
    s.sendall(frame(1, b'{"op":"ping"}'))
    assert any(f["op"] == "pong" for f in read_frames(s, "pong"))   # the same connection still served
    s.close()
    unharmed(gw, c)


def test_oversized_headers_and_slow_clients(sec):
    gw = sec["gw"]
    c = Client(gw.url, uname("ss"))
    host, port = gw.addr.rsplit(":", 1)
    # a 64 KiB header: refused or dropped, never served
    s = socket.create_connection((host, int(port)), timeout=10)
    s.sendall(b"GET /api/ping HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 65536 + b"\r\n\r\n")
    try:
        reply = s.recv(4096)
    except (ConnectionResetError, socket.timeout):
        reply = b""
    assert not reply.startswith(b"HTTP/1.1 200"), reply[:80]
    s.close()
    # slowloris: 200 connections trickling a request line, on HTTP and on the WS upgrade
    slow = []
    for i in range(200):
        t = socket.create_connection((host, int(port)), timeout=10)
        t.sendall(b"GET /ws?token=x HTTP/1.1\r\nHost: x\r\n" if i % 2 else b"GET /api/ping HTTP/1.1\r\n")
        slow.append(t)
    t0 = time.time()
    unharmed(gw, c)                                     # served meanwhile, at once
    assert time.time() - t0 < 5
    for t in slow:
        try:
            t.sendall(b"X-A: b\r\n")
        except OSError:
            pass
    for t in slow:
        t.close()
    unharmed(gw, c)
