"""Degradation switches and load shedding, flipped live in etcd on a running cluster: each
changes what a user sees at once, without a restart, and deleting the key restores it.
Messages are never what a switch or the shedding drops."""
import re
import signal
import time

import pytest

from client import Client, api, cid_of, uname
from cluster import http, wait_for


@pytest.fixture(scope="module")
def sw(infra):
    infra.start("im-repo", "wrepo-1")
    logic = infra.start("im-logic", "wlogic-1")
    gw = infra.start_gateway("wgw-1", CIM_SEND_RATE=100000, CIM_SEND_BURST=100000)
    yield {"infra": infra, "logic": logic, "gw": gw, "etcd": infra.etcd}
    for key in ("im-logic/registration_open", "im-logic/history_page_max", "im-logic/receipts_enabled",
                "im-logic/offline_push_enabled", "im-logic/shed_lag_ms", "im-gateway/typing_enabled"):
        infra.etcd.delete("/im/config/" + key)
    infra.stop_daemons()


def flip(sw, service, key, value):
    """Puts the key (value None: deletes it) and waits for the daemon's log to say so."""
    d = sw["logic"] if service == "im-logic" else sw["gw"]
    path = "/im/config/%s/%s" % (service, key)
    before = d.log_text().count("key=%s " % key)
    if value is None:
        sw["etcd"].delete(path)
    else:
        sw["etcd"].put(path, value)
    wait_for("%s applied" % key, lambda: d.log_text().count("key=%s " % key) > before, timeout=10)


def counter(d, name):
    status, text = d.admin("/metrics")
    m = re.search(r"^%s (\d+)" % name, text, re.M)
    return int(m.group(1)) if m else 0


def pair(sw):
    a, b = Client(sw["gw"].url, uname("sw")), Client(sw["gw"].url, uname("sw"))
    a.connect()
    b.connect()
    return a, b


def nothing(c, op, seconds=1.0):
    try:
        c.expect(op, timeout=seconds)
    except TimeoutError:
        return True
    return False


def test_registration_switch(sw):
    url = sw["gw"].url + "/api/register"
    flip(sw, "im-logic", "registration_open", "no")
    status, body = http("POST", url, {"username": uname("closed"), "password": "correct horse battery"})
    assert (status, body["error"]) == (503, "unavailable"), body
    flip(sw, "im-logic", "registration_open", None)
    status, body = http("POST", url, {"username": uname("open"), "password": "correct horse battery"})
    assert status == 201, body


def test_history_page_cap(sw):
    a, b = pair(sw)
    cmids = [a.send(b.user_id, "m%d" % i) for i in range(6)]
    assert {f["cmid"] for f in a.drain("sent", 6)} == set(cmids)
    cid = cid_of(a.user_id, b.user_id)
    flip(sw, "im-logic", "history_page_max", "3")
    status, body = api(a, "GET", "/api/conversations/%s/messages?after_seq=0&limit=50" % cid)
    assert [m["seq"] for m in body["messages"]] == [1, 2, 3]
    assert [m["seq"] for m in a.sync(cid, 0, 200)["messages"]] == [1, 2, 3]
    assert [m["seq"] for m in a.sync_all(cid)] == [1, 2, 3, 4, 5, 6]     # paging still reaches all
    flip(sw, "im-logic", "history_page_max", None)
    assert len(a.sync(cid, 0, 200)["messages"]) == 6
    a.close()
    b.close()


def test_receipts_switch_keeps_the_read_position(sw):
    a, b = pair(sw)
    cid = cid_of(a.user_id, b.user_id)
    a.send(b.user_id, "read me")
    seq = a.expect("sent")["seq"]
    b.expect("msg")
    flip(sw, "im-logic", "receipts_enabled", "no")
    b.send_json({"op": "read", "conversation_id": cid, "seq": seq})
    assert nothing(a, "receipt", 1.5)
    wait_for("read stored", lambda: {r["user_id"]: r["last_read_seq"]
                                     for r in api(a, "GET", "/api/conversations/%s/reads" % cid)[1]["reads"]}
             .get(b.user_id) == seq, timeout=5)
    flip(sw, "im-logic", "receipts_enabled", None)
    a.send(b.user_id, "and me")
    seq2 = a.expect("sent")["seq"]
    b.send_json({"op": "read", "conversation_id": cid, "seq": seq2})
    r = a.expect("receipt")
    assert (r["user_id"], r["seq"]) == (b.user_id, seq2)
    a.close()
    b.close()


def test_typing_switch_at_the_gateway(sw):
    a, b = pair(sw)
    cid = cid_of(a.user_id, b.user_id)
    flip(sw, "im-gateway", "typing_enabled", "no")
    a.send_json({"op": "typing", "conversation_id": cid})
    assert nothing(b, "typing", 1.5)
    flip(sw, "im-gateway", "typing_enabled", None)
    a.send_json({"op": "typing", "conversation_id": cid})
    assert b.expect("typing")["user_id"] == a.user_id
    a.close()
    b.close()


def test_offline_push_switch(sw):
    logic = sw["logic"]
    a = Client(sw["gw"].url, uname("sw"))
    offline = Client(sw["gw"].url, uname("sw"))        # never connects
    a.connect()
    flip(sw, "im-logic", "offline_push_enabled", "no")
    before = counter(logic, "cim_logic_offline_tasks_total")
    a.send(offline.user_id, "while you were out")
    a.expect("sent")
    assert counter(logic, "cim_logic_offline_tasks_total") == before
    flip(sw, "im-logic", "offline_push_enabled", None)
    a.send(offline.user_id, "and again")
    a.expect("sent")
    wait_for("offline task", lambda: counter(logic, "cim_logic_offline_tasks_total") == before + 1, timeout=5)
    a.close()


def test_stale_hints_are_shed_messages_never(sw):
    """shed_lag_ms 1: sends go through, every one; a typing and a read that wait in Kafka
    longer than that (logic is held still for 300 ms while they are sent) are dropped."""
    logic = sw["logic"]
    a, b = pair(sw)
    cid = cid_of(a.user_id, b.user_id)
    flip(sw, "im-logic", "shed_lag_ms", "1")
    before = counter(logic, "cim_logic_shed_total")
    cmids = [a.send(b.user_id, "still delivered %d" % i) for i in range(10)]
    assert {f["cmid"] for f in a.drain("sent", 10)} == set(cmids)
    got = [m["message"]["seq"] for m in b.drain("msg", 10)]
    logic.proc.send_signal(signal.SIGSTOP)
    try:
        a.send_json({"op": "typing", "conversation_id": cid})
        b.send_json({"op": "read", "conversation_id": cid, "seq": max(got)})
        time.sleep(0.3)
    finally:
        logic.proc.send_signal(signal.SIGCONT)
    assert nothing(b, "typing", 1.0) and nothing(a, "receipt", 1.0)
    wait_for("shed counted", lambda: counter(logic, "cim_logic_shed_total") >= before + 2, timeout=5)
    flip(sw, "im-logic", "shed_lag_ms", None)
    a.send_json({"op": "typing", "conversation_id": cid})
    assert b.expect("typing")["user_id"] == a.user_id
    a.close()
    b.close()
