/* handle_list_user_groups.c — Repo.ListUserGroups: the groups user_id is a member of, by
 * group id after `after` (exclusive), up to limit (default 50, max 200), with the user's
 * role in each (roles[i] goes with groups[i]); next = the last group id when the page is
 * full (there may be more), 0 at the end. Uses group_members (user_id, group_id). */
#include "repo.h"

#define DEFAULT_LIMIT 50
#define MAX_LIMIT 200

typedef struct {
    im_rpc_call_t *call;
    Im__Repo__V1__ListUserGroupsReply *out;
} ctx_t;

/* cols: REPO_GROUP_COLS, role */
static int row(void *ud, char **cols, unsigned long *lens, unsigned ncols)
{
    ctx_t *x = ud;
    x->out->roles[x->out->n_roles++] = (int32_t)repo_u64(cols[REPO_GROUP_NCOLS]);
    x->out->groups[x->out->n_groups++] = repo_row_group(x->call, cols);
    return 0;
}

REPO_HANDLER(repo_handle_list_user_groups)
{
    repo_t *r = ud;
    const Im__Repo__V1__ListUserGroupsRequest *in = (const void *)req;
    Im__Repo__V1__ListUserGroupsReply *out = (void *)resp;
    uint32_t limit = in->limit == 0 ? DEFAULT_LIMIT : in->limit > MAX_LIMIT ? MAX_LIMIT : in->limit;
    out->groups = im_rpc_alloc(call, limit * sizeof *out->groups);
    out->roles = im_rpc_alloc(call, limit * sizeof *out->roles);
    MYSQL *m = im_mysql_acquire(r->db);
    if (m == NULL) return GRPC_STATUS_UNAVAILABLE;
    ctx_t x = {call, out};
    im_mysql_param_t p[] = {IM_MP_U64(in->user_id), IM_MP_U64(in->after), IM_MP_U64(limit)};
    int rc = im_mysql_exec(m, "SELECT " REPO_GROUP_COLS ", gm.role FROM group_members gm "
                           "JOIN `groups` g ON g.id = gm.group_id WHERE gm.user_id = ? AND gm.group_id > ? "
                           "ORDER BY gm.group_id LIMIT ?", p, 3, row, &x, NULL, NULL);
    im_mysql_release(r->db, m);
    if (rc != IM_OK) return GRPC_STATUS_INTERNAL;
    out->next = out->n_groups == limit ? out->groups[limit - 1]->group_id : 0;
    return GRPC_STATUS_OK;
}
