/* push.c — frames to connections, through each gateway's downstream topic.
 *
 * user_session:{uid} maps each of a user's connections to its gateway. A frame for a
 * user becomes one delivery per gateway that holds one of their connections (out.c
 * groups a batch's deliveries into one record per gateway); the gateway fans it out to
 * that user's connections there. A recipient with no connection anywhere gets an
 * offline-push task instead. The hashes of a batch are indexed by user id (u64map), so a
 * group's members cost O(members), not O(members^2). */
#include "im/log.h"
#include "im/names.h"
#include "logic.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_GATEWAYS 64

/* A user_session field: the gateway's conn id in hex; 0 if malformed. */
static uint64_t conn_of(const redisReply *field)
{
    char *end;
    if (field->type != REDIS_REPLY_STRING || field->len == 0 || field->len > 16) return 0;
    uint64_t id = strtoull(field->str, &end, 16);
    return *end ? 0 : id;
}

/* The distinct live gateways in a user_session hash (skipping connection except_conn). */
static size_t gateways_of(logic_t *l, const redisReply *r, uint64_t except_conn, const char *gws[],
                          size_t max)
{
    size_t n = 0;
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) return 0;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        uint64_t conn = conn_of(r->element[i]);
        const char *gw = r->element[i + 1]->str;
        if (conn == 0 || conn == except_conn || r->element[i + 1]->type != REDIS_REPLY_STRING ||
            !logic_gateway_alive(l, gw))
            continue;
        size_t k = 0;
        while (k < n && strcmp(gws[k], gw) != 0) k++;
        if (k == n && n < max) gws[n++] = gw;
    }
    return n;
}

void logic_sessions_prepare(logic_sessions_t *s, const uint64_t *uids, size_t n)
{
    s->uids = im_calloc(n ? n : 1, sizeof *s->uids);
    s->replies = im_calloc(n ? n : 1, sizeof *s->replies);
    s->n = 0;
    im_u64map_init(&s->index);
    for (size_t i = 0; i < n; i++) {   /* distinct users */
        if (uids[i] == 0 || im_u64map_get(&s->index, uids[i])) continue;
        s->uids[s->n++] = uids[i];
        im_u64map_put(&s->index, uids[i], (void *)(uintptr_t)s->n);
    }
}

void logic_sessions_append(redisContext *c, const logic_sessions_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        redisAppendCommand(c, "HGETALL " IM_KEY_USER_SESSION, (unsigned long long)s->uids[i]);
}

int logic_sessions_read(redisContext *c, logic_sessions_t *s)
{
    int rc = IM_OK;
    for (size_t i = 0; i < s->n && rc != IM_EIO; i++)
        rc = im_redis_reply(c, (redisReply **)&s->replies[i], "sessions.load");
    return rc;
}

/* A user whose hash could not be read looks offline: an offline push, and sync covers the rest. */
void logic_sessions_load(logic_t *l, logic_sessions_t *s, const uint64_t *uids, size_t n)
{
    logic_sessions_prepare(s, uids, n);
    redisContext *c = s->n ? im_redis_acquire(l->redis) : NULL;
    if (c == NULL) return;
    logic_sessions_append(c, s);
    im_redis_release(l->redis, c, logic_sessions_read(c, s) == IM_EIO);
}

void logic_sessions_free(logic_sessions_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->replies[i]) freeReplyObject(s->replies[i]);
    im_free(s->uids);
    im_free(s->replies);
    im_u64map_fini(&s->index);
}

static const redisReply *session_of(const logic_sessions_t *s, uint64_t uid)
{
    uintptr_t k = uid ? (uintptr_t)im_u64map_get(&s->index, uid) : 0;
    return k ? s->replies[k - 1] : NULL;
}

