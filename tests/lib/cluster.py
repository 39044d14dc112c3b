"""cluster.py — start real cim daemons against real infrastructure, for integration tests.

Infrastructure (MariaDB, Redis, etcd, Kafka) comes from deploy/local/infra.sh in a run
folder; daemons run from the build folder with every port 0 and are found the way the
daemons find each other: through their registrations in etcd.
"""
import base64
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("CIM_BUILD", os.path.join(ROOT, "build"))
JWT_SECRET = "integration-test-secret-of-40-bytes-at-least"


def http(method, url, body=None, token=None, timeout=10):
    """One HTTP request; returns (status, parsed JSON or raw text)."""
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


class Etcd:
    def __init__(self, port):
        self.base = "http://127.0.0.1:%d/v3" % port

    def _post(self, path, doc):
        req = urllib.request.Request(self.base + path, data=json.dumps(doc).encode(), method="POST")
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read())

    def put(self, key, value):
        self._post("/kv/put", {"key": base64.b64encode(key.encode()).decode(),
                               "value": base64.b64encode(value.encode()).decode()})

    def delete(self, key):
        self._post("/kv/deleterange", {"key": base64.b64encode(key.encode()).decode()})

    def prefix(self, prefix):
        """{key: value} of every key under prefix."""
        p = prefix.encode()
        end = p[:-1] + bytes([p[-1] + 1])
        doc = self._post("/kv/range", {"key": base64.b64encode(p).decode(),
                                       "range_end": base64.b64encode(end).decode()})
        return {base64.b64decode(kv["key"]).decode(): base64.b64decode(kv.get("value", "")).decode()
                for kv in doc.get("kvs", [])}

    def services(self, service):
        """{instance: registration dict} of a service."""
        pre = "/im/services/%s/" % service
        return {k[len(pre):]: json.loads(v) for k, v in self.prefix(pre).items()}


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on (for a server a test starts)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(what, fn, timeout=30, interval=0.1):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = fn()
            if last:
                return last
        except Exception as e:  # noqa: BLE001 - keep polling until the deadline
            last = e
        time.sleep(interval)
    raise TimeoutError("timed out waiting for %s (last: %r)" % (what, last))


class Daemon:
    def __init__(self, cluster, service, instance, extra_env):
        self.cluster, self.service, self.instance = cluster, service, instance
        self.log_path = os.path.join(cluster.run, "logs", instance + ".log")
        env = dict(os.environ)
        env.update(cluster.common_env())
        env.update({"CIM_INSTANCE_ID": instance, "CIM_ADMIN_PORT": "0"})
        env.update(extra_env)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([os.path.join(BUILD, service, service)], env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT)
        self.reg = wait_for("%s registered in etcd" % instance, self._registered, timeout=60)

    def _registered(self):
        if self.proc.poll() is not None:
            raise RuntimeError("%s exited with %s; log tail:\n%s" % (self.instance, self.proc.returncode, self.tail()))
        reg = self.cluster.etcd.services(self.service).get(self.instance)
        return reg if reg and reg.get("pid") == self.proc.pid else None

    @property
    def addr(self):
        return self.reg["addr"]

    @property
    def url(self):
        return "http://" + self.reg["addr"]

    def admin(self, path):
        return http("GET", "http://%s%s" % (self.reg["admin"], path))

    def tail(self, n=30):
        try:
            with open(self.log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-n:]).decode(errors="replace")
        except OSError:
            return ""

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def kill(self, sig=signal.SIGKILL):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def stop(self):
        return self.kill(signal.SIGTERM)


class Cluster:
    """Infrastructure started once in `run`; daemons added per test module."""

    def __init__(self, run):
        self.run = run
        os.makedirs(os.path.join(run, "logs"), exist_ok=True)
        # a test run is short: the broker on C1 only is at full speed at once (lib.sh)
        env = dict(os.environ, CIM_KAFKA_JVM=os.environ.get("CIM_KAFKA_JVM", "-XX:TieredStopAtLevel=1"))
        subprocess.run([os.path.join(ROOT, "deploy", "local", "infra.sh"), run], check=True,
                       stdout=subprocess.DEVNULL, env=env)
        self.ports = {}
        with open(os.path.join(run, "ports.env")) as f:
            for line in f:
                line = line.strip().replace("export ", "")
                if "=" in line and not line.startswith("#"):
                    k, v = line.split("=", 1)
                    self.ports[k] = v.strip('"\'')
        self.etcd = Etcd(int(self.ports["CIM_ETCD_PORT"]))
        self.daemons = []

    def common_env(self):
        p = self.ports
        return {
            "CIM_ETCD_ENDPOINTS": "http://127.0.0.1:%s" % p["CIM_ETCD_PORT"],
            "CIM_KAFKA_BROKERS": "127.0.0.1:%s" % p["CIM_KAFKA_PORT"],
            "CIM_REDIS_PORT": p["CIM_REDIS_PORT"],
            "CIM_MYSQL_PORT": p["CIM_MYSQL_PORT"],
            "CIM_JWT_SECRET": JWT_SECRET,
            "CIM_GRPC_PORT": "0",
            "CIM_PORT": "0",
            "CIM_LEASE_TTL_S": "3",
            "CIM_WEB_ROOT": os.path.join(ROOT, "web"),
            "CIM_FILES_DIR": os.path.join(self.run, "files"),
            "CIM_LOG_LEVEL": "info",
            # every test client is 127.0.0.1 and logs many users in: the limits are
            # lifted here and set per test where they are the subject (test_limits.py)
            "CIM_LOGIN_ADDR_PER_MIN": "1000000",
            "CIM_CONN_ADDR_PER_MIN": "1000000",
            "CIM_LOGIN_USER_PER_MIN": "1000000",
            "CIM_REST_RATE": "1000000",
            "CIM_REST_BURST": "1000000",
        }

    def start(self, service, instance, **env):
        d = Daemon(self, service, instance, {k: str(v) for k, v in env.items()})
        self.daemons.append(d)
        return d

    def start_gateway(self, instance, **env):
        """A gateway, once it answers /api/ping through logic and repo."""
        gw = self.start("im-gateway", instance, **env)
        wait_for("gateway ready", lambda: http("GET", gw.url + "/api/ping")[0] == 200)
        return gw

    def stop(self, d):
        d.stop()
        self.daemons.remove(d)

    def stop_daemons(self):
        for d in reversed(self.daemons):
            d.stop()
        self.daemons = []

    def redis(self, *args):
        out = subprocess.run(["redis-cli", "-p", self.ports["CIM_REDIS_PORT"], *args],
                             check=True, capture_output=True, text=True)
        return out.stdout.strip()

    def sql(self, query):
        out = subprocess.run(["mariadb", "-h127.0.0.1", "-P" + self.ports["CIM_MYSQL_PORT"], "-ucim",
                              "-pcim", "-N", "-B", "cim", "-e", query],
                             check=True, capture_output=True, text=True)
        return [line.split("\t") for line in out.stdout.splitlines()]

    def down(self):
        self.stop_daemons()
        subprocess.run([os.path.join(ROOT, "deploy", "local", "down.sh"), self.run], check=False,
                       stdout=subprocess.DEVNULL)
