"""load.py — a steady load of single-chat and group sends with exact accounting, driven as
a careful client would: every send keeps its cmid until answered, an unanswered or
refused-as-retryable send is sent again with the same cmid after a reconnect or a short
wait, a dropped connection reconnects (to the next gateway) with backoff, and every `msg`
is acked. What the server promised is then checked against what it stored (REST history)
and against what each participant's own `sync` returns.

A Member is one user's WebSocket (a reader thread) with the books of its sends to one
conversation and of the `msg` frames it got. A Pair is a single chat: a sender and a
receiver on different gateways, one pacing thread. A Group is ~5 members spread over the
gateways, each of them sending to the group at its share of the rate. Times are
monotonic seconds."""
import json
import queue
import threading
import time
import uuid

import websocket

from cluster import http

RETRYABLE = {"unavailable", "internal", "rate_limited", "timeout"}
PASSWORD = "correct horse battery"
SYSTEM_TYPE = 100   # a group's system message (create, join…): no cmid, takes a seq


def _post_retrying(url, doc, ok, token=None):
    """POST until a status in ok; a 503 or 429 (a password hash queued behind others on a
    busy box past the gateway's deadline) is tried again, as a client would."""
    for _ in range(20):
        status, body = http("POST", url, doc, token=token)
        if status in ok:
            return body
        assert status in (429, 503), body
        time.sleep(0.5)
    raise AssertionError("%s kept answering %s: %s" % (url, status, body))


def login(gateway, username):
    """Registers and logs a user in: (token, user_id). A 409 after a retried register means
    the earlier try went through."""
    doc = {"username": username, "password": PASSWORD}
    _post_retrying(gateway + "/api/register", doc, (201, 409))
    body = _post_retrying(gateway + "/api/login", doc, (200,))
    return body["token"], body["user_id"]


class Conn:
    """One user's WebSocket, reconnecting over the gateways on loss, starting at
    gateways[first]. on_frame runs on the reader thread; send() returns False while
    disconnected."""

    def __init__(self, gateways, account, on_frame, on_reconnect, first=0):
        self.gateways, self.on_frame, self.on_reconnect = gateways, on_frame, on_reconnect
        self.gw = first
        self.token, self.user_id = account
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


