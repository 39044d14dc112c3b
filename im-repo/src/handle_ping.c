/* handle_ping.c — Repo.Ping: answers with this instance; deep also checks MySQL. */
#include "repo.h"
#include "im/log.h"

REPO_HANDLER(repo_handle_ping)
{
    repo_t *r = ud;
    const Im__Common__V1__PingRequest *in = (const Im__Common__V1__PingRequest *)req;
    Im__Common__V1__PingReply *out = (Im__Common__V1__PingReply *)resp;
    if (in->deep) {
        MYSQL *m = im_mysql_acquire(r->db);
        int ok = m && im_mysql_exec(m, "SELECT 1", NULL, 0, NULL, NULL, NULL, NULL) == IM_OK;
        if (m) im_mysql_release(r->db, m);
        if (!ok) {
            im_rpc_set_message(call, "mysql unavailable");
            return GRPC_STATUS_UNAVAILABLE;
        }
    }
    out->service = "im-repo";
    out->instance = im_rpc_strdup(call, r->daemon.instance);
    out->n_path = 1;
    out->path = im_rpc_alloc(call, sizeof(char *));
    out->path[0] = out->instance;
    if (in->deep) im_info("ping.deep", "from=%s", in->from);
    return GRPC_STATUS_OK;
}
