/* handle_recall.c — `recall {conversation_id, seq}`: [S] checks the frame and queues a
 * job; a [W] worker asks im-logic. On success every participant's connections get
 * `recalled` from logic (this one too); a refusal comes back here as an `error`
 * (recall_expired, forbidden, not_found, invalid_argument). */
#include "gateway.h"
#include "im/conv.h"
#include "im/log.h"

#include <jansson.h>

void gw_handle_recall(gw_t *g, gw_conn_t *c, void *msg)
{
    const char *cid = json_string_value(json_object_get(msg, "conversation_id"));
    json_t *seq = json_object_get(msg, "seq");
    im_conv_t conv;
    if (im_conv_parse(cid, &conv) != IM_OK || !json_is_integer(seq) || json_integer_value(seq) <= 0) {
        gw_ws_error(g, c, "invalid_argument", "recall needs conversation_id and seq", NULL);
        return;
    }
    gw_ws_submit(g, c, gw_recall_run, "RECALL", cid, im_sprintf("seq=%lld", (long long)json_integer_value(seq)));
}

void gw_recall_run(gw_t *g, gw_job_t *job)
{
    Im__Logic__V1__RecallRequest req = IM__LOGIC__V1__RECALL_REQUEST__INIT;
    req.user_id = job->user_id;
    req.conversation_id = job->path;
    gw_query_u64(job->query, "seq", &req.seq);
    ProtobufCMessage *resp = NULL;
    im_rpc_status_t st;
    int rc = im_rpc_client_call(g->logic.client, "Recall", &req.base, &resp, IM_CFG_GET(g->cfg.logic_timeout_ms),
                                job->trace, &st);
    if (rc != IM_OK) {
        gw_job_reply(job, 200, gw_error_frame("unavailable", "recall failed, retry", NULL));
        return;
    }
    Im__Logic__V1__RecallReply *r = (void *)resp;
    if (r->error[0]) gw_job_reply(job, 200, gw_error_frame(r->error, r->message, NULL));
    protobuf_c_message_free_unpacked(resp, NULL);   /* success: no reply, `recalled` is pushed */
}
