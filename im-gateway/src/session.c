/* session.c — [R]: user_session:{uid} in Redis, one field per connection
 * (conn_id in hex -> gateway_id), written off the service thread.
 *
 * The gateway holds the truth; Redis converges to it:
 *   - open: HSET + EXPIRE (3 heartbeats); close: HDEL. Applied in order, pipelined.
 *   - every connection's field is re-asserted once per heartbeat (by the sweep on [S],
 *     conns.c, spread over the period as connections opened), so the key lives while any
 *     of the user's connections does and a lost write heals itself;
 *   - a marker, gateway_sessions:{gateway_id} with the same expiry, is checked every
 *     second: if it is gone, Redis lost our sessions (restart, FLUSHALL, eviction) and
 *     every field is re-asserted at once;
 *   - at start, fields a previous process of this gateway id left behind are removed;
 *   - a batch Redis could not take is kept and retried, not dropped.
 * Admission comes first: each new connection takes a token of rl:conn:a:{addr} (limits.c;
 * every open of a batch in one round trip), and [S] hears the outcome either way: an
 * admitted one's messages are handled from then on (those that came meanwhile waited); a
 * refused one is never written: [S] gets an `error` rate_limited and closes it, drops
 * what it sent, and its later re-asserts and close are dropped here too (so no presence
 * flaps for a connection nobody saw). */
#include "gateway.h"
#include "im/clock.h"
#include "im/log.h"
#include "im/names.h"

#include <stdio.h>
#include <string.h>

#define PENDING_MAX 200000   /* kept across a Redis outage; past it, re-assert when back */

int gw_session_ttl_s(gw_t *g)
{
    return 3 * IM_CFG_GET(g->cfg.heartbeat_s);
}

/* Applies the list in one pipeline (presence.c writes and reads each op's commands);
 * IM_OK, or non-OK if it must be retried. */
static int apply(gw_t *g, redisContext *c, im_queue_node_t *list)
{
    for (im_queue_node_t *n = list; n; n = n->next) gw_presence_append(g, c, IM_QUEUE_ENTRY(n, gw_sess_t, node));
    int rc = IM_OK;
    for (im_queue_node_t *n = list; n; n = n->next) {
        int e = gw_presence_read(g, c, IM_QUEUE_ENTRY(n, gw_sess_t, node));
        if (e == IM_EIO) return IM_EIO;
        if (e != IM_OK) rc = e;
    }
    return rc;
}

/* 1 if the marker was missing (and is now set): Redis lost this gateway's sessions. */
static int marker_lost(gw_t *g, redisContext *c)
{
    char key[160];
    snprintf(key, sizeof key, IM_KEY_GATEWAY_SESSIONS, g->gateway_id);
    redisAppendCommand(c, "SET %s 1 EX %d NX", key, gw_session_ttl_s(g));
    redisAppendCommand(c, "EXPIRE %s %d", key, gw_session_ttl_s(g));
    redisReply *set = NULL, *exp = NULL;
    int lost = im_redis_reply(c, &set, "session.marker") == IM_OK && set->type == REDIS_REPLY_STATUS;
    im_redis_reply(c, &exp, "session.marker");
    if (set) freeReplyObject(set);
    if (exp) freeReplyObject(exp);
    return lost;
}

/* The refusal of conn_id, to [S] (ws.c gw_ws_deliver): the error frame, then the close. */
static void refuse(gw_t *g, const gw_sess_t *s, int64_t retry_ms)
{
    gw_limit_refused("conn:a", 1);
    IM_LOG_RATELIMITED(2, IM_LOG_INFO, "rate_limited", "kind=conn addr=%s user=%llu retry_after_ms=%lld",
                       s->addr, (unsigned long long)s->user_id, (long long)retry_ms);   /* addr: address characters only */
    gw_job_t *job = gw_job_new();
    job->conn_id = s->conn_id;
    job->refuse = 1;
    job->resp = gw_error_frame_retry("rate_limited", "too many connections from your address, retry later", NULL,
                                     retry_ms);
    if (im_queue_push(&g->done, &job->node) != IM_OK) gw_job_free(job);   /* [S] is gone */
}

/* conn_id got its token: [S] handles what the client sent meanwhile (ws.c gw_ws_deliver). */
static void admitted(gw_t *g, const gw_sess_t *s)
{
    gw_job_t *job = gw_job_new();
    job->conn_id = s->conn_id;
    job->admit = 1;
    if (im_queue_push(&g->done, &job->node) != IM_OK) gw_job_free(job);   /* [S] is gone */
}

