"""im-task's device push providers end to end: FCM HTTP v1 (with its OAuth2 token
exchange) and APNs (HTTP/2, token auth) against local fakes written here, behind real
im-gateway, im-logic, im-repo, Kafka and MariaDB.

The fakes stand in for Google's and Apple's servers (third-party services): they check
each request's shape (method, path, headers, the JWTs' algorithm and claims verified
with the test public keys, the JSON body) and answer what a test scripts for a device
token. The fake FCM and its token endpoint speak HTTP/1.1; the fake APNs speaks HTTP/2
in cleartext with prior knowledge (h2c, Debian python3-h2), which im-task uses for an
http:// apns_url. The keys are made per run with the openssl CLI in a temp folder:
nothing secret is committed."""
import collections
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import h2.config
import h2.connection
import h2.events
import jwt
import pytest

from client import Client, api, uname
from cluster import http, wait_for

PROJECT = "cim-test-project"
CLIENT_EMAIL = "cim-push@cim-test-project.iam.gserviceaccount.com"
TOKEN_URI = "https://oauth2.googleapis.com/token"   # the `aud`; requests go to the fake
SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
KEY_ID, TEAM_ID, TOPIC = "TESTKEY123", "TESTTEAM45", "org.cim.test"
BACKOFF_MS = 200


def keys(folder):
    """Test-only keys, made now: an RSA service-account key and an APNs P-256 key."""
    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True)
    rsa, ec = os.path.join(folder, "sa-key.pem"), os.path.join(folder, "apns-test.p8")
    run("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", rsa)
    run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", ec)
    pub = {}
    for name, path in (("rsa", rsa), ("ec", ec)):
        out = subprocess.run(["openssl", "pkey", "-in", path, "-pubout"], check=True,
                             capture_output=True, text=True)
        pub[name] = out.stdout
    with open(rsa) as f:
        sa = {"type": "service_account", "project_id": PROJECT, "private_key_id": "test",
              "private_key": f.read(), "client_email": CLIENT_EMAIL, "token_uri": TOKEN_URI}
    cred = os.path.join(folder, "service-account.json")
    with open(cred, "w") as f:
        json.dump(sa, f)
    return cred, ec, pub


class Script:
    """Answers scripted per device token (a list, used in order; then 200); every request
    recorded with its arrival time."""

    def __init__(self):
        self.lock = threading.Lock()
        self.answers = collections.defaultdict(list)   # token -> [(status, headers, body)]
        self.requests = []                             # dicts with "token", "at", ...
        self.problems = []                             # shape errors seen (asserted empty)

    def answer(self, token):
        with self.lock:
            return self.answers[token].pop(0) if self.answers[token] else None

    def record(self, req):
        with self.lock:
            self.requests.append(req)

    def to(self, token):
        with self.lock:
            return [r for r in self.requests if r["token"] == token]


class FakeFCM(Script):
    """FCM HTTP v1 and the OAuth2 token endpoint on one HTTP/1.1 server."""

    def __init__(self, pub):
        super().__init__()
        self.issued = []   # access tokens handed out
        self.grants = []   # verified assertion claims
        fake = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def reply(self, status, body=b"", headers=()):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path == "/token":
                    return self.token(raw)
                if self.path != "/v1/projects/%s/messages:send" % PROJECT:
                    fake.problems.append("path " + self.path)
                    return self.reply(404)
                auth = self.headers.get("Authorization", "")
                if not auth.startswith("Bearer ") or auth[7:] not in fake.issued:
                    fake.problems.append("authorization " + auth)
                    return self.reply(401, b'{"error":{"code":401,"status":"UNAUTHENTICATED"}}')
                body = json.loads(raw)
                token = body["message"]["token"]
                fake.record({"token": token, "at": time.monotonic(), "body": body,
                             "content_type": self.headers.get("Content-Type", "")})
                a = fake.answer(token) or (200, (), b'{"name":"projects/%s/messages/1"}' % PROJECT.encode())
                self.reply(a[0], a[2], a[1])

            def token(self, raw):
                form = urllib.parse.parse_qs(raw.decode())
                try:
                    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
                    assertion = form["assertion"][0]
                    assert jwt.get_unverified_header(assertion)["alg"] == "RS256"
                    claims = jwt.decode(assertion, pub["rsa"], algorithms=["RS256"], audience=TOKEN_URI)
                    assert claims["iss"] == CLIENT_EMAIL and claims["scope"] == SCOPE
                    assert claims["exp"] - claims["iat"] == 3600
                    assert abs(claims["iat"] - time.time()) < 60
                except Exception as e:  # noqa: BLE001 - any bad grant is a problem to report
                    fake.problems.append("token grant: %r" % e)
                    return self.reply(400, b'{"error":"invalid_grant"}')
                access = "ya29.test-%d" % len(fake.issued)
                fake.issued.append(access)
                fake.grants.append(claims)
                self.reply(200, json.dumps({"access_token": access, "expires_in": 3599,
                                            "token_type": "Bearer"}).encode())

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


