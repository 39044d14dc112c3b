/* handle_sync.c — `sync {conversation_id, after_seq, limit}`: [S] checks and queues a job;
 * a [W] worker asks im-logic (participants only) and the `sync` frame returns on [S]. */
#include "gateway.h"
#include "im/conv.h"
#include "im/log.h"
#include "im/wire.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

void gw_handle_sync(gw_t *g, gw_conn_t *c, void *msg)
{
    const char *cid = json_string_value(json_object_get(msg, "conversation_id"));
    json_t *after = json_object_get(msg, "after_seq"), *limit = json_object_get(msg, "limit");
    im_conv_t conv;
    if (im_conv_parse(cid, &conv) != IM_OK || (after && !json_is_integer(after)) ||
        (limit && !json_is_integer(limit))) {
        gw_ws_error(g, c, "invalid_argument", "sync needs conversation_id, after_seq?, limit?", NULL);
        return;
    }
    long long a = after ? json_integer_value(after) : 0, n = limit ? json_integer_value(limit) : 100;
    gw_ws_submit(g, c, gw_sync_run, "SYNC", cid,
                 im_sprintf("after_seq=%lld&limit=%lld", a < 0 ? 0 : a, n < 1 ? 1 : n > 200 ? 200 : n));
}

void gw_sync_run(gw_t *g, gw_job_t *job)
{
    Im__Logic__V1__GetMessagesRequest req = IM__LOGIC__V1__GET_MESSAGES_REQUEST__INIT;
    uint64_t limit = 100;
    req.user_id = job->user_id;
    req.conversation_id = job->path;
    gw_query_u64(job->query, "after_seq", &req.after_seq);
    gw_query_u64(job->query, "limit", &limit);
    req.limit = (uint32_t)limit;
    ProtobufCMessage *resp = NULL;
    im_rpc_status_t st;
    int rc = im_rpc_client_call(g->logic.client, "GetMessages", &req.base, &resp,
                                IM_CFG_GET(g->cfg.logic_timeout_ms), job->trace, &st);
    if (rc != IM_OK) {
        gw_job_reply(job, 200, gw_error_frame("unavailable", "sync failed, retry", NULL));
        return;
    }
    Im__Logic__V1__GetMessagesReply *r = (void *)resp;
    if (r->error[0]) {
        gw_job_reply(job, 200, gw_error_frame(r->error, r->message, NULL));
    } else {
        json_t *msgs = json_array();
        for (size_t i = 0; i < r->n_messages; i++) json_array_append_new(msgs, im_wire_message(r->messages[i]));
        gw_job_reply(job, 200, im_wire_dump(json_pack("{s:s, s:s, s:o, s:I}", "op", "sync", "conversation_id",
                                                      job->path, "messages", msgs, "max_seq",
                                                      (json_int_t)r->max_seq)));
    }
    protobuf_c_message_free_unpacked(resp, NULL);
}
