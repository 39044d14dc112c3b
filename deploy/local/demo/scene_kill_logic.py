"""kill-logic — SIGKILL the im-logic that owns a conversation's partition while that
conversation sends; the other instance takes the partitions, nothing is lost or stored
twice, seqs stay contiguous; then the killed one is started again as up.sh started it."""
import threading
import time

from common import Failed, field, seqs_contiguous, wait_for

TITLE = "SIGKILL one im-logic while a conversation sends"
N, KILL_AT, RATE = 120, 40, 12.0   # sends, the send after which the kill comes, sends per second


def run(env):
    env.scene("kill-logic", TITLE)
    logics = sorted(env.instances("im-logic"))
    env.check(len(logics) >= 2, "two im-logic instances registered (found %s)" % logics)
    alice, bob, cid = env.pair()
    how = None
    try:
        with env.live("im-logic", "log_level", "debug"):
            env.step("im-logic instances: %s; log_level=debug put in etcd so each stored message names its "
                     "partition (restored below)" % ", ".join(logics))
            since = env.mark()
            c0 = alice.send(bob.user_id, "who owns my partition?")
            alice.expect("sent", where=lambda f: f["cmid"] == c0)
            hit = wait_for("msg.stored for " + cid,
                           lambda: env.grep(r"event=msg\.stored cid=%s " % cid, since, timeout=5))[0]
            victim, partition = hit[0], field(hit[1], "partition")
            survivor = [l for l in logics if l != victim][0]
            env.step("conversation %s is key-hashed to im-upstream-topic partition %s, consumed by %s"
                     % (cid, partition, victim))
            env.evidence(victim=victim, partition=partition, victim_pid=env.pid(victim))

            acked, dup_sent, arrivals = {}, [0], []
            stop = threading.Event()

            def collect():
                while not (stop.is_set() and len(acked) >= N):
                    try:
                        f = alice.expect("sent", timeout=1)
                    except TimeoutError:
                        if stop.is_set():
                            return
                        continue
                    if f["cmid"] in acked:
                        dup_sent[0] += 1
                    else:
                        arrivals.append(time.time())
                    acked[f["cmid"]] = f

            t = threading.Thread(target=collect, daemon=True)
            t.start()
            env.step("alice sends %d messages at %d/s; after the %dth, SIGKILL %s (pid from %s/pids/%s.pid)"
                     % (N, RATE, KILL_AT, victim, env.run, victim))
            cmids, killed_at = [], None
            for i in range(N):
                cmids.append(alice.send(bob.user_id, "load %d" % i))
                if i + 1 == KILL_AT:
                    how = env.kill(victim)
                    killed_at = time.time()
                    env.evidence(killed=victim, pid=how["pid"], signal="SIGKILL")
                time.sleep(1.0 / RATE)
            env.step("the client does what the protocol asks: every send not answered within 2 s is sent "
                     "again with the same cmid")
            deadline = time.time() + 60
            resends = 0
            while len(acked) < N and time.time() < deadline:
                time.sleep(2)
                for i, c in enumerate(cmids):
                    if c not in acked:
                        alice.send(bob.user_id, "load %d" % i, cmid=c)
                        resends += 1
            stop.set()
            t.join(5)
            after = [t for t in arrivals if t >= killed_at]
            pause = max([b - a for a, b in zip([killed_at] + after, after)] or [0])
            took = env.grep(r"event=msg\.stored cid=%s .*partition=%s " % (cid, partition), since,
                            instances={survivor})
            rows = env.sql("SELECT seq, client_msg_id FROM messages WHERE conversation_id = '%s' ORDER BY seq" % cid)
            stored = [r[1] for r in rows]
            seqs = [int(r[0]) for r in rows]
            lost = [c for c in acked if c not in stored]
            twice = len(stored) - len(set(stored))
            synced = bob.sync_all(cid)
            env.step("%s took partition %s: it stored %d of this conversation's messages after the kill"
                     % (survivor, partition, len(took)))
            if took:
                env.show("log: %s %s" % took[0])
            env.evidence(survivor=survivor, survivor_stored=len(took))
            env.step("the books: MySQL rows of %s, alice's acks, bob's sync" % cid)
            env.evidence(sent=N + 1, acked=len(acked) + 1, resends=resends, dup_sent=dup_sent[0],
                         stored=len(rows), lost=len(lost), stored_twice=twice,
                         seqs_contiguous=seqs_contiguous(seqs), max_seq=max(seqs or [0]), bob_synced=len(synced))
            env.evidence(note="the longest wait for a new `sent` after the kill: the rebalance "
                              "(session.timeout.ms 6000) and the re-read of uncommitted offsets",
                         recovery_s="%.1f" % pause)
            env.check(len(acked) == N, "every send acked (%d of %d)" % (len(acked), N))
            env.check(not lost and twice == 0 and len(rows) == N + 1, "nothing lost or stored twice")
            env.check(seqs_contiguous(seqs), "seqs 1..%d without a gap" % len(seqs))
            env.check(len(synced) == N + 1, "bob's sync has every message once")
            env.check(len(took) > 0, "the survivor stored messages of the victim's partition")
        env.step("log_level restored; now %s is started again the way up.sh started it (same command and "
                 "environment, read from /proc before the kill; log appended, pid file written)" % victim)
        pid = env.restart(how, "im-logic")
        how = None
        wait_for("both logics registered", lambda: len(env.instances("im-logic")) >= len(logics), timeout=30)
        env.evidence(restarted=victim, pid=pid, logic_instances=len(env.instances("im-logic")))
        c1 = alice.send(bob.user_id, "after the restart")
        s1 = alice.expect("sent", where=lambda f: f["cmid"] == c1, timeout=30)
        env.step("one more message after the restart: seq %d" % s1["seq"])
        env.evidence(seq_after_restart=s1["seq"])
        env.check(s1["seq"] == N + 2, "the next seq follows the stored ones")
    finally:
        if how is not None:   # a check failed after the kill: the cluster is restored all the same
            try:
                env.restart(how, "im-logic")
            except Failed as e:
                print("  (could not restart %s: %s)" % (how["instance"], e))
        alice.close()
        bob.close()
