/* presence.c — who is online, derived from the sessions [R] already keeps in Redis.
 *
 *   first connection   OPEN_SCRIPT: the session field, and presence:{uid} SET NX; the
 *                      gateway that set it announces `online` (one announcement however
 *                      many gateways the user connects to at once)
 *   heartbeat          the field and presence:{uid} re-asserted with the session expiry
 *   a connection closes  HDEL, HLEN: at 0 the user is noted, and presence_grace_ms later
 *                      CHECK_SCRIPT: still no session anywhere -> DEL presence:{uid},
 *                      last_seen:{uid} = now, announce `offline`; back meanwhile (on any
 *                      gateway) -> nothing, so a reconnect is not a flap
 *   announce           an Upstream record op "presence" {user_id, online, last_seen} on
 *                      im-upstream-topic; im-logic sends `presence` frames to the user's
 *                      friends and recent single-chat peers. presence_enabled (live) off:
 *                      the state is kept, nothing is announced.
 *   GET /api/presence?ids=1,2 ([W]): online = a session exists, and last_seen.
 * A gateway that dies without closing leaves sessions that expire after 3 heartbeats:
 * the state then reads offline, but no `offline` is announced. */
#include "gateway.h"
#include "im/clock.h"
#include "im/log.h"
#include "im/names.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gw_absent_s {
    uint64_t user_id;
    int64_t due_ms;           /* mono */
};

/* KEYS user_session, presence; ARGV conn, gateway, ttl. 1: announce online. */
static const char OPEN_SCRIPT[] =
    "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) redis.call('EXPIRE', KEYS[1], ARGV[3]) "
    "if redis.call('SET', KEYS[2], '1', 'EX', ARGV[3], 'NX') then return 1 end "
    "redis.call('EXPIRE', KEYS[2], ARGV[3]) return 0";

/* KEYS user_session, presence, last_seen; ARGV now ms. 1: announce offline. */
static const char CHECK_SCRIPT[] =
    "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end "
    "if redis.call('DEL', KEYS[2]) == 0 then return 0 end "
    "redis.call('SET', KEYS[3], ARGV[1]) return 1";

/* Replies each op's commands produce (gw_presence_append issues them). */
static const int REPLIES[] = {[GW_SESS_CLOSE] = 2, [GW_SESS_ASSERT] = 3, [GW_SESS_OPEN] = 1};

static void keys(uint64_t uid, char sess[64], char pres[64])
{
    snprintf(sess, 64, IM_KEY_USER_SESSION, (unsigned long long)uid);
    snprintf(pres, 64, IM_KEY_PRESENCE, (unsigned long long)uid);
}

int gw_presence_append(gw_t *g, redisContext *c, const gw_sess_t *s)
{
    char sess[64], pres[64], conn[24];
    keys(s->user_id, sess, pres);
    snprintf(conn, sizeof conn, "%llx", (unsigned long long)s->conn_id);
    int ttl = gw_session_ttl_s(g);
    switch (s->open) {
    case GW_SESS_OPEN:
        redisAppendCommand(c, "EVAL %s 2 %s %s %s %s %d", OPEN_SCRIPT, sess, pres, conn, g->gateway_id, ttl);
        break;
    case GW_SESS_ASSERT:
        redisAppendCommand(c, "HSET %s %s %s", sess, conn, g->gateway_id);
        redisAppendCommand(c, "EXPIRE %s %d", sess, ttl);
        redisAppendCommand(c, "EXPIRE %s %d", pres, ttl);
        break;
    default:
        redisAppendCommand(c, "HDEL %s %s", sess, conn);
        redisAppendCommand(c, "HLEN %s", sess);
    }
    return REPLIES[s->open];
}

/* The record that tells im-logic. */
static void announce(gw_t *g, uint64_t uid, int online, int64_t last_seen)
{
    if (!IM_CFG_GET(g->cfg.presence_enabled)) return;
    Im__Mq__V1__Upstream up = IM__MQ__V1__UPSTREAM__INIT;
    up.gateway_id = (char *)g->gateway_id;
    up.user_id = uid;
    up.op = "presence";
    up.online = online;
    up.last_seen = last_seen;
    up.received_us = im_clock_wall_us();
    char key[32];
    snprintf(key, sizeof key, "u_%llu", (unsigned long long)uid);
    if (gw_up_send(g, &up, key, NULL) != IM_OK)
        IM_LOG_RATELIMITED(5, IM_LOG_WARN, "presence.not_announced", "user=%llu online=%d", (unsigned long long)uid,
                           online);
    else
        im_debug("presence.announced", "user=%llu online=%d", (unsigned long long)uid, online);
}

