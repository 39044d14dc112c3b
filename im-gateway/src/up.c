/* up.c — producing client ops to im-upstream-topic, keyed by conversation id so one
 * conversation stays in one partition (processed in order by one logic consumer). */
#include "gateway.h"
#include "im/clock.h"
#include "im/log.h"
#include "im/names.h"

#include <stdio.h>
#include <string.h>

int gw_up_start(gw_t *g)
{
    im_kafka_producer_opts_t opts = {.queue_max = g->cfg.up_queue_max};
    g->up = im_kafka_producer_new(g->cfg.kafka_brokers, g->gateway_id, NULL, &opts);
    return g->up ? IM_OK : IM_EUNAVAIL;
}

void gw_up_stop(gw_t *g)
{
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
    size_t len = im__mq__v1__upstream__get_packed_size(u);
    uint8_t stackbuf[2048], *buf = len <= sizeof stackbuf ? stackbuf : im_malloc(len);
    im__mq__v1__upstream__pack(u, buf);
    char tp[56];
    im_traceparent_format(tp, trace);
    int rc = im_kafka_producer_try_send(g->up, IM_TOPIC_UPSTREAM, key, strlen(key), buf, len, tp, NULL);
    if (buf != stackbuf) im_free(buf);
    return rc;
}
