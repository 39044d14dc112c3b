"""redis-loss — FLUSHALL: the seq counters, dedup outcomes and sessions are gone. The next
send re-seeds conv_seq from MySQL's MAX(seq) (no seq reused), and the gateways write their
sessions back, so pushes resume without a reconnect."""
from common import wait_for

TITLE = "Redis loses everything (FLUSHALL): seq re-seeded from MySQL, sessions re-asserted"


def run(env):
    env.scene("redis-loss", TITLE)
    alice, bob, cid = env.pair()
    try:
        cmids = [alice.send(bob.user_id, "before %d" % i) for i in range(5)]
        last = max(alice.expect("sent", where=lambda f, c=c: f["cmid"] == c)["seq"] for c in cmids)
        bob.drain("msg", 5)
        before = env.redis("GET", "conv_seq:" + cid)
        mysql_max = env.sql("SELECT MAX(seq) FROM messages WHERE conversation_id = '%s'" % cid)[0][0]
        sess = env.redis("HGETALL", "user_session:%d" % bob.user_id).split()
        env.step("alice sent 5 messages to bob: conv_seq:%s = %s in Redis, MAX(seq) = %s in MySQL; "
                 "bob's session user_session:%d = %s" % (cid, before, mysql_max, bob.user_id, " ".join(sess)))
        env.evidence(conv_seq_before=before, mysql_max_seq=mysql_max, bob_session_fields_before=len(sess) // 2)

        since = env.mark()
        env.redis("FLUSHALL")
        env.step("redis-cli FLUSHALL: every seq counter, dedup outcome, session and cache is gone")
        env.evidence(conv_seq_after_flush=env.redis("GET", "conv_seq:" + cid) or "(nil)",
                     keys_after_flush=env.redis("DBSIZE"))

        sessions = wait_for("bob's session written back",
                            lambda: env.redis("HGETALL", "user_session:%d" % bob.user_id).split(), timeout=15)
        reassert = env.grep(r"event=session\.reassert_all", since, timeout=5)
        env.step("each gateway notices its marker gateway_sessions:{id} is gone and writes every session back:")
        for inst, line in reassert:
            env.show("log: %s %s" % (inst, line))
        env.evidence(bob_session_fields_after=len(sessions) // 2, gateways_reasserted=len({i for i, _ in reassert}))

        cmid = alice.send(bob.user_id, "after the flush")
        sent = alice.expect("sent", where=lambda f: f["cmid"] == cmid, timeout=20)
        pushed = bob.expect("msg", where=lambda f: f["message"]["cmid"] == cmid, timeout=20)["message"]
        seeded = env.grep(r"event=seq\.seeded cid=%s " % cid, since, timeout=5)
        env.step("alice sends again, no reconnect: logic finds conv_seq:%s missing and seeds it from MySQL "
                 "(im-repo GetMaxSeq) under a lock before taking the next seq" % cid)
        for inst, line in seeded:
            env.show("log: %s %s" % (inst, line))
        after = env.redis("GET", "conv_seq:" + cid)
        rows = env.sql("SELECT seq FROM messages WHERE conversation_id = '%s' ORDER BY seq" % cid)
        seqs = [int(r[0]) for r in rows]
        env.step("the new message got seq %d (bob was pushed it at once); MySQL has seqs %s" % (sent["seq"], seqs))
        env.evidence(seeded_from=seeded[0][1].split("max_seq=")[1].split()[0] if seeded else "none",
                     seq_after=sent["seq"], conv_seq_after=after, bob_pushed_seq=pushed["seq"],
                     seq_reused=len(seqs) != len(set(seqs)), seqs="%d..%d" % (min(seqs), max(seqs)))
        env.check(sent["seq"] == last + 1 and int(mysql_max) == last, "the seq continues from MySQL's max")
        env.check(seqs == list(range(1, last + 2)), "no seq reused or skipped")
        env.check(seeded, "seq.seeded logged")
        env.check(pushed["seq"] == sent["seq"], "pushes resume after the sessions were written back")
    finally:
        alice.close()
        bob.close()