static void note_absent(gw_t *g, uint64_t uid)
{
    if (g->nabsent == g->capabsent)
        g->absent = im_realloc(g->absent, (g->capabsent = g->capabsent ? 2 * g->capabsent : 64) * sizeof *g->absent);
    g->absent[g->nabsent++] = (struct gw_absent_s){uid, im_clock_mono_ms() + IM_CFG_GET(g->cfg.presence_grace_ms)};
}

int gw_presence_read(gw_t *g, redisContext *c, const gw_sess_t *s)
{
    int n = REPLIES[s->open], rc = IM_OK;
    for (int i = 0; i < n; i++) {
        redisReply *r = NULL;
        int e = im_redis_reply(c, &r, "session.write");
        if (e == IM_EIO) return IM_EIO;
        if (e != IM_OK) {
            rc = e;
            continue;
        }
        if (s->open == GW_SESS_OPEN && r->type == REDIS_REPLY_INTEGER && r->integer == 1)
            announce(g, s->user_id, 1, 0);
        if (s->open == GW_SESS_CLOSE && i == 1 && r->type == REDIS_REPLY_INTEGER && r->integer == 0)
            note_absent(g, s->user_id);
        freeReplyObject(r);
    }
    return rc;
}

void gw_presence_check(gw_t *g, redisContext *c)
{
    int64_t now = im_clock_mono_ms();
    size_t due = 0;
    while (due < g->nabsent && g->absent[due].due_ms <= now) due++;   /* in order of due time */
    if (due == 0) return;
    int64_t wall = im_clock_wall_ms();
    for (size_t i = 0; i < due; i++) {
        char sess[64], pres[64], seen[64];
        keys(g->absent[i].user_id, sess, pres);
        snprintf(seen, sizeof seen, IM_KEY_LAST_SEEN, (unsigned long long)g->absent[i].user_id);
        redisAppendCommand(c, "EVAL %s 3 %s %s %s %lld", CHECK_SCRIPT, sess, pres, seen, (long long)wall);
    }
    for (size_t i = 0; i < due; i++) {
        redisReply *r = NULL;
        int e = im_redis_reply(c, &r, "presence.check");
        if (e == IM_EIO) return;   /* kept: checked again once Redis is back */
        if (e == IM_OK && r->type == REDIS_REPLY_INTEGER && r->integer == 1)
            announce(g, g->absent[i].user_id, 0, wall);
        if (r) freeReplyObject(r);
    }
    memmove(g->absent, g->absent + due, (g->nabsent - due) * sizeof *g->absent);
    g->nabsent -= due;
}

/* ---- GET /api/presence?ids=1,2,3 ---- */

void gw_api_presence(gw_t *g, gw_job_t *job)
{
    char list[100 * 24];
    uint64_t ids[100];
    int n = gw_query_str(job->query, "ids", list, sizeof list) ? gw_parse_ids(list, ids, 100) : -1;
    if (n <= 0) {
        gw_job_error(job, 400, "invalid_argument", "ids must be 1-100 user ids separated by commas");
        return;
    }
    redisContext *c = im_redis_acquire(g->redis);
    if (c == NULL) {
        gw_job_error(job, 503, "unavailable", "try again");
        return;
    }
    for (int i = 0; i < n; i++) {
        redisAppendCommand(c, "EXISTS " IM_KEY_USER_SESSION, (unsigned long long)ids[i]);
        redisAppendCommand(c, "GET " IM_KEY_LAST_SEEN, (unsigned long long)ids[i]);
    }
    json_t *out = json_array();
    int rc = IM_OK;
    for (int i = 0; i < n && rc != IM_EIO; i++) {
        redisReply *on = NULL, *seen = NULL;
        rc = im_redis_reply(c, &on, "presence.read");
        int rc2 = rc == IM_EIO ? IM_EIO : im_redis_reply(c, &seen, "presence.read");
        if (rc == IM_OK) rc = rc2;
        if (rc == IM_OK) {
            long long last = seen->type == REDIS_REPLY_STRING ? strtoll(seen->str, NULL, 10) : 0;
            json_array_append_new(out, json_pack("{s:I, s:b, s:I}", "user_id", (json_int_t)ids[i], "online",
                                                 on->type == REDIS_REPLY_INTEGER && on->integer > 0, "last_seen",
                                                 (json_int_t)last));
        }
        if (on) freeReplyObject(on);
        if (seen) freeReplyObject(seen);
    }
    im_redis_release(g->redis, c, rc == IM_EIO);
    if (rc != IM_OK) {
        json_decref(out);
        gw_job_error(job, 503, "unavailable", "try again");
        return;
    }
    gw_reply_json(job, 200, json_pack("{s:o}", "presence", out));
}
