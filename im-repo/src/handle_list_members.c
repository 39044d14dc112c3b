/* handle_list_members.c — Repo.ListMembers: a group's members with their profiles, by
 * user id after `after` (exclusive), up to limit (default 50, max 200); next = the last
 * user id when the page is full, 0 at the end. No membership check: the caller (logic)
 * asks GetGroup for the reader's role first. */
#include "repo.h"

#define DEFAULT_LIMIT 50
#define MAX_LIMIT 200

typedef struct {
    im_rpc_call_t *call;
    Im__Repo__V1__ListMembersReply *out;
} ctx_t;

/* cols: user id, role, UNIX_TIMESTAMP(joined_at), username, nickname, avatar_url */
static int row(void *ud, char **c, unsigned long *lens, unsigned ncols)
{
    ctx_t *x = ud;
    Im__Common__V1__Member *mb = im_rpc_alloc(x->call, sizeof *mb);
    im__common__v1__member__init(mb);
    mb->user_id = repo_u64(c[0]);
    mb->role = (int32_t)repo_u64(c[1]);
    mb->joined_at = (int64_t)repo_u64(c[2]) * 1000;
    mb->username = im_rpc_strdup(x->call, c[3] ? c[3] : "");
    mb->nickname = im_rpc_strdup(x->call, c[4] ? c[4] : "");
    mb->avatar_url = im_rpc_strdup(x->call, c[5] ? c[5] : "");
    x->out->members[x->out->n_members++] = mb;
    return 0;
}

REPO_HANDLER(repo_handle_list_members)
{
    repo_t *r = ud;
    const Im__Repo__V1__ListMembersRequest *in = (const void *)req;
    Im__Repo__V1__ListMembersReply *out = (void *)resp;
    uint32_t limit = in->limit == 0 ? DEFAULT_LIMIT : in->limit > MAX_LIMIT ? MAX_LIMIT : in->limit;
    out->members = im_rpc_alloc(call, limit * sizeof *out->members);
    MYSQL *m = im_mysql_acquire(r->db);
    if (m == NULL) return GRPC_STATUS_UNAVAILABLE;
    ctx_t x = {call, out};
    im_mysql_param_t p[] = {IM_MP_U64(in->group_id), IM_MP_U64(in->after), IM_MP_U64(limit)};
    int rc = im_mysql_exec(m, "SELECT gm.user_id, gm.role, UNIX_TIMESTAMP(gm.joined_at), u.username, u.nickname, "
                           "u.avatar_url FROM group_members gm LEFT JOIN users u ON u.id = gm.user_id "
                           "WHERE gm.group_id = ? AND gm.user_id > ? ORDER BY gm.user_id LIMIT ?",
                           p, 3, row, &x, NULL, NULL);
    im_mysql_release(r->db, m);
    if (rc != IM_OK) return GRPC_STATUS_INTERNAL;
    out->next = out->n_members == limit ? out->members[limit - 1]->user_id : 0;
    return GRPC_STATUS_OK;
}