class Member:
    """One participant of conversation cid: paced sends to `dest` ({"to": uid} or
    {"group": gid}) at `rate` msg/s (0: receives only), with the books of both directions.
    Frames of the user's other conversations (an earlier scenario's late pushes) are
    acked but not counted."""

    def __init__(self, gateways, account, rate, answer_bound, cid, first=0):
        self.rate, self.answer_bound, self.cid = rate, answer_bound, cid
        self.dest = None
        self.lock = threading.Lock()
        self.pending = {}        # cmid -> [content, first sent, last sent]
        self.acked = {}          # cmid -> (msg_id, seq, latency)
        self.sent_frames = {}    # cmid -> how many `sent` frames came
        self.errors = {}         # code -> count (final and retryable)
        self.refused = set()     # cmids answered with a final error
        self.unanswered = set()  # cmids left without an answer past answer_bound (at least once)
        self.msgs = {}           # seq -> times received live
        self.ack_times = []      # when each first `sent` came (recovery time)
        self.replies = queue.Queue()   # `sync` answers and cmid-less errors, for sync_all
        self.conn = Conn(gateways, account, self._frame_in, self._resend, first)
        self.user_id, self.token = self.conn.user_id, self.conn.token

    def _frame_in(self, f):
        op = f.get("op")
        now = time.monotonic()
        if op == "msg":
            m = f["message"]
            if m["conversation_id"] == self.cid:
                with self.lock:
                    self.msgs[m["seq"]] = self.msgs.get(m["seq"], 0) + 1
            self.conn.send({"op": "ack", "conversation_id": m["conversation_id"], "seq": m["seq"]})
        elif op == "sync" or (op == "error" and not f.get("cmid")):
            self.replies.put(f)
        with self.lock:
            if op == "sent" and (f["cmid"] in self.pending or f["cmid"] in self.acked):
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
        return dict(self.dest, op="send", cmid=cmid, type=1, content=content)

    def _resend(self):
        """After a reconnect: every pending send again, same cmid."""
        with self.lock:
            items = list(self.pending.items())
        for cmid, (content, _, _) in items:
            if self.conn.send(self._frame(cmid, content)):
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
            if self.conn.send(self._frame(cmid, content)):
                with self.lock:
                    if cmid in self.pending:
                        self.pending[cmid][2] = now

    def pace(self, stop_at, phase):
        if not self.rate:
            return
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
            self.conn.send(self._frame(cmid, content))
            self._retry_due(now)
            k += 1

    def drain(self, deadline):
        while time.monotonic() < deadline:
            with self.lock:
                if not self.pending:
                    return
            self._retry_due(time.monotonic())
            time.sleep(0.2)

    def sync_all(self, cid, tries=5):
        """Every message of cid as this member's own WebSocket `sync` returns it, paged
        (a list of (seq, sender_id, cmid) in the order received), or None if it kept failing."""
        out, after, failures = [], 0, 0
        while failures < tries:
            while not self.replies.empty():
                self.replies.get_nowait()
            if not self.conn.send({"op": "sync", "conversation_id": cid, "after_seq": after, "limit": 200}):
                failures += 1
                time.sleep(0.5)
                continue
            try:
                f = self.replies.get(timeout=10)
            except queue.Empty:
                failures += 1
                continue
            if f.get("op") != "sync" or f.get("conversation_id") != cid:
                failures += 1
                time.sleep(0.5)
                continue
            page = f["messages"]
            if not page:
                return out
            out += [(m["seq"], m["sender_id"], m.get("cmid") or "") for m in page]
            after = page[-1]["seq"]
        return None

    def close(self):
        self.conn.close()


class Conversation:
    """The members of one conversation; senders are those with a rate."""

    def __init__(self, cid, members):
        self.cid, self.members = cid, members
        self.senders = [m for m in members if m.rate]

    def stored(self, gateway):
        """Every stored message of the conversation, by REST history (paged)."""
        out, after = [], 0
        while True:
            status, body = http("GET", "%s/api/conversations/%s/messages?after_seq=%d&limit=100"
                                % (gateway, self.cid, after), token=self.members[-1].token)
            assert status == 200, body
            page = body["messages"]
            if not page:
                return out
            out += page
            after = page[-1]["seq"]

    def close(self):
        for m in self.members:
            m.close()


class Pair(Conversation):
    """A sender paced at `rate` msg/s to one receiver; the two start on different
    gateways (gateways[0] and gateways[1]). The accounts are (token, user_id) of users
    registered once; a pair of them must not have chatted before (its books start at seq 1)."""

    def __init__(self, gateways, sender_account, receiver_account, rate, answer_bound):
        a, b = sender_account[1], receiver_account[1]
        cid = "s_%d_%d" % (min(a, b), max(a, b))
        sender = Member(gateways, sender_account, rate, answer_bound, cid)
        receiver = Member(gateways, receiver_account, 0, answer_bound, cid, first=1)
        sender.dest = {"to": b}
        super().__init__(cid, [sender, receiver])


class Group(Conversation):
    """A group of len(accounts) members, member i starting on gateway i (mod their number),
    each sending to the group at rate / len(accounts) msg/s. accounts: (token, user_id) of
    users registered once (a new group per scenario keeps the books apart)."""

    def __init__(self, gateways, tag, accounts, rate, answer_bound):
        owner_token = accounts[0][0]
        body = _post_retrying(gateways[0] + "/api/groups",
                              {"name": "flt %s" % tag, "member_ids": [uid for _, uid in accounts[1:]]}, (201,),
                              token=owner_token)
        members = [Member(gateways, acc, rate / len(accounts), answer_bound, body["conversation_id"], first=i)
                   for i, acc in enumerate(accounts)]
        for m in members:
            m.dest = {"group": body["group_id"]}
        super().__init__(body["conversation_id"], members)
