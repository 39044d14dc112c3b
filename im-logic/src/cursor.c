/* cursor.c — `ack` (delivered) and `read` records: advance the user's position through
 * im-repo; a read also sends a `receipt` to the other participant; `typing` is relayed. */
#include "im/log.h"
#include "im/wire.h"
#include "logic.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* `receipt` (seq > 0) or `typing` to the peer's connections. */
static void tell_peer(logic_t *l, const Im__Mq__V1__Upstream *up, const char *op, uint64_t seq,
                      const char *trace)
{
    uint64_t peer = im_conv_peer(up->conversation_id, up->user_id);
    if (peer == 0) return;
    json_t *o = json_pack("{s:s, s:s, s:I}", "op", op, "conversation_id", up->conversation_id,
                          "user_id", (json_int_t)up->user_id);
    if (seq) json_object_set_new(o, "seq", json_integer((json_int_t)seq));
    char *frame = im_wire_dump(o);
    logic_push_user(l, peer, 0, frame, trace);
    im_free(frame);
}

void logic_cursor_handle(logic_t *l, const Im__Mq__V1__Upstream *up, const char *trace)
{
    if (strcmp(up->op, "typing") == 0) {
        tell_peer(l, up, "typing", 0, trace);
        return;
    }
    int read = strcmp(up->op, "read") == 0;
    if (!read && strcmp(up->op, "ack") != 0) {
        im_warn("upstream.unknown_op", "op=%s", up->op);
        return;
    }
    Im__Repo__V1__UpdateCursorRequest req = IM__REPO__V1__UPDATE_CURSOR_REQUEST__INIT;
    req.user_id = up->user_id;
    req.conversation_id = up->conversation_id;
    req.seq = up->seq;
    req.read = read;
    ProtobufCMessage *resp = NULL;
    int rc = logic_repo_call(l, "UpdateCursor", &req.base, &resp);
    if (rc != IM_OK) {   /* a position is advisory: the next ack/read carries it again */
        im_warn("cursor.update_failed", "user=%llu cid=%s err=\"%s\"", (unsigned long long)up->user_id,
                up->conversation_id, im_strerror(rc));
        return;
    }
    Im__Repo__V1__UpdateCursorReply *r = (void *)resp;
    if (read && !r->forbidden) tell_peer(l, up, "receipt", r->last_read_seq, trace);
    protobuf_c_message_free_unpacked(resp, NULL);
}
