/* handle_list_friend_requests.c — Repo.ListFriendRequests: the pending requests to or
 * from a user, newest first (at most 200 each way). */
#include "repo.h"

typedef struct {
    im_rpc_call_t *call;
    Im__Repo__V1__ListFriendRequestsReply *out;
    size_t cap;
} ctx_t;

static int row(void *ud, char **cols, unsigned long *lens, unsigned ncols)
{
    ctx_t *x = ud;
    if (x->out->n_requests == x->cap) return 0;
    Im__Repo__V1__FriendRequest *q = im_rpc_alloc(x->call, sizeof *q);
    im__repo__v1__friend_request__init(q);
    q->request_id = repo_u64(cols[0]);
    q->from_id = repo_u64(cols[1]);
    q->to_id = repo_u64(cols[2]);
    q->message = im_rpc_strdup(x->call, cols[3] ? cols[3] : "");
    q->created_at = (int64_t)repo_u64(cols[4]);
    x->out->requests[x->out->n_requests++] = q;
    return 0;
}

REPO_HANDLER(repo_handle_list_friend_requests)
{
    repo_t *r = ud;
    const Im__Repo__V1__GetRelationsRequest *in = (const void *)req;
    ctx_t x = {call, (void *)resp, 400};
    x.out->requests = im_rpc_alloc(call, x.cap * sizeof *x.out->requests);
    MYSQL *m = im_mysql_acquire(r->db);
    if (m == NULL) return GRPC_STATUS_UNAVAILABLE;
    im_mysql_param_t p[] = {IM_MP_U64(in->user_id)};
#define COLS "id, from_id, to_id, message, CAST(UNIX_TIMESTAMP(created_at) * 1000 AS UNSIGNED)"
    int rc = im_mysql_exec(m, "SELECT " COLS " FROM friend_requests WHERE to_id = ? AND status = 0 ORDER BY id DESC LIMIT 200",
                           p, 1, row, &x, NULL, NULL);
    if (rc == IM_OK)
        rc = im_mysql_exec(m, "SELECT " COLS " FROM friend_requests WHERE from_id = ? AND status = 0 ORDER BY id DESC LIMIT 200",
                           p, 1, row, &x, NULL, NULL);
#undef COLS
    im_mysql_release(r->db, m);
    return rc == IM_OK ? GRPC_STATUS_OK : GRPC_STATUS_INTERNAL;
}
