"""im-repo called directly over gRPC (Python's grpcio, stubs compiled from proto/ at run
time): SaveMessages in batches of every size keeps the server's prepared statements few
and stores each row once; duplicates and seq conflicts are told apart; a value that does
not fit its column is an error, not a truncated row, in strict and in lax sql_mode;
UpdateCursors moves many cursors at once, forward only, and refuses non-participants.

Run with /usr/bin/python3 (Debian's python3-grpcio and python3-grpc-tools)."""
import importlib
import os
import random
import shutil
import subprocess
import sys
import tempfile

import pytest

from cluster import ROOT

grpc = pytest.importorskip("grpc")

POOL = 2            # im-repo's MySQL connections in these tests
MAX_BATCH = 130     # batches of 1..MAX_BATCH messages: more than two of the largest shape (64)
# Per connection: 7 shapes (1, 2, 4, ... 64 rows) of each multi-row statement SaveMessages
# runs (messages, conversations, members, mentions; the read-back of ids only after a
# refused row) and a few single-row ones. Far below one text per batch size.
STMTS_PER_CONN = 48


@pytest.fixture(scope="module")
def pb():
    """The generated modules: (common_pb2, repo_pb2, repo_pb2_grpc)."""
    out = tempfile.mkdtemp(prefix="cim-pystubs-")
    proto = os.path.join(ROOT, "proto")
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I" + proto, "--python_out=" + out,
                    "--grpc_python_out=" + out] + [os.path.join(proto, f) for f in ("common.proto", "repo.proto")],
                   check=True)
    sys.path.insert(0, out)
    try:
        yield tuple(importlib.import_module(m) for m in ("common_pb2", "repo_pb2", "repo_pb2_grpc"))
    finally:
        sys.path.remove(out)
        shutil.rmtree(out, ignore_errors=True)


def root_sql(infra, query):
    """A statement as MariaDB's root (global status and variables)."""
    out = subprocess.run(["mariadb", "--no-defaults", "--socket=" + os.path.join(infra.run, "mariadb.sock"), "-uroot",
                          "-N", "-B", "-e", query], check=True, capture_output=True, text=True)
    return [line.split("\t") for line in out.stdout.splitlines()]


def status(infra, name):
    return int(root_sql(infra, "SHOW GLOBAL STATUS LIKE '%s'" % name)[0][1])


class Repo:
    """A started im-repo and a stub for it."""

    def __init__(self, infra, pb, instance, **env):
        self.common, self.pb, _ = pb[0], pb[1], pb[2]
        self.daemon = infra.start("im-repo", instance, **dict({"CIM_MYSQL_POOL": POOL}, **env))
        self.channel = grpc.insecure_channel(self.daemon.addr)
        self.stub = pb[2].RepoStub(self.channel)

    def close(self, infra):
        self.channel.close()
        infra.stop(self.daemon)


@pytest.fixture(scope="module")
def repo(infra, pb):
    before = (status(infra, "Prepared_stmt_count"), status(infra, "Com_stmt_prepare"))
    r = Repo(infra, pb, "repo-t1")
    r.before = before
    yield r
    r.close(infra)


class Ids:
    """Fresh user ids, message ids and conversations for one test."""

    def __init__(self):
        self.base = random.randrange(10 ** 6, 10 ** 9) * 1000
        self.next_msg = random.randrange(1 << 60, 1 << 61)
        self.seqs = {}

    def user(self, i):
        return self.base + i

    def cid(self, a, b):
        a, b = sorted((a, b))
        return "s_%d_%d" % (a, b)

    def msg_id(self):
        self.next_msg += 1
        return self.next_msg

    def seq(self, cid):
        self.seqs[cid] = self.seqs.get(cid, 0) + 1
        return self.seqs[cid]


def item(r, ids, sender, peer, cmid, seq=None, content=None, mentions=()):
    cid = ids.cid(sender, peer)
    m = r.common.Message(msg_id=ids.msg_id(), conversation_id=cid, seq=seq if seq is not None else ids.seq(cid),
                         sender_id=sender, type=1, content=content if content is not None else "hello " + cmid,
                         mentions=list(mentions), created_at=1700000000123, cmid=cmid)
    return r.pb.SaveItem(message=m, members=sorted((sender, peer)))


def save(r, items):
    return r.stub.SaveMessages(r.pb.SaveMessagesRequest(items=items), timeout=30).results


