/* dedup.c — msg_dedup:{uid}:{cmid}: the cached outcome of a send, written only after its
 * row is committed. MySQL's UNIQUE(sender_id, client_msg_id) stays the truth; this cache
 * answers retries without a seq, a MySQL round trip or a second message. */
#include "im/log.h"
#include "im/names.h"
#include "logic.h"

#include <stdio.h>

/* Value: "{msg_id} {seq} {created_at}" */
void logic_dedup_lookup(logic_t *l, logic_send_t *items, size_t n)
{
    redisContext *c = im_redis_acquire(l->redis);
    if (c == NULL) return;   /* no cache: MySQL still dedups */
    size_t asked = 0;
    for (size_t i = 0; i < n; i++) {
        if (items[i].error) continue;
        redisAppendCommand(c, "GET " IM_KEY_MSG_DEDUP, (unsigned long long)items[i].up->user_id,
                           items[i].up->cmid);
        asked++;
    }
    int broken = 0;
    for (size_t i = 0, k = 0; k < asked; i++) {
        if (items[i].error) continue;
        k++;
        redisReply *r = NULL;
        if (broken || redisGetReply(c, (void **)&r) != REDIS_OK) {
            broken = 1;
            continue;
        }
        unsigned long long id, seq;
        long long at;
        if (r->type == REDIS_REPLY_STRING && sscanf(r->str, "%llu %llu %lld", &id, &seq, &at) == 3) {
            items[i].duplicate = 1;
            items[i].msg.msg_id = id;
            items[i].msg.seq = seq;
            items[i].msg.created_at = at;
        }
        freeReplyObject(r);
    }
    im_redis_release(l->redis, c, broken);
}

void logic_dedup_store(logic_t *l, logic_send_t *items, size_t n)
{
    redisContext *c = im_redis_acquire(l->redis);
    if (c == NULL) return;
    size_t asked = 0;
    for (size_t i = 0; i < n; i++) {
        if (items[i].error) continue;
        redisAppendCommand(c, "SET " IM_KEY_MSG_DEDUP " %llu %llu %lld EX %d",
                           (unsigned long long)items[i].up->user_id, items[i].up->cmid,
                           (unsigned long long)items[i].msg.msg_id,
                           (unsigned long long)items[i].msg.seq,
                           (long long)items[i].msg.created_at, l->cfg.dedup_ttl_s);
        asked++;
    }
    int broken = 0;
    for (size_t k = 0; k < asked && !broken; k++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK) broken = 1;
        else freeReplyObject(r);
    }
    im_redis_release(l->redis, c, broken);
}
