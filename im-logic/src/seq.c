/* seq.c — per-conversation seq from Redis `conv_seq:{cid}`, and the dedup lookup.
 *
 * A batch's seqs come in one pipelined round trip, in the batch's order, each from a
 * script that first looks in msg_dedup:{uid}:{cmid}: the cached outcome of the same cmid
 * (dedup.c writes it after the commit) answers a retried send, which takes no seq; a
 * reservation ("r {seq}", written by the same script that took the seq) gives the seq
 * taken for it before. So a seq taken and then never stored (its logic killed or hung
 * before the commit, the record read again by another instance) is stored by whoever
 * handles the record next, under the same seq: seqs stay contiguous. The counter is
 * incremented only if it exists. A missing key (Redis restarted, flushed, evicted) is
 * re-seeded from MAX(seq) in MySQL (asked of im-repo) under a short lock, so seq never goes
 * backwards or repeats; UNIQUE(conversation_id, seq) is the last guard and a conflict there
 * drops the item's reservation and raises the counter to the stored max
 * (logic_seq_conflict). */
#include "im/clock.h"
#include "im/log.h"
#include "im/names.h"
#include "logic.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* KEYS[1] msg_dedup:{uid}:{cmid}, KEYS[2] conv_seq:{cid}, ARGV[1] the reservation's TTL:
 * the cached outcome of an earlier send with this cmid (a string), else the seq reserved
 * for it, else the next seq if the counter exists (reserved in the same step), else -1.
 * Dedup and seq in one round trip; a cmid never takes two seqs. */
#define DEDUP_OR_INCR \
    "local d = redis.call('GET', KEYS[1]) if d then " \
    "local r = string.match(d, '^r (%d+)$') if r then return tonumber(r) end return d end " \
    "if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end " \
    "local s = redis.call('INCR', KEYS[2]) " \
    "redis.call('SET', KEYS[1], 'r ' .. s, 'EX', ARGV[1]) return s"
/* KEYS[1] deleted only if it still holds ARGV[1]: the seed lock by its owner, a
 * reservation by the item it was made for. */
#define DEL_IF_HOLDS \
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
#define RAISE_TO \
    "local c = tonumber(redis.call('GET', KEYS[1]) or '0') " \
    "if c < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end return 1"

static int repo_max_seq(logic_t *l, const char *cid, uint64_t *max)
{
    Im__Repo__V1__GetMaxSeqRequest req = IM__REPO__V1__GET_MAX_SEQ_REQUEST__INIT;
    req.conversation_id = (char *)cid;
    ProtobufCMessage *resp = NULL;
    int rc = logic_repo_call(l, "GetMaxSeq", &req.base, &resp);
    if (rc != IM_OK) return rc;
    *max = ((Im__Repo__V1__GetMaxSeqReply *)resp)->max_seq;
    protobuf_c_message_free_unpacked(resp, NULL);
    return IM_OK;
}

/* Sets the counter to MySQL's max if it is missing or lower. mode NX: only if missing. */
static int seed(logic_t *l, const char *cid, int only_if_missing)
{
    char key[128], lock[128];
    snprintf(key, sizeof key, IM_KEY_CONV_SEQ, cid);
    snprintf(lock, sizeof lock, IM_KEY_CONV_SEQ_LOCK, cid);
    redisReply *r = im_redis_cmd(l->redis, "SET %s %s NX PX 5000", lock, l->daemon.instance);
    int locked = r && r->type == REDIS_REPLY_STATUS;
    if (r) freeReplyObject(r);
    if (!locked) {          /* someone else is seeding: let them finish */
        usleep(2000);
        return IM_OK;
    }
    uint64_t max = 0;
    int rc = repo_max_seq(l, cid, &max);
    if (rc == IM_OK) {
        r = only_if_missing ? im_redis_cmd(l->redis, "SET %s %llu NX", key, (unsigned long long)max)
                            : im_redis_cmd(l->redis, "EVAL %s 1 %s %llu", RAISE_TO, key,
                                           (unsigned long long)max);
        rc = r ? IM_OK : IM_EUNAVAIL;
        if (r) freeReplyObject(r);
        im_info("seq.seeded", "cid=%s max_seq=%llu", cid, (unsigned long long)max);
    }
    r = im_redis_cmd(l->redis, "EVAL %s 1 %s %s", DEL_IF_HOLDS, lock, l->daemon.instance);
    if (r) freeReplyObject(r);
    return rc;
}

