/* handle_get_messages.c — Logic.GetMessages: history and sync, for participants only; a
 * page holds at most history_page_max messages (LIVE), also when the client asks none. */
#include "logic.h"

#define DEFAULT_PAGE 50   /* a client that asks no limit */

LOGIC_HANDLER(logic_handle_get_messages)
{
    logic_t *l = ud;
    const Im__Logic__V1__GetMessagesRequest *in = (const void *)req;
    Im__Logic__V1__GetMessagesReply *out = (void *)resp;
    Im__Repo__V1__GetMessagesRequest q = IM__REPO__V1__GET_MESSAGES_REQUEST__INIT;
    q.conversation_id = in->conversation_id;
    q.after_seq = in->after_seq;
    q.before_seq = in->before_seq;
    uint32_t cap = (uint32_t)IM_CFG_GET(l->cfg.history_page_max), want = in->limit ? in->limit : DEFAULT_PAGE;
    q.limit = want > cap ? cap : want;
    q.user_id = in->user_id;
    ProtobufCMessage *rr = NULL;
    if (logic_repo_call(l, "GetMessages", &q.base, &rr) != IM_OK) return GRPC_STATUS_UNAVAILABLE;
    Im__Repo__V1__GetMessagesReply *r = (void *)rr;
    if (r->forbidden) {
        out->error = "forbidden";
        out->message = "not a participant of this conversation";
    } else {
        out->max_seq = r->max_seq;
        out->messages = im_rpc_alloc(call, (r->n_messages + 1) * sizeof *out->messages);
        for (size_t i = 0; i < r->n_messages; i++)
            out->messages[out->n_messages++] = logic_copy_message(call, r->messages[i]);
    }
    protobuf_c_message_free_unpacked(rr, NULL);
    return GRPC_STATUS_OK;
}
