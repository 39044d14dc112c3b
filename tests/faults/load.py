"""load.py — a steady load of single-chat sends with exact accounting, driven as a careful
client would: every send keeps its cmid until answered, an unanswered or refused-as-
retryable send is sent again with the same cmid after a reconnect or a short wait, a
dropped connection reconnects (to the next gateway) with backoff, and every `msg` is
acked. What the server promised is then checked against what it stored (`sync`).

One Pair = one sender and one receiver (each a WebSocket client with a reader thread) and
one pacing thread. Times are monotonic seconds."""
import json
import threading
import time
import uuid

import websocket

from cluster import http

RETRYABLE = {"unavailable", "internal", "rate_limited", "timeout"}


class Conn:
    """One user's WebSocket, reconnecting over the gateways on loss. on_frame runs on the
    reader thread; send() returns False while disconnected."""

    def __init__(self, gateways, username, on_frame, on_reconnect):
        self.gateways, self.on_frame, self.on_reconnect = gateways, on_frame, on_reconnect
        self.gw = 0
        status, body = http("POST", gateways[0] + "/api/register",
                            {"username": username, "password": "correct horse battery"})
        assert status == 201, body
        status, body = http("POST", gateways[0] + "/api/login",
                            {"username": username, "password": "correct horse battery"})
        assert status == 200, body
        self.token, self.user_id = body["token"], body["user_id"]
        self.ws, self.lock, self.stopping = None, threading.Lock(), False
        self.reconnects = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _connect(self):
        url = self.gateways[self.gw % len(self.gateways)].replace("http://", "ws://") + "/ws?token=" + self.token
        ws = websocket.create_connection(url, timeout=5)
        hello = json.loads(ws.recv())
        assert hello["op"] == "hello", hello
        ws.settimeout(None)
        return ws

    def _run(self):
        backoff = 0.2
        first = True
        while not self.stopping:
            try:
                ws = self._connect()
            except Exception:  # noqa: BLE001 - gateway down or refusing: try the next one
                self.gw += 1
                time.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            backoff = 0.2
            with self.lock:
                self.ws = ws
            if not first:
                self.reconnects += 1
                self.on_reconnect()
            first = False
            try:
                while True:
                    raw = ws.recv()
                    if not raw:
                        break
                    self.on_frame(json.loads(raw))
            except Exception:  # noqa: BLE001 - closed
                pass
            with self.lock:
                self.ws = None
            self.gw += 1

    def send(self, obj):
        with self.lock:
            if self.ws is None:
                return False
            try:
                self.ws.send(json.dumps(obj))
                return True
            except Exception:  # noqa: BLE001 - the reader will notice and reconnect
                return False

    def close(self):
        self.stopping = True
        with self.lock:
            if self.ws:
                try:
                    self.ws.close()
                except Exception:  # noqa: BLE001
                    pass


class Pair:
    """A sender paced at `rate` msg/s to one receiver, with the books of both."""

    def __init__(self, gateways, tag, rate, answer_bound):
        self.rate, self.answer_bound = rate, answer_bound
        self.lock = threading.Lock()
        self.pending = {}        # cmid -> [content, first sent, last sent]
        self.acked = {}          # cmid -> (msg_id, seq, latency)
        self.sent_frames = {}    # cmid -> how many `sent` frames came
        self.errors = {}         # code -> count (final and retryable)
        self.refused = set()     # cmids answered with a final error
        self.unanswered = set()  # cmids left without an answer past answer_bound (at least once)
        self.msgs = {}           # seq -> times received live
        self.ack_times = []      # when each first `sent` came (recovery time)
        self.sender = Conn(gateways, "flt_%s_s_%s" % (tag, uuid.uuid4().hex[:6]), self._sender_frame, self._resend)
        self.receiver = Conn(gateways, "flt_%s_r_%s" % (tag, uuid.uuid4().hex[:6]), self._receiver_frame,
                             lambda: None)
        a, b = self.sender.user_id, self.receiver.user_id
        self.cid = "s_%d_%d" % (min(a, b), max(a, b))
        self.running = False

    # ---- sender ----
    def _sender_frame(self, f):
        op = f.get("op")
        now = time.monotonic()
        with self.lock:
            if op == "sent":
                cmid = f["cmid"]
                self.sent_frames[cmid] = self.sent_frames.get(cmid, 0) + 1
                p = self.pending.pop(cmid, None)
                if p is not None and cmid not in self.acked:
                    self.acked[cmid] = (f["msg_id"], f["seq"], now - p[1])
                    self.ack_times.append(now)
            elif op == "error" and f.get("cmid"):
                code = f.get("code")
                self.errors[code] = self.errors.get(code, 0) + 1
                if code not in RETRYABLE and f["cmid"] in self.pending:
                    self.pending.pop(f["cmid"])
                    self.refused.add(f["cmid"])
                elif f["cmid"] in self.pending:
                    self.pending[f["cmid"]][2] = 0   # due again at once (after a short wait)

    def _frame(self, cmid, content):
        return {"op": "send", "cmid": cmid, "to": self.receiver.user_id, "type": 1, "content": content}

    def _resend(self):
        """After a reconnect: every pending send again, same cmid."""
        with self.lock:
            items = list(self.pending.items())
        for cmid, (content, _, _) in items:
            if self.sender.send(self._frame(cmid, content)):
                with self.lock:
                    if cmid in self.pending:
                        self.pending[cmid][2] = time.monotonic()

    def _retry_due(self, now):
        with self.lock:
            due = [(c, p[0]) for c, p in self.pending.items() if now - p[2] > 2.0]
            for c, p in self.pending.items():
                if now - p[1] > self.answer_bound:
                    self.unanswered.add(c)
        for cmid, content in due:
            if self.sender.send(self._frame(cmid, content)):
                with self.lock:
                    if cmid in self.pending:
                        self.pending[cmid][2] = now

    def pace(self, stop_at, phase):
        k = 0
        start = time.monotonic() + phase
        while True:
            due = start + k / self.rate
            now = time.monotonic()
            if due > stop_at:
                break
            if due > now:
                time.sleep(due - now)
            cmid = uuid.uuid4().hex
            content = "m%d" % k
            now = time.monotonic()
            with self.lock:
                self.pending[cmid] = [content, now, now]
            self.sender.send(self._frame(cmid, content))
            self._retry_due(now)
            k += 1

    def drain(self, deadline):
        while time.monotonic() < deadline:
            with self.lock:
                if not self.pending:
                    return
            self._retry_due(time.monotonic())
            time.sleep(0.2)

    # ---- receiver ----
    def _receiver_frame(self, f):
        if f.get("op") != "msg":
            return
        m = f["message"]
        with self.lock:
            self.msgs[m["seq"]] = self.msgs.get(m["seq"], 0) + 1
        self.receiver.send({"op": "ack", "conversation_id": m["conversation_id"], "seq": m["seq"]})

    def stored(self, gateway):
        """Every stored message of the conversation, by REST history (paged)."""
        out, after = [], 0
        while True:
            status, body = http("GET", "%s/api/conversations/%s/messages?after_seq=%d&limit=100"
                                % (gateway, self.cid, after), token=self.receiver.token)
            assert status == 200, body
            page = body["messages"]
            if not page:
                return out
            out += page
            after = page[-1]["seq"]

    def close(self):
        self.sender.close()
        self.receiver.close()
