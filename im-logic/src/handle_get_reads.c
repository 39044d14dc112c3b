/* handle_get_reads.c — Logic.GetReads: every participant's read position in a
 * conversation (a group's members, a single chat's two users), for participants only. */
#include "im/conv.h"
#include "logic.h"

LOGIC_HANDLER(logic_handle_get_reads)
{
    logic_t *l = ud;
    const Im__Logic__V1__GetReadsRequest *in = (const void *)req;
    Im__Logic__V1__GetReadsReply *out = (void *)resp;
    im_conv_t c;
    if (im_conv_parse(in->conversation_id, &c) != IM_OK) {
        out->error = "invalid_argument";
        out->message = "bad conversation id";
        return GRPC_STATUS_OK;
    }
    Im__Repo__V1__GetReadsRequest q = IM__REPO__V1__GET_READS_REQUEST__INIT;
    q.conversation_id = in->conversation_id;
    q.user_id = in->user_id;
    ProtobufCMessage *rr = NULL;
    if (logic_repo_call(l, "GetReads", &q.base, &rr) != IM_OK) return GRPC_STATUS_UNAVAILABLE;
    Im__Repo__V1__GetReadsReply *r = (void *)rr;
    if (r->forbidden) {
        out->error = "forbidden";
        out->message = "not a participant of this conversation";
    } else {
        out->reads = im_rpc_alloc(call, (r->n_reads + 1) * sizeof *out->reads);
        for (size_t i = 0; i < r->n_reads; i++) {
            Im__Common__V1__Read *rd = im_rpc_alloc(call, sizeof *rd);
            *rd = *r->reads[i];
            out->reads[out->n_reads++] = rd;
        }
    }
    protobuf_c_message_free_unpacked(rr, NULL);
    return GRPC_STATUS_OK;
}
