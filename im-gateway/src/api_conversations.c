/* api_conversations.c — GET /api/conversations -> {conversations:[{conversation_id, type
 * ("single" | "group"), peer (single), group {group_id, name, member_count} (group),
 * max_seq, last_read_seq, unread, mentioned, last_message}]}, most recent first. */
#include "gateway.h"

#include <jansson.h>

#include "im/wire.h"

void gw_api_conversations(gw_t *g, gw_job_t *job)
{
    Im__Logic__V1__UserRequest req = IM__LOGIC__V1__USER_REQUEST__INIT;
    req.user_id = job->user_id;
    ProtobufCMessage *resp = NULL;
    if (gw_logic_call(g, job, "ListConversations", &req.base, &resp) != IM_OK) return;
    Im__Logic__V1__ListConversationsReply *r = (void *)resp;
    if (!gw_reply_logic_error(job, r->error, r->message)) {
        json_t *list = json_array();
        for (size_t i = 0; i < r->n_conversations; i++) {
            const Im__Logic__V1__ConversationView *v = r->conversations[i];
            json_t *group = v->group ? json_pack("{s:I, s:s, s:I}", "group_id", (json_int_t)v->group->group_id,
                                                 "name", v->group->name, "member_count",
                                                 (json_int_t)v->group->member_count)
                                     : json_null();
            json_array_append_new(
                list, json_pack("{s:s, s:s, s:o, s:o, s:I, s:I, s:I, s:b, s:o}", "conversation_id",
                                v->conversation_id, "type", v->type == 2 ? "group" : "single", "peer",
                                v->peer ? gw_json_user(v->peer) : json_null(), "group", group, "max_seq",
                                (json_int_t)v->max_seq, "last_read_seq", (json_int_t)v->last_read_seq,
                                "unread", (json_int_t)v->unread, "mentioned", v->mentioned, "last_message",
                                v->last_message ? im_wire_message(v->last_message) : json_null()));
        }
        gw_reply_json(job, 200, json_pack("{s:o}", "conversations", list));
    }
    protobuf_c_message_free_unpacked(resp, NULL);
}
