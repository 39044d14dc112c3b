/* handle_get_relations.c — Repo.GetRelations: a user's friends and the users they
 * blocked, from MySQL, with user_rel:{uid} filled on the way (relation_cache.c: the
 * version is read before MySQL, the fill only writes if it has not moved since). */
#include "repo.h"

#include <string.h>

typedef struct {
    uint64_t *ids;
    size_t n, cap;
} ids_t;

static int row(void *ud, char **cols, unsigned long *lens, unsigned ncols)
{
    ids_t *x = ud;
    if (x->n == x->cap) x->ids = im_realloc(x->ids, (x->cap = x->cap ? 2 * x->cap : 64) * sizeof *x->ids);
    x->ids[x->n++] = repo_u64(cols[0]);
    return 0;
}

static uint64_t *copy(im_rpc_call_t *call, const ids_t *x)
{
    uint64_t *out = im_rpc_alloc(call, (x->n + 1) * sizeof *out);
    if (x->n) memcpy(out, x->ids, x->n * sizeof *out);
    return out;
}

REPO_HANDLER(repo_handle_get_relations)
{
    repo_t *r = ud;
    const Im__Repo__V1__GetRelationsRequest *in = (const void *)req;
    Im__Repo__V1__GetRelationsReply *out = (void *)resp;
    char ver[32];
    int cacheable = repo_relation_cache_version(r, in->user_id, ver) == IM_OK;
    MYSQL *m = im_mysql_acquire(r->db);
    if (m == NULL) return GRPC_STATUS_UNAVAILABLE;
    ids_t f = {0}, b = {0};
    im_mysql_param_t p[] = {IM_MP_U64(in->user_id)};
    int rc = im_mysql_exec(m, "SELECT friend_id FROM friends WHERE user_id = ?", p, 1, row, &f, NULL, NULL);
    if (rc == IM_OK) rc = im_mysql_exec(m, "SELECT blocked_id FROM blocks WHERE user_id = ?", p, 1, row, &b, NULL, NULL);
    im_mysql_release(r->db, m);
    if (rc == IM_OK) {
        out->friend_ids = copy(call, &f);
        out->n_friend_ids = f.n;
        out->blocked_ids = copy(call, &b);
        out->n_blocked_ids = b.n;
        if (cacheable) repo_relation_cache_fill(r, in->user_id, ver, f.ids, f.n, b.ids, b.n);
    }
    im_free(f.ids);
    im_free(b.ids);
    return rc == IM_OK ? GRPC_STATUS_OK : GRPC_STATUS_INTERNAL;
}