/* The per-address tokens of the opens in list, in one round trip: retry[i] for the i-th
 * open, 0 if it got its token. */
static void take_tokens(gw_t *g, im_queue_node_t *list, size_t nopen, int64_t *retry)
{
    char(*keys)[GW_LIMIT_KEY_MAX] = im_malloc(nopen * sizeof *keys);
    const char **kp = im_malloc(nopen * sizeof *kp);
    size_t k = 0;
    for (im_queue_node_t *n = list; n; n = n->next) {
        gw_sess_t *s = IM_QUEUE_ENTRY(n, gw_sess_t, node);
        if (s->open != GW_SESS_OPEN) continue;
        kp[k] = gw_limit_key(keys[k], "conn:a", s->addr);
        k++;
    }
    int per_min = IM_CFG_GET(g->cfg.conn_addr_per_min);
    im_rlimit_take_many(g->redis, kp, nopen, per_min / 60.0, per_min, im_clock_wall_ms(), retry);
    im_free(keys);
    im_free(kp);
}

/* Removes from list the opens refused their token and every later op of a refused
 * connection (remembered in refused until its close). Returns the list left, in order. */
static im_queue_node_t *admit(gw_t *g, im_queue_node_t *list, im_u64map_t *refused)
{
    size_t nopen = 0, k = 0;
    for (im_queue_node_t *n = list; n; n = n->next) nopen += IM_QUEUE_ENTRY(n, gw_sess_t, node)->open == GW_SESS_OPEN;
    if (nopen == 0 && refused->len == 0) return list;
    int64_t *retry = nopen ? im_malloc(nopen * sizeof *retry) : NULL;
    if (nopen) take_tokens(g, list, nopen, retry);
    im_queue_node_t *kept = NULL, **tail = &kept;
    for (im_queue_node_t *n = list, *next; n; n = next) {
        next = n->next;
        gw_sess_t *s = IM_QUEUE_ENTRY(n, gw_sess_t, node);
        int drop = 0;
        if (s->open == GW_SESS_OPEN) {
            int64_t wait = retry[k++];
            if ((drop = wait != 0)) {
                refuse(g, s, wait);
                im_u64map_put(refused, s->conn_id, (void *)1);
            } else {
                admitted(g, s);
            }
        } else if (im_u64map_get(refused, s->conn_id)) {
            if (s->open == GW_SESS_CLOSE) im_u64map_del(refused, s->conn_id);
            drop = 1;
        }
        if (drop) {
            im_free(s);
            continue;
        }
        n->next = NULL;
        *tail = n;
        tail = &n->next;
    }
    im_free(retry);
    return kept;
}

static void free_list(im_queue_node_t *list)
{
    for (im_queue_node_t *n = list, *next; n; n = next) {
        next = n->next;
        im_free(IM_QUEUE_ENTRY(n, gw_sess_t, node));
    }
}

static void *session_main(void *arg)
{
    gw_t *g = arg;
    im_log_set_thread("session");
    im_queue_node_t *pending = NULL, **tail = &pending;
    size_t npending = 0;
    int64_t next_check = 0;
    im_u64map_t refused;      /* conn id -> 1: refused at admission, until its close */
    im_u64map_init(&refused);
    for (int closed = 0; !closed;) {
        im_queue_node_t *list = im_queue_take_all_wait(&g->sess, 1000);
        closed = list == NULL && im_queue_closed(&g->sess);
        list = admit(g, list, &refused);
        for (im_queue_node_t *n = list; n; n = n->next, npending++) {   /* append in order */
            *tail = n;
            tail = &n->next;
        }
        int64_t now = im_clock_mono_ms();
        if (pending == NULL && now < next_check) continue;
        redisContext *c = im_redis_acquire(g->redis);
        int rc = c ? IM_OK : IM_EUNAVAIL;
        if (c && now >= next_check) {
            next_check = now + 1000;
            if (marker_lost(g, c) && !closed) {
                im_info("session.reassert_all", "reason=marker_missing");
                __atomic_store_n(&g->sess_reassert, 1, __ATOMIC_RELEASE);
            }
        }
        if (c && pending) rc = apply(g, c, pending);
        if (c && rc != IM_EIO) gw_presence_check(g, c);
        if (c) im_redis_release(g->redis, c, rc == IM_EIO);
        if (rc == IM_OK || closed || npending > PENDING_MAX) {
            if (rc != IM_OK)
                IM_LOG_RATELIMITED(5, IM_LOG_WARN, "session.dropped", "ops=%zu err=\"%s\"", npending, im_strerror(rc));
            if (rc != IM_OK && !closed) __atomic_store_n(&g->sess_reassert, 1, __ATOMIC_RELEASE);
            free_list(pending);
            pending = NULL;
            tail = &pending;
            npending = 0;
        } else {
            IM_LOG_RATELIMITED(5, IM_LOG_WARN, "session.retry", "ops=%zu err=\"%s\"", npending, im_strerror(rc));
        }
    }
    im_u64map_fini(&refused);
    return NULL;
}

