"""Tracing: one `send` is one trace in a real Zipkin server, its spans from the gateway,
im-logic, im-repo (and im-task when the recipient is offline), linked parent to child
into one tree by the traceparent carried over Kafka and gRPC. The sampling ratio is live."""
import json
import os
import subprocess
import time
import urllib.request

import pytest

from client import Client, uname
from cluster import ROOT, free_port, wait_for


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


@pytest.fixture(scope="module")
def tr(infra):
    port = free_port()
    lib = os.path.join(ROOT, "deploy", "local", "lib.sh")
    subprocess.run(["bash", "-c", 'RUN="$1"; source "$2"; start_zipkin "$3"', "-", infra.run, lib, str(port)],
                   check=True, stdout=subprocess.DEVNULL)
    zipkin = "http://127.0.0.1:%d" % port
    env = {"CIM_TRACING_URL": zipkin, "CIM_TRACE_ONE_IN": 1}
    infra.start("im-repo", "trepo-1", **env)
    logic = infra.start("im-logic", "tlogic-1", **env)
    infra.start("im-task", "ttask-1", CIM_PUSH_PROVIDER="log", **env)
    gw = infra.start_gateway("tgw-1", **env)
    yield {"zipkin": zipkin, "gw": gw, "logic": logic, "etcd": infra.etcd}
    infra.etcd.delete("/im/config/im-gateway/trace_one_in")
    infra.stop_daemons()
    subprocess.run(["bash", "-c", 'kill "$(cat "$1/pids/zipkin.pid")"', "-", infra.run], check=False)


def traces_of(tr, span_name, since_ms):
    """The traces holding a span of this name that started after since_ms."""
    url = "%s/api/v2/traces?spanName=%s&lookback=600000&limit=100&endTs=%d" % (
        tr["zipkin"], urllib.request.quote(span_name), int(time.time() * 1000) + 60000)
    return [t for t in get(url) if any(s["name"] == span_name and s["timestamp"] >= since_ms * 1000 for s in t)]


def one_trace(tr, span_name, since_ms, services, spans=()):
    """Waits for exactly one trace with span_name since since_ms whose spans come from every
    one of services and include every (service, span name) of spans (each daemon's exporter
    posts within a second or so; Zipkin keeps span names in lower case)."""
    found = {}

    def ready():
        ts = traces_of(tr, span_name, since_ms)
        found["traces"] = ts
        if len(ts) != 1:
            return False
        have = {(s["localEndpoint"]["serviceName"], s["name"]) for s in ts[0]}
        return services <= {svc for svc, _ in have} and set(spans) <= have
    wait_for("one trace from %s with %s" % (sorted(services), sorted(spans)), ready, timeout=20)
    return found["traces"][0]


def assert_tree(trace):
    """One root; every other span's parent is a span of the same trace."""
    ids = {s["id"] for s in trace}
    assert len({s["traceId"] for s in trace}) == 1
    roots = [s for s in trace if "parentId" not in s]
    assert len(roots) == 1, roots
    orphans = [s for s in trace if "parentId" in s and s["parentId"] not in ids]
    assert orphans == [], orphans
    return roots[0]


def test_one_send_is_one_trace_across_the_daemons(tr):
    a, b = Client(tr["gw"].url, uname("tr")), Client(tr["gw"].url, uname("tr"))
    a.connect()
    b.connect()
    since = int(time.time() * 1000)
    cmid = a.send(b.user_id, "traced")
    a.expect("sent", where=lambda f: f["cmid"] == cmid)
    b.expect("msg", where=lambda f: f["message"]["content"] == "traced")
    save_name = "/im.repo.v1.repo/savemessages"
    trace = one_trace(tr, "logic send", since, {"im-gateway", "im-logic", "im-repo"},
                      [("im-gateway", "send"), ("im-logic", "logic send"), ("im-logic", "dedup, seq, store"),
                       ("im-logic", "push"), ("im-logic", save_name), ("im-repo", save_name), ("im-repo", "sql"),
                       ("im-gateway", "gateway push")])
    root = assert_tree(trace)
    assert (root["localEndpoint"]["serviceName"], root["name"]) == ("im-gateway", "send")
    assert any(s["name"] == "sql" and "INSERT INTO messages" in s["tags"]["db.statement"] for s in trace)
    byid = {s["id"]: s for s in trace}
    save = next(s for s in trace if s["name"] == save_name and s["localEndpoint"]["serviceName"] == "im-repo")
    assert byid[save["parentId"]]["localEndpoint"]["serviceName"] == "im-logic"
    wait_for("both gateway pushes", lambda: len([s for s in one_trace(tr, "logic send", since, set())
                                                  if s["name"] == "gateway push"]) == 2, timeout=10)
    trace = one_trace(tr, "logic send", since, set())
    byid = {s["id"]: s for s in trace}
    pushes = [s for s in trace if s["name"] == "gateway push"]            # `sent` to a, `msg` to b
    assert all(byid[p["parentId"]]["name"] == "logic send" for p in pushes)
    a.close()
    b.close()


def test_offline_recipient_adds_the_task_span(tr):
    a, b = Client(tr["gw"].url, uname("tr")), Client(tr["gw"].url, uname("tr"))
    a.connect()
    since = int(time.time() * 1000)
    cmid = a.send(b.user_id, "to an offline user")
    a.expect("sent", where=lambda f: f["cmid"] == cmid)
    trace = one_trace(tr, "logic send", since, {"im-gateway", "im-logic", "im-repo", "im-task"},
                      [("im-task", "offline push"), ("im-task", "provider push")])
    assert_tree(trace)
    push = next(s for s in trace if s["name"] == "offline push")
    assert push["name"] == "offline push" and push["tags"]["outcome"] == "delivered", push
    a.close()


def test_sampling_ratio_is_live(tr):
    a, b = Client(tr["gw"].url, uname("tr")), Client(tr["gw"].url, uname("tr"))
    a.connect()
    b.connect()
    key = "/im/config/im-gateway/trace_one_in"
    before = tr["gw"].log_text().count("key=trace_one_in ")
    tr["etcd"].put(key, "0")
    wait_for("trace_one_in applied", lambda: tr["gw"].log_text().count("key=trace_one_in ") > before, timeout=10)
    since = int(time.time() * 1000)
    for i in range(5):
        a.send(b.user_id, "untraced %d" % i)
    a.drain("sent", 5)
    b.drain("msg", 5)
    time.sleep(2)   # longer than an exporter's flush
    assert traces_of(tr, "logic send", since) == []
    tr["etcd"].delete(key)
    wait_for("trace_one_in restored", lambda: tr["gw"].log_text().count("key=trace_one_in ") > before + 1, timeout=10)
    since = int(time.time() * 1000)
    a.send(b.user_id, "traced again")
    one_trace(tr, "logic send", since, {"im-gateway", "im-logic", "im-repo"})
    a.close()
    b.close()
