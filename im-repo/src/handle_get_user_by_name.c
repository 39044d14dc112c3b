/* handle_get_user_by_name.c — Repo.GetUserByName: the user and their password hash (login). */
#include "repo.h"

typedef struct {
    im_rpc_call_t *call;
    Im__Repo__V1__GetUserByNameReply *out;
} ctx_t;

static int row(void *ud, char **cols, unsigned long *lens, unsigned ncols)
{
    ctx_t *x = ud;
    x->out->found = 1;
    x->out->user = repo_row_user(x->call, cols);
    x->out->password_hash = im_rpc_strdup(x->call, cols[REPO_USER_NCOLS]);
    return 0;
}

REPO_HANDLER(repo_handle_get_user_by_name)
{
    repo_t *r = ud;
    const Im__Repo__V1__GetUserByNameRequest *in = (const void *)req;
    ctx_t x = {call, (void *)resp};
    MYSQL *m = im_mysql_acquire(r->db);
    if (m == NULL) return GRPC_STATUS_UNAVAILABLE;
    im_mysql_param_t p[] = {IM_MP_STR(in->username)};
    int rc = im_mysql_exec(m, "SELECT " REPO_USER_COLS ", u.password_hash FROM users u WHERE u.username = ?",
                           p, 1, row, &x, NULL, NULL);
    im_mysql_release(r->db, m);
    return rc == IM_OK ? GRPC_STATUS_OK : GRPC_STATUS_INTERNAL;
}
