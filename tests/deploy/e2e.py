"""e2e.py — the end-to-end check of the compose stack, run in a container on its network
(tests/deploy/compose.sh), every request through the load balancer:
  1. both gateways answer behind the balancer;
  2. alice and bob, on two different gateways, chat both ways; a group of three gets a
     message;
  3. bob's gateway is killed (compose.sh does it when this prints `ACTION kill <gateway>`
     and answers `done` on stdin); bob's connection closes, alice sends three messages
     while he is away, bob reconnects through the balancer to a live gateway and catches
     up by sync: exactly those three messages, seqs contiguous after the last he had;
  4. a message after the reconnect is pushed to him live.
Exits 0 with `e2e: PASS` or raises with what differed."""
import os
import sys
import time

from client import Client, api, cid_of, gcid, send_group, uname
from cluster import http, wait_for

LB = os.environ.get("CIM_LB", "http://lb:8080")


def log(*args):
    print("e2e:", *args, flush=True)


def gateway_of(c):
    return c.hello["gateway_id"]


def connect(c, not_on=None, tries=10):
    """c's WebSocket through the balancer; with not_on, reconnect until it lands elsewhere."""
    for _ in range(tries):
        c.hello = c.connect(LB)
        if not_on is None or gateway_of(c) != not_on:
            return c.hello
        c.close()
    raise AssertionError("the balancer kept sending %s to %s" % (c.username, not_on))


def reconnect(c, deadline_s=60):
    """Reconnect through the balancer, retrying (backoff 0.2 s .. 2 s) while it refuses."""
    end, pause, tries = time.time() + deadline_s, 0.2, 0
    while True:
        tries += 1
        try:
            c.hello = c.connect(LB)
            return tries
        except Exception as e:  # noqa: BLE001 - refused or reset while the balancer notices
            if time.time() > end:
                raise AssertionError("no reconnect within %ss: %r" % (deadline_s, e))
            time.sleep(pause)
            pause = min(pause * 2, 2.0)


def main():
    # 1. the balancer and both gateways behind it
    ping = wait_for("balancer", lambda: (lambda r: r[1] if r[0] == 200 else None)(http("GET", LB + "/api/ping")),
                    timeout=120, interval=0.5)
    log("balancer answers: gateway=%s path=%s" % (ping["gateway"], ping["path"]))
    seen = set()

    def two_gateways():
        status, body = http("GET", LB + "/api/ping")
        if status == 200:
            seen.add(body["gateway"])
        return len(seen) >= 2
    wait_for("two gateways behind the balancer", two_gateways, timeout=60, interval=0.2)
    log("gateways behind the balancer: %s" % sorted(seen))

    # 2. two users on two gateways, and a group
    alice, bob, carol = (Client(LB, uname(n)) for n in ("alice", "bob", "carol"))
    connect(alice)
    connect(bob, not_on=gateway_of(alice))
    connect(carol)
    log("alice on %s, bob on %s, carol on %s" % (gateway_of(alice), gateway_of(bob), gateway_of(carol)))
    cid = cid_of(alice.user_id, bob.user_id)

    cmid = alice.send(bob.user_id, "hello across gateways")
    sent = alice.expect("sent", where=lambda f: f["cmid"] == cmid)
    got = bob.expect("msg", where=lambda f: f["message"]["cmid"] == cmid)["message"]
    assert (got["content"], got["seq"], got["sender_id"], got["conversation_id"]) == \
        ("hello across gateways", sent["seq"], alice.user_id, cid), got
    log("alice -> bob across gateways: seq %d delivered" % got["seq"])
    cmid = bob.send(alice.user_id, "hello back")
    back = bob.expect("sent", where=lambda f: f["cmid"] == cmid)
    got = alice.expect("msg", where=lambda f: f["message"]["cmid"] == cmid)["message"]
    assert (got["content"], got["seq"]) == ("hello back", sent["seq"] + 1) == ("hello back", back["seq"]), got
    log("bob -> alice across gateways: seq %d delivered" % got["seq"])
    last = got["seq"]

    status, g = api(alice, "POST", "/api/groups", {"name": "deploy check", "member_ids": [bob.user_id, carol.user_id]})
    assert status == 201, (status, g)
    cmid = send_group(alice, g["group_id"], "hello group")
    gsent = alice.expect("sent", where=lambda f: f["cmid"] == cmid)
    for member in (bob, carol):
        m = member.expect("msg", where=lambda f: f["message"]["cmid"] == cmid)["message"]
        assert (m["content"], m["seq"], m["conversation_id"]) == ("hello group", gsent["seq"], gcid(g["group_id"])), m
    log("group %s: seq %d delivered to bob and carol" % (gcid(g["group_id"]), gsent["seq"]))

    # 3. bob's gateway dies; alice writes while he is away; he reconnects and syncs
    victim = gateway_of(bob)
    assert victim != gateway_of(alice)
    print("ACTION kill %s" % victim, flush=True)
    answer = sys.stdin.readline().strip()
    assert answer == "done", "compose.sh answered %r" % answer
    bob.expect("_closed", timeout=30)
    log("bob's gateway %s killed: his connection closed" % victim)
    away = []
    for i in (1, 2, 3):
        cmid = alice.send(bob.user_id, "while you were away %d" % i)
        away.append((cmid, alice.expect("sent", where=lambda f, c=cmid: f["cmid"] == c)["seq"]))
    assert [s for _, s in away] == [last + 1, last + 2, last + 3], away
    tries = reconnect(bob)
    assert gateway_of(bob) != victim, bob.hello
    log("bob reconnected through the balancer to %s (attempt %d)" % (gateway_of(bob), tries))
    caught = bob.sync_all(cid, after_seq=last)
    assert [(m["cmid"], m["seq"]) for m in caught] == away, caught
    assert [m["content"] for m in caught] == ["while you were away %d" % i for i in (1, 2, 3)], caught
    log("bob caught up by sync: seqs %s, contiguous after %d" % ([m["seq"] for m in caught], last))

    # 4. live again
    cmid = alice.send(bob.user_id, "welcome back")
    m = bob.expect("msg", where=lambda f: f["message"]["cmid"] == cmid)["message"]
    assert m["seq"] == last + 4, m
    log("alice -> bob after the reconnect: seq %d pushed live" % m["seq"])
    for c in (alice, bob, carol):
        c.close()
    log("PASS")


if __name__ == "__main__":
    main()