size_t logic_push_user(logic_t *l, logic_out_t *o, const logic_sessions_t *s, uint64_t user_id,
                       uint64_t except_conn, const char *frame, const char *tp, int64_t received_us)
{
    const char *gws[MAX_GATEWAYS];
    size_t n = gateways_of(l, session_of(s, user_id), except_conn, gws, MAX_GATEWAYS);
    for (size_t i = 0; i < n; i++) logic_out_add(o, gws[i], user_id, 0, except_conn, frame, tp, received_us);
    return n;
}

size_t logic_push_notify(logic_t *l, logic_out_t *o, const logic_sessions_t *s, uint64_t user_id,
                         const char *frame, const char *cid, uint64_t seq)
{
    const char *gws[MAX_GATEWAYS];
    size_t n = gateways_of(l, session_of(s, user_id), 0, gws, MAX_GATEWAYS);
    for (size_t i = 0; i < n; i++) logic_out_add_notify(o, gws[i], user_id, frame, cid, seq);
    return n;
}

static void to_conn(logic_out_t *o, const logic_send_t *it, char *frame)
{
    if (it->system || it->up->conn_id == 0) {   /* a group event: no connection to answer */
        im_free(frame);
        return;
    }
    logic_out_add(o, it->up->gateway_id, it->up->user_id, it->up->conn_id, 0, logic_out_keep(o, frame),
                  it->tp, it->up->received_us);
}

void logic_push_sent(logic_out_t *o, const logic_send_t *it)
{
    to_conn(o, it, logic_frame_sent(&it->msg));
}

void logic_push_error(logic_out_t *o, const logic_send_t *it)
{
    to_conn(o, it, logic_frame_error(it->error, it->error_msg, it->up->cmid));
}

void logic_push_offline(logic_t *l, const logic_send_t *it, uint64_t user_id)
{
    if (!IM_CFG_GET(l->cfg.offline_push_enabled)) return;   /* switched off: sync still delivers */
    Im__Mq__V1__Task t = IM__MQ__V1__TASK__INIT;
    t.kind = "offline_push";
    t.user_id = user_id;
    t.message = (Im__Common__V1__Message *)&it->msg;
    size_t len = im__mq__v1__task__get_packed_size(&t);
    uint8_t *buf = im_malloc(len);
    im__mq__v1__task__pack(&t, buf);
    char key[24];
    snprintf(key, sizeof key, "%llu", (unsigned long long)user_id);
    if (im_kafka_producer_send(l->producer, IM_TOPIC_TASK, key, strlen(key), buf, len, it->tp, NULL) == IM_OK)
        im_metric_add(l->m_offline, 1);
    im_free(buf);
    im_debug("push.offline", "user=%llu cid=%s seq=%llu", (unsigned long long)user_id, it->cid,
             (unsigned long long)it->msg.seq);
}

void logic_push_message(logic_t *l, logic_out_t *o, const logic_sessions_t *s, const logic_send_t *it)
{
    const char *frame = logic_out_keep(o, logic_frame_message(&it->msg));
    uint64_t to = it->up->to_user;
    if (logic_push_user(l, o, s, to, 0, frame, it->tp, it->up->received_us) == 0) logic_push_offline(l, it, to);
    im_debug("push.queued", "user=%llu cid=%s seq=%llu", (unsigned long long)to, it->cid,
             (unsigned long long)it->msg.seq);
    /* the sender's other connections */
    logic_push_user(l, o, s, it->up->user_id, it->up->conn_id, frame, it->tp, 0);
}

void logic_push_to_users(logic_t *l, const uint64_t *uids, size_t n, uint64_t except_user, char *frame,
                         const char *tp)
{
    logic_sessions_t s;
    logic_sessions_load(l, &s, uids, n);
    logic_out_t o;
    logic_out_init(&o);
    const char *f = logic_out_keep(&o, frame);
    for (size_t i = 0; i < n; i++)
        if (uids[i] != except_user) logic_push_user(l, &o, &s, uids[i], 0, f, tp, 0);
    logic_out_flush(l, &o);
    logic_sessions_free(&s);
}
