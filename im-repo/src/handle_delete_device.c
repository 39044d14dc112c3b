/* handle_delete_device.c — Repo.DeleteDevice: removes a push token, only if it is
 * user_id's (a user removes only their own; im-task removes a token its provider
 * reported unregistered, for the user it pushed to). changed = a row went. Idempotent. */
#include "repo.h"

#include <string.h>

REPO_HANDLER(repo_handle_delete_device)
{
    repo_t *r = ud;
    const Im__Repo__V1__DeviceOpRequest *in = (const void *)req;
    Im__Repo__V1__DeviceOpReply *out = (void *)resp;
    MYSQL *m = im_mysql_acquire(r->db);
    if (m == NULL) return GRPC_STATUS_UNAVAILABLE;
    im_mysql_param_t p[] = {IM_MP_STR(in->token), IM_MP_U64(in->user_id)};
    uint64_t affected = 0;
    int rc = im_mysql_exec(m, "DELETE FROM devices WHERE token = ? AND user_id = ?", p, 2, NULL, NULL,
                           &affected, NULL);
    im_mysql_release(r->db, m);
    if (rc != IM_OK) return GRPC_STATUS_INTERNAL;
    out->changed = affected > 0;
    return GRPC_STATUS_OK;
}
