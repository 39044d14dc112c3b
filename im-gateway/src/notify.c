/* notify.c — [S]: `notify {conversation_id, max_seq}` frames of large groups, at most one
 * per conversation per connection per notify_interval_ms.
 *
 * Logic merges a group's notifies per batch; this is the hard bound a client can count on,
 * whatever the batches. Per connection, a note per conversation remembers when its last
 * notify went out and holds the newest one that arrived since (the highest seq: it says
 * all that the others said). One gateway timer sends the held frames that are due. The
 * connections with held frames are kept by id, so a connection that closes meanwhile is
 * simply not found. */
#include "gateway.h"
#include "im/clock.h"

#include <string.h>

#define NOTES_MAX 16     /* conversations remembered per connection; the oldest makes room */

struct gw_note_s {
    char cid[64];
    int64_t sent_ms;     /* last notify written */
    uint64_t held_seq;   /* 0: nothing held */
    gw_frame_t *held;
};

static gw_note_t *note_of(gw_t *g, gw_conn_t *c, const char *cid, int64_t now)
{
    gw_note_t *oldest = NULL;
    for (int i = 0; i < c->nnotes; i++) {
        if (strcmp(c->notes[i].cid, cid) == 0) return &c->notes[i];
        if (c->notes[i].held == NULL && (oldest == NULL || c->notes[i].sent_ms < oldest->sent_ms))
            oldest = &c->notes[i];
    }
    if (c->nnotes < NOTES_MAX) {
        if (c->notes == NULL) c->notes = im_calloc(NOTES_MAX, sizeof *c->notes);
        oldest = &c->notes[c->nnotes++];
    } else if (oldest == NULL || now - oldest->sent_ms < IM_CFG_GET(g->cfg.notify_interval_ms)) {
        return NULL;     /* every note busy: send at once rather than lose the notify */
    }
    memset(oldest, 0, sizeof *oldest);
    snprintf(oldest->cid, sizeof oldest->cid, "%s", cid);
    oldest->sent_ms = INT64_MIN / 2;
    return oldest;
}

static void arm(gw_t *g)
{
    if (g->notify_armed) return;
    g->notify_armed = 1;
    lws_sul_schedule(g->lws, 0, &g->notify_timer, gw_notify_due,
                     (lws_usec_t)IM_CFG_GET(g->cfg.notify_interval_ms) * LWS_US_PER_MS / 2 + LWS_US_PER_MS);
}

void gw_notify_offer(gw_t *g, gw_conn_t *c, const char *cid, uint64_t seq, gw_frame_t *f)
{
    int64_t now = im_clock_mono_ms();
    gw_note_t *n = note_of(g, c, cid, now);
    if (n == NULL || (n->held == NULL && now - n->sent_ms >= IM_CFG_GET(g->cfg.notify_interval_ms))) {
        if (n) n->sent_ms = now;
        gw_conn_send(g, c, f);
        return;
    }
    if (seq <= n->held_seq) return;   /* a newer one is already held */
    if (n->held == NULL && c->notify_held++ == 0) {
        if (g->nheld == g->capheld) {
            g->capheld = g->capheld ? 2 * g->capheld : 64;
            g->held = im_realloc(g->held, g->capheld * sizeof *g->held);
        }
        g->held[g->nheld++] = c->id;
    }
    if (n->held) gw_frame_unref(n->held);
    f->refs++;
    n->held = f;
    n->held_seq = seq;
    arm(g);
}

/* Sends c's held frames that are due; the number still held. */
static int flush_conn(gw_t *g, gw_conn_t *c, int64_t now)
{
    for (int i = 0; i < c->nnotes; i++) {
        gw_note_t *n = &c->notes[i];
        if (n->held == NULL || now - n->sent_ms < IM_CFG_GET(g->cfg.notify_interval_ms)) continue;
        n->sent_ms = now;
        gw_conn_send(g, c, n->held);   /* takes its own ref */
        gw_frame_unref(n->held);
        n->held = NULL;
        n->held_seq = 0;
        c->notify_held--;
    }
    return c->notify_held;
}

void gw_notify_due(lws_sorted_usec_list_t *sul)
{
    gw_t *g = lws_container_of(sul, gw_t, notify_timer);
    g->notify_armed = 0;
    if (g->stopping) return;
    int64_t now = im_clock_mono_ms();
    size_t k = 0;
    for (size_t i = 0; i < g->nheld; i++) {
        gw_conn_t *c = im_u64map_get(&g->conns, g->held[i]);
        if (c && !c->closing && flush_conn(g, c, now) > 0) g->held[k++] = g->held[i];
    }
    g->nheld = k;
    if (k) arm(g);
}

void gw_notify_free(gw_conn_t *c)
{
    for (int i = 0; i < c->nnotes; i++)
        if (c->notes[i].held) gw_frame_unref(c->notes[i].held);
    im_free(c->notes);
    c->notes = NULL;
    c->nnotes = c->notify_held = 0;
}
