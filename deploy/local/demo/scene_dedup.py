"""dedup — the same client_msg_id sent three times (once from the other gateway, after a
reconnect): one row, three identical acks, the msg_dedup key, and no seq burned."""
import uuid

from client import take_all

TITLE = "the same cmid sent 3 times: one row, one seq, the msg_dedup key"


def run(env):
    env.scene("dedup", TITLE)
    gw2 = env.gateways[1]
    alice, bob, cid = env.pair()
    try:
        first = alice.send(bob.user_id, "first")
        alice.expect("sent", where=lambda f: f["cmid"] == first)
        before = int(env.redis("GET", "conv_seq:" + cid) or 0)
        env.step("alice (user %d) and bob (user %d) chat in %s; one message so far: conv_seq:%s = %d in Redis"
                 % (alice.user_id, bob.user_id, cid, cid, before))
        env.evidence(conv_seq_before=before)

        cmid = uuid.uuid4().hex
        acks = []
        alice.send(bob.user_id, "sent three times", cmid=cmid)
        acks.append(alice.expect("sent", where=lambda f: f["cmid"] == cmid))
        env.step("alice sends cmid %s: answered `sent` seq %d msg_id %s" % (cmid, acks[0]["seq"], acks[0]["msg_id"]))
        alice.send(bob.user_id, "sent three times", cmid=cmid)
        acks.append(alice.expect("sent", where=lambda f: f["cmid"] == cmid))
        env.step("the same cmid again (a client that did not see the ack retries): seq %d msg_id %s"
                 % (acks[1]["seq"], acks[1]["msg_id"]))
        alice.close()
        alice.connect(gw2)
        alice.send(bob.user_id, "sent three times", cmid=cmid)
        acks.append(alice.expect("sent", where=lambda f: f["cmid"] == cmid))
        env.step("alice reconnects to the other gateway (%s) and resends it from her outbox: seq %d msg_id %s"
                 % (gw2, acks[2]["seq"], acks[2]["msg_id"]))
        env.evidence(acks=len(acks), distinct_msg_id=len({a["msg_id"] for a in acks}),
                     distinct_seq=len({a["seq"] for a in acks}), seq=acks[0]["seq"], msg_id=acks[0]["msg_id"])

        rows = env.sql("SELECT id, seq, client_msg_id FROM messages WHERE sender_id = %d AND client_msg_id = '%s'"
                       % (alice.user_id, cmid))
        env.step("MySQL (UNIQUE(sender_id, client_msg_id) is the truth): "
                 "SELECT ... FROM messages WHERE sender_id = %d AND client_msg_id = '%s'" % (alice.user_id, cmid))
        for r in rows:
            env.show("row: id=%s seq=%s cmid=%s" % tuple(r))
        env.evidence(rows_for_cmid=len(rows))

        key = "msg_dedup:%d:%s" % (alice.user_id, cmid)
        value = env.redis("GET", key)
        ttl = env.redis("TTL", key)
        env.step("Redis keeps the outcome, written after the commit: GET %s = \"%s\" (TTL %s s; \"msg_id seq created_at\")"
                 % (key, value, ttl))
        dups = env.grep(r"event=msg\.duplicate .*cmid=%s" % cmid, timeout=2)
        for inst, line in dups:
            env.show("log: %s %s" % (inst, line))
        env.evidence(duplicate_log_lines=len(dups))
        env.evidence(dedup_key=key, dedup_value_seq=value.split()[1] if len(value.split()) == 3 else "none",
                     note="the retries were answered from this key: no seq, no MySQL round trip")

        after = int(env.redis("GET", "conv_seq:" + cid) or 0)
        nxt = alice.send(bob.user_id, "next one")
        nseq = alice.expect("sent", where=lambda f: f["cmid"] == nxt)["seq"]
        env.step("conv_seq:%s went %d -> %d for three sends of one cmid; the next new message gets seq %d"
                 % (cid, before, after, nseq))
        env.evidence(conv_seq_before=before, conv_seq_after=after, next_seq=nseq, burned=after - before - 1)
        got = [f for f in take_all(bob, "msg", quiet=1.0) if f["message"]["cmid"] == cmid]
        synced = [m for m in bob.sync_all(cid) if m["cmid"] == cmid]
        env.step("bob: %d `msg` push(es) for that cmid (pushes are best effort; a client drops a seq it has), "
                 "and `sync` has it once" % len(got))
        env.evidence(bob_sync_copies=len(synced))
        env.check(len(rows) == 1 and len({(a["seq"], a["msg_id"]) for a in acks}) == 1, "one row, identical acks")
        env.check(value.split()[:2] == [str(acks[0]["msg_id"]), str(acks[0]["seq"])], "the dedup key holds the outcome")
        env.check(after == before + 1 and nseq == acks[0]["seq"] + 1, "no seq burned")
        env.check(len(synced) == 1, "sync has the message once")
    finally:
        alice.close()
        bob.close()