/* One item's script reply: a dedup hit, a seq, or -1 (counter missing). No snowflake id
 * (the worker id's lease not confirmed): IM_EUNAVAIL, the batch is retried (its seqs are
 * reserved, so they are taken again). */
static int take(logic_t *l, logic_send_t *it, const redisReply *r, size_t *left)
{
    if (r->type == REDIS_REPLY_STRING && logic_dedup_parse(r->str, &it->msg) == IM_OK) {
        it->duplicate = 1;
    } else if (r->type == REDIS_REPLY_INTEGER && r->integer > 0) {
        if ((it->msg.msg_id = im_snowflake_next(&l->ids)) == 0) return IM_EUNAVAIL;   /* lease unsure */
        it->msg.seq = (uint64_t)r->integer;
        it->msg.created_at = im_clock_wall_ms();
    } else if (r->type == REDIS_REPLY_INTEGER) {
        ++*left;
    } else {
        return IM_EPROTO;
    }
    return IM_OK;
}

/* 1 if an earlier item still without a seq is in the same conversation (seeded once). */
static int seeded_before(const logic_send_t *items, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (logic_send_needs_seq(&items[j]) && strcmp(items[j].cid, items[i].cid) == 0) return 1;
    return 0;
}

/* One pipelined round: every item still without a seq is either found in the dedup cache
 * or gets a seq; items whose counter is missing are left at 0 and their conversations
 * re-seeded. *left says how many are left. */
static int assign_round(logic_t *l, logic_send_t *items, size_t n, size_t *left)
{
    redisContext *c = im_redis_acquire(l->redis);
    if (c == NULL) return IM_EUNAVAIL;
    size_t asked = 0;
    for (size_t i = 0; i < n; i++) {
        if (!logic_send_needs_seq(&items[i])) continue;
        char dkey[160], skey[128];
        snprintf(dkey, sizeof dkey, IM_KEY_MSG_DEDUP, (unsigned long long)items[i].up->user_id, items[i].up->cmid);
        snprintf(skey, sizeof skey, IM_KEY_CONV_SEQ, items[i].cid);
        redisAppendCommand(c, "EVAL %s 2 %s %s %d", DEDUP_OR_INCR, dkey, skey, IM_CFG_GET(l->cfg.dedup_ttl_s));
        asked++;
    }
    int rc = IM_OK;
    *left = 0;
    logic_send_t **asked_items = im_calloc(asked ? asked : 1, sizeof *asked_items);
    for (size_t i = 0, k = 0; i < n && k < asked; i++)
        if (logic_send_needs_seq(&items[i])) asked_items[k++] = &items[i];
    for (size_t k = 0; k < asked && rc == IM_OK; k++) {   /* on an error, read no more: dropped below */
        redisReply *r;
        if ((rc = im_redis_reply(c, &r, "seq.assign")) != IM_OK) break;
        rc = take(l, asked_items[k], r, left);
        freeReplyObject(r);
    }
    im_free(asked_items);
    im_redis_release(l->redis, c, rc != IM_OK);
    for (size_t i = 0; rc == IM_OK && i < n; i++)
        if (logic_send_needs_seq(&items[i]) && !seeded_before(items, i)) rc = seed(l, items[i].cid, 1);
    return rc;
}

int logic_seq_assign(logic_t *l, logic_send_t *items, size_t n)
{
    for (int attempt = 0; attempt < 50; attempt++) {
        size_t left = 0;
        int rc = assign_round(l, items, n, &left);
        if (rc != IM_OK || left == 0) return rc;
    }
    return IM_ETIMEOUT;
}

/* The item's seq is another message's: its reservation goes (so the next round takes a new
 * seq) and the counter is raised to MySQL's max. */
int logic_seq_conflict(logic_t *l, logic_send_t *it)
{
    char dkey[160], value[32];
    snprintf(dkey, sizeof dkey, IM_KEY_MSG_DEDUP, (unsigned long long)it->up->user_id, it->up->cmid);
    snprintf(value, sizeof value, "r %llu", (unsigned long long)it->msg.seq);
    it->msg.seq = 0;
    redisReply *r = im_redis_cmd(l->redis, "EVAL %s 1 %s %s", DEL_IF_HOLDS, dkey, value);
    if (r == NULL) return IM_EUNAVAIL;
    freeReplyObject(r);
    return seed(l, it->cid, 0);
}
