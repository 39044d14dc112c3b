/* conns.c — the connection registry, outboxes and the heartbeat sweep ([S] only).
 *
 * users: user id -> gw_user_t (their connections here, their typing and cursor buckets);
 * conns: conn id -> gw_conn_t. A frame pushed to many connections is one gw_frame_t
 * with a reference per outbox entry. A connection whose outbox passes max_outbox does
 * not read its socket: it is closed rather than let to eat the gateway's memory. */
#include "gateway.h"
#include "im/clock.h"
#include "im/log.h"
#include "im/trace.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void gw_conns_init(gw_t *g)
{
    im_u64map_init(&g->users);
    im_u64map_init(&g->conns);
    g->next_conn = (uint64_t)randombytes_uniform(1u << 20) << 40;   /* ids differ across restarts */
}

gw_conn_t *gw_conn_open(gw_t *g, struct lws *wsi, uint64_t user_id)
{
    gw_user_t *u = im_u64map_get(&g->users, user_id);
    if (u == NULL) {
        u = im_calloc(1, sizeof *u);
        u->id = user_id;
        im_u64map_put(&g->users, user_id, u);
    }
    gw_conn_t *c = im_calloc(1, sizeof *c);
    c->wsi = wsi;
    c->id = ++g->next_conn;
    c->user = u;
    c->held_tail = &c->held;
    c->next_of_user = u->conns;
    u->conns = c;
    c->last_seen_ms = c->asserted_ms = im_clock_mono_ms();
    im_u64map_put(&g->conns, c->id, c);
    im_metric_add(g->m_conns, 1);
    return c;
}

void gw_conn_drop_held(gw_conn_t *c)
{
    for (gw_held_t *h = c->held, *n; h; h = n) {
        n = h->next;
        im_free(h);
    }
    c->held = NULL;
    c->held_tail = &c->held;
    c->nheld = 0;
}

void gw_conn_close(gw_t *g, gw_conn_t *c)
{
    gw_user_t *u = c->user;
    for (gw_conn_t **p = &u->conns; *p; p = &(*p)->next_of_user)
        if (*p == c) {
            *p = c->next_of_user;
            break;
        }
    if (u->conns == NULL) {
        im_u64map_del(&g->users, u->id);
        im_free(u);
    }
    im_u64map_del(&g->conns, c->id);
    im_metric_add(g->m_outbox, -c->out_len);
    for (gw_out_t *o = c->out_head, *n; o; o = n) {
        n = o->next;
        gw_frame_unref(o->frame);
        im_free(o);
    }
    gw_conn_drop_held(c);   /* never admitted: dropped */
    gw_notify_free(c);
    im_free(c->rx);
    im_free(c);
    im_metric_add(g->m_conns, -1);
}

/* A frame a client can live without: its op (every frame's first member, im/wire.h) is
 * typing, presence or receipt. */
static int is_hint(const char *text, size_t len)
{
    static const char *const hints[] = {"{\"op\":\"typing\"", "{\"op\":\"presence\"", "{\"op\":\"receipt\""};
    for (size_t i = 0; i < sizeof hints / sizeof hints[0]; i++)
        if (len >= strlen(hints[i]) && memcmp(text, hints[i], strlen(hints[i])) == 0) return 1;
    return 0;
}

gw_frame_t *gw_frame_new(const void *text, size_t len)
{
    gw_frame_t *f = im_malloc(sizeof *f + LWS_PRE + len);
    f->refs = 0;
    f->hint = is_hint(text, len);
    f->len = len;
    memcpy(f->data + LWS_PRE, text, len);
    return f;
}

void gw_frame_unref(gw_frame_t *f)
{
    if (--f->refs <= 0) im_free(f);
}

void gw_conn_send(gw_t *g, gw_conn_t *c, gw_frame_t *f)
{
    if (c->closing || c->refused) return;   /* closing, or refused: its last frame is queued */
    int shed = IM_CFG_GET(g->cfg.shed_outbox);
    if (f->hint && shed > 0 && c->out_len >= shed) {   /* a backed-up reader: hints go first */
        im_metric_add(g->m_shed, 1);
        return;
    }
    if (c->out_len >= IM_CFG_GET(g->cfg.max_outbox)) {
        im_metric_add(g->m_dropped, 1);
        IM_LOG_RATELIMITED(5, IM_LOG_WARN, "ws.outbox_full", "user=%llu conn=%llx",
                           (unsigned long long)c->user->id, (unsigned long long)c->id);
        c->closing = 1;
        lws_close_reason(c->wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, (unsigned char *)"too slow", 8);
        lws_callback_on_writable(c->wsi);
        return;
    }
    gw_out_t *o = im_malloc(sizeof *o);
    o->next = NULL;
    o->frame = f;
    f->refs++;
    if (c->out_tail) c->out_tail->next = o;
    else c->out_head = o;
    c->out_tail = o;
    c->out_len++;
    im_metric_add(g->m_outbox, 1);
    lws_callback_on_writable(c->wsi);
}

