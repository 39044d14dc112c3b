/* handle_get_max_seq.c — Repo.GetMaxSeq: the highest stored seq of a conversation (seq re-seed). */
#include "repo.h"

static int row(void *ud, char **cols, unsigned long *lens, unsigned ncols)
{
    *(uint64_t *)ud = repo_u64(cols[0]);
    return 0;
}

REPO_HANDLER(repo_handle_get_max_seq)
{
    repo_t *r = ud;
    const Im__Repo__V1__GetMaxSeqRequest *in = (const void *)req;
    Im__Repo__V1__GetMaxSeqReply *out = (void *)resp;
    MYSQL *m = im_mysql_acquire(r->db);
    if (m == NULL) return GRPC_STATUS_UNAVAILABLE;
    im_mysql_param_t p[] = {IM_MP_STR(in->conversation_id)};
    int rc = im_mysql_exec(m, "SELECT COALESCE(MAX(seq), 0) FROM messages WHERE conversation_id = ?",
                           p, 1, row, &out->max_seq, NULL, NULL);
    im_mysql_release(r->db, m);
    return rc == IM_OK ? GRPC_STATUS_OK : GRPC_STATUS_INTERNAL;
}
