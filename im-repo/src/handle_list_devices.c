/* handle_list_devices.c — Repo.ListDevices: a user's push tokens, oldest first (at most
 * REPO_MAX_DEVICES of handle_register_device.c). Read by im-logic (GET /api/devices) and
 * by im-task before each offline push, so a token removed or added since the message
 * was queued is honoured. Not cached: one indexed read per offline push. */
#include "repo.h"

#include <string.h>

typedef struct {
    im_rpc_call_t *call;
    Im__Repo__V1__ListDevicesReply *out;
    size_t cap;
} ctx_t;

/* cols: platform, token, created_at (ms) */
static int row(void *ud, char **cols, unsigned long *lens, unsigned ncols)
{
    ctx_t *x = ud;
    if (x->out->n_devices == x->cap) {   /* arena: the old array is simply left behind */
        x->cap = x->cap ? 2 * x->cap : 8;
        Im__Repo__V1__Device **a = im_rpc_alloc(x->call, x->cap * sizeof *a);
        if (x->out->n_devices) memcpy(a, x->out->devices, x->out->n_devices * sizeof *a);
        x->out->devices = a;
    }
    Im__Repo__V1__Device *d = im_rpc_alloc(x->call, sizeof *d);
    im__repo__v1__device__init(d);
    d->platform = im_rpc_strdup(x->call, cols[0] ? cols[0] : "");
    d->token = im_rpc_strdup(x->call, cols[1] ? cols[1] : "");
    d->created_at = (int64_t)repo_u64(cols[2]);
    x->out->devices[x->out->n_devices++] = d;
    return 0;
}

REPO_HANDLER(repo_handle_list_devices)
{
    repo_t *r = ud;
    const Im__Repo__V1__ListDevicesRequest *in = (const void *)req;
    ctx_t x = {call, (void *)resp, 0};
    MYSQL *m = im_mysql_acquire(r->db);
    if (m == NULL) return GRPC_STATUS_UNAVAILABLE;
    im_mysql_param_t p[] = {IM_MP_U64(in->user_id)};
    int rc = im_mysql_exec(m,
                           "SELECT platform, token, CAST(UNIX_TIMESTAMP(created_at) * 1000 AS UNSIGNED) "
                           "FROM devices WHERE user_id = ? ORDER BY id",
                           p, 1, row, &x, NULL, NULL);
    im_mysql_release(r->db, m);
    return rc == IM_OK ? GRPC_STATUS_OK : GRPC_STATUS_INTERNAL;
}
