/* hot.c — hot_messages:{cid}: the last `hot_messages` messages of a conversation, packed
 * protobuf members scored by seq, so opening a chat or a short sync skips MySQL.
 * Written only after the rows are committed; a miss or a hole falls back to MySQL, and so
 * does a range that stops short of the conversation's max_seq (handle_get_messages.c). */
#include "im/log.h"
#include "im/names.h"
#include "repo.h"

#include <stdio.h>

#define HOT_TTL_S 86400

void repo_hot_add(repo_t *r, Im__Common__V1__Message *const *msgs, size_t n)
{
    if (r->cfg.hot_messages == 0 || n == 0) return;
    redisContext *c = im_redis_acquire(r->redis);
    if (c == NULL) return;
    size_t sent = 0;
    for (size_t i = 0; i < n; i++) {
        char key[128];
        snprintf(key, sizeof key, IM_KEY_HOT_MESSAGES, msgs[i]->conversation_id);
        size_t len = im__common__v1__message__get_packed_size(msgs[i]);
        uint8_t *buf = im_malloc(len);
        im__common__v1__message__pack(msgs[i], buf);
        redisAppendCommand(c, "ZADD %s %llu %b", key, (unsigned long long)msgs[i]->seq, buf, len);
        redisAppendCommand(c, "ZREMRANGEBYRANK %s 0 %d", key, -(r->cfg.hot_messages + 1));
        redisAppendCommand(c, "EXPIRE %s %d", key, HOT_TTL_S);
        sent += 3;
        im_free(buf);
    }
    int broken = 0;
    for (size_t i = 0; i < sent; i++) {   /* an error is logged by im_redis_reply; reads then
                                           * fall back to MySQL (handle_get_messages.c) */
        redisReply *rep = NULL;
        int e = im_redis_reply(c, &rep, "hot.add");
        if (e == IM_EIO) {
            broken = 1;
            break;
        }
        if (rep) freeReplyObject(rep);
    }
    im_redis_release(r->redis, c, broken);
}

static void *arena_alloc(void *ud, size_t n)
{
    return im_rpc_alloc(ud, n);
}

static void arena_free(void *ud, void *p)
{
}

int repo_hot_range(repo_t *r, im_rpc_call_t *call, const char *cid, uint64_t after_seq,
                   uint32_t limit, Im__Common__V1__Message ***out)
{
    if (r->cfg.hot_messages == 0) return -1;
    char key[128];
    snprintf(key, sizeof key, IM_KEY_HOT_MESSAGES, cid);
    redisReply *rep = im_redis_cmd(r->redis, "ZRANGEBYSCORE %s (%llu +inf LIMIT 0 %u", key,
                                   (unsigned long long)after_seq, limit);
    if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements == 0) {
        if (rep) freeReplyObject(rep);
        im_metric_add(r->metrics.hot_miss, 1);
        return -1;
    }
    ProtobufCAllocator arena = {arena_alloc, arena_free, call};
    Im__Common__V1__Message **msgs = im_rpc_alloc(call, rep->elements * sizeof *msgs);
    int n = 0;
    uint64_t want = after_seq + 1;
    for (size_t i = 0; i < rep->elements; i++) {
        redisReply *e = rep->element[i];
        Im__Common__V1__Message *m =
            im__common__v1__message__unpack(&arena, e->len, (const uint8_t *)e->str);
        if (m == NULL || m->seq != want) { /* a hole or a bad member: let MySQL answer */
            n = -1;
            break;
        }
        msgs[n++] = m;
        want++;
    }
    freeReplyObject(rep);
    im_metric_add(n > 0 ? r->metrics.hot_hit : r->metrics.hot_miss, 1);
    if (n > 0) *out = msgs;
    return n > 0 ? n : -1;
}

int repo_hot_remove(repo_t *r, const char *cid, uint64_t seq)
{
    char key[128];
    snprintf(key, sizeof key, IM_KEY_HOT_MESSAGES, cid);
    redisReply *rep = im_redis_cmd(r->redis, "ZREMRANGEBYSCORE %s %llu %llu", key, (unsigned long long)seq,
                                   (unsigned long long)seq);
    int rc = rep && rep->type == REDIS_REPLY_INTEGER ? IM_OK : IM_EUNAVAIL;
    if (rep) freeReplyObject(rep);
    return rc;
}
