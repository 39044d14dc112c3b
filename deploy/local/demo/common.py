"""common.py — what every demo scene needs from a running local cim: the run folder, its
ports, the gateways (from etcd), Redis, MySQL, the daemons' logs, live config keys in
etcd, and the daemons' pid files (the ones deploy/local/up.sh writes).

Output conventions (tests/integration/test_demo.py reads them):
  "N. text"                 a numbered step of the scene
  "  evidence: k=v k=v  # note"   what was observed, as key=value pairs
  "  log: <daemon> <line>"  a daemon's log line quoted as it is
  "  verdict: SCENE PASS" or "  verdict: SCENE FAIL: why"   the scene's own checks
"""
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
from client import Client, cid_of  # noqa: E402
from cluster import Etcd, http  # noqa: E402,F401 - http is re-exported to the scenes

SERVERS = {"mariadb", "redis", "etcd", "kafka", "zipkin", "prometheus", "etcd_sd"}


class Failed(Exception):
    """A scene's own check did not hold: printed as its verdict."""


class Env:
    def __init__(self, run, gateways=None, zipkin=None):
        self.run = os.path.abspath(run)
        if not os.path.isfile(os.path.join(self.run, "ports.env")):
            raise SystemExit("demo: no cluster in %s (start one with deploy/local/up.sh, or pass --run)" % self.run)
        self.ports = {}
        with open(os.path.join(self.run, "ports.env")) as f:
            for line in f:
                if "=" in line and not line.startswith("#"):
                    k, v = line.strip().split("=", 1)
                    self.ports[k] = v
        self.etcd = Etcd(int(self.ports["CIM_ETCD_PORT"]))
        self.gateways = gateways or self._gateways()
        if len(self.gateways) < 2:
            raise SystemExit("demo: needs two gateways, found %r" % self.gateways)
        self.zipkin = zipkin
        self.step_no = 0

    def _gateways(self):
        regs = self.etcd.services("im-gateway")
        scheme = "https" if os.path.exists(os.path.join(self.run, "tls", "cert.pem")) else "http"
        return ["%s://%s" % (scheme, regs[k]["addr"]) for k in sorted(regs)]

    # ---- narration ----
    def scene(self, name, title):
        self.step_no = 0
        print()
        print("=" * 78)
        print("scene %s: %s" % (name, title))
        print("=" * 78)

    def step(self, text):
        self.step_no += 1
        print("%d. %s" % (self.step_no, text))
        sys.stdout.flush()

    @staticmethod
    def evidence(note=None, **kv):
        line = "  evidence: " + " ".join("%s=%s" % (k, v) for k, v in kv.items())
        if note:
            line += "  # " + note
        print(line)
        sys.stdout.flush()

    @staticmethod
    def show(text, prefix="  "):
        for line in text.rstrip().splitlines():
            print(prefix + line)

    @staticmethod
    def check(cond, what):
        if not cond:
            raise Failed(what)

    # ---- Redis, MySQL ----
    def pair(self, first="alice", second="bob"):
        """Two new users, the first connected to the first gateway and the second to the
        second: (first, second, their conversation id)."""
        sfx = uuid.uuid4().hex[:6]
        a, b = Client(self.gateways[0], first + "_" + sfx), Client(self.gateways[1], second + "_" + sfx)
        a.connect()
        b.connect()
        return a, b, cid_of(a.user_id, b.user_id)

    def redis(self, *args):
        out = subprocess.run(["redis-cli", "-p", self.ports["CIM_REDIS_PORT"], *[str(a) for a in args]],
                             capture_output=True, text=True, check=True)
        return out.stdout.strip()

    def sql(self, query):
        out = subprocess.run(["mariadb", "--no-defaults", "-h127.0.0.1", "-P" + self.ports["CIM_MYSQL_PORT"],
                              "-ucim", "-pcim", "-N", "-B", "cim", "-e", query],
                             capture_output=True, text=True, check=True)
        return [line.split("\t") for line in out.stdout.splitlines()]

    # ---- logs ----
    def instances(self, service):
        """{instance: registration} of a service, from etcd."""
        return self.etcd.services(service)

    def log_path(self, instance):
        return os.path.join(self.run, "logs", instance + ".log")

    def mark(self):
        """Every log file's size now: grep(since=mark) looks only at what came after."""
        logs = os.path.join(self.run, "logs")
        return {n: os.path.getsize(os.path.join(logs, n)) for n in os.listdir(logs) if n.endswith(".log")}

    def lines(self, since=None, instances=None):
        """(instance, line) of every daemon log line (after `since`), file by file."""
        logs = os.path.join(self.run, "logs")
        for name in sorted(os.listdir(logs)):
            inst = name[:-4]
            if not name.endswith(".log") or inst in SERVERS or (instances and inst not in instances):
                continue
            with open(os.path.join(logs, name), "rb") as f:
                if since:
                    f.seek(since.get(name, 0))
                for raw in f:
                    yield inst, raw.decode(errors="replace").rstrip("\n")

    def grep(self, pattern, since=None, instances=None, timeout=0.0):
        """Every (instance, line) matching pattern; waits up to timeout for at least one."""
        rx = re.compile(pattern)
        deadline = time.time() + timeout
        while True:
            hits = [(i, l) for i, l in self.lines(since, instances) if rx.search(l)]
            if hits or time.time() >= deadline:
                return hits
            time.sleep(0.2)

    # ---- live config (etcd /im/config/{service}/{key}) ----
    def live(self, service, key, value):
        """A context manager: the key set in etcd while the block runs, then restored (the
        value it had, or deleted), each change waited for in the service's logs."""
        return _Live(self, service, key, value)

    # ---- daemons started by up.sh (pid files in RUN/pids) ----
    def pid(self, instance):
        try:
            with open(os.path.join(self.run, "pids", instance + ".pid")) as f:
                pid = int(f.read().strip())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def kill(self, instance, sig=signal.SIGKILL):
        """Signal a daemon by its pid file (as down.sh finds it); returns how to start it again:
        its command line, environment and working folder, read from /proc before the kill."""
        pid = self.pid(instance)
        self.check(pid is not None, "no live pid file for %s in %s/pids" % (instance, self.run))
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv = [a.decode() for a in f.read().split(b"\0") if a]
        with open("/proc/%d/environ" % pid, "rb") as f:
            env = dict(e.decode(errors="replace").split("=", 1) for e in f.read().split(b"\0") if b"=" in e)
        cwd = os.readlink("/proc/%d/cwd" % pid)
        os.kill(pid, sig)
        for _ in range(100):
            if not os.path.exists("/proc/%d" % pid) or _zombie(pid):
                break
            time.sleep(0.05)
        return {"instance": instance, "pid": pid, "argv": argv, "env": env, "cwd": cwd}

    def restart(self, how, service, timeout=60):
        """Start a killed daemon again as up.sh's start() does (same command and environment,
        its log appended, its pid file written), and wait until it is registered and healthy."""
        inst = how["instance"]
        log = open(self.log_path(inst), "ab")
        proc = subprocess.Popen(how["argv"], env=how["env"], cwd=how["cwd"], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        with open(os.path.join(self.run, "pids", inst + ".pid"), "w") as f:
            f.write("%d\n" % proc.pid)
        deadline = time.time() + timeout
        while time.time() < deadline:
            reg = self.instances(service).get(inst)
            if reg and reg.get("pid") == proc.pid:
                try:
                    with urllib.request.urlopen("http://%s/healthz" % reg["admin"], timeout=2) as r:
                        if r.status == 200:
                            return proc.pid
                except OSError:
                    pass
            self.check(proc.poll() is None, "%s exited again (see %s)" % (inst, self.log_path(inst)))
            time.sleep(0.2)
        raise Failed("%s did not come back within %d s" % (inst, timeout))


def _zombie(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


class _Live:
    def __init__(self, env, service, key, value):
        self.env, self.service, self.key, self.value = env, service, key, str(value)
        self.path = "/im/config/%s/%s" % (service, key)

    def _wait(self, event, since):
        insts = set(self.env.instances(self.service))
        pat = r"event=config\.%s key=%s\b" % (event, re.escape(self.key))
        deadline = time.time() + 15
        while time.time() < deadline:
            seen = {i for i, _ in self.env.grep(pat, since=since, instances=insts)}
            if insts <= seen:
                return
            time.sleep(0.2)

    def __enter__(self):
        self.before = self.env.etcd.prefix(self.path).get(self.path)
        since = self.env.mark()
        self.env.etcd.put(self.path, self.value)
        self._wait("applied", since)
        return self

    def __exit__(self, *exc):
        since = self.env.mark()
        if self.before is None:
            self.env.etcd.delete(self.path)
            self._wait("reverted", since)
        else:
            self.env.etcd.put(self.path, self.before)
            self._wait("applied", since)
        return False


def field(line, key):
    m = re.search(r"\b%s=(\S+)" % re.escape(key), line or "")
    return m.group(1) if m else None


def wait_for(what, fn, timeout=20, interval=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(interval)
    raise Failed("timed out waiting for " + what)


def seqs_contiguous(seqs):
    return sorted(seqs) == list(range(1, len(seqs) + 1))


def one_json(obj):
    return json.dumps(obj, ensure_ascii=False, sort_keys=True)
