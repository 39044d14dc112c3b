/* cursor.c — `cursors` records (a gateway's coalesced acks and reads) and `typing`.
 *
 * All the cursors of a consume batch go to im-repo in one UpdateCursors call (positions
 * only move forward there); each read that moved a position in a single chat sends a
 * `receipt` to the other participant. Positions are advisory: if the call fails the
 * next ack/read carries the position again. */
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

#define CURSORS_PER_CALL 8192   /* im-repo takes at most 65,536 per call */

/* One UpdateCursors call for items[0..total), then the read receipts. */
static void update(logic_t *l, Im__Repo__V1__UpdateCursorRequest *items, Im__Repo__V1__UpdateCursorRequest **ptrs,
                   size_t total)
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
    } else {
        /* receipts: the peers of reads in single chats, their sessions in one round trip */
        uint64_t *peers = im_calloc(total, sizeof *peers);
        for (size_t i = 0; i < total; i++)
            if (items[i].read && !r->results[i]->forbidden)
                peers[i] = im_conv_peer(items[i].conversation_id, items[i].user_id);
        logic_sessions_t s;
        logic_sessions_load(l, &s, peers, total);
        logic_out_t out;
        logic_out_init(&out);
        for (size_t i = 0; i < total; i++) {
            if (peers[i] == 0) continue;
            const char *f = logic_out_keep(&out, peer_frame("receipt", items[i].conversation_id, items[i].user_id,
                                                            r->results[i]->last_read_seq));
            logic_push_user(l, &out, &s, peers[i], 0, f, "", 0);
        }
        logic_out_flush(l, &out);
        logic_sessions_free(&s);
        im_free(peers);
    }
    if (resp) protobuf_c_message_free_unpacked(resp, NULL);
}

void logic_cursors_handle(logic_t *l, Im__Mq__V1__Upstream **ups, size_t n)
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
        update(l, items + off, ptrs + off, total - off < CURSORS_PER_CALL ? total - off : CURSORS_PER_CALL);
    im_free(items);
    im_free(ptrs);
}

void logic_typing_handle(logic_t *l, const Im__Mq__V1__Upstream *up, const char *trace)
{
    uint64_t peer = im_conv_peer(up->conversation_id, up->user_id);
    if (peer == 0) return;
    logic_sessions_t s;
    logic_sessions_load(l, &s, &peer, 1);
    logic_out_t out;
    logic_out_init(&out);
    const char *f = logic_out_keep(&out, peer_frame("typing", up->conversation_id, up->user_id, 0));
    logic_push_user(l, &out, &s, peer, 0, f, trace, 0);
    logic_out_flush(l, &out);
    logic_sessions_free(&s);
}