class FakeAPNs(Script):
    """APNs over HTTP/2 cleartext (prior knowledge): one thread per connection."""

    def __init__(self, pub):
        super().__init__()
        self.pub = pub
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = "http://127.0.0.1:%d" % self.sock.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def check(self, h, body):
        """The request's token, after checking its shape (problems recorded)."""
        path = h.get(":path", "")
        token = path[len("/3/device/"):] if path.startswith("/3/device/") else None
        try:
            assert h[":method"] == "POST" and token, "method/path %s %s" % (h.get(":method"), path)
            assert h["authorization"].startswith("bearer ")
            t = h["authorization"][7:]
            head = jwt.get_unverified_header(t)
            assert head["alg"] == "ES256" and head["kid"] == KEY_ID, head
            claims = jwt.decode(t, self.pub["ec"], algorithms=["ES256"])
            assert claims["iss"] == TEAM_ID and abs(claims["iat"] - time.time()) < 3600
            assert h["apns-topic"] == TOPIC and h["apns-push-type"] == "alert"
            assert h["apns-priority"] == "10"
            assert int(h["apns-expiration"]) > time.time()
            assert body["aps"]["alert"]["title"] and "body" in body["aps"]["alert"]
        except Exception as e:  # noqa: BLE001
            self.problems.append("apns request: %r" % e)
        return token

    def serve(self, c):
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
        conn.initiate_connection()
        c.sendall(conn.data_to_send())
        streams = {}
        try:
            while True:
                data = c.recv(65535)
                if not data:
                    return
                for ev in conn.receive_data(data):
                    if isinstance(ev, h2.events.RequestReceived):
                        streams[ev.stream_id] = [dict(ev.headers), b""]
                    elif isinstance(ev, h2.events.DataReceived):
                        streams[ev.stream_id][1] += ev.data
                        conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                    elif isinstance(ev, h2.events.StreamEnded):
                        h, raw = streams.pop(ev.stream_id)
                        body = json.loads(raw or b"{}")
                        token = self.check(h, body)
                        self.record({"token": token, "at": time.monotonic(), "headers": h, "body": body})
                        status, headers, out = self.answer(token) or (200, (), b"")
                        hdrs = [(":status", str(status)), ("apns-id", str(uuid.uuid4()))] + list(headers)
                        hdrs.append(("content-length", str(len(out))))
                        conn.send_headers(ev.stream_id, hdrs, end_stream=not out)
                        if out:
                            conn.send_data(ev.stream_id, out, end_stream=True)
                    elif isinstance(ev, h2.events.ConnectionTerminated):
                        return
                c.sendall(conn.data_to_send())
        except OSError:
            pass
        except Exception as e:  # noqa: BLE001 - a fake that breaks is a problem to report
            self.problems.append("apns connection: %r" % e)
        finally:
            c.close()

    def close(self):
        self.sock.close()


