/* up.c — producing client ops to im-upstream-topic, keyed by conversation id so one
 * conversation stays in one partition (processed in order by one logic consumer).
 *
 * [S] never calls librdkafka: gw_up_send packs the record onto `upq` and returns; the
 * [P] `up` thread produces it. A stalled producer (a hung broker can hold librdkafka's
 * locks for seconds) therefore stalls only [P]: once up_queue_max records wait in `upq`,
 * gw_up_send answers IM_EUNAVAIL at once and the client gets `unavailable`. A send that
 * [P] cannot hand to librdkafka (its own queue, also up_queue_max, full) is answered
 * `unavailable` later, through `done` like a WebSocket job's reply. Either way the client
 * resends with the same cmid. Stop: after [S] (and the last cursor flush), `upq` is
 * closed, [P] produces what is left and exits, then the producer flushes.
 *
 * Sends per user are limited here, across every gateway: [P] takes what waits in `upq`
 * (up to UP_BATCH records) and the rl:send:{uid} tokens of all its sends in one Redis
 * round trip (limits.c, on [P]'s own connection). A send without a token is answered
 * `error rate_limited` with retry_after_ms, like a refusal by Kafka, and not produced;
 * the others go out in their order. Redis down: the local stand-in of im/ratelimit.h. */
#include "gateway.h"
#include "im/clock.h"
#include "im/log.h"
#include "im/names.h"

#include <stdio.h>
#include <string.h>

#define UP_BATCH 256          /* records per Redis round trip for their send limits */
#define UP_REDIS_TIMEOUT_MS 500   /* then the local stand-in decides, */
#define UP_REDIS_PAUSE_MS 1000    /* and goes on deciding this long before Redis is tried again */

/* [P]: a refused send's `error` (takes frame), to [S] as a WebSocket reply. */
static void refuse(gw_t *g, const gw_upmsg_t *m, char *frame)
{
    gw_job_t *job = gw_job_new();
    job->conn_id = m->conn_id;
    job->resp = frame;
    if (im_queue_push(&g->done, &job->node) != IM_OK) gw_job_free(job);   /* [S] is gone */
}

/* [P]: retry[i] for the i-th send of the n records from first on: 0 if it got its token. */
static void take_tokens(gw_t *g, im_queue_node_t *first, size_t n, size_t nsends, int64_t *retry)
{
    char keys[UP_BATCH][GW_LIMIT_KEY_MAX], uid[24];
    const char *kp[UP_BATCH];
    size_t k = 0;
    for (im_queue_node_t *p = first; n > 0; p = p->next, n--) {
        gw_upmsg_t *m = IM_QUEUE_ENTRY(p, gw_upmsg_t, node);
        if (!m->conn_id) continue;
        snprintf(uid, sizeof uid, "%llu", (unsigned long long)m->user_id);
        kp[k] = gw_limit_key(keys[k], "send", uid);
        k++;
    }
    int64_t now = im_clock_mono_ms();
    im_redis_pool_t *redis = now < g->up_redis_pause_ms ? NULL : g->up_redis;   /* NULL: local buckets */
    if (im_rlimit_take_many(redis, kp, nsends, IM_CFG_GET(g->cfg.send_rate), IM_CFG_GET(g->cfg.send_burst),
                            im_clock_wall_ms(), retry) != IM_OK &&
        redis)
        g->up_redis_pause_ms = now + UP_REDIS_PAUSE_MS;   /* a hung Redis costs one timeout a second */
    size_t refused = 0;
    for (k = 0; k < nsends; k++) refused += retry[k] != 0;
    if (refused) {
        gw_limit_refused("send", (int64_t)refused);
        IM_LOG_RATELIMITED(2, IM_LOG_INFO, "rate_limited", "kind=send refused=%zu of=%zu", refused, nsends);
    }
}

