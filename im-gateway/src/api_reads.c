/* api_reads.c — GET /api/conversations/{cid}/reads -> {reads:[{user_id, last_read_seq}]}:
 * the members' read positions of a group conversation, for "n read"; members only. */
#include "gateway.h"

#include <jansson.h>

void gw_api_reads(gw_t *g, gw_job_t *job)
{
    Im__Logic__V1__GetReadsRequest req = IM__LOGIC__V1__GET_READS_REQUEST__INIT;
    req.user_id = job->user_id;
    req.conversation_id = job->params[0];   /* logic checks it */
    ProtobufCMessage *resp = NULL;
    if (gw_logic_call(g, job, "GetReads", &req.base, &resp) != IM_OK) return;
    Im__Logic__V1__GetReadsReply *r = (void *)resp;
    if (!gw_reply_logic_error(job, r->error, r->message)) {
        json_t *list = json_array();
        for (size_t i = 0; i < r->n_reads; i++)
            json_array_append_new(list, json_pack("{s:I, s:I}", "user_id", (json_int_t)r->reads[i]->user_id,
                                                  "last_read_seq", (json_int_t)r->reads[i]->last_read_seq));
        gw_reply_json(job, 200, json_pack("{s:o}", "reads", list));
    }
    protobuf_c_message_free_unpacked(resp, NULL);
}
