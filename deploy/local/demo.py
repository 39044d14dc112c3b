"""demo.py — walk one message through a running local cim (deploy/local/up.sh) and show
every hop: gateway, Kafka upstream topic and partition, the im-logic that took it, the
MySQL row, the Redis seq, the downstream topic, and the recipient — by its trace id."""
import json
import os
import re
import subprocess
import sys
import time
import uuid

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
from client import Client  # noqa: E402

RUN = os.environ.get("CIM_RUN", os.path.join(ROOT, "run"))
GW1, GW2 = sys.argv[1:3] if len(sys.argv) > 2 else ("http://127.0.0.1:8080", "http://127.0.0.1:8081")


def ports():
    with open(os.path.join(RUN, "ports.env")) as f:
        return dict(line.strip().split("=", 1) for line in f if "=" in line)


def grep(pattern, timeout=5):
    """First log line (file, line) in the run folder matching pattern."""
    rx = re.compile(pattern)
    deadline = time.time() + timeout
    while time.time() < deadline:
        for name in sorted(os.listdir(os.path.join(RUN, "logs"))):
            with open(os.path.join(RUN, "logs", name), errors="replace") as f:
                for line in f:
                    if rx.search(line):
                        return name[:-4], line.strip()
        time.sleep(0.2)
    return None, None


def field(line, key):
    m = re.search(r"\b%s=(\S+)" % key, line or "")
    return m.group(1) if m else "?"


def main():
    p = ports()
    suffix = uuid.uuid4().hex[:6]
    alice = Client(GW1, "alice_" + suffix)
    bob = Client(GW2, "bob_" + suffix)
    print("1. registered alice (user %d) and bob (user %d), both logged in with a JWT" % (alice.user_id, bob.user_id))
    ha, hb = alice.connect(), bob.connect()
    print("2. alice connected to gateway %s (conn %s), bob to gateway %s (conn %s)"
          % (ha["gateway_id"], ha["conn_id"], hb["gateway_id"], hb["conn_id"]))
    cmid = alice.send(bob.user_id, "hello bob, from the demo")
    sent = alice.expect("sent")
    msg = bob.expect("msg")["message"]
    cid = sent["conversation_id"]

    gw, line = grep(r"event=ws\.send .*cmid=%s" % cmid)
    trace = field(line, "trace")
    print("3. %s read the frame and produced it to Kafka, trace id %s" % (gw, trace))
    logic, line = grep(r"event=msg\.stored .*trace=%s" % trace)
    print("4. Kafka topic %s partition %s offset %s (key = conversation %s) -> consumed by %s"
          % (field(line, "topic"), field(line, "partition"), field(line, "offset"), cid, logic))
    seq = subprocess.run(["redis-cli", "-p", p["CIM_REDIS_PORT"], "GET", "conv_seq:" + cid],
                         capture_output=True, text=True).stdout.strip()
    print("5. %s took seq %d from Redis INCR conv_seq:%s (now %s) and snowflake id %s"
          % (logic, sent["seq"], cid, seq, sent["msg_id"]))
    repo, _ = grep(r"event=msg\.saved .*trace=%s" % trace)
    row = subprocess.run(["mariadb", "-h127.0.0.1", "-P" + p["CIM_MYSQL_PORT"], "-ucim", "-pcim", "cim", "-e",
                          "SELECT id, conversation_id, seq, sender_id, client_msg_id, content, created_at "
                          "FROM messages WHERE id = %s\\G" % sent["msg_id"]], capture_output=True, text=True).stdout
    print("6. %s committed the row to MySQL before anything was pushed:" % repo)
    print("   " + "\n   ".join(l.strip() for l in row.strip().splitlines()[1:]))
    _, line = grep(r"event=push\.downstream .*trace=%s" % trace)
    print("7. %s produced `sent` to alice's gateway and `msg` to %s" % (logic, field(line, "topic")))
    print("8. bob received seq %d: %s" % (msg["seq"], json.dumps(msg, ensure_ascii=False)))
    print("   (every daemon's log lines for this message: grep %s %s/logs/*.log)" % (trace, RUN))
    alice.close()
    bob.close()


if __name__ == "__main__":
    main()
