"""Foundation: discovery, RPC across processes, failover, a standard gRPC client, Kafka
at-least-once, health and metrics, clean shutdown. Real servers, real daemons."""
import os
import signal
import subprocess
import time
import uuid
from collections import Counter

from client import Client
from cluster import BUILD, ROOT, http, wait_for


def start_core(cluster, logics=1):
    repo = cluster.start("im-repo", "repo-1")
    logic = [cluster.start("im-logic", "logic-%d" % (i + 1)) for i in range(logics)]
    gw = cluster.start("im-gateway", "gw-1")
    wait_for("gateway sees logic", lambda: http("GET", gw.url + "/api/ping")[0] == 200)
    return repo, logic, gw


def test_ping_goes_gateway_logic_repo_through_etcd(cluster):
    repo, (logic,), gw = start_core(cluster)
    status, body = http("GET", gw.url + "/api/ping")
    assert status == 200, body
    assert body["gateway"] == "gw-1"
    assert body["path"] == ["logic-1", "repo-1"]
    # the trace id of the request shows up in the logs of logic and repo
    trace = body["trace"]
    assert len(trace) == 32
    wait_for("trace in logic log", lambda: trace in logic.log_text() or None, timeout=5)


def test_calls_spread_over_two_logic_and_survive_sigkill(cluster):
    repo, (l1, l2), gw = start_core(cluster, logics=2)
    wait_for("both logic instances discovered",
             lambda: len({http("GET", gw.url + "/api/ping")[1]["path"][0] for _ in range(10)}) == 2)
    seen = Counter(http("GET", gw.url + "/api/ping")[1]["path"][0] for _ in range(40))
    assert set(seen) == {"logic-1", "logic-2"}
    assert min(seen.values()) >= 10, seen          # round robin, not one favourite

    l1.kill()                                      # SIGKILL: no deregistration
    killed_at = time.time()
    ttl = 3                                        # CIM_LEASE_TTL_S in cluster.py

    def twenty_ok():
        rs = [http("GET", gw.url + "/api/ping") for _ in range(20)]
        return all(s == 200 and b["path"][0] == "logic-2" for s, b in rs)

    wait_for("calls succeed on the survivor", twenty_ok, timeout=ttl + 5)
    assert time.time() - killed_at <= ttl + 5
    wait_for("dead instance leaves etcd", lambda: "logic-1" not in cluster.etcd.services("im-logic"),
             timeout=ttl + 5)


def test_breaker_skips_a_hung_logic_and_a_probe_brings_it_back(cluster):
    """A hung (SIGSTOPped, still registered) logic instance: its calls fail at the
    deadline until the gateway's breaker for it opens; from then on every call goes to the
    other instance without trying it; once it runs again, a probe closes the breaker."""
    repo = cluster.start("im-repo", "repo-1")
    l1 = cluster.start("im-logic", "logic-1", CIM_LEASE_TTL_S=120)   # stays registered while stopped
    cluster.start("im-logic", "logic-2")
    gw = cluster.start("im-gateway", "gw-1", CIM_LOGIC_TIMEOUT_MS=300, CIM_BREAKER_MIN_CALLS=3,
                       CIM_BREAKER_OPEN_MS=600000)
    wait_for("both logic instances discovered",
             lambda: len({http("GET", gw.url + "/api/ping")[1].get("path", ["?"])[0] for _ in range(10)}) == 2)
    opened = "event=rpc.breaker service=im.logic.v1.Logic peer=%s state=open" % l1.addr
    os.kill(l1.proc.pid, signal.SIGSTOP)
    try:
        def breaker_open():
            http("GET", gw.url + "/api/ping")
            return opened in gw.log_text()
        wait_for("the breaker for the hung instance opens", breaker_open, timeout=20)
        rs = [http("GET", gw.url + "/api/ping") for _ in range(30)]
        assert [s for s, _ in rs] == [200] * 30                          # none waits on the hung one
        assert {b["path"][0] for _, b in rs} == {"logic-2"}
    finally:
        os.kill(l1.proc.pid, signal.SIGCONT)
    try:
        cluster.etcd.put("/im/config/im-gateway/breaker_open_ms", "200")   # probe soon
        closed = "event=rpc.breaker service=im.logic.v1.Logic peer=%s state=closed" % l1.addr
        wait_for("a probe closes it", lambda: http("GET", gw.url + "/api/ping") and closed in gw.log_text(),
                 timeout=20)
        wait_for("calls reach both again",
                 lambda: len({http("GET", gw.url + "/api/ping")[1]["path"][0] for _ in range(10)}) == 2)
    finally:
        cluster.etcd.delete("/im/config/im-gateway/breaker_open_ms")


