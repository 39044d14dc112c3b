/* handle_get_group.c — Repo.GetGroup: a group's profile and user_id's role in it
 * (0 = not a member: the caller decides what a non-member may see). found = 0: no group. */
#include "repo.h"

REPO_HANDLER(repo_handle_get_group)
{
    repo_t *r = ud;
    const Im__Repo__V1__GetGroupRequest *in = (const void *)req;
    Im__Repo__V1__GetGroupReply *out = (void *)resp;
    MYSQL *m = im_mysql_acquire(r->db);
    if (m == NULL) return GRPC_STATUS_UNAVAILABLE;
    int rc = repo_group_get(m, call, in->group_id, &out->group);
    int role = REPO_ROLE_NONE;
    if (rc == IM_OK && out->group && in->user_id) rc = repo_group_roles(m, in->group_id, &in->user_id, 1, &role);
    im_mysql_release(r->db, m);
    if (rc != IM_OK) return GRPC_STATUS_INTERNAL;
    out->found = out->group != NULL;
    out->role = role;
    return GRPC_STATUS_OK;
}
