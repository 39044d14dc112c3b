/* out.c — a batch's downstream output: one Downstream record per gateway.
 *
 * The pipeline adds deliveries (a frame for a user, or one connection, on a gateway) as it
 * answers each item; flush produces one record per gateway holding all of its deliveries
 * in order, so a batch costs one Kafka record per gateway instead of one per frame.
 * Adding the frame that gateway's last delivery already carries appends a Target to it
 * instead (up to LOGIC_OUT_TARGETS_MAX): a group message to 500 members is one Delivery
 * per gateway, its frame carried once. Only the last delivery is merged into, so the
 * frames a connection gets keep the order they were added in. A gateway's deliveries that
 * would make a record past LOGIC_OUT_RECORD_MAX (long messages in a full batch) go in
 * several records, in order: Kafka refuses a record past its message.max.bytes (1 MB). */
#include "im/clock.h"
#include "im/log.h"
#include "im/names.h"
#include "logic.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    Im__Mq__V1__Delivery d;         /* d.targets is set by pack, from ts */
    Im__Mq__V1__Target *ts;
    size_t nts, capts;
} out_delivery_t;

struct logic_out_gw_s {
    char id[96];
    out_delivery_t **deliveries;
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

/* The delivery of frame on g to add a target to: the last one if it carries frame and has
 * room, else a new one. */
static out_delivery_t *delivery_for(logic_out_gw_t *g, const char *frame, const char *tp, int64_t received_us)
{
    if (g->n > 0) {
        out_delivery_t *last = g->deliveries[g->n - 1];
        if (last->d.frame.data == (const uint8_t *)frame && last->nts < LOGIC_OUT_TARGETS_MAX) return last;
    }
    if (g->n == g->cap) {
        g->cap = g->cap ? 2 * g->cap : 8;
        g->deliveries = im_realloc(g->deliveries, g->cap * sizeof *g->deliveries);
    }
    out_delivery_t *x = im_calloc(1, sizeof *x);
    im__mq__v1__delivery__init(&x->d);
    x->d.frame.data = (uint8_t *)frame;
    x->d.frame.len = strlen(frame);
    x->d.traceparent = (char *)(tp ? tp : "");
    x->d.received_us = received_us;
    g->deliveries[g->n++] = x;
    return x;
}

static out_delivery_t *add(logic_out_t *o, const char *gateway_id, uint64_t user_id, uint64_t conn_id,
                           uint64_t except_conn, const char *frame, const char *tp, int64_t received_us)
{
    out_delivery_t *x = delivery_for(gateway(o, gateway_id), frame, tp, received_us);
    if (x->nts == x->capts) {
        x->capts = x->capts ? 2 * x->capts : 1;
        x->ts = im_realloc(x->ts, x->capts * sizeof *x->ts);
    }
    Im__Mq__V1__Target *t = &x->ts[x->nts++];
    im__mq__v1__target__init(t);
    t->user_id = user_id;
    t->conn_id = conn_id;
    t->except_conn_id = except_conn;
    return x;
}

void logic_out_add(logic_out_t *o, const char *gateway_id, uint64_t user_id, uint64_t conn_id,
                   uint64_t except_conn, const char *frame, const char *tp, int64_t received_us)
{
    add(o, gateway_id, user_id, conn_id, except_conn, frame, tp, received_us);
}

void logic_out_add_notify(logic_out_t *o, const char *gateway_id, uint64_t user_id, const char *frame,
                          const char *cid, uint64_t seq)
{
    out_delivery_t *x = add(o, gateway_id, user_id, 0, 0, frame, "", 0);
    x->d.notify_cid = (char *)cid;   /* borrowed, like frame: lives until the flush */
    x->d.notify_seq = seq;
}

/* Bytes delivery x adds to a record, near enough: its frame, its targets, the rest. */
static size_t weight(const out_delivery_t *x)
{
    return x->d.frame.len + 32 * x->nts + strlen(x->d.traceparent) + 64;
}

uint8_t *logic_out_pack(logic_out_t *o, size_t i, size_t *next, int64_t now, const char **gateway_id, size_t *len)
{
    logic_out_gw_t *g = &o->gws[i];
    size_t from = *next, to = from, bytes = 0, ntargets = 0;
    while (to < g->n && (to == from || bytes + weight(g->deliveries[to]) <= LOGIC_OUT_RECORD_MAX)) {
        bytes += weight(g->deliveries[to]);
        ntargets += g->deliveries[to++]->nts;
    }
    *next = to;
    Im__Mq__V1__Delivery **ds = im_calloc(to > from ? to - from : 1, sizeof *ds);
    Im__Mq__V1__Target **tps = im_calloc(ntargets ? ntargets : 1, sizeof *tps), **tp = tps;
    for (size_t k = from; k < to; k++) {
        out_delivery_t *x = g->deliveries[k];
        for (size_t j = 0; j < x->nts; j++) tp[j] = &x->ts[j];
        x->d.targets = tp;
        x->d.n_targets = x->nts;
        x->d.produced_us = now;
        tp += x->nts;
        ds[k - from] = &x->d;
    }
    Im__Mq__V1__Downstream rec = IM__MQ__V1__DOWNSTREAM__INIT;
    rec.n_deliveries = to - from;
    rec.deliveries = ds;
    *len = im__mq__v1__downstream__get_packed_size(&rec);
    uint8_t *buf = im_malloc(*len ? *len : 1);
    im__mq__v1__downstream__pack(&rec, buf);
    for (size_t k = from; k < to; k++) g->deliveries[k]->d.targets = NULL;   /* tps is freed here */
    im_free(tps);
    im_free(ds);
    *gateway_id = g->id;
    return buf;
}

void logic_out_flush(logic_t *l, logic_out_t *o)
{
    int64_t now = im_clock_wall_us();
    for (size_t i = 0; i < o->ngws; i++) {
        logic_out_gw_t *g = &o->gws[i];
        for (size_t next = 0; next < g->n;) {
            const char *id;
            size_t len;
            char topic[160], tp[56];
            snprintf(tp, sizeof tp, "%s", g->deliveries[next]->d.traceparent);
            uint8_t *buf = logic_out_pack(o, i, &next, now, &id, &len);
            snprintf(topic, sizeof topic, IM_TOPIC_DOWNSTREAM_FMT, id);
            if (im_kafka_producer_send(l->producer, topic, id, strlen(id), buf, len, tp, NULL) == IM_OK)
                im_metric_add(l->m_pushed, 1);
            im_free(buf);
        }
    }
    logic_out_discard(o);
}

void logic_out_discard(logic_out_t *o)
{
    for (size_t i = 0; i < o->ngws; i++) {
        logic_out_gw_t *g = &o->gws[i];
        for (size_t k = 0; k < g->n; k++) {
            im_free(g->deliveries[k]->ts);
            im_free(g->deliveries[k]);
        }
        im_free(g->deliveries);
    }
    for (size_t i = 0; i < o->nframes; i++) im_free(o->frames[i]);
    im_free(o->frames);
    im_free(o->gws);
    logic_out_init(o);
}