/* Removes the fields that point at this gateway id: a previous process's connections. */
static void clear_stale(gw_t *g)
{
    redisContext *c = im_redis_acquire(g->redis);
    if (c == NULL) return;   /* the fields expire by themselves */
    char cursor[32] = "0";
    size_t removed = 0;
    int rc = IM_OK;
    do {
        redisReply *scan = redisCommand(c, "SCAN %s MATCH " IM_KEY_USER_SESSION_MATCH " COUNT 1000", cursor);
        if (scan == NULL || scan->type != REDIS_REPLY_ARRAY || scan->elements != 2) {
            if (scan) freeReplyObject(scan);
            rc = IM_EIO;
            break;
        }
        snprintf(cursor, sizeof cursor, "%s", scan->element[0]->str);
        redisReply *keys = scan->element[1];
        for (size_t i = 0; i < keys->elements; i++) redisAppendCommand(c, "HGETALL %s", keys->element[i]->str);
        size_t dels = 0;
        for (size_t i = 0; i < keys->elements && rc == IM_OK; i++) {
            redisReply *h;
            if ((rc = im_redis_reply(c, &h, "session.clear")) != IM_OK) break;
            for (size_t k = 0; h->type == REDIS_REPLY_ARRAY && k + 1 < h->elements; k += 2)
                if (strcmp(h->element[k + 1]->str, g->gateway_id) == 0) {
                    redisAppendCommand(c, "HDEL %s %s", keys->element[i]->str, h->element[k]->str);
                    dels++;
                }
            freeReplyObject(h);
        }
        for (size_t i = 0; i < dels && rc == IM_OK; i++) {
            redisReply *r;
            if ((rc = im_redis_reply(c, &r, "session.clear")) == IM_OK) freeReplyObject(r);
        }
        removed += dels;
        freeReplyObject(scan);
    } while (rc == IM_OK && strcmp(cursor, "0") != 0);
    im_redis_release(g->redis, c, rc != IM_OK);
    im_info("session.stale_cleared", "fields=%zu complete=%s", removed, rc == IM_OK ? "yes" : "no");
}

int gw_session_start(gw_t *g)
{
    im_queue_init(&g->sess, NULL, NULL);
    /* [R], [V]'s scans, and each [W] (rate limits, logout, presence reads) */
    g->redis = im_redis_pool_new(g->cfg.redis_host, g->cfg.redis_port, 2 + g->cfg.workers, 2000);
    clear_stale(g);
    pthread_create(&g->sess_thread, NULL, session_main, g);
    return IM_OK;
}

void gw_session_stop(gw_t *g)
{
    im_queue_close(&g->sess);
    pthread_join(g->sess_thread, NULL);
    im_queue_fini(&g->sess);
    im_free(g->absent);
    im_redis_pool_free(g->redis);
}

static void post(gw_t *g, int open, uint64_t user_id, uint64_t conn_id, const char *addr)
{
    gw_sess_t *s = im_malloc(sizeof *s);
    s->open = open;
    s->user_id = user_id;
    s->conn_id = conn_id;
    snprintf(s->addr, sizeof s->addr, "%s", addr);
    if (im_queue_push(&g->sess, &s->node) != IM_OK) im_free(s);
}

void gw_session_post(gw_t *g, int open, uint64_t user_id, uint64_t conn_id)
{
    post(g, open, user_id, conn_id, "");
}

void gw_session_open(gw_t *g, uint64_t user_id, uint64_t conn_id, const char *addr)
{
    post(g, GW_SESS_OPEN, user_id, conn_id, addr);
}

int gw_session_lost(gw_t *g)
{
    return __atomic_exchange_n(&g->sess_reassert, 0, __ATOMIC_ACQ_REL);
}