@pytest.fixture(scope="module")
def push(infra):
    folder = tempfile.mkdtemp(prefix="cim-push-keys-")
    fcm = apns = None
    try:
        cred, p8, pub = keys(folder)
        fcm, apns = FakeFCM(pub), FakeAPNs(pub)
        infra.start("im-repo", "pp-repo-1")
        infra.start("im-logic", "pp-logic-1")
        gw = infra.start_gateway("pp-gw-1", CIM_SEND_RATE=100000, CIM_SEND_BURST=100000)
        tk = infra.start("im-task", "pp-task-1", CIM_LOG_LEVEL="debug", CIM_PUSH_PROVIDER="log",
                         CIM_PUSH_ATTEMPTS=6, CIM_PUSH_BACKOFF_MS=BACKOFF_MS, CIM_PUSH_BACKOFF_MAX_MS=3000,
                         CIM_PUSH_WORKERS=2, CIM_FCM_URL=fcm.url, CIM_FCM_CREDENTIALS=cred,
                         CIM_FCM_TOKEN_URL=fcm.url + "/token", CIM_APNS_URL=apns.url, CIM_APNS_KEY_FILE=p8,
                         CIM_APNS_KEY_ID=KEY_ID, CIM_APNS_TEAM_ID=TEAM_ID, CIM_APNS_TOPIC=TOPIC)
        yield {"infra": infra, "gw": gw, "task": tk, "fcm": fcm, "apns": apns}
    finally:
        infra.stop_daemons()
        for fake in (fcm, apns):
            if fake:
                fake.close()
        shutil.rmtree(folder, ignore_errors=True)   # the test keys never outlive the run
    assert fcm.problems == [] and apns.problems == []


def device(user, platform):
    """Registers a fresh token of `platform` for user; returns it."""
    token = ("fcm-%s:APA91b-%s" % (uuid.uuid4().hex[:8], uuid.uuid4().hex)) if platform == "fcm" \
        else uuid.uuid4().hex + uuid.uuid4().hex
    status, body = api(user, "POST", "/api/devices", {"platform": platform, "token": token})
    assert status == 201 and body["token"] == token and body["platform"] == platform, body
    return token


def sender(ctx):
    a = Client(ctx["gw"].url, uname("psend"))
    a.connect()
    return a


def send(a, to, text):
    cmid = a.send(to.user_id, text)
    return a.expect("sent", where=lambda f: f["cmid"] == cmid)


def metric(ctx, series):
    """The value of one series on im-task's /metrics (0 if absent)."""
    status, text = ctx["task"].admin("/metrics")
    assert status == 200
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return 0


def test_devices_rest_register_list_delete_own_only(push):
    gw = push["gw"].url
    u, other = Client(gw, uname("dev")), Client(gw, uname("devx"))
    tf, ta = device(u, "fcm"), device(u, "apns")
    status, body = api(u, "GET", "/api/devices")
    assert status == 200 and [(d["platform"], d["token"]) for d in body["devices"]] == [("fcm", tf), ("apns", ta)]
    assert all(d["created_at"] > 0 for d in body["devices"])
    # registering the same token again is idempotent
    assert api(u, "POST", "/api/devices", {"platform": "fcm", "token": tf})[0] == 201
    assert len(api(u, "GET", "/api/devices")[1]["devices"]) == 2
    # bad input
    for bad in ({"platform": "sms", "token": "x"}, {"platform": "fcm", "token": ""},
                {"platform": "fcm", "token": "has space"}, {"platform": "fcm", "token": "x" * 513},
                {"platform": "fcm"}, ["not", "an", "object"]):
        status, body = api(u, "POST", "/api/devices", bad)
        assert status == 400 and body["error"] == "invalid_argument", (bad, body)
    assert http("POST", gw + "/api/devices", {"platform": "fcm", "token": "abc"})[0] == 401
    assert http("GET", gw + "/api/devices")[0] == 401
    # another user can neither see nor delete it
    assert api(other, "GET", "/api/devices")[1]["devices"] == []
    status, body = api(other, "DELETE", "/api/devices?token=" + tf)
    assert status == 404 and body["error"] == "not_found"
    assert push["infra"].sql("SELECT user_id FROM devices WHERE token = '%s'" % tf) == [[str(u.user_id)]]
    # the owner can
    assert api(u, "DELETE", "/api/devices?token=" + tf) == (200, {})
    assert api(u, "DELETE", "/api/devices?token=" + tf)[0] == 404
    assert api(u, "DELETE", "/api/devices")[0] == 400
    assert [d["token"] for d in api(u, "GET", "/api/devices")[1]["devices"]] == [ta]
    assert push["infra"].sql("SELECT COUNT(*) FROM devices WHERE token = '%s'" % tf) == [["0"]]
    # a token moves to the user who registers it last
    assert api(other, "POST", "/api/devices", {"platform": "apns", "token": ta})[0] == 201
    assert api(u, "GET", "/api/devices")[1]["devices"] == []
    assert [d["token"] for d in api(other, "GET", "/api/devices")[1]["devices"]] == [ta]
    # a user keeps the newest 20: the 21st replaces the oldest
    many = [device(u, "fcm") for _ in range(21)]
    assert [d["token"] for d in api(u, "GET", "/api/devices")[1]["devices"]] == many[1:]


