/* relations.c — single-chat sends checked against the recipient's friends and blocks
 * ([consume], once per batch, before any seq is taken):
 *   user_rel:{recipient} (relation_cache.c in im-repo) in one pipelined round trip,
 *   HMGET of field "0" (loaded?) and the sender per item; on a miss im-repo GetRelations,
 *   once per recipient, reads MySQL and fills the hash.
 * A recipient who blocked the sender: `blocked`, nothing stored or pushed. With
 * single_chat_policy = friends (LIVE) only friends may write: others get `forbidden`.
 * Redis down: every recipient is a miss (MySQL through im-repo answers). */
#include "im/log.h"
#include "im/names.h"
#include "logic.h"

#include <string.h>

typedef struct {
    uint64_t uid;
    Im__Repo__V1__GetRelationsReply *rel;   /* fetched after a miss; freed here */
} fetched_t;

static int has(const uint64_t *ids, size_t n, uint64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id) return 1;
    return 0;
}

static void judge(logic_t *l, logic_send_t *it, int friend, int blocked)
{
    if (blocked)
        logic_send_refuse(it, "blocked", "this user does not accept your messages");
    else if (!friend && IM_CFG_GET(l->cfg.single_chat_policy) == LOGIC_POLICY_FRIENDS)
        logic_send_refuse(it, "forbidden", "only friends can send this user messages");
}

/* Items to check: single chats still standing, not a group event. */
static int checked(const logic_send_t *it)
{
    return !it->error && !it->gid && !it->system;
}

int logic_send_check_relations(logic_t *l, logic_send_t *items, size_t n)
{
    size_t todo = 0;
    for (size_t i = 0; i < n; i++) todo += checked(&items[i]);
    if (todo == 0) return IM_OK;   /* group sends and events only */
    char *miss = im_calloc(n + 1, 1);   /* per item: the cache could not answer */
    redisContext *c = im_redis_acquire(l->redis);
    for (size_t i = 0; c && i < n; i++)
        if (checked(&items[i])) {
            redisAppendCommand(c, "HMGET " IM_KEY_USER_REL " 0 %llu", (unsigned long long)items[i].up->to_user,
                               (unsigned long long)items[i].up->user_id);
        }
    int broken = 0;
    for (size_t i = 0; i < n; i++) {
        if (!checked(&items[i])) continue;
        redisReply *r = NULL;
        int e = broken || c == NULL ? IM_EIO : im_redis_reply(c, &r, "relations.read");
        if (e == IM_EIO) broken = c != NULL;
        if (e == IM_OK && r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->type == REDIS_REPLY_STRING) {
            const char *v = r->element[1]->type == REDIS_REPLY_STRING ? r->element[1]->str : "";
            judge(l, &items[i], strchr(v, 'f') != NULL, strchr(v, 'b') != NULL);
        } else {
            miss[i] = 1;
        }
        if (r) freeReplyObject(r);
    }
    if (c) im_redis_release(l->redis, c, broken);
    /* misses: im-repo, once per recipient */
    fetched_t *got = im_calloc(n + 1, sizeof *got);
    size_t ngot = 0;
    int rc = IM_OK;
    for (size_t i = 0; rc == IM_OK && i < n; i++) {
        if (!miss[i]) continue;
        uint64_t to = items[i].up->to_user;
        size_t k = 0;
        while (k < ngot && got[k].uid != to) k++;
        if (k == ngot) {
            Im__Repo__V1__GetRelationsRequest q = IM__REPO__V1__GET_RELATIONS_REQUEST__INIT;
            q.user_id = to;
            ProtobufCMessage *rr = NULL;
            if ((rc = logic_repo_call(l, "GetRelations", &q.base, &rr)) != IM_OK) break;
            got[ngot].uid = to;
            got[ngot++].rel = (void *)rr;
        }
        const Im__Repo__V1__GetRelationsReply *rel = got[k].rel;
        uint64_t from = items[i].up->user_id;
        judge(l, &items[i], has(rel->friend_ids, rel->n_friend_ids, from),
              has(rel->blocked_ids, rel->n_blocked_ids, from));
    }
    for (size_t k = 0; k < ngot; k++) protobuf_c_message_free_unpacked(&got[k].rel->base, NULL);
    im_free(got);
    im_free(miss);
    return rc;
}
