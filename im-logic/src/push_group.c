/* push_group.c — a stored group message (a send or a `system` event) to the members
 * ([consume]), from the batch's member lists (groups.c) and sessions (push.c).
 *
 *   write diffusion, members <= large_group_threshold (LIVE): one `msg` frame, to every
 *     member's connections but the sending one; out.c merges the targets of each gateway
 *     into one Delivery. Offline members get an offline_push task (sends only).
 *   read diffusion, above it: the `msg` to the sender's other connections, the mentioned
 *     members (@all: every online member), and also_to; after the batch's items, one
 *     fanout job per group (fanout.c, [fanout]): `notify {conversation_id, max_seq}` to
 *     every online member who did not get all of the group's messages of the batch in
 *     full (Delivery.notify_cid/notify_seq set: the gateway keeps at most one per
 *     conversation per connection per interval). They pull with `sync`. Offline push only
 *     for the mentioned (not for @all). The batch reads the sessions of a large group's
 *     members only where it pushes them a full `msg` (send.c).
 *   Either way also_to (the kicked, the departed: no longer members) get the `msg`. */
#include "im/log.h"
#include "im/wire.h"
#include "logic.h"

#include <stdint.h>

static void note_got(logic_group_t *g, uint64_t uid)
{
    uintptr_t c = (uintptr_t)im_u64map_get(&g->got, uid);
    im_u64map_put(&g->got, uid, (void *)(c + 1));
}

/* The full `msg` to uid (0 as except_conn: all of their connections); an offline push if
 * asked and they have none. */
static void full(logic_t *l, logic_out_t *o, const logic_sessions_t *s, logic_group_t *g, const logic_send_t *it,
                 uint64_t uid, const char *frame, int offline_push)
{
    size_t gws = logic_push_user(l, o, s, uid, 0, frame, it->tp, it->up->received_us);
    if (gws == 0 && offline_push) logic_push_offline(l, it, uid);
    note_got(g, uid);
}

int logic_mentions_all(const logic_send_t *it)
{
    return it->msg.n_mentions == 1 && it->msg.mentions[0] == IM_WIRE_MENTION_ALL;
}

void logic_push_group(logic_t *l, logic_out_t *o, const logic_sessions_t *s, logic_groups_t *gs,
                      const logic_send_t *it)
{
    logic_group_t *g = logic_groups_find(gs, it->gid);
    const char *frame = logic_out_keep(o, logic_frame_message(&it->msg));
    uint64_t sender = it->up->user_id;
    /* the sender's other connections (an event's actor: all of them) */
    logic_push_user(l, o, s, sender, it->up->conn_id, frame, it->tp, 0);
    for (size_t i = 0; i < it->up->n_also_to; i++)
        if (it->up->also_to[i] != sender) logic_push_user(l, o, s, it->up->also_to[i], 0, frame, it->tp, 0);
    if (g == NULL) return;   /* an event of a group with no members left */
    note_got(g, sender);
    int offline = !it->system;
    if (!g->large || logic_mentions_all(it)) {
        offline = offline && !g->large;   /* @all in a large group: no mass offline push */
        for (size_t i = 0; i < g->nids; i++)
            if (g->ids[i] != sender) full(l, o, s, g, it, g->ids[i], frame, offline);
    } else {
        for (size_t i = 0; i < it->msg.n_mentions; i++)
            if (it->msg.mentions[i] != sender) full(l, o, s, g, it, it->msg.mentions[i], frame, offline);
    }
    g->pushed++;
    if (it->msg.seq > g->max_seq) g->max_seq = it->msg.seq;
    im_debug("push.group", "cid=%s seq=%llu members=%u large=%d", it->cid, (unsigned long long)it->msg.seq,
             g->count, g->large);
}

void logic_push_group_notifies(logic_t *l, logic_groups_t *gs)
{
    for (size_t k = 0; k < gs->n; k++) {
        logic_group_t *g = &gs->v[k];
        if (g->pushed == 0 || !g->large) continue;
        uint64_t *ids = im_calloc(g->nids ? g->nids : 1, sizeof *ids);
        size_t n = 0;
        for (size_t i = 0; i < g->nids; i++)
            if ((uintptr_t)im_u64map_get(&g->got, g->ids[i]) < g->pushed) ids[n++] = g->ids[i];
        logic_fanout_notify(l, g->gid, g->max_seq, ids, n);
    }
}
