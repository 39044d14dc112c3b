/* cursor.c — `cursors` records (a gateway's coalesced acks and reads) and `typing`.
 *
 * All the cursors of a consume batch go to im-repo in one UpdateCursors call (positions
 * only move forward there); each read in a single chat sends a `receipt` to the other
 * participant, and in a group of at most receipts_group_limit members (LIVE) to the other
 * members (groups.c: one script per group of the batch). Positions are advisory: if the
 * call fails the next ack/read carries the position again. `typing` in a group goes to
 * the other members if the typist is one and the group has at most large_group_threshold. */
#include "im/log.h"
#include "im/wire.h"
#include "logic.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

/* `receipt` or `typing` frame for the peer of (user, cid). */
static char *peer_frame(const char *op, const char *cid, uint64_t user, uint64_t seq)
{
    json_t *o = json_pack("{s:s, s:s, s:I}", "op", op, "conversation_id", cid, "user_id", (json_int_t)user);
    if (seq) json_object_set_new(o, "seq", json_integer((json_int_t)seq));
    return im_wire_dump(o);
}

/* The group of a read that gets receipts (loaded, small enough), else NULL. */
static const logic_group_t *receipt_group(logic_t *l, const logic_groups_t *gs, const char *cid)
{
    im_conv_t c;
    if (im_conv_parse(cid, &c) != IM_OK || c.kind != IM_CONV_GROUP) return NULL;
    const logic_group_t *g = logic_groups_find(gs, c.a);
    if (g == NULL || !g->full || g->count > (uint32_t)IM_CFG_GET(l->cfg.receipts_group_limit)) return NULL;
    return g;
}

/* The groups of the batch's reads, if receipts are relayed in groups at all. */
static void load_groups(logic_t *l, const Im__Repo__V1__UpdateCursorRequest *items,
                        const Im__Repo__V1__UpdateCursorsReply *r, size_t total, logic_groups_t *gs)
{
    int limit = IM_CFG_GET(l->cfg.receipts_group_limit);
    for (size_t i = 0; limit > 0 && i < total; i++) {
        im_conv_t c;
        if (items[i].read && !r->results[i]->forbidden && im_conv_parse(items[i].conversation_id, &c) == IM_OK &&
            c.kind == IM_CONV_GROUP)
            logic_groups_add(gs, c.a);
    }
    if (logic_groups_load(l, gs, (uint32_t)limit) != IM_OK) {   /* no group receipts this time */
        logic_groups_free(gs);
        logic_groups_init(gs);
    }
}

/* Receipts of the reads that went through: to the peer of a single chat, to the other
 * members of a small group; every session in one round trip, one record per gateway. */
static void receipts(logic_t *l, const Im__Repo__V1__UpdateCursorRequest *items,
                     const Im__Repo__V1__UpdateCursorsReply *r, size_t total)
{
    logic_groups_t gs;
    logic_groups_init(&gs);
    load_groups(l, items, r, total, &gs);
    size_t cap = total;
    for (size_t k = 0; k < gs.n; k++) cap += gs.v[k].nids;
    uint64_t *peers = im_calloc(total, sizeof *peers), *uids = im_calloc(cap ? cap : 1, sizeof *uids);
    size_t nu = 0;
    for (size_t i = 0; i < total; i++)
        if (items[i].read && !r->results[i]->forbidden)
            uids[nu++] = peers[i] = im_conv_peer(items[i].conversation_id, items[i].user_id);
    for (size_t k = 0; k < gs.n; k++)
        for (size_t j = 0; j < gs.v[k].nids && gs.v[k].count <= (uint32_t)IM_CFG_GET(l->cfg.receipts_group_limit); j++)
            uids[nu++] = gs.v[k].ids[j];
    logic_sessions_t s;
    logic_sessions_load(l, &s, uids, nu);
    logic_out_t out;
    logic_out_init(&out);
    for (size_t i = 0; i < total; i++) {
        if (!items[i].read || r->results[i]->forbidden) continue;
        const logic_group_t *g = peers[i] ? NULL : receipt_group(l, &gs, items[i].conversation_id);
        if (peers[i] == 0 && g == NULL) continue;
        const char *f = logic_out_keep(&out, peer_frame("receipt", items[i].conversation_id, items[i].user_id,
                                                        r->results[i]->last_read_seq));
        if (peers[i]) logic_push_user(l, &out, &s, peers[i], 0, f, "", 0);
        for (size_t j = 0; g && j < g->nids; j++)
            if (g->ids[j] != items[i].user_id) logic_push_user(l, &out, &s, g->ids[j], 0, f, "", 0);
    }
    logic_out_flush(l, &out);
    logic_sessions_free(&s);
    logic_groups_free(&gs);
    im_free(uids);
    im_free(peers);
}