/* [P]: up to UP_BATCH records of list, limited and produced in order; returns the rest. */
static im_queue_node_t *produce_batch(gw_t *g, im_queue_node_t *list)
{
    size_t n = 0, nsends = 0;
    im_queue_node_t *rest = list;
    for (; rest && n < UP_BATCH; rest = rest->next, n++) nsends += IM_QUEUE_ENTRY(rest, gw_upmsg_t, node)->conn_id != 0;
    int64_t retry[UP_BATCH];
    if (nsends) take_tokens(g, list, n, nsends, retry);
    size_t k = 0;
    for (im_queue_node_t *p = list, *next; p != rest; p = next) {
        next = p->next;
        gw_upmsg_t *m = IM_QUEUE_ENTRY(p, gw_upmsg_t, node);
        int send = m->conn_id != 0;
        if (send && retry[k++] != 0) {
            refuse(g, m, gw_error_frame_retry("rate_limited", "too many messages, slow down", m->cmid, retry[k - 1]));
        } else if (im_kafka_producer_try_send(g->up, IM_TOPIC_UPSTREAM, m->key, strlen(m->key), m->payload, m->len,
                                              m->tp, NULL) != IM_OK) {
            if (send) refuse(g, m, gw_error_frame("unavailable", GW_UP_REFUSED, m->cmid));
        } else if (send) {
            im_metric_add(g->m_sends, 1);
        }
        im_free(m);
    }
    return rest;
}

static void *up_main(void *arg)
{
    gw_t *g = arg;
    im_log_set_thread("up");
    for (;;) {
        im_queue_node_t *list = im_queue_take_all_wait(&g->upq, 1000);
        if (list == NULL && im_queue_closed(&g->upq)) break;
        while (list) list = produce_batch(g, list);
    }
    return NULL;
}

int gw_up_start(gw_t *g)
{
    im_kafka_producer_opts_t opts = {.queue_max = g->cfg.up_queue_max};
    g->up = im_kafka_producer_new(g->cfg.kafka_brokers, g->gateway_id, NULL, &opts);
    if (g->up == NULL) return IM_EUNAVAIL;
    g->up_redis = im_redis_pool_new(g->cfg.redis_host, g->cfg.redis_port, 1, UP_REDIS_TIMEOUT_MS);
    im_queue_init(&g->upq, NULL, NULL);
    pthread_create(&g->up_thread, NULL, up_main, g);
    g->up_started = 1;
    return IM_OK;
}

void gw_up_stop(gw_t *g)
{
    if (g->up_started) {
        im_queue_close(&g->upq);          /* [P] produces what is queued, then exits */
        pthread_join(g->up_thread, NULL);
        im_queue_fini(&g->upq);
        g->up_started = 0;
    }
    im_kafka_producer_free(g->up);   /* flushes what clients already sent */
    g->up = NULL;
    im_redis_pool_free(g->up_redis);
    g->up_redis = NULL;
}

void gw_up_init(gw_t *g, gw_conn_t *c, const char *op, Im__Mq__V1__Upstream *up)
{
    im__mq__v1__upstream__init(up);
    up->gateway_id = (char *)g->gateway_id;
    up->conn_id = c->id;
    up->user_id = c->user->id;
    up->op = (char *)op;
    up->received_us = im_clock_wall_us();
}

int gw_up_send(gw_t *g, const Im__Mq__V1__Upstream *u, const char *key, const char *tp)
{
    if (!g->up_started || im_queue_len(&g->upq) >= (size_t)g->cfg.up_queue_max) {
        IM_LOG_RATELIMITED(2, IM_LOG_WARN, "up.queue_full", "waiting=%d", g->cfg.up_queue_max);
        return IM_EUNAVAIL;
    }
    size_t len = im__mq__v1__upstream__get_packed_size(u);
    gw_upmsg_t *m = im_malloc(sizeof *m + len);
    im__mq__v1__upstream__pack(u, m->payload);
    m->len = len;
    int send = strcmp(u->op, "send") == 0;
    m->conn_id = send ? u->conn_id : 0;
    m->user_id = send ? u->user_id : 0;
    snprintf(m->cmid, sizeof m->cmid, "%s", send && u->cmid ? u->cmid : "");
    snprintf(m->key, sizeof m->key, "%s", key);
    if (tp && *tp) {
        snprintf(m->tp, sizeof m->tp, "%s", tp);
    } else {   /* a hint's own trace id, for the log lines it causes; never sampled */
        char trace[33];
        im_trace_new(trace);
        im_traceparent_format(m->tp, trace);
    }
    if (im_queue_push(&g->upq, &m->node) != IM_OK) {   /* stopping */
        im_free(m);
        return IM_EUNAVAIL;
    }
    return IM_OK;
}
