"""client.py — a cim client speaking the public protocol (REST + WebSocket), for tests."""
import json
import queue
import threading
import time
import uuid

import websocket

from cluster import http


class Client:
    def __init__(self, gw_url, username, password="correct horse battery", register=True):
        self.url, self.username, self.password = gw_url, username, password
        if register:
            status, body = http("POST", gw_url + "/api/register",
                                {"username": username, "password": password, "nickname": username})
            assert status == 201, body
        status, body = http("POST", gw_url + "/api/login", {"username": username, "password": password})
        assert status == 200, body
        self.token, self.user_id = body["token"], body["user_id"]
        self.ws = None
        self.frames = queue.Queue()
        self.buf = []

    # ---- REST ----
    def get(self, path):
        return http("GET", self.url + path, token=self.token)

    # ---- WebSocket ----
    def connect(self, url=None):
        self.url = url or self.url
        ws_url = self.url.replace("http://", "ws://") + "/ws?token=" + self.token
        self.ws = websocket.create_connection(ws_url, timeout=10)
        self.ws.settimeout(None)    # the reader waits as long as the server is quiet; expect() times out
        self.frames = queue.Queue()
        self.buf = []
        self.reader = threading.Thread(target=self._read, args=(self.ws, self.frames), daemon=True)
        self.reader.start()
        hello = self.expect("hello")
        self.conn_id = hello["conn_id"]
        return hello

    @staticmethod
    def _read(ws, q):
        while True:
            try:
                raw = ws.recv()
            except Exception:  # noqa: BLE001 - closed
                q.put({"op": "_closed"})
                return
            if raw:
                q.put(json.loads(raw))

    def close(self):
        if self.ws:
            self.ws.close()
            self.ws = None

    def send_raw(self, text):
        self.ws.send(text)

    def send_json(self, obj):
        self.ws.send(json.dumps(obj))

    def send(self, to, content, cmid=None):
        cmid = cmid or uuid.uuid4().hex
        self.send_json({"op": "send", "cmid": cmid, "to": to, "type": 1, "content": content})
        return cmid

    def expect(self, op, timeout=10, where=None):
        """The first frame with this op (and matching `where`) in arrival order; frames
        passed over stay buffered, in order, for later calls."""
        deadline = time.time() + timeout
        while True:
            for i, f in enumerate(self.buf):
                if f.get("op") == op and (where is None or where(f)):
                    return self.buf.pop(i)
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError("no %s frame within %ss (buffered: %r)" % (op, timeout, self.buf[-5:]))
            try:
                self.buf.append(self.frames.get(timeout=left))
            except queue.Empty:
                pass

    def drain(self, op, count, timeout=20):
        """`count` frames of op, in arrival order."""
        return [self.expect(op, timeout=timeout) for _ in range(count)]

    def sync(self, cid, after_seq=0, limit=200):
        self.send_json({"op": "sync", "conversation_id": cid, "after_seq": after_seq, "limit": limit})
        return self.expect("sync", where=lambda f: f["conversation_id"] == cid)

    def sync_all(self, cid, after_seq=0):
        msgs = []
        while True:
            page = self.sync(cid, after_seq)["messages"]
            if not page:
                return msgs
            msgs += page
            after_seq = page[-1]["seq"]


def uname(prefix):
    """A username no other test has taken."""
    return "%s_%s" % (prefix, uuid.uuid4().hex[:8])


def cid_of(a, b):
    return "s_%d_%d" % (min(a, b), max(a, b))


# ---- groups (added for test_groups.py; module-level so the Client class stays as it is) ----
def gcid(gid):
    """The conversation id of group gid."""
    return "g_%d" % gid


def api(c, method, path, body=None):
    """One REST call as client c to its gateway: (status, parsed JSON)."""
    return http(method, c.url + path, body, token=c.token)


def send_group(c, gid, content, mentions=None, cmid=None, type=1):  # noqa: A002 - the wire's name
    """`send {cmid, group, type, content, mentions?}` on c's WebSocket; returns the cmid."""
    cmid = cmid or uuid.uuid4().hex
    frame = {"op": "send", "cmid": cmid, "group": gid, "type": type, "content": content}
    if mentions is not None:
        frame["mentions"] = mentions
    c.send_json(frame)
    return cmid


def settle(c, quiet=1.0):
    """Move every frame that arrives on c within `quiet` seconds into c.buf (bounded wait)."""
    end = time.time() + quiet
    while True:
        left = end - time.time()
        try:   # what has already arrived is taken even when the wait is over
            c.buf.append(c.frames.get(timeout=left) if left > 0 else c.frames.get_nowait())
        except queue.Empty:
            return


def take_all(c, op, where=None, quiet=1.0):
    """After settle(c, quiet): every buffered frame of op (matching `where`), in arrival
    order, removed from the buffer; the others stay."""
    settle(c, quiet)
    hit = [f.get("op") == op and (where is None or where(f)) for f in c.buf]
    got = [f for f, h in zip(c.buf, hit) if h]
    c.buf = [f for f, h in zip(c.buf, hit) if not h]
    return got
