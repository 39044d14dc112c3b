/* handle_get_member_ids.c — Repo.GetMemberIds: every member id and role of a group
 * (user_ids[i] has roles[i]), from MySQL, and the group_members:{gid} cache filled on
 * the way (group_cache.c: group_ver is read before MySQL and the fill only writes if it
 * has not moved since). found = 0: no such group (a group always has its owner). */
#include "repo.h"

#include <string.h>

typedef struct {
    uint64_t *ids;
    int32_t *roles;
    size_t n, cap;
} ctx_t;

static int row(void *ud, char **cols, unsigned long *lens, unsigned ncols)
{
    ctx_t *x = ud;
    if (x->n == x->cap) {
        x->cap = x->cap ? 2 * x->cap : 256;
        x->ids = im_realloc(x->ids, x->cap * sizeof *x->ids);
        x->roles = im_realloc(x->roles, x->cap * sizeof *x->roles);
    }
    x->ids[x->n] = repo_u64(cols[0]);
    x->roles[x->n++] = (int32_t)repo_u64(cols[1]);
    return 0;
}

REPO_HANDLER(repo_handle_get_member_ids)
{
    repo_t *r = ud;
    const Im__Repo__V1__GetMemberIdsRequest *in = (const void *)req;
    Im__Repo__V1__GetMemberIdsReply *out = (void *)resp;
    char ver[32];
    int cacheable = repo_group_cache_version(r, in->group_id, ver) == IM_OK;
    MYSQL *m = im_mysql_acquire(r->db);
    if (m == NULL) return GRPC_STATUS_UNAVAILABLE;
    ctx_t x = {NULL, NULL, 0, 0};
    im_mysql_param_t p[] = {IM_MP_U64(in->group_id)};
    int rc = im_mysql_exec(m, "SELECT user_id, role FROM group_members WHERE group_id = ?", p, 1, row, &x, NULL,
                           NULL);
    im_mysql_release(r->db, m);
    if (rc == IM_OK && x.n > 0) {
        out->found = 1;
        out->n_user_ids = out->n_roles = x.n;
        out->user_ids = im_rpc_alloc(call, x.n * sizeof *out->user_ids);
        out->roles = im_rpc_alloc(call, x.n * sizeof *out->roles);
        memcpy(out->user_ids, x.ids, x.n * sizeof *x.ids);
        memcpy(out->roles, x.roles, x.n * sizeof *x.roles);
        if (cacheable) repo_group_cache_fill(r, in->group_id, ver, x.ids, x.roles, x.n);
    }
    im_free(x.ids);
    im_free(x.roles);
    return rc == IM_OK ? GRPC_STATUS_OK : GRPC_STATUS_INTERNAL;
}
