/* revoke.c — logout that means it: a revoked token is refused by every gateway, and the
 * connections opened with it are closed.
 *
 *   POST /api/logout [W] api_logout.c: SET jwt_deny:{jti} "{exp} {uid}" EX <seconds the
 *     token has left>, then PUBLISH jwt_revoked "{jti} {exp} {uid}". The job comes back
 *     to [S] with `revoke` set: [S] denies the jti before it writes the reply, so this
 *     gateway refuses the token from the moment the client hears "logged out".
 *   [V] `revoke`: SUBSCRIBE jwt_revoked on a connection of its own, then SCAN
 *     jwt_deny:* (what was revoked while it was not listening); each revocation
 *     -revoked-> [S], which denies the jti and closes the user's connections holding it.
 *     A lost connection: reconnect after a second, subscribe and scan again.
 *   [S]: http.c and ws.c refuse a token whose jti is in `denied` — a lookup in memory,
 *     no Redis on [S]. The sweep forgets entries past their exp (the token is dead).
 *
 * The fact lives in Redis (jwt_deny:{jti}, expiring with the token); `denied` is each
 * gateway's copy of it. Between a logout on one gateway and the PUBLISH reaching another,
 * that other one may still take the token: the time of one Redis round trip. */
#include "gateway.h"
#include "im/clock.h"
#include "im/log.h"
#include "im/names.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    im_queue_node_t node;
    uint64_t jti, user_id;
    int64_t exp;
} gw_revoked_t;

#define SWEEP_EVERY_S 60

/* "{jti hex} {exp} {uid}" (the channel) or, with jti given, "{exp} {uid}" (the key). */
static int parse(const char *s, int with_jti, gw_revoked_t *r)
{
    unsigned long long jti = r->jti, uid;
    long long exp;
    int n = with_jti ? sscanf(s, "%16llx %lld %llu", &jti, &exp, &uid) : sscanf(s, "%lld %llu", &exp, &uid);
    if (n != (with_jti ? 3 : 2) || jti == 0 || jti == UINT64_MAX) return IM_EINVAL;
    r->jti = jti;
    r->exp = exp;
    r->user_id = uid;
    return IM_OK;
}

static void hand_over(gw_t *g, const gw_revoked_t *r)
{
    gw_revoked_t *n = im_calloc(1, sizeof *n);
    *n = *r;
    if (im_queue_push(&g->revoked, &n->node) != IM_OK) im_free(n);   /* stopping */
}

/* Every jwt_deny:* key, to fn. IM_OK if the scan completed. */
static int scan(gw_t *g, void (*fn)(gw_t *, const gw_revoked_t *))
{
    redisContext *c = im_redis_acquire(g->redis);
    if (c == NULL) return IM_EUNAVAIL;
    char cursor[32] = "0";
    int rc = IM_OK;
    size_t found = 0;
    do {
        redisReply *r = redisCommand(c, "SCAN %s MATCH " IM_KEY_JWT_DENY_MATCH " COUNT 1000", cursor);
        if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            rc = r ? IM_EIO : IM_EUNAVAIL;
            if (r) freeReplyObject(r);
            break;
        }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str ? r->element[0]->str : "0");
        for (size_t i = 0; i < r->element[1]->elements; i++) {
            const char *key = r->element[1]->element[i]->str;
            gw_revoked_t d = {0};
            if (key == NULL || sscanf(key, "jwt_deny:%16" SCNx64, &d.jti) != 1) continue;
            redisReply *v = redisCommand(c, "GET %s", key);
            if (v && v->type == REDIS_REPLY_STRING && parse(v->str, 0, &d) == IM_OK) {
                fn(g, &d);
                found++;
            }
            if (v == NULL) rc = IM_EUNAVAIL;
            else freeReplyObject(v);
        }
        freeReplyObject(r);
    } while (rc == IM_OK && strcmp(cursor, "0") != 0);
    im_redis_release(g->redis, c, rc != IM_OK);
    im_info("revoke.scanned", "tokens=%zu complete=%s", found, rc == IM_OK ? "yes" : "no");
    return rc;
}

/* One subscription, until the connection fails or stop shuts it down. */
static void listen_once(gw_t *g)
{
    redisContext *c = redisConnectWithTimeout(g->cfg.redis_host, g->cfg.redis_port, (struct timeval){2, 0});
    if (c == NULL || c->err) {
        if (c) redisFree(c);
        return;
    }
    redisSetTimeout(c, (struct timeval){0, 0});   /* block: stop shuts the socket down */
    pthread_mutex_lock(&g->revoke_lock);
    int stop = g->revoke_stop;
    if (!stop) g->revoke_sub = c;
    pthread_mutex_unlock(&g->revoke_lock);
    redisReply *r = stop ? NULL : redisCommand(c, "SUBSCRIBE " IM_CHANNEL_JWT_REVOKED);
    int ok = r && r->type == REDIS_REPLY_ARRAY;
    if (r) freeReplyObject(r);
    if (ok) {
        im_info("revoke.listening", "channel=%s", IM_CHANNEL_JWT_REVOKED);
        scan(g, hand_over);   /* after subscribing: nothing falls between the two */
    }
    while (ok && redisGetReply(c, (void **)&r) == REDIS_OK) {
        gw_revoked_t d = {0};
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 && r->element[0]->str &&
            strcmp(r->element[0]->str, "message") == 0 && r->element[2]->str) {
            if (parse(r->element[2]->str, 1, &d) == IM_OK) hand_over(g, &d);
            else im_warn("revoke.bad_message", "len=%zu", r->element[2]->len);
        }
        freeReplyObject(r);
    }
    pthread_mutex_lock(&g->revoke_lock);
    g->revoke_sub = NULL;
    pthread_mutex_unlock(&g->revoke_lock);
    redisFree(c);
}

