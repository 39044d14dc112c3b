/* handle_recall.c — Logic.Recall (the WebSocket `recall {conversation_id, seq}`): im-repo
 * RecallMessage checks and clears it (the sender within recall_window_s, LIVE; a group's
 * owner or admin at any time), then `recalled {conversation_id, seq, by}` goes to every
 * connection of every participant (both users; every member of a group, whatever its
 * size: a recall is rare, and a client that holds the message must hear of it). */
#include "im/conv.h"
#include "im/log.h"
#include "logic.h"

#include <stdint.h>

static void push_recalled(logic_t *l, const char *cid, uint64_t seq, uint64_t by)
{
    im_conv_t c;
    uint64_t pair[2];
    const uint64_t *ids = pair;
    size_t n = 0;
    logic_groups_t gs;
    logic_groups_init(&gs);
    if (im_conv_parse(cid, &c) == IM_OK && c.kind == IM_CONV_SINGLE) {
        pair[0] = c.a;
        pair[1] = c.b;
        n = 2;
    } else if (im_conv_parse(cid, &c) == IM_OK) {
        logic_group_t *g = logic_groups_add(&gs, c.a);
        if (logic_groups_load(l, &gs, UINT32_MAX) == IM_OK && g->full) {
            ids = g->ids;
            n = g->nids;
        }
    }
    logic_push_to_users(l, ids, n, 0, logic_frame_recalled(cid, seq, by), "");
    logic_groups_free(&gs);
}

LOGIC_HANDLER(logic_handle_recall)
{
    logic_t *l = ud;
    const Im__Logic__V1__RecallRequest *in = (const void *)req;
    Im__Logic__V1__RecallReply *out = (void *)resp;
    im_conv_t c;
    if (im_conv_parse(in->conversation_id, &c) != IM_OK || in->seq == 0) {
        out->error = "invalid_argument";
        out->message = "recall needs conversation_id and seq";
        return GRPC_STATUS_OK;
    }
    Im__Repo__V1__RecallRequest q = IM__REPO__V1__RECALL_REQUEST__INIT;
    q.actor_id = in->user_id;
    q.conversation_id = in->conversation_id;
    q.seq = in->seq;
    q.window_s = (uint32_t)IM_CFG_GET(l->cfg.recall_window_s);
    ProtobufCMessage *rr = NULL;
    if (logic_repo_call(l, "RecallMessage", &q.base, &rr) != IM_OK) return GRPC_STATUS_UNAVAILABLE;
    Im__Repo__V1__RecallReply *r = (void *)rr;
    out->error = im_rpc_strdup(call, r->error);
    out->message = im_rpc_strdup(call, r->message);
    int push = r->error[0] == '\0';   /* also when recalled already: a retry tells everyone again */
    protobuf_c_message_free_unpacked(rr, NULL);
    if (push) {
        im_info("msg.recalled", "cid=%s seq=%llu by=%llu", in->conversation_id, (unsigned long long)in->seq,
                (unsigned long long)in->user_id);
        push_recalled(l, in->conversation_id, in->seq, in->user_id);
    }
    return GRPC_STATUS_OK;
}
