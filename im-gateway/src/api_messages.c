/* api_messages.c — GET /api/conversations/{cid}/messages?after_seq=&before_seq=&limit=
 * -> {messages:[… ascending seq], max_seq}; 403 forbidden for non-participants. */
#include "gateway.h"

#include <jansson.h>

#include "im/wire.h"
#include <stdio.h>
#include <string.h>

void gw_api_messages(gw_t *g, gw_job_t *job)
{
    Im__Logic__V1__GetMessagesRequest req = IM__LOGIC__V1__GET_MESSAGES_REQUEST__INIT;
    req.user_id = job->user_id;
    req.conversation_id = job->params[0];   /* logic checks it */
    uint64_t limit = 50;
    gw_query_u64(job->query, "after_seq", &req.after_seq);
    gw_query_u64(job->query, "before_seq", &req.before_seq);
    gw_query_u64(job->query, "limit", &limit);
    req.limit = limit > 200 ? 200 : (uint32_t)limit;
    ProtobufCMessage *resp = NULL;
    if (gw_logic_call(g, job, "GetMessages", &req.base, &resp) != IM_OK) return;
    Im__Logic__V1__GetMessagesReply *r = (void *)resp;
    if (!gw_reply_logic_error(job, r->error, r->message)) {
        json_t *msgs = json_array();
        for (size_t i = 0; i < r->n_messages; i++) json_array_append_new(msgs, im_wire_message(r->messages[i]));
        gw_reply_json(job, 200, json_pack("{s:o, s:I}", "messages", msgs, "max_seq", (json_int_t)r->max_seq));
    }
    protobuf_c_message_free_unpacked(resp, NULL);
}