def test_batches_of_every_size_store_each_row_once_with_few_prepared_statements(repo, infra):
    ids = Ids()
    senders = [ids.user(i) for i in range(1, 6)]
    peer = ids.user(100)
    sent = 0
    for n in range(1, MAX_BATCH + 1):
        items = [item(repo, ids, senders[i % 5], peer, "b%d-%d" % (n, i), mentions=(peer,) if i % 7 == 0 else ())
                 for i in range(n)]
        results = save(repo, items)
        assert len(results) == n
        for it, res in zip(items, results):
            assert not res.duplicate and not res.seq_conflict
            assert res.message.msg_id == it.message.msg_id
        sent += n

    in_senders = ",".join(str(s) for s in senders)
    rows = infra.sql("SELECT COUNT(*), COUNT(DISTINCT sender_id, client_msg_id), COUNT(DISTINCT conversation_id, seq) "
                     "FROM messages WHERE sender_id IN (%s)" % in_senders)
    assert rows == [[str(sent)] * 3]
    mentions = sum(len([i for i in range(n) if i % 7 == 0]) for n in range(1, MAX_BATCH + 1))
    assert infra.sql("SELECT COUNT(*) FROM message_mentions mm JOIN messages m ON m.id = mm.message_id "
                     "WHERE m.sender_id IN (%s)" % in_senders) == [[str(mentions)]]
    for cid, seq in ids.seqs.items():   # conversations and every member's row follow the batches
        assert infra.sql("SELECT max_seq FROM conversations WHERE conversation_id = '%s'" % cid) == [[str(seq)]]
        assert infra.sql("SELECT COUNT(*) FROM user_conversations WHERE conversation_id = '%s'" % cid) == [["2"]]

    # the server holds few statements, and few were ever prepared: not one per batch size
    held = status(infra, "Prepared_stmt_count") - repo.before[0]
    prepared = status(infra, "Com_stmt_prepare") - repo.before[1]
    print("prepared statements: held=%d prepared=%d" % (held, prepared))
    assert 0 < held <= POOL * STMTS_PER_CONN, held
    assert prepared <= POOL * STMTS_PER_CONN, prepared


def test_duplicates_and_seq_conflicts_are_told_apart(repo, infra):
    ids = Ids()
    a, b = ids.user(1), ids.user(2)
    first = [item(repo, ids, a, b, "d-%d" % i) for i in range(10)]
    assert all(not r.duplicate for r in save(repo, first))

    # a mixed batch: resends of 0..4 (new msg ids and seqs), 5 new, one new cmid twice,
    # and a new cmid whose seq is taken
    resend = [item(repo, ids, a, b, "d-%d" % i) for i in range(5)]
    fresh = [item(repo, ids, a, b, "n-%d" % i) for i in range(5)]
    twice = [item(repo, ids, a, b, "twice"), item(repo, ids, a, b, "twice")]
    conflict = [item(repo, ids, a, b, "conflict", seq=3)]
    batch = resend + fresh + twice + conflict
    random.Random(7).shuffle(batch)
    by_cmid = {}
    for it, res in zip(batch, save(repo, batch)):
        by_cmid.setdefault(it.message.cmid, []).append((it, res))

    for i in range(5):
        (it, res), = by_cmid["d-%d" % i]
        assert res.duplicate and not res.seq_conflict
        assert res.message.msg_id == first[i].message.msg_id and res.message.seq == first[i].message.seq
        assert res.message.content == first[i].message.content
    for i in range(5):
        (it, res), = by_cmid["n-%d" % i]
        assert not res.duplicate and not res.seq_conflict and res.message.msg_id == it.message.msg_id
    (it1, r1), (it2, r2) = by_cmid["twice"]
    assert [r1.duplicate, r2.duplicate].count(True) == 1
    assert r1.message.msg_id == r2.message.msg_id
    (it, res), = by_cmid["conflict"]
    assert res.seq_conflict and not res.duplicate

    rows = infra.sql("SELECT client_msg_id, COUNT(*) FROM messages WHERE sender_id = %d GROUP BY client_msg_id" % a)
    assert sorted(rows) == sorted([["d-%d" % i, "1"] for i in range(10)] + [["n-%d" % i, "1"] for i in range(5)] +
                                  [["twice", "1"]])
    # the same batch again (a retry whose first answer was lost): each item gets that answer
    again = save(repo, first)
    assert all(r.message.msg_id == f.message.msg_id for r, f in zip(again, first))
    assert not any(r.seq_conflict for r in again)


def refused(r, ids, sender, peer):
    """SaveMessages of one good item and one whose value does not fit its column."""
    long_cmid = [item(r, ids, sender, peer, "ok-1"), item(r, ids, sender, peer, "c" * 65)]
    long_content = [item(r, ids, sender, peer, "ok-2"), item(r, ids, sender, peer, "big", content="x" * 70000)]
    for batch in (long_cmid, long_content):
        with pytest.raises(grpc.RpcError) as e:
            save(r, batch)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, e.value


