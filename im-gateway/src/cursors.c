/* cursors.c — acks and reads, coalesced ([S] only).
 *
 * A client acks every message it receives; one upstream record per ack would cost a
 * Kafka record, a logic round and a MySQL write each. Positions only move forward, so
 * [S] keeps them for cursor_flush_ms and sends one `cursors` record with the highest seq
 * per (user, conversation, ack|read). A timer is armed only while something waits. */
#include "gateway.h"
#include "im/clock.h"
#include "im/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CURSORS_MAX 4096   /* a flush happens at once past this many */

static int by_key(const void *a, const void *b)
{
    const gw_cursor_t *x = a, *y = b;
    if (x->user_id != y->user_id) return x->user_id < y->user_id ? -1 : 1;
    if (x->read != y->read) return x->read - y->read;
    int c = strcmp(x->cid, y->cid);
    if (c) return c;
    return x->seq < y->seq ? 1 : x->seq > y->seq ? -1 : 0;   /* highest seq first */
}

void gw_cursors_flush(gw_t *g)
{
    if (g->ncursors == 0) return;
    qsort(g->cursors, g->ncursors, sizeof *g->cursors, by_key);
    Im__Mq__V1__Cursor *cs = im_calloc(g->ncursors, sizeof *cs);
    Im__Mq__V1__Cursor **ptrs = im_calloc(g->ncursors, sizeof *ptrs);
    size_t n = 0;
    for (size_t i = 0; i < g->ncursors; i++) {
        const gw_cursor_t *c = &g->cursors[i];
        if (n && cs[n - 1].user_id == c->user_id && cs[n - 1].read == c->read &&
            strcmp(cs[n - 1].conversation_id, c->cid) == 0)
            continue;   /* a lower seq of the same key */
        im__mq__v1__cursor__init(&cs[n]);
        cs[n].user_id = c->user_id;
        cs[n].conversation_id = (char *)c->cid;
        cs[n].seq = c->seq;
        cs[n].read = c->read;
        ptrs[n] = &cs[n];
        n++;
    }
    Im__Mq__V1__Upstream up = IM__MQ__V1__UPSTREAM__INIT;
    up.gateway_id = (char *)g->gateway_id;
    up.op = "cursors";
    up.received_us = im_clock_wall_us();   /* logic sheds the receipts of a late record */
    up.n_cursors = n;
    up.cursors = ptrs;
    if (gw_up_send(g, &up, g->gateway_id, NULL) != IM_OK)   /* advisory: the next ack carries it again */
        IM_LOG_RATELIMITED(5, IM_LOG_WARN, "cursors.dropped", "count=%zu", n);
    im_free(cs);
    im_free(ptrs);
    g->ncursors = 0;
}

static void on_timer(lws_sorted_usec_list_t *sul)
{
    gw_t *g = lws_container_of(sul, gw_t, cursor_timer);
    g->cursor_armed = 0;
    if (!g->stopping) gw_cursors_flush(g);
}

void gw_cursor_add(gw_t *g, uint64_t user_id, const char *cid, uint64_t seq, int read)
{
    if (g->ncursors == g->capcursors) {
        g->capcursors = g->capcursors ? 2 * g->capcursors : 64;
        g->cursors = im_realloc(g->cursors, g->capcursors * sizeof *g->cursors);
    }
    gw_cursor_t *c = &g->cursors[g->ncursors++];
    c->user_id = user_id;
    c->seq = seq;
    c->read = read;
    snprintf(c->cid, sizeof c->cid, "%s", cid);
    if (g->ncursors >= CURSORS_MAX) {
        gw_cursors_flush(g);
    } else if (!g->cursor_armed) {
        g->cursor_armed = 1;
        lws_sul_schedule(g->lws, 0, &g->cursor_timer, on_timer,
                         (lws_usec_t)IM_CFG_GET(g->cfg.cursor_flush_ms) * LWS_US_PER_MS);
    }
}
