"""Metrics: Prometheus (Debian's package, started by deploy/observability/prometheus.sh as
`up.sh` does with CIM_METRICS=1) finds every daemon through etcd — including daemons that
register after it started — scrapes them all, and sees the send-latency histogram fill
as messages flow, along with the SQL, Redis, Kafka and im-repo metrics."""
import json
import os
import subprocess
import urllib.parse
import urllib.request

import pytest

from client import Client, uname
from cluster import ROOT, free_port, wait_for


@pytest.fixture(scope="module")
def prom(infra):
    port = free_port()
    script = 'RUN="$1"; source "$2/deploy/local/lib.sh"; source "$2/deploy/observability/prometheus.sh"; ' \
             'start_prometheus "$3" "$4"'
    subprocess.run(["bash", "-c", script, "-", infra.run, ROOT, str(port), infra.ports["CIM_ETCD_PORT"]],
                   check=True, stdout=subprocess.DEVNULL)
    # the daemons register after Prometheus started: it finds them by the refreshed file
    daemons = [infra.start("im-repo", "mrepo-1"), infra.start("im-logic", "mlogic-1"),
               infra.start("im-task", "mtask-1", CIM_PUSH_PROVIDER="log")]
    daemons.append(infra.start_gateway("mgw-1"))
    yield {"url": "http://127.0.0.1:%d" % port, "daemons": daemons}
    infra.stop_daemons()
    for name in ("prometheus", "prometheus-sd"):
        subprocess.run(["bash", "-c", 'kill "$(cat "$1/pids/$2.pid")" && rm -f "$1/pids/$2.pid"', "-", infra.run, name],
                       check=False)


def api(prom, path, **params):
    url = "%s/api/v1/%s?%s" % (prom["url"], path, urllib.parse.urlencode(params))
    with urllib.request.urlopen(url, timeout=10) as r:
        doc = json.loads(r.read())
    assert doc["status"] == "success", doc
    return doc["data"]


def value(prom, expr):
    """The single value of an instant query, or None if it has no sample."""
    res = api(prom, "query", query=expr)["result"]
    assert len(res) <= 1, res
    return float(res[0]["value"][1]) if res else None


def test_every_daemon_is_a_target_and_up(prom):
    want = {(d.service, d.instance, d.reg["admin"]) for d in prom["daemons"]}

    def all_up():
        targets = api(prom, "targets", state="active")["activeTargets"]
        up = {(t["labels"]["service"], t["labels"]["cim_instance"], t["labels"]["instance"])
              for t in targets if t["health"] == "up"}
        return want <= up
    wait_for("every daemon's target up", all_up, timeout=40, interval=1)
    for service, instance, _ in want:   # and the scrapes are stored: up == 1 for each
        assert value(prom, 'up{cim_instance="%s"}' % instance) == 1.0, (service, instance)


def test_send_latency_histogram_has_samples(prom):
    gw = next(d for d in prom["daemons"] if d.service == "im-gateway")
    a, b = Client(gw.url, uname("mt")), Client(gw.url, uname("mt"))
    a.connect()
    b.connect()
    for i in range(5):
        cmid = a.send(b.user_id, "measured %d" % i)
        a.expect("sent", where=lambda f, c=cmid: f["cmid"] == c)
        b.expect("msg", where=lambda f, i=i: f["message"]["content"] == "measured %d" % i)
    a.close()
    b.close()

    def count(expr):
        return lambda: (value(prom, expr) or 0) >= 5
    wait_for("send latency samples", count('sum(cim_hop_server_seconds_count{cim_instance="mgw-1"})'),
             timeout=30, interval=1)
    p99 = value(prom, 'histogram_quantile(0.99, sum by (le) (cim_hop_server_seconds_bucket{cim_instance="mgw-1"}))')
    assert p99 is not None and 0 < p99 <= 5, p99
    # the messages as im-repo counted them, and the round trips under them
    wait_for("repo counted the stored messages",
             count('cim_repo_messages_total{cim_instance="mrepo-1",result="stored"}'), timeout=15, interval=1)
    # each daemon is scraped on its own schedule: wait for the scrape after the sends
    wait_for("repo's commits", count('cim_sql_seconds_count{cim_instance="mrepo-1",op="commit"}'), timeout=15, interval=1)
    wait_for("logic's Redis round trips", lambda: (value(prom, 'sum(cim_redis_seconds_count{cim_instance="mlogic-1"})')
                                                   or 0) > 0, timeout=15, interval=1)
    wait_for("the gateway's produces", count('sum(cim_kafka_produce_seconds_count{cim_instance="mgw-1"})'),
             timeout=15, interval=1)
    # librdkafka's statistics come every 5 s: logic's lag on the upstream topic appears
    wait_for("consumer lag gauge", lambda: api(prom, "query", query='cim_kafka_consumer_lag{cim_instance="mlogic-1"}')["result"],
             timeout=30, interval=1)
