"""big-group — write diffusion (`msg` to every member) up to large_group_threshold, read
diffusion (`notify {conversation_id, max_seq}`, members pull with `sync`) above it. The
threshold is lowered live in etcd for the scene and restored after."""
import uuid

from client import Client, api, gcid, send_group, take_all
from common import wait_for

TITLE = "a group above large_group_threshold: `notify` and pull instead of `msg`"
THRESHOLD = 3


def create(owner, members, name):
    status, reply = api(owner, "POST", "/api/groups", {"name": name, "member_ids": [m.user_id for m in members]})
    assert status == 201, reply
    return reply["group_id"]


def quiet(clients):
    for c in clients:
        take_all(c, "__none__", quiet=0.3)
        c.buf = []


def run(env):
    env.scene("big-group", TITLE)
    gws = env.gateways
    sfx = uuid.uuid4().hex[:5]
    people = [Client(gws[i % 2], "g%d_%s" % (i, sfx)) for i in range(5)]
    for p in people:
        p.connect()
    owner, members = people[0], people[1:]
    try:
        with env.live("im-logic", "large_group_threshold", THRESHOLD):
            env.step("large_group_threshold=%d put in etcd (/im/config/im-logic/large_group_threshold, live; "
                     "the default is 500; restored at the end)" % THRESHOLD)
            small = create(owner, members[:2], "small " + sfx)
            big = create(owner, members, "big " + sfx)
            env.step("group %d has 3 members (<= %d: write diffusion); group %d has 5 (> %d: read diffusion); "
                     "members on both gateways" % (small, THRESHOLD, big, THRESHOLD))
            env.evidence(small_group=small, small_members=3, big_group=big, big_members=5, threshold=THRESHOLD)
            quiet(people)

            cm = send_group(owner, small, "to the small group")
            s = owner.expect("sent", where=lambda f: f["cmid"] == cm)
            got = [m.expect("msg", where=lambda f: f["message"]["cmid"] == cm)["message"]["seq"] for m in members[:2]]
            env.step("the owner sends to the small group (seq %d): each member is pushed the full `msg`" % s["seq"])
            env.evidence(small_msg_frames=len(got), small_seq=s["seq"])

            quiet(people)
            cmids = [send_group(owner, big, "to the big group %d" % i) for i in range(5)]
            acks = [owner.expect("sent", where=lambda f, c=c: f["cmid"] == c) for c in cmids]
            top = max(a["seq"] for a in acks)
            cid = gcid(big)
            env.step("the owner sends 5 messages to the big group (seqs %d..%d)" % (min(a["seq"] for a in acks), top))
            wait_for("every member notified up to seq %d" % top,
                     lambda: all(_pull_notify(m, cid, top) for m in members), timeout=15)
            notifies = [take_all(m, "notify", where=lambda f: f["conversation_id"] == cid, quiet=0.5) for m in members]
            msgs = [take_all(m, "msg", where=lambda f: f["message"]["conversation_id"] == cid, quiet=0) for m in members]
            n_notify = sum(len(n) for n in notifies)
            env.step("members get `notify {conversation_id, max_seq}` instead (at most one per connection per "
                     "notify_interval_ms, carrying the highest seq), and no `msg`:")
            env.show("frame: " + str(notifies[0][-1]))
            env.evidence(big_notify_frames=n_notify, big_msg_frames=sum(len(m) for m in msgs),
                         members=len(members), messages=len(cmids), last_max_seq=top)

            reader = members[0]
            pulled = reader.sync(cid, after_seq=top - len(cmids))["messages"]
            env.step("a member with the chat open pulls by seq: sync {conversation_id: %s, after_seq: %d}"
                     % (cid, top - len(cmids)))
            env.evidence(pulled=len(pulled), pulled_seqs="%d..%d" % (pulled[0]["seq"], pulled[-1]["seq"]))
            rows = env.sql("SELECT COUNT(*) FROM messages WHERE conversation_id = '%s' AND message_type = 1" % cid)[0][0]
            rel = env.sql("SELECT COUNT(*) FROM message_user_relations WHERE conversation_id = '%s'" % cid)[0][0]
            env.step("either way a message is stored once: MySQL rows of %s, and per-member rows" % cid)
            env.evidence(stored_rows=rows, per_member_rows=rel,
                         note="each member's state is a cursor (user_conversations.last_read_seq)")
            env.check(len(got) == 2 and all(g == s["seq"] for g in got), "small group: msg to every member")
            env.check(sum(len(m) for m in msgs) == 0 and all(n and n[-1]["max_seq"] == top for n in notifies),
                      "big group: notify up to the last seq, no msg")
            env.check(n_notify <= len(members) * len(cmids), "notifies coalesced, never more than messages")
            env.check([m["seq"] for m in pulled] == [a["seq"] for a in sorted(acks, key=lambda a: a["seq"])],
                      "the pull returns every message in seq order")
            env.check(int(rows) == len(cmids), "stored once")
        env.step("large_group_threshold restored in etcd (config.reverted / config.applied in each logic's log)")
        env.evidence(threshold_key=env.etcd.prefix("/im/config/im-logic/large_group_threshold").get(
            "/im/config/im-logic/large_group_threshold", "(deleted)"))
    finally:
        for p in people:
            p.close()


def _pull_notify(c, cid, top):
    """Move waiting frames into c.buf; true once a notify for cid up to top is there."""
    take_all(c, "__none__", quiet=0.1)
    return any(f.get("op") == "notify" and f.get("conversation_id") == cid and f["max_seq"] == top for f in c.buf)
