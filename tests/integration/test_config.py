"""Run-time config through etcd /im/config/{service}/{key}: live keys change at once and
revert when deleted; start-only keys (whatever sizes a buffer or a pool) are refused with
a log line and the daemon keeps running on its start value. Real daemons, under load.

Run once against an ASan build too (CIM_BUILD=build-cfg-asan): every test checks the
daemons' logs for sanitizer reports."""
import threading
import time

import pytest

from client import Client, cid_of, uname
from cluster import http, wait_for

# memory errors (ASan) and undefined behaviour (UBSan); leaks at exit are another matter
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:")


@pytest.fixture(scope="module")
def svc(infra):
    for key in ("im-logic/batch_max", "im-logic/log_level", "im-gateway/send_rate",
                "im-gateway/send_burst", "im-repo/rpc_threads"):
        infra.etcd.delete("/im/config/" + key)       # nothing left over from another run
    repo = infra.start("im-repo", "repo-1")
    logic = infra.start("im-logic", "logic-1", CIM_BATCH_MAX=64)
    gw = infra.start_gateway("gw-1", CIM_SEND_RATE=100000, CIM_SEND_BURST=100000)
    svc = {"infra": infra, "repo": repo, "logic": logic, "gw": gw, "started": [repo, logic, gw]}
    yield svc
    infra.stop_daemons()
    check_sanitizers(svc["started"])                 # and nothing went wrong while stopping


def check_sanitizers(daemons):
    for d in daemons:
        text = d.log_text()
        for mark in SANITIZER_MARKS:
            assert mark not in text, "%s in %s:\n%s" % (mark, d.instance, d.tail(60))


@pytest.fixture(autouse=True)
def no_sanitizer_reports(svc):
    yield
    check_sanitizers(svc["started"])


def pair(gw):
    a, b = Client(gw.url, uname("cfg_a")), Client(gw.url, uname("cfg_b"))
    a.connect()
    b.connect()
    return a, b


class Sender:
    """a sends `n` messages to b from a thread, a few ms apart; `acks` collects the sent frames."""

    def __init__(self, a, b, n):
        self.a, self.b, self.n = a, b, n
        self.cmids, self.acks = [], {}
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _run(self):
        for i in range(self.n):
            self.cmids.append(self.a.send(self.b.user_id, "load %d" % i))
            time.sleep(0.003)

    def wait(self):
        self.thread.join()
        while len(self.acks) < self.n:
            f = self.a.expect("sent", timeout=30)
            self.acks[f["cmid"]] = f
        return self


def test_start_only_batch_max_refused_under_load(svc):
    logic, gw = svc["logic"], svc["gw"]
    a, b = pair(gw)
    n = 600
    load = Sender(a, b, n)
    time.sleep(0.3)                                  # messages are flowing
    svc["infra"].etcd.put("/im/config/im-logic/batch_max", "4096")
    line = wait_for("refusal logged", lambda: [l for l in logic.log_text().splitlines()
                                               if "event=config.rejected key=batch_max" in l], timeout=10)[0]
    assert 'reason="start-only key, restart to change"' in line and "level=warn" in line
    assert "value_len=4" in line and "4096" not in line.split("event=", 1)[1]
    assert "event=config.applied key=batch_max" not in logic.log_text()
    load.wait()
    assert logic.proc.poll() is None                 # still running

    # every message acknowledged once, seqs contiguous from 1, all delivered and stored
    assert set(load.acks) == set(load.cmids)
    seqs = sorted(f["seq"] for f in load.acks.values())
    assert seqs == list(range(1, n + 1))
    got = {f["message"]["cmid"]: f["message"]["seq"] for f in b.drain("msg", n, timeout=60)}
    assert got == {c: f["seq"] for c, f in load.acks.items()}
    cid = cid_of(a.user_id, b.user_id)
    rows = svc["infra"].sql("SELECT seq FROM messages WHERE conversation_id = '%s' ORDER BY seq" % cid)
    assert [int(r[0]) for r in rows] == list(range(1, n + 1))

    # and it keeps flowing after the refusal (the key is still in etcd)
    cmid = a.send(b.user_id, "after the refusal")
    assert a.expect("sent", where=lambda f: f["cmid"] == cmid)["seq"] == n + 1
    svc["infra"].etcd.delete("/im/config/im-logic/batch_max")
    a.close()
    b.close()


