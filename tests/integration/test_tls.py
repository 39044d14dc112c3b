"""TLS and the JWT secret at start: a gateway given a certificate serves HTTPS and WSS only
(REST, the web client's files and a chat over wss://), and a gateway or im-logic with a
short or shipped JWT secret refuses to start, saying why."""
import json
import os
import ssl
import subprocess
import urllib.request

import pytest
import websocket

from client import uname
from cluster import BUILD, JWT_SECRET


@pytest.fixture(scope="module")
def tls(infra, tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    cert, key = str(d / "cert.pem"), str(d / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    infra.start("im-repo", "trepo-tls")
    infra.start("im-logic", "tlogic-tls")
    gw = infra.start("im-gateway", "tgw-tls", CIM_TLS_CERT=cert, CIM_TLS_KEY=key)
    ctx = ssl.create_default_context(cafile=cert)   # the self-signed certificate is the trust root
    yield {"infra": infra, "gw": gw, "cert": cert, "ctx": ctx, "base": "https://" + gw.addr}
    infra.stop_daemons()


def https(t, method, path, body=None, token=None):
    req = urllib.request.Request(t["base"] + path, data=None if body is None else json.dumps(body).encode(),
                                 method=method, headers={"Content-Type": "application/json"})
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, context=t["ctx"], timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_https_and_wss(tls):
    status, _ = https(tls, "GET", "/api/ping")
    assert status == 200
    status, page = https(tls, "GET", "/")
    assert status == 200 and b"<html" in page.lower()                  # the web client, over TLS
    users = []
    for _ in range(2):
        name = uname("tls")
        assert https(tls, "POST", "/api/register", {"username": name, "password": "correct horse battery"})[0] == 201
        status, body = https(tls, "POST", "/api/login", {"username": name, "password": "correct horse battery"})
        assert status == 200
        users.append(json.loads(body))
    wss = tls["base"].replace("https://", "wss://") + "/ws?token="
    a = websocket.create_connection(wss + users[0]["token"], sslopt={"ca_certs": tls["cert"]}, timeout=10)
    b = websocket.create_connection(wss + users[1]["token"], sslopt={"ca_certs": tls["cert"]}, timeout=10)
    assert json.loads(a.recv())["op"] == "hello" and json.loads(b.recv())["op"] == "hello"
    a.send(json.dumps({"op": "send", "cmid": "tls-1", "to": users[1]["user_id"], "type": 1, "content": "over TLS"}))
    frame = json.loads(b.recv())
    while frame["op"] != "msg":   # a presence or the like may come first
        frame = json.loads(b.recv())
    assert frame["message"]["content"] == "over TLS"
    assert json.loads(a.recv())["op"] == "sent"
    a.close()
    b.close()


def test_plain_http_is_not_served(tls):
    with pytest.raises(Exception):
        urllib.request.urlopen("http://%s/api/ping" % tls["gw"].addr, timeout=5).read()


@pytest.mark.parametrize("service", ["im-gateway", "im-logic"])
@pytest.mark.parametrize("secret", ["short-secret", "change-me-to-a-long-random-secret",
                                    "local-development-secret-not-for-production"])
def test_a_weak_jwt_secret_is_refused_at_start(tls, service, secret):
    env = dict(os.environ, **tls["infra"].common_env())
    env.update({"CIM_JWT_SECRET": secret, "CIM_INSTANCE_ID": "weak-" + uname("x"), "CIM_ADMIN_PORT": "0"})
    p = subprocess.run([os.path.join(BUILD, service, service)], env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode == 1
    assert "event=config.bad_secret" in p.stdout + p.stderr
    assert secret not in p.stdout + p.stderr                          # never logged
    assert len(JWT_SECRET) >= 32                                       # what every other test runs with
