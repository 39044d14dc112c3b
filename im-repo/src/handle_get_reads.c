/* handle_get_reads.c — Repo.GetReads: every participant's read position in a
 * conversation (user_conversations by idx_conv): a group's members, or the two users of
 * a single chat; for a reader who takes part (forbidden otherwise). */
#include "im/conv.h"
#include "repo.h"

#include <string.h>

typedef struct {
    im_rpc_call_t *call;
    Im__Repo__V1__GetReadsReply *out;
    size_t cap;
} ctx_t;

static int row(void *ud, char **cols, unsigned long *lens, unsigned ncols)
{
    ctx_t *x = ud;
    if (x->out->n_reads == x->cap) {   /* arena: the old array is simply left behind */
        x->cap = x->cap ? 2 * x->cap : 64;
        Im__Common__V1__Read **a = im_rpc_alloc(x->call, x->cap * sizeof *a);
        if (x->out->n_reads) memcpy(a, x->out->reads, x->out->n_reads * sizeof *a);
        x->out->reads = a;
    }
    Im__Common__V1__Read *rd = im_rpc_alloc(x->call, sizeof *rd);
    im__common__v1__read__init(rd);
    rd->user_id = repo_u64(cols[0]);
    rd->last_read_seq = repo_u64(cols[1]);
    x->out->reads[x->out->n_reads++] = rd;
    return 0;
}

REPO_HANDLER(repo_handle_get_reads)
{
    repo_t *r = ud;
    const Im__Repo__V1__GetReadsRequest *in = (const void *)req;
    Im__Repo__V1__GetReadsReply *out = (void *)resp;
    im_conv_t c;
    if (im_conv_parse(in->conversation_id, &c) != IM_OK) {
        out->forbidden = 1;
        return GRPC_STATUS_OK;
    }
    MYSQL *m = im_mysql_acquire(r->db);
    if (m == NULL) return GRPC_STATUS_UNAVAILABLE;
    int rc = repo_can_read(r, m, in->user_id, in->conversation_id);
    ctx_t x = {call, out, 0};
    im_mysql_param_t p[] = {IM_MP_STR(in->conversation_id)};
    if (rc == IM_OK)
        rc = im_mysql_exec(m, "SELECT user_id, last_read_seq FROM user_conversations WHERE conversation_id = ? "
                           "ORDER BY user_id", p, 1, row, &x, NULL, NULL);
    im_mysql_release(r->db, m);
    if (rc == IM_EFORBIDDEN) {
        out->forbidden = 1;
        out->n_reads = 0;
        return GRPC_STATUS_OK;
    }
    return rc == IM_OK ? GRPC_STATUS_OK : GRPC_STATUS_INTERNAL;
}
