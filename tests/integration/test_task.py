"""im-task end to end: offline pushes through a real webhook that fails for chosen users,
over real Kafka, with real im-repo, im-logic and im-gateway in front."""
import collections
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from client import Client, uname
from cluster import http, wait_for

PUSH_ATTEMPTS = 10
BACKOFF_MS, BACKOFF_MAX_MS = 200, 1000   # a push failing throughout is retried ~7 s
TIMEOUT_MS = 500                         # webhook_timeout_ms
HANG_S = 1.5                             # a "hanging" answer comes after the timeout
TASK_ENV = dict(CIM_PUSH_PROVIDER="webhook", CIM_PUSH_ATTEMPTS=PUSH_ATTEMPTS,
                CIM_PUSH_BACKOFF_MS=BACKOFF_MS, CIM_PUSH_BACKOFF_MAX_MS=BACKOFF_MAX_MS,
                CIM_WEBHOOK_TIMEOUT_MS=TIMEOUT_MS, CIM_PUSH_WORKERS=2)


class Webhook:
    """A real HTTP endpoint for im-task's offline pushes. For a user in `failing` it
    answers 500 ("500") or only after the webhook timeout ("hang"); it counts every
    request per user and keeps the pushes it took."""

    def __init__(self):
        self.lock = threading.Lock()
        self.tries = collections.Counter()   # user_id -> requests
        self.delivered = []                  # bodies answered 204
        self.failing = {}                    # user_id -> "500" | "hang"
        hook = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(n))
                user = body["user_id"]
                with hook.lock:
                    hook.tries[user] += 1
                    mode = hook.failing.get(user)
                    if mode is None:
                        hook.delivered.append(body)
                if mode == "hang":
                    time.sleep(HANG_S)
                try:
                    self.send_response(500 if mode else 204)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass   # im-task gave up waiting and closed the connection

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d/push" % self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def pushes_for(self, user_id):
        with self.lock:
            return [b for b in self.delivered if b["user_id"] == user_id]

    def tries_for(self, user_id):
        with self.lock:
            return self.tries[user_id]

    def close(self):
        self.server.shutdown()


@pytest.fixture(scope="module")
def task(infra):
    hook = Webhook()
    infra.start("im-repo", "tk-repo-1")
    logic = infra.start("im-logic", "tk-logic-1")
    gw = infra.start_gateway("tk-gw-1", CIM_LOG_LEVEL="debug", CIM_SEND_RATE=100000,
                             CIM_SEND_BURST=100000)
    tk = infra.start("im-task", "tk-task-1", CIM_WEBHOOK_URL=hook.url, **TASK_ENV)
    ctx = {"infra": infra, "hook": hook, "gw": gw, "logic": logic, "task": tk}
    yield ctx
    infra.stop_daemons()
    hook.close()


def offline_user(ctx, prefix):
    """A registered user who never connects: every message to it becomes an offline push."""
    return Client(ctx["gw"].url, uname(prefix))


def sender(ctx):
    a = Client(ctx["gw"].url, uname("sender"))
    a.connect()
    return a


def send(a, to, text):
    cmid = a.send(to.user_id, text)
    a.expect("sent", where=lambda f: f["cmid"] == cmid)
    return cmid


def delivered(ctx, user, cmid, timeout=20):
    return wait_for("push of %s to user %d" % (cmid, user.user_id),
                    lambda: [p for p in ctx["hook"].pushes_for(user.user_id)
                             if p["message"]["cmid"] == cmid], timeout=timeout)


def test_trace_id_is_followed_into_im_task(task):
    a, b = sender(task), offline_user(task, "traced")
    cmid = send(a, b, "trace me offline")
    delivered(task, b, cmid)
    m = re.search(r"event=ws\.send .*cmid=%s .*trace=([0-9a-f]{32})\b" % cmid, task["gw"].log_text())
    assert m, "gateway logged the send with a trace id"
    trace = m.group(1)
    # the trace id, not the raw traceparent "00-{trace}-{span}-01"
    wait_for("im-task's delivery line with the trace id", lambda: re.search(
        r"event=push\.offline_delivered provider=webhook user=%d .*trace=%s$" % (b.user_id, trace),
        task["task"].log_text(), re.M), timeout=10)
    assert "trace=00-" not in task["task"].log_text()
    a.close()


@pytest.mark.parametrize("mode", ["500", "hang"])
def test_webhook_failing_for_one_user_does_not_delay_another(task, mode):
    hook = task["hook"]
    a, x, y = sender(task), offline_user(task, "down"), offline_user(task, "healthy")
    hook.failing[x.user_id] = mode
    cx = send(a, x, "to x, whose pushes fail")
    wait_for("a failed push attempt for x", lambda: hook.tries_for(x.user_id) >= 1)
    cy = send(a, y, "to y, right after")
    delivered(task, y, cy)
    # y's push went through while x's was still being retried: not after x gave up
    assert hook.pushes_for(x.user_id) == []
    assert hook.tries_for(x.user_id) < PUSH_ATTEMPTS
    assert "event=push.given_up user=%d " % x.user_id not in task["task"].log_text()
    # the webhook recovers: x's push arrives on a later attempt
    del hook.failing[x.user_id]
    push = delivered(task, x, cx, timeout=30)
    assert len(push) == 1 and push[0]["message"]["content"] == "to x, whose pushes fail"
    assert hook.tries_for(x.user_id) >= 2
    a.close()


def test_push_given_up_after_push_attempts_with_a_log_line(task):
    hook = task["hook"]
    a, z = sender(task), offline_user(task, "never")
    hook.failing[z.user_id] = "500"
    send(a, z, "this push never lands")
    line = wait_for("push.given_up for z", lambda: re.search(
        r"^.*event=push\.given_up user=%d msg_id=\d+ attempts=%d .*trace=[0-9a-f]{32}$"
        % (z.user_id, PUSH_ATTEMPTS), task["task"].log_text(), re.M), timeout=60)
    assert "level=error" in line.group(0)
    assert hook.tries_for(z.user_id) == PUSH_ATTEMPTS
    time.sleep(2 * BACKOFF_MAX_MS / 1000)
    assert hook.tries_for(z.user_id) == PUSH_ATTEMPTS   # no attempt after the last one
    assert hook.pushes_for(z.user_id) == []
    a.close()


def test_push_in_retry_survives_a_crash_and_a_stop_of_im_task(task):
    """The offset of a push still being retried is not stored: after a crash (SIGKILL) or
    a clean stop (SIGTERM) mid-retry, the next im-task reads the record again and
    delivers it (at-least-once)."""
    infra, hook = task["infra"], task["hook"]
    a = sender(task)
    for n, how in enumerate(("crash", "stop")):
        x = offline_user(task, how)
        hook.failing[x.user_id] = "500"
        cx = send(a, x, "survives a %s" % how)
        wait_for("a failed push attempt for x", lambda: hook.tries_for(x.user_id) >= 1)
        old = task["task"]
        if how == "crash":
            old.kill()
        else:   # a clean stop with the push in the retry heap: exit 0, nothing for the sanitizers
            assert old.stop() == 0
            log = old.log_text()
            assert "AddressSanitizer" not in log and "runtime error" not in log
        infra.daemons.remove(old)
        del hook.failing[x.user_id]
        task["task"] = infra.start("im-task", "tk-task-%d" % (n + 2), CIM_WEBHOOK_URL=hook.url,
                                   **TASK_ENV)
        delivered(task, x, cx, timeout=60)
    a.close()