def test_refusals_log_the_key_and_reason_not_the_value(svc):
    logic, etcd = svc["logic"], svc["infra"].etcd
    # a live key with a value out of range, or not a number at all, with control bytes in it
    etcd.put("/im/config/im-logic/max_content", "99999999")
    etcd.put("/im/config/im-logic/dedup_ttl_s", "60\n\x1b[2Jlevel=error event=forged")
    etcd.put("/im/config/im-logic/no\nsuch_key", "1")
    wait_for("three refusals", lambda: all(s in logic.log_text() for s in (
        'key=max_content reason="99999999 is outside [1, 65536]" value_len=8',
        'key=dedup_ttl_s reason="not an integer" value_len=31',
        'key=no?such_key reason="unknown key" value_len=1')), timeout=10)
    text = logic.log_text()
    assert "\x1b" not in text and "forged" not in text
    assert "event=config.applied key=max_content" not in text
    assert "event=config.applied key=dedup_ttl_s" not in text
    for key in ("max_content", "dedup_ttl_s", "no\nsuch_key"):
        etcd.delete("/im/config/im-logic/" + key)
    assert logic.proc.poll() is None


def test_live_keys_apply_and_revert_on_delete(svc):
    logic, gw, etcd = svc["logic"], svc["gw"], svc["infra"].etcd
    a, b = pair(gw)
    # gateway rate limit: burst 2, refill 1/s
    etcd.put("/im/config/im-gateway/send_rate", "1")
    etcd.put("/im/config/im-gateway/send_burst", "2")
    wait_for("applied", lambda: "event=config.applied key=send_burst value=2" in gw.log_text(), timeout=10)
    for i in range(4):
        a.send(b.user_id, "limited %d" % i)
    codes = sorted(f.get("code", f["op"]) for f in [a.expect("error") for _ in range(2)] + a.drain("sent", 2))
    assert codes == ["rate_limited", "rate_limited", "sent", "sent"]
    # deleted: back to the start values (the environment's 100000)
    etcd.delete("/im/config/im-gateway/send_rate")
    etcd.delete("/im/config/im-gateway/send_burst")
    wait_for("reverted", lambda: "event=config.reverted key=send_burst value=100000" in gw.log_text()
             and "event=config.reverted key=send_rate value=100000" in gw.log_text(), timeout=10)
    cmids = [a.send(b.user_id, "free again %d" % i) for i in range(20)]
    assert {f["cmid"] for f in a.drain("sent", 20)} == set(cmids)

    # log_level is live: debug lines appear, and stop once the key is deleted
    etcd.put("/im/config/im-logic/log_level", "DEBUG")
    wait_for("debug on", lambda: "event=config.applied key=log_level value=debug" in logic.log_text(), timeout=10)
    cmid = a.send(b.user_id, "seen at debug")
    seq = a.expect("sent", where=lambda f: f["cmid"] == cmid)["seq"]
    cid = cid_of(a.user_id, b.user_id)
    wait_for("debug line", lambda: "cid=%s seq=%d " % (cid, seq) in logic.log_text(), timeout=10)
    etcd.delete("/im/config/im-logic/log_level")
    wait_for("info again", lambda: "event=config.reverted key=log_level value=info" in logic.log_text(), timeout=10)
    cmid = a.send(b.user_id, "not seen at info")
    seq = a.expect("sent", where=lambda f: f["cmid"] == cmid)["seq"]
    time.sleep(0.5)
    assert "cid=%s seq=%d " % (cid, seq) not in logic.log_text()
    a.close()
    b.close()


def test_start_only_key_in_etcd_before_start_is_refused(svc):
    infra = svc["infra"]
    infra.etcd.put("/im/config/im-repo/rpc_threads", "1")
    repo2 = infra.start("im-repo", "repo-2", CIM_RPC_THREADS=3)
    svc["started"].append(repo2)
    try:
        wait_for("refused at start", lambda: 'event=config.rejected key=rpc_threads reason="start-only key, '
                 'restart to change"' in repo2.log_text(), timeout=10)
        assert repo2.proc.poll() is None
        # it serves: pings through the gateway reach both repos
        wait_for("repo-2 answers", lambda: "repo-2" in {http("GET", svc["gw"].url + "/api/ping")[1]["path"][1]
                                                        for _ in range(10)}, timeout=20)
    finally:
        infra.etcd.delete("/im/config/im-repo/rpc_threads")
        infra.stop(repo2)
