/* api_ping.c — GET /api/ping: gateway -> im-logic -> im-repo, all found through etcd.
 * Replies {"gateway": id, "path": [logic instance, repo instance]}. */
#include "gateway.h"
#include "im/err.h"
#include "im/log.h"

#include <jansson.h>
#include <stdlib.h>

void gw_api_ping(gw_t *g, gw_job_t *job)
{
    Im__Common__V1__PingRequest req = IM__COMMON__V1__PING_REQUEST__INIT;
    req.from = (char *)g->gateway_id;
    req.deep = 1;
    ProtobufCMessage *resp = NULL;
    im_rpc_status_t st;
    int rc = im_rpc_client_call(g->logic.client, "Ping", &req.base, &resp,
                                IM_CFG_GET(g->cfg.logic_timeout_ms), job->trace, &st);
    if (rc != IM_OK) {
        im_warn("api.ping_failed", "err=\"%s\" detail=\"%s\"", im_strerror(rc), st.message);
        gw_job_error(job, 503, "unavailable", st.message[0] ? st.message : im_strerror(rc));
        return;
    }
    Im__Common__V1__PingReply *r = (Im__Common__V1__PingReply *)resp;
    json_t *path = json_array();
    for (size_t i = 0; i < r->n_path; i++) json_array_append_new(path, json_string(r->path[i]));
    json_t *o = json_pack("{s:s, s:o, s:s}", "gateway", g->gateway_id, "path", path, "trace",
                          job->trace);
    gw_reply_json(job, 200, o);
    protobuf_c_message_free_unpacked(resp, NULL);
}