def test_standard_grpc_client_calls_cim(cluster):
    repo, (logic,), gw = start_core(cluster)
    for d, name in ((logic, "logic"), (repo, "repo")):
        out = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "tests", "interop", "grpc_python_ping.py"),
                              d.addr, name], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "im-" + name in out.stdout


def test_health_metrics_and_clean_sigterm(cluster):
    repo, (logic,), gw = start_core(cluster)
    for d in (repo, logic, gw):
        status, body = d.admin("/healthz")
        assert status == 200, (d.instance, body)
        status, body = d.admin("/metrics")
        assert status == 200 and "process_resident_memory_bytes" in body
    assert "cim_gateway_connections" in gw.admin("/metrics")[1]
    # SIGTERM: deregistered at once (not after the lease), exit code 0
    rc = logic.stop()
    assert rc == 0, logic.tail()
    assert "logic-1" not in cluster.etcd.services("im-logic")
    assert "daemon.stopped" in logic.log_text()


def test_kafka_consumer_group_is_at_least_once(cluster):
    probe = os.path.join(BUILD, "tests", "kafka_probe")
    brokers = "127.0.0.1:" + cluster.ports["CIM_KAFKA_PORT"]
    topic, group = "probe-" + uuid.uuid4().hex[:8], "g-" + uuid.uuid4().hex[:8]
    subprocess.run([probe, "produce", brokers, topic, "5", "rec"], check=True, timeout=60)
    # the first consumer dies (SIGKILL) after reading a record, before storing its offset
    crash = subprocess.run([probe, "crash", brokers, topic, group], capture_output=True, text=True, timeout=90)
    assert crash.returncode == -9
    first = crash.stdout.split()[0]
    # a new member of the same group sees that record again, and all the others
    out = subprocess.run([probe, "consume", brokers, topic, group, "5"], capture_output=True, text=True, timeout=90)
    assert out.returncode == 0, out.stderr
    got = [line.split()[0] for line in out.stdout.splitlines()]
    assert first in got
    assert sorted(got) == ["rec-%d" % i for i in range(5)]
    assert "traceparent=00-0af7651916cd43dd8448eb211c80319c" in out.stdout
    # and a third member finds nothing left: the offsets were stored after processing
    again = subprocess.run([probe, "consume", brokers, topic, group, "1"], capture_output=True, text=True,
                           timeout=120, env=dict(os.environ, PROBE_WAIT_S="10"))
    assert again.returncode == 1 and again.stdout == ""


def test_dynamic_config_from_etcd(cluster):
    repo, (logic,), gw = start_core(cluster)
    # not a valid value: rejected, the daemon keeps running
    cluster.etcd.put("/im/config/im-gateway/send_rate", "not-a-number")
    wait_for("rejected", lambda: "event=config.rejected key=send_rate" in gw.log_text() or None, timeout=5)
    # the rate limit follows etcd: burst 2, refill 1/s
    cluster.etcd.put("/im/config/im-gateway/send_rate", "1")
    cluster.etcd.put("/im/config/im-gateway/send_burst", "2")
    wait_for("applied", lambda: "event=config.applied key=send_burst value=2" in gw.log_text() or None, timeout=5)
    a, b = Client(gw.url, "dyn_a_" + uuid.uuid4().hex[:6]), Client(gw.url, "dyn_b_" + uuid.uuid4().hex[:6])
    a.connect()
    for i in range(4):
        a.send(b.user_id, "m%d" % i)
    codes = sorted(f.get("code", f["op"]) for f in [a.expect("error") for _ in range(2)] + a.drain("sent", 2))
    assert codes == ["rate_limited", "rate_limited", "sent", "sent"]
    a.close()
    cluster.etcd.delete("/im/config/im-gateway/send_rate")
    cluster.etcd.delete("/im/config/im-gateway/send_burst")