void gw_conn_send_text(gw_t *g, gw_conn_t *c, const char *text)
{
    gw_frame_t *f = gw_frame_new(text, strlen(text));
    f->refs++;              /* hold it across the send */
    gw_conn_send(g, c, f);
    gw_frame_unref(f);
}

int gw_conn_write(gw_t *g, gw_conn_t *c)
{
    if (c->closing) return -1;
    gw_out_t *o = c->out_head;
    if (o == NULL) return 0;   /* an unasked WRITEABLE */
    c->out_head = o->next;
    if (c->out_head == NULL) c->out_tail = NULL;
    c->out_len--;
    im_metric_add(g->m_outbox, -1);
    int w = lws_write(c->wsi, o->frame->data + LWS_PRE, o->frame->len, LWS_WRITE_TEXT);
    gw_frame_unref(o->frame);
    im_free(o);
    if (w < 0) return -1;
    im_metric_add(g->m_pushed, 1);
    if (c->out_head) lws_callback_on_writable(c->wsi);
    return 0;
}

void gw_conns_deliver(gw_t *g, gw_push_t *p)
{
    int64_t now = im_clock_wall_us();
    for (size_t k = 0; k < p->rec->n_deliveries; k++) {
        const Im__Mq__V1__Delivery *d = p->rec->deliveries[k];
        if (d->produced_us) im_metric_observe_us(g->m_hop_down, now - d->produced_us);
        if (d->received_us) im_metric_observe_us(g->m_hop_total, now - d->received_us);
        gw_frame_t *f = gw_frame_new(d->frame.data, d->frame.len);
        f->refs++;
        size_t delivered = 0;
        for (size_t i = 0; i < d->n_targets; i++) {
            const Im__Mq__V1__Target *t = d->targets[i];
            gw_user_t *u = im_u64map_get(&g->users, t->user_id);
            if (u == NULL) continue;   /* gone since logic looked: sync covers it */
            for (gw_conn_t *c = u->conns; c; c = c->next_of_user) {
                if ((t->conn_id && c->id != t->conn_id) || (t->except_conn_id && c->id == t->except_conn_id)) continue;
                if (d->notify_cid && *d->notify_cid) gw_notify_offer(g, c, d->notify_cid, d->notify_seq, f);
                else gw_conn_send(g, c, f);
                delivered++;
            }
        }
        gw_frame_unref(f);
        im_span_t span;   /* from [D]'s poll to the frame in every outbox: Kafka hop 2's far end */
        im_span_from(&span, d->traceparent, "gateway push", IM_SPAN_CONSUMER);
        span.start_us = p->consumed_us;
        im_span_tag(&span, "targets", "%zu", d->n_targets);
        im_span_tag(&span, "connections", "%zu", delivered);
        im_span_end(&span);
        im_trace_set(span.trace);
        im_debug("push.delivered", "targets=%zu conns=%zu", d->n_targets, delivered);
    }
    im_trace_set("");
}

/* One coarse timer for all connections: closes those silent for 2.5 x heartbeat_s, and
 * re-asserts the sessions that are due (session.c). */
static void sweep(lws_sorted_usec_list_t *sul)
{
    gw_t *g = lws_container_of(sul, gw_t, sweep_timer);
    if (g->stopping) return;   /* lws may run a ripe timer while it is being destroyed */
    int64_t heartbeat_ms = (int64_t)IM_CFG_GET(g->cfg.heartbeat_s) * 1000;
    int64_t now = im_clock_mono_ms(), limit = now - heartbeat_ms * 5 / 2;
    int all = gw_session_lost(g);
    gw_revoke_sweep(g);
    for (size_t i = 0; i < g->conns.cap; i++) {
        if (!IM_U64MAP_LIVE(&g->conns, i)) continue;
        gw_conn_t *c = g->conns.vals[i];
        if (c->closing) continue;
        if (c->last_seen_ms < limit) {
            im_info("ws.heartbeat_timeout", "user=%llu conn=%llx", (unsigned long long)c->user->id,
                    (unsigned long long)c->id);
            c->closing = 1;
            lws_close_reason(c->wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, (unsigned char *)"heartbeat timeout", 17);
            lws_callback_on_writable(c->wsi);
        } else if (all || now - c->asserted_ms >= heartbeat_ms) {   /* session.c: re-assert */
            c->asserted_ms = now;
            gw_session_post(g, GW_SESS_ASSERT, c->user->id, c->id);
        }
    }
    lws_sul_schedule(g->lws, 0, &g->sweep_timer, sweep, LWS_US_PER_SEC);
}

void gw_conns_sweep_start(gw_t *g)
{
    lws_sul_schedule(g->lws, 0, &g->sweep_timer, sweep, LWS_US_PER_SEC);
}