def test_value_too_long_is_an_error_not_a_truncated_row(repo, infra):
    ids = Ids()
    a, b = ids.user(1), ids.user(2)
    refused(repo, ids, a, b)
    assert infra.sql("SELECT COUNT(*) FROM messages WHERE sender_id = %d" % a) == [["0"]]   # the good ones too
    assert save(repo, [item(repo, ids, a, b, "ok-1")])[0].message.cmid == "ok-1"           # the batch was undone


def test_value_too_long_is_an_error_in_lax_sql_mode(infra, pb):
    """A server without strict mode stores a truncated value with a warning: the warning
    must fail the batch."""
    mode = root_sql(infra, "SELECT @@GLOBAL.sql_mode")[0][0]
    root_sql(infra, "SET GLOBAL sql_mode = ''")
    try:   # a pool of one: its only connection is made at start, and keeps the lax mode
        lax = Repo(infra, pb, "repo-lax", CIM_MYSQL_POOL=1)
    finally:
        root_sql(infra, "SET GLOBAL sql_mode = '%s'" % mode)
    try:
        ids = Ids()
        a, b = ids.user(1), ids.user(2)
        refused(lax, ids, a, b)
        assert infra.sql("SELECT COUNT(*) FROM messages WHERE sender_id = %d" % a) == [["0"]]
        assert "mysql.warning" in lax.daemon.log_text()
    finally:
        lax.close(infra)


def cursors(r, items):
    req = r.pb.UpdateCursorsRequest(items=[r.pb.UpdateCursorRequest(user_id=u, conversation_id=c, seq=s, read=rd)
                                           for u, c, s, rd in items])
    return [(x.forbidden, x.last_read_seq) for x in r.stub.UpdateCursors(req, timeout=30).results]


def positions(infra, user, cid):
    return [int(v) for v in infra.sql("SELECT last_delivered_seq, last_read_seq FROM user_conversations "
                                      "WHERE user_id = %d AND conversation_id = '%s'" % (user, cid))[0]]


def test_update_cursors_batch(repo, infra):
    ids = Ids()
    me, p1, p2, stranger = ids.user(1), ids.user(2), ids.user(3), ids.user(9)
    a, b = ids.cid(me, p1), ids.cid(me, p2)
    save(repo, [item(repo, ids, p1, me, "a-%d" % i) for i in range(5)] +
         [item(repo, ids, p2, me, "b-%d" % i) for i in range(3)])

    # several conversations in one call; a stranger is forbidden; two items on one key merge
    got = cursors(repo, [(me, a, 3, True), (me, b, 2, False), (stranger, a, 3, True), (me, a, 2, True),
                         (me, "s_1_nonsense", 1, True)])
    assert got == [(False, 3), (False, 0), (True, 0), (False, 3), (True, 0)]
    assert positions(infra, me, a) == [3, 3]
    assert positions(infra, me, b) == [2, 0]
    assert infra.sql("SELECT COUNT(*) FROM user_conversations WHERE user_id = %d" % stranger) == [["0"]]

    # forward only, and never past the conversation's max seq
    assert cursors(repo, [(me, a, 1, True), (me, b, 1, False)]) == [(False, 3), (False, 0)]
    assert positions(infra, me, a) == [3, 3] and positions(infra, me, b) == [2, 0]
    assert cursors(repo, [(me, a, 99, False), (me, b, 99, True)]) == [(False, 3), (False, 3)]
    assert positions(infra, me, a) == [5, 3] and positions(infra, me, b) == [3, 3]

    # the single-item call answers the same way
    one = repo.stub.UpdateCursor(repo.pb.UpdateCursorRequest(user_id=me, conversation_id=a, seq=4, read=True),
                                 timeout=10)
    assert (one.forbidden, one.last_read_seq) == (False, 4)
    one = repo.stub.UpdateCursor(repo.pb.UpdateCursorRequest(user_id=stranger, conversation_id=a, seq=4, read=True),
                                 timeout=10)
    assert one.forbidden

    # more keys than one statement's largest shape: every one moves, answers in request order
    peers = [ids.user(1000 + i) for i in range(150)]
    save(repo, [item(repo, ids, p, me, "m-%d" % i) for i, p in enumerate(peers)])
    order = list(range(150))
    random.Random(3).shuffle(order)
    got = cursors(repo, [(me, ids.cid(me, peers[i]), 1, i % 2 == 0) for i in order])
    assert got == [(False, 1 if i % 2 == 0 else 0) for i in order]
    for i in (0, 1, 77, 149):
        assert positions(infra, me, ids.cid(me, peers[i])) == [1, 1 if i % 2 == 0 else 0]


def test_update_cursors_empty_call(repo):
    assert cursors(repo, []) == []