def test_offline_push_reaches_fcm_and_apns_well_formed(push):
    fcm, apns = push["fcm"], push["apns"]
    a, b = sender(push), Client(push["gw"].url, uname("offl"))
    tf, ta = device(b, "fcm"), device(b, "apns")
    sent = send(a, b, "hello on your phone")
    rf = wait_for("FCM push", lambda: fcm.to(tf), timeout=20)[0]
    ra = wait_for("APNs push", lambda: apns.to(ta), timeout=20)[0]
    # FCM: the v1 body; data values are strings
    m = rf["body"]["message"]
    assert rf["content_type"].startswith("application/json")
    assert m["notification"] == {"title": "New message", "body": "hello on your phone"}
    assert m["data"] == {"kind": "offline_push", "msg_id": sent["msg_id"], "conversation_id": sent["conversation_id"],
                         "seq": str(sent["seq"]), "sender_id": str(a.user_id)}
    assert fcm.grants, "the access token came from the token endpoint with a verified RS256 assertion"
    # APNs: the headers and JWT were checked by the fake; the body here
    assert ra["body"]["aps"] == {"alert": {"title": "New message", "body": "hello on your phone"}}
    assert ra["body"]["msg_id"] == sent["msg_id"] and ra["body"]["seq"] == sent["seq"]
    assert fcm.problems == [] and apns.problems == []
    time.sleep(1)
    assert len(fcm.to(tf)) == 1 and len(apns.to(ta)) == 1   # one push each, no repeat
    log = push["task"].log_text()
    assert "event=push.offline_delivered provider=fcm user=%d " % b.user_id in log
    assert "event=push.offline_delivered provider=apns user=%d " % b.user_id in log
    assert metric(push, 'cim_task_provider_requests_total{provider="fcm",outcome="ok"}') >= 1
    assert metric(push, 'cim_task_push_seconds_count{provider="apns"}') >= 1
    a.close()


@pytest.mark.parametrize("answers", [
    ((404, b'{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND",'
           b'"details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError",'
           b'"errorCode":"UNREGISTERED"}]}}'),
     (410, b'{"reason":"Unregistered","timestamp":1700000000000}')),
    ((400, b'{"error":{"code":400,"message":"The registration token is not a valid FCM registration token",'
           b'"status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.BadRequest",'
           b'"fieldViolations":[{"field":"message.token","description":"Invalid registration token"}]}]}}'),
     (400, b'{"reason":"BadDeviceToken"}')),
], ids=["unregistered", "bad-token"])
def test_dead_token_is_removed_and_not_pushed_again(push, answers):
    fcm, apns, infra = push["fcm"], push["apns"], push["infra"]
    a, b = sender(push), Client(push["gw"].url, uname("gone"))
    tf, ta = device(b, "fcm"), device(b, "apns")
    keep = device(b, "fcm")   # a healthy device of the same user stays
    fcm.answers[tf].append((answers[0][0], (), answers[0][1]))
    apns.answers[ta].append((answers[1][0], (), answers[1][1]))
    send(a, b, "first")
    wait_for("FCM and APNs told im-task the tokens are dead", lambda: fcm.to(tf) and apns.to(ta), timeout=20)
    wait_for("dead tokens removed from MySQL", lambda: infra.sql(
        "SELECT token FROM devices WHERE user_id = %d" % b.user_id) == [[keep]], timeout=20)
    assert [d["token"] for d in api(b, "GET", "/api/devices")[1]["devices"]] == [keep]
    wait_for("the healthy device got the first push", lambda: len(fcm.to(keep)) == 1, timeout=20)
    send(a, b, "second")
    wait_for("the healthy device got the second push", lambda: len(fcm.to(keep)) == 2, timeout=20)
    time.sleep(1)
    assert len(fcm.to(tf)) == 1 and len(apns.to(ta)) == 1   # no retry, no second push to them
    a.close()


