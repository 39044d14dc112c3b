/* out.c — a batch's downstream output: one Downstream record per gateway.
 *
 * The pipeline adds deliveries (a frame for a user, or one connection, on a gateway) as it
 * answers each item; flush produces one record per gateway holding all of its deliveries
 * in order, so a batch costs one Kafka record per gateway instead of one per frame. */
#include "im/clock.h"
#include "im/log.h"
#include "im/names.h"
#include "logic.h"

#include <stdio.h>
#include <string.h>

struct logic_out_gw_s {
    char id[96];
    Im__Mq__V1__Delivery **deliveries;
    size_t n, cap;
};

void logic_out_init(logic_out_t *o)
{
    memset(o, 0, sizeof *o);
}

const char *logic_out_keep(logic_out_t *o, char *frame)
{
    if (o->nframes == o->capframes) {
        o->capframes = o->capframes ? 2 * o->capframes : 16;
        o->frames = im_realloc(o->frames, o->capframes * sizeof *o->frames);
    }
    o->frames[o->nframes++] = frame;
    return frame;
}

static logic_out_gw_t *gateway(logic_out_t *o, const char *id)
{
    for (size_t i = 0; i < o->ngws; i++)
        if (strcmp(o->gws[i].id, id) == 0) return &o->gws[i];
    if (o->ngws == o->capgws) {
        o->capgws = o->capgws ? 2 * o->capgws : 4;
        o->gws = im_realloc(o->gws, o->capgws * sizeof *o->gws);
    }
    logic_out_gw_t *g = &o->gws[o->ngws++];
    memset(g, 0, sizeof *g);
    snprintf(g->id, sizeof g->id, "%s", id);
    return g;
}

void logic_out_add(logic_out_t *o, const char *gateway_id, uint64_t user_id, uint64_t conn_id,
                   uint64_t except_conn, const char *frame, const char *trace, int64_t received_us)
{
    logic_out_gw_t *g = gateway(o, gateway_id);
    if (g->n == g->cap) {
        g->cap = g->cap ? 2 * g->cap : 8;
        g->deliveries = im_realloc(g->deliveries, g->cap * sizeof *g->deliveries);
    }
    /* one allocation: the delivery, its one target and the pointer array */
    struct {
        Im__Mq__V1__Delivery d;
        Im__Mq__V1__Target t;
        Im__Mq__V1__Target *tp[1];
    } *x = im_malloc(sizeof *x);
    im__mq__v1__delivery__init(&x->d);
    im__mq__v1__target__init(&x->t);
    x->t.user_id = user_id;
    x->t.conn_id = conn_id;
    x->t.except_conn_id = except_conn;
    x->tp[0] = &x->t;
    x->d.n_targets = 1;
    x->d.targets = x->tp;
    x->d.frame.data = (uint8_t *)frame;
    x->d.frame.len = strlen(frame);
    x->d.trace = (char *)(trace ? trace : "");
    x->d.received_us = received_us;
    g->deliveries[g->n++] = &x->d;
}

void logic_out_flush(logic_t *l, logic_out_t *o)
{
    int64_t now = im_clock_wall_us();
    for (size_t i = 0; i < o->ngws; i++) {
        logic_out_gw_t *g = &o->gws[i];
        for (size_t k = 0; k < g->n; k++) g->deliveries[k]->produced_us = now;
        Im__Mq__V1__Downstream rec = IM__MQ__V1__DOWNSTREAM__INIT;
        rec.n_deliveries = g->n;
        rec.deliveries = g->deliveries;
        size_t len = im__mq__v1__downstream__get_packed_size(&rec);
        uint8_t *buf = im_malloc(len);
        im__mq__v1__downstream__pack(&rec, buf);
        char topic[160], tp[56];
        snprintf(topic, sizeof topic, IM_TOPIC_DOWNSTREAM_FMT, g->id);
        im_traceparent_format(tp, g->deliveries[0]->trace);
        if (im_kafka_producer_send(l->producer, topic, g->id, strlen(g->id), buf, len, tp, NULL) == IM_OK)
            im_metric_add(l->m_pushed, 1);
        im_free(buf);
        for (size_t k = 0; k < g->n; k++) im_free(g->deliveries[k]);   /* the whole allocation */
        im_free(g->deliveries);
    }
    for (size_t i = 0; i < o->nframes; i++) im_free(o->frames[i]);
    im_free(o->frames);
    im_free(o->gws);
    logic_out_init(o);
}
