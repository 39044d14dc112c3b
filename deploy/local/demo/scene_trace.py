"""trace — one message hop by hop, found in every daemon's log by its trace id."""
import json
import uuid

from client import Client, cid_of
from common import field, wait_for

TITLE = "one message, hop by hop, by its trace id"


def run(env):
    env.scene("trace", TITLE)
    gw1, gw2 = env.gateways[:2]
    sfx = uuid.uuid4().hex[:6]
    alice, bob = Client(gw1, "alice_" + sfx), Client(gw2, "bob_" + sfx)
    env.step("registered alice (user %d) on %s and bob (user %d) on %s; each logged in (argon2id, then a JWT)"
             % (alice.user_id, gw1, bob.user_id, gw2))
    ha, hb = alice.connect(), bob.connect()
    env.step("alice's WebSocket is on gateway %s (conn %s), bob's on gateway %s (conn %s)"
             % (ha["gateway_id"], ha["conn_id"], hb["gateway_id"], hb["conn_id"]))
    env.evidence(alice_gateway=ha["gateway_id"], bob_gateway=hb["gateway_id"])
    try:
        # per-message log lines are debug (docs/BENCHMARKS.md): turned on live for this one message
        with env.live("im-gateway", "log_level", "debug"), env.live("im-logic", "log_level", "debug"), \
                env.live("im-repo", "log_level", "debug"):
            env.step("log_level=debug put in etcd for im-gateway, im-logic and im-repo (live keys; restored at the end)")
            since = env.mark()
            cmid = alice.send(bob.user_id, "hello bob, from the demo")
            sent = alice.expect("sent", where=lambda f: f["cmid"] == cmid)
            msg = bob.expect("msg", where=lambda f: f["message"]["cmid"] == cmid)["message"]
            cid = cid_of(alice.user_id, bob.user_id)
            hits = wait_for("ws.send of the cmid", lambda: env.grep(r"event=ws\.send .*cmid=%s" % cmid, since, timeout=5))
            gw, line = hits[0]
            trace = field(line, "trace")
            env.step("%s read alice's `send` and produced it to Kafka im-upstream-topic, key %s (trace %s)" % (gw, cid, trace))
            env.show("log: %s %s" % (gw, line))
            stored = wait_for("msg.stored", lambda: env.grep(r"event=msg\.stored .*trace=%s" % trace, since, timeout=5))
            logic, line = stored[0]
            env.step("%s consumed it from partition %s offset %s, took seq %s (INCR conv_seq:%s) and snowflake id %s"
                     % (logic, field(line, "partition"), field(line, "offset"), field(line, "seq"), cid, sent["msg_id"]))
            env.show("log: %s %s" % (logic, line))
            saved = env.grep(r"event=msg\.saved .*trace=%s" % trace, since, timeout=5)
            row = env.sql("SELECT id, conversation_id, seq, sender_id, client_msg_id, content FROM messages WHERE id = %s"
                          % sent["msg_id"])
            env.step("%s committed the row to MySQL before anything was pushed:" % (saved[0][0] if saved else "im-repo"))
            for inst, l in saved:
                env.show("log: %s %s" % (inst, l))
            env.show("row: " + "\t".join(row[0]) if row else "row: (none)")
            pushes = sorted(env.grep(r"event=push\.(queued|delivered) .*trace=%s" % trace, since, timeout=5),
                            key=lambda p: field(p[1], "ts"))
            env.step("only after the commit: `sent` to alice, `msg` to bob's gateway (one downstream record per gateway)")
            for inst, l in pushes:
                env.show("log: %s %s" % (inst, l))
            env.step("bob received seq %d: %s" % (msg["seq"], json.dumps(msg, ensure_ascii=False)))
            daemons = sorted({i for i, _ in env.grep(r"trace=%s\b" % trace, since)})
            env.evidence(trace=trace, daemons=",".join(daemons), seq=sent["seq"], msg_id=sent["msg_id"],
                         rows=len(row), bob_seq=msg["seq"])
            env.check(len(row) == 1 and msg["seq"] == sent["seq"] and msg["msg_id"] == sent["msg_id"],
                      "the stored row and the pushed msg agree with `sent`")
            env.check(len(daemons) >= 3, "the trace id is in the gateway's, logic's and repo's logs")
            if env.zipkin:
                env.evidence(zipkin="%s/zipkin/traces/%s" % (env.zipkin.rstrip("/"), trace))
            env.show("(every line of this message: grep %s %s/logs/*.log)" % (trace, env.run))
        env.step("log_level restored in etcd (config.reverted in each daemon's log)")
    finally:
        alice.close()
        bob.close()