def test_429_is_retried_after_retry_after_and_only_that_device(push):
    fcm, apns = push["fcm"], push["apns"]
    a, b = sender(push), Client(push["gw"].url, uname("busy"))
    tf, ta = device(b, "fcm"), device(b, "apns")
    fcm.answers[tf].append((429, (("Retry-After", "1"),),
                            b'{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","details":[{"@type":'
                            b'"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"QUOTA_EXCEEDED"}]}}'))
    send(a, b, "wait a second")
    got = wait_for("FCM retried", lambda: fcm.to(tf) if len(fcm.to(tf)) >= 2 else None, timeout=20)
    assert got[1]["at"] - got[0]["at"] >= 1.0, "retried after Retry-After: 1"
    time.sleep(0.5)
    assert len(fcm.to(tf)) == 2
    assert len(apns.to(ta)) == 1   # the APNs device was served at once and not pushed again
    # APNs 429 TooManyProviderRequests: retried with the backoff
    c = Client(push["gw"].url, uname("busy2"))
    tc = device(c, "apns")
    apns.answers[tc].append((429, (), b'{"reason":"TooManyProviderRequests"}'))
    apns.answers[tc].append((503, (), b'{"reason":"ServiceUnavailable"}'))
    send(a, c, "apns is busy")
    got = wait_for("APNs retried twice", lambda: apns.to(tc) if len(apns.to(tc)) >= 3 else None, timeout=20)
    assert got[1]["at"] - got[0]["at"] >= BACKOFF_MS / 1000 * 0.9
    assert got[2]["at"] - got[1]["at"] >= 2 * BACKOFF_MS / 1000 * 0.9   # doubled
    time.sleep(0.5)
    assert len(apns.to(tc)) == 3
    assert metric(push, 'cim_task_provider_requests_total{provider="fcm",outcome="retry"}') >= 1
    assert metric(push, 'cim_task_provider_requests_total{provider="apns",outcome="retry"}') >= 2
    a.close()


def test_provider_rate_limit_is_live(push):
    """fcm_rate through etcd: pushes over it wait for the bucket, none is lost."""
    fcm, infra = push["fcm"], push["infra"]
    infra.etcd.put("/im/config/im-task/fcm_rate", "2")
    infra.etcd.put("/im/config/im-task/fcm_burst", "1")
    try:
        wait_for("fcm_rate applied", lambda: "event=config.applied key=fcm_burst" in push["task"].log_text(),
                 timeout=10)
        a, b = sender(push), Client(push["gw"].url, uname("slow"))
        tf = device(b, "fcm")
        for i in range(5):
            send(a, b, "burst %d" % i)
        got = wait_for("5 FCM pushes", lambda: fcm.to(tf) if len(fcm.to(tf)) >= 5 else None, timeout=30)
        span = got[-1]["at"] - got[0]["at"]
        assert span >= 1.5, "5 requests at 2/s with a bucket of 1 take at least 2 s (%.2f)" % span
        assert sorted(r["body"]["message"]["notification"]["body"] for r in got) == \
            ["burst %d" % i for i in range(5)]
        assert metric(push, 'cim_task_provider_requests_total{provider="fcm",outcome="rate_limited"}') > 0
        a.close()
    finally:
        infra.etcd.delete("/im/config/im-task/fcm_rate")
        infra.etcd.delete("/im/config/im-task/fcm_burst")
