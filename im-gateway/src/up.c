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
 * closed, [P] produces what is left and exits, then the producer flushes. */
#include "gateway.h"
#include "im/clock.h"
#include "im/log.h"
#include "im/names.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    im_queue_node_t node;
    uint64_t conn_id;         /* a `send`: the connection to answer if Kafka refuses it; else 0 */
    char cmid[72];
    char key[80];
    char tp[56];              /* traceparent */
    size_t len;
    uint8_t payload[];
} gw_upmsg_t;

/* [P]: a refused send's `error`, to [S] as a WebSocket reply. */
static void refuse(gw_t *g, const gw_upmsg_t *m)
{
    gw_job_t *job = gw_job_new();
    job->conn_id = m->conn_id;
    job->resp = gw_error_frame("unavailable", GW_UP_REFUSED, m->cmid);
    if (im_queue_push(&g->done, &job->node) != IM_OK) gw_job_free(job);   /* [S] is gone */
}

static void *up_main(void *arg)
{
    gw_t *g = arg;
    im_log_set_thread("up");
    im_queue_node_t *n;
    while ((n = im_queue_pop_wait(&g->upq)) != NULL) {
        gw_upmsg_t *m = IM_QUEUE_ENTRY(n, gw_upmsg_t, node);
        int rc = im_kafka_producer_try_send(g->up, IM_TOPIC_UPSTREAM, m->key, strlen(m->key), m->payload, m->len,
                                            m->tp, NULL);
        if (rc != IM_OK && m->conn_id) refuse(g, m);
        im_free(m);
    }
    return NULL;
}

int gw_up_start(gw_t *g)
{
    im_kafka_producer_opts_t opts = {.queue_max = g->cfg.up_queue_max};
    g->up = im_kafka_producer_new(g->cfg.kafka_brokers, g->gateway_id, NULL, &opts);
    if (g->up == NULL) return IM_EUNAVAIL;
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

int gw_up_send(gw_t *g, const Im__Mq__V1__Upstream *u, const char *key, const char *trace)
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
    snprintf(m->cmid, sizeof m->cmid, "%s", send && u->cmid ? u->cmid : "");
    snprintf(m->key, sizeof m->key, "%s", key);
    im_traceparent_format(m->tp, trace);
    if (im_queue_push(&g->upq, &m->node) != IM_OK) {   /* stopping */
        im_free(m);
        return IM_EUNAVAIL;
    }
    return IM_OK;
}