static void *revoke_main(void *arg)
{
    gw_t *g = arg;
    im_log_set_thread("revoke");
    while (!g->revoke_stop) {
        listen_once(g);
        for (int i = 0; i < 10 && !g->revoke_stop; i++) usleep(100 * 1000);   /* reconnect in 1 s */
    }
    return NULL;
}

/* Main thread, before [S] runs: straight into `denied`. */
static void deny_now(gw_t *g, const gw_revoked_t *r)
{
    im_u64map_put(&g->denied, r->jti, (void *)(intptr_t)r->exp);
}

int gw_revoke_start(gw_t *g)
{
    im_u64map_init(&g->denied);
    g->denied_swept_s = time(NULL);
    im_queue_init(&g->revoked, gw_server_wake, g);
    pthread_mutex_init(&g->revoke_lock, NULL);
    scan(g, deny_now);   /* Redis down: [V] scans again once it is back */
    pthread_create(&g->revoke_thread, NULL, revoke_main, g);
    g->revoke_started = 1;
    return IM_OK;
}

void gw_revoke_stop(gw_t *g)
{
    if (!g->revoke_started) return;   /* the start failed before */
    pthread_mutex_lock(&g->revoke_lock);
    g->revoke_stop = 1;
    if (g->revoke_sub) shutdown(g->revoke_sub->fd, SHUT_RDWR);   /* wakes redisGetReply */
    pthread_mutex_unlock(&g->revoke_lock);
    pthread_join(g->revoke_thread, NULL);
    im_queue_close(&g->revoked);   /* no more wake-ups of lws */
}

void gw_revoke_free(gw_t *g)
{
    if (!g->revoke_started) return;
    g->revoke_started = 0;
    for (im_queue_node_t *n = im_queue_take_all(&g->revoked), *next; n; n = next) {
        next = n->next;
        im_free(IM_QUEUE_ENTRY(n, gw_revoked_t, node));
    }
    im_queue_fini(&g->revoked);
    pthread_mutex_destroy(&g->revoke_lock);
    im_u64map_fini(&g->denied);
}

int gw_token_check(gw_t *g, const char *token, im_jwt_claims_t *cl)
{
    if (im_jwt_verify(g->cfg.jwt_secret, token, cl) != IM_OK) return IM_EUNAUTH;
    return im_u64map_get(&g->denied, cl->jti) ? IM_EUNAUTH : IM_OK;
}

void gw_revoke_apply(gw_t *g, uint64_t jti, uint64_t user_id, int64_t exp)
{
    if (im_u64map_get(&g->denied, jti)) return;   /* known: its connections are gone */
    im_u64map_put(&g->denied, jti, (void *)(intptr_t)exp);
    gw_user_t *u = im_u64map_get(&g->users, user_id);
    int closed = 0;
    for (gw_conn_t *c = u ? u->conns : NULL; c; c = c->next_of_user) {
        if (c->jti != jti || c->closing) continue;
        c->closing = 1;
        lws_close_reason(c->wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, (unsigned char *)"logged out", 10);
        lws_callback_on_writable(c->wsi);
        closed++;
    }
    im_info("revoke.applied", "user=%llu jti=%016llx closed=%d", (unsigned long long)user_id,
            (unsigned long long)jti, closed);
}

void gw_revoke_drain(gw_t *g)
{
    for (im_queue_node_t *n = im_queue_take_all(&g->revoked), *next; n; n = next) {
        next = n->next;
        gw_revoked_t *r = IM_QUEUE_ENTRY(n, gw_revoked_t, node);
        gw_revoke_apply(g, r->jti, r->user_id, r->exp);
        im_free(r);
    }
}

void gw_revoke_sweep(gw_t *g)
{
    int64_t now = time(NULL);
    if (now - g->denied_swept_s < SWEEP_EVERY_S) return;
    g->denied_swept_s = now;
    for (size_t i = 0; i < g->denied.cap; i++)
        if (IM_U64MAP_LIVE(&g->denied, i) && (int64_t)(intptr_t)g->denied.vals[i] < now)
            im_u64map_del(&g->denied, g->denied.keys[i]);
}
