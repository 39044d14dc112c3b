/* handle_update_cursor.c — Logic.UpdateCursor: ack/read over REST (the WebSocket path
 * sends them through Kafka instead). */
#include "logic.h"

LOGIC_HANDLER(logic_handle_update_cursor)
{
    logic_t *l = ud;
    const Im__Logic__V1__UpdateCursorRequest *in = (const void *)req;
    Im__Logic__V1__UpdateCursorReply *out = (void *)resp;
    Im__Repo__V1__UpdateCursorRequest q = IM__REPO__V1__UPDATE_CURSOR_REQUEST__INIT;
    q.user_id = in->user_id;
    q.conversation_id = in->conversation_id;
    q.seq = in->seq;
    q.read = in->read;
    ProtobufCMessage *rr = NULL;
    if (logic_repo_call(l, "UpdateCursor", &q.base, &rr) != IM_OK) return GRPC_STATUS_UNAVAILABLE;
    if (((Im__Repo__V1__UpdateCursorReply *)rr)->forbidden) {
        out->error = "forbidden";
        out->message = "not a participant of this conversation";
    }
    protobuf_c_message_free_unpacked(rr, NULL);
    return GRPC_STATUS_OK;
}
