"""Rate limits shared by every gateway (Redis token buckets): login attempts per username
and per client address (brute force), and REST calls per user; each answered 429
rate_limited with a Retry-After header, counted across both gateways."""
import http.client
import json
import urllib.parse

import pytest

from client import Client, uname
from cluster import wait_for


@pytest.fixture(scope="module")
def lim(infra):
    infra.start("im-repo", "lrepo-1")
    infra.start("im-logic", "llogic-1")
    gws = [infra.start_gateway("lgw-%d" % i, CIM_LOGIN_USER_PER_MIN=5, CIM_REST_RATE=1, CIM_REST_BURST=5,
                               CIM_TRUSTED_PROXIES="127.0.0.9, 127.0.0.5")   # a "balancer" (test_forwarded_for)
           for i in (1, 2)]                         # the per-address limit stays lifted: test clients are 127.0.0.1
    yield {"infra": infra, "gws": gws}
    infra.stop_daemons()


def call(url, method, path, body=None, token=None, source="127.0.0.1", forwarded=None):
    """(status, JSON body, Retry-After header) of one request from the source address
    (with X-Forwarded-For: forwarded, if given)."""
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10, source_address=(source, 0))
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    if forwarded:
        headers["X-Forwarded-For"] = forwarded
    conn.request(method, path, json.dumps(body) if body is not None else None, headers)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, json.loads(data or b"{}"), r.getheader("Retry-After")


def login(url, name, password, source="127.0.0.1", forwarded=None):
    return call(url, "POST", "/api/login", {"username": name, "password": password}, source=source,
                forwarded=forwarded)


def test_login_attempts_per_username_across_gateways(lim):
    g1, g2 = (g.url for g in lim["gws"])
    victim, other = Client(g1, uname("lv")), Client(g1, uname("lo"))
    tries = [login(g1, victim.username, "wrong guess %d" % i) for i in range(2)] + \
            [login(g2, victim.username, "wrong guess %d" % i) for i in range(2)]
    assert [s for s, _, _ in tries] == [401] * 4                       # with the Client's own login: 5 a minute
    status, body, retry = login(g1, victim.username, victim.password)  # even the right password
    assert (status, body["error"]) == (429, "rate_limited") and int(retry) >= 1
    assert login(g2, victim.username, victim.password)[0] == 429
    assert login(g2, other.username, other.password)[0] == 200         # another name is not held back


def test_login_attempts_per_client_address(lim):
    infra = lim["infra"]
    g1, g2 = (g.url for g in lim["gws"])
    users = [Client(g1, uname("la")) for _ in range(4)]
    key = "/im/config/im-gateway/login_addr_per_min"
    marks = [gw.log_text().count("event=config.applied key=login_addr_per_min") for gw in lim["gws"]]
    infra.etcd.put(key, "6")                                            # live, on both gateways
    try:
        wait_for("both gateways applied it", lambda: all(
            gw.log_text().count("event=config.applied key=login_addr_per_min") > m for gw, m in zip(lim["gws"], marks)))
        got = [login((g1, g2)[i % 2], users[i % 4].username, users[i % 4].password, source="127.0.0.2")[0]
               for i in range(6)]
        assert got == [200] * 6                                         # 6 a minute from 127.0.0.2
        status, body, retry = login(g1, users[0].username, users[0].password, source="127.0.0.2")
        assert (status, body["error"]) == (429, "rate_limited") and int(retry) >= 1
        assert login(g2, users[1].username, users[1].password, source="127.0.0.2")[0] == 429
        assert login(g1, users[0].username, users[0].password, source="127.0.0.3")[0] == 200   # another address
    finally:
        infra.etcd.delete(key)


def test_forwarded_for_only_from_a_trusted_balancer(lim):
    """Behind a balancer every client has its address: the per-address limit counts the
    X-Forwarded-For entry the trusted balancer (127.0.0.5) added, and ignores the header
    from anyone else."""
    infra = lim["infra"]
    g1 = lim["gws"][0]
    u, v, w = (Client(g1.url, uname("lx")) for _ in range(3))   # each under its own per-username limit
    key = "/im/config/im-gateway/login_addr_per_min"
    mark = g1.log_text().count("event=config.applied key=login_addr_per_min")
    infra.etcd.put(key, "3")
    try:
        wait_for("applied", lambda: g1.log_text().count("event=config.applied key=login_addr_per_min") > mark)
        via_lb = [login(g1.url, u.username, u.password, source="127.0.0.5", forwarded="6.6.6.6, 10.9.9.1")[0]
                  for _ in range(4)]
        assert via_lb == [200, 200, 200, 429]                        # 10.9.9.1 spent its 3 (the 6.6.6.6 is its word)
        assert login(g1.url, v.username, v.password, source="127.0.0.5", forwarded="10.9.9.2")[0] == 200
        direct = [login(g1.url, w.username, w.password, source="127.0.0.4", forwarded="10.9.9.%d" % (10 + i))[0]
                  for i in range(4)]
        assert direct == [200, 200, 200, 429]                        # not a balancer: counted as 127.0.0.4
    finally:
        infra.etcd.delete(key)


def test_rest_calls_per_user_across_gateways(lim):
    g1, g2 = (g.url for g in lim["gws"])
    a, b = Client(g1, uname("lr")), Client(g1, uname("lr"))
    got = [call((g1, g2)[i % 2], "GET", "/api/me", token=a.token)[0] for i in range(5)]
    assert got == [200] * 5                                             # the burst, over both gateways
    status, body, retry = call(g2, "GET", "/api/me", token=a.token)
    assert (status, body["error"], retry) == (429, "rate_limited", "1")
    assert call(g1, "GET", "/api/me", token=b.token)[0] == 200          # per user
    assert call(g1, "POST", "/api/logout", token=a.token)[0] == 200     # a logout is never refused