#define CURSORS_PER_CALL 8192   /* im-repo takes at most 65,536 per call */

/* One UpdateCursors call for items[0..total), then the read receipts. */
static void update(logic_t *l, Im__Repo__V1__UpdateCursorRequest *items, Im__Repo__V1__UpdateCursorRequest **ptrs,
                   size_t total, int with_receipts)
{
    Im__Repo__V1__UpdateCursorsRequest req = IM__REPO__V1__UPDATE_CURSORS_REQUEST__INIT;
    req.n_items = total;
    req.items = ptrs;
    ProtobufCMessage *resp = NULL;
    int rc = logic_repo_call(l, "UpdateCursors", &req.base, &resp);
    Im__Repo__V1__UpdateCursorsReply *r = (void *)resp;
    if (rc == IM_OK && r->n_results != total) rc = IM_EPROTO;
    if (rc != IM_OK) {
        IM_LOG_RATELIMITED(5, IM_LOG_WARN, "cursor.update_failed", "count=%zu err=\"%s\"", total, im_strerror(rc));
    } else if (with_receipts) {
        receipts(l, items, r, total);
    }
    if (resp) protobuf_c_message_free_unpacked(resp, NULL);
}

void logic_cursors_handle(logic_t *l, Im__Mq__V1__Upstream **ups, size_t n, int with_receipts)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += ups[i]->n_cursors;
    if (total == 0) return;
    Im__Repo__V1__UpdateCursorRequest *items = im_calloc(total, sizeof *items);
    Im__Repo__V1__UpdateCursorRequest **ptrs = im_calloc(total, sizeof *ptrs);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < ups[i]->n_cursors; j++, k++) {
            const Im__Mq__V1__Cursor *c = ups[i]->cursors[j];
            im__repo__v1__update_cursor_request__init(&items[k]);
            items[k].user_id = c->user_id;
            items[k].conversation_id = c->conversation_id;
            items[k].seq = c->seq;
            items[k].read = c->read;
            ptrs[k] = &items[k];
        }
    for (size_t off = 0; off < total; off += CURSORS_PER_CALL)
        update(l, items + off, ptrs + off, total - off < CURSORS_PER_CALL ? total - off : CURSORS_PER_CALL,
               with_receipts);
    im_free(items);
    im_free(ptrs);
}

/* Typing in a group: to the other members, if the typist is one and the group small. */
static void group_typing(logic_t *l, const Im__Mq__V1__Upstream *up, uint64_t gid, const char *tp)
{
    uint32_t limit = (uint32_t)IM_CFG_GET(l->cfg.large_group_threshold);
    logic_groups_t gs;
    logic_groups_init(&gs);
    logic_group_t *g = logic_groups_add(&gs, gid);
    logic_group_ask(g, up->user_id);
    if (logic_groups_load(l, &gs, limit) == IM_OK && g->full && g->count <= limit &&
        logic_group_role(g, up->user_id) > 0)
        logic_push_to_users(l, g->ids, g->nids, up->user_id, peer_frame("typing", up->conversation_id, up->user_id, 0),
                            tp);
    logic_groups_free(&gs);
}

void logic_typing_handle(logic_t *l, const Im__Mq__V1__Upstream *up, const char *tp)
{
    im_conv_t c;
    if (im_conv_parse(up->conversation_id, &c) == IM_OK && c.kind == IM_CONV_GROUP) {
        group_typing(l, up, c.a, tp);
        return;
    }
    uint64_t peer = im_conv_peer(up->conversation_id, up->user_id);
    if (peer) logic_push_to_users(l, &peer, 1, 0, peer_frame("typing", up->conversation_id, up->user_id, 0), tp);
}
