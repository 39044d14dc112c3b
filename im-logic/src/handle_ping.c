/* handle_ping.c — Logic.Ping: this instance; deep also pings an im-repo found in etcd. */
#include "logic.h"
#include "im/log.h"

LOGIC_HANDLER(logic_handle_ping)
{
    logic_t *l = ud;
    const Im__Common__V1__PingRequest *in = (const Im__Common__V1__PingRequest *)req;
    Im__Common__V1__PingReply *out = (Im__Common__V1__PingReply *)resp;
    out->service = "im-logic";
    out->instance = im_rpc_strdup(call, l->daemon.instance);
    out->path = im_rpc_alloc(call, 2 * sizeof(char *));
    out->path[out->n_path++] = out->instance;
    if (!in->deep) return GRPC_STATUS_OK;
    im_info("ping.deep", "from=%s", in->from);

    Im__Common__V1__PingRequest down = IM__COMMON__V1__PING_REQUEST__INIT;
    down.from = out->instance;
    down.deep = 1;
    ProtobufCMessage *reply = NULL;
    im_rpc_status_t st;
    int rc = im_rpc_client_call(l->repo.client, "Ping", &down.base, &reply,
                                IM_CFG_GET(l->cfg.repo_timeout_ms), im_rpc_trace(call), &st);
    if (rc != IM_OK) {
        im_warn("ping.repo_failed", "err=\"%s\" status=%d", im_strerror(rc), (int)st.code);
        im_rpc_set_message(call, "im-repo: %s", im_strerror(rc));
        return GRPC_STATUS_UNAVAILABLE;
    }
    Im__Common__V1__PingReply *rr = (Im__Common__V1__PingReply *)reply;
    out->path[out->n_path++] = im_rpc_strdup(call, rr->instance);
    protobuf_c_message_free_unpacked(reply, NULL);
    return GRPC_STATUS_OK;
}
