/* group_op_role.c — ChangeGroup "role": the owner sets user_ids[0]'s role, inside
 * handle_change_group.c's locked txn. Role 1 or 2 sets member or admin; role 3 transfers
 * ownership: the target becomes owner, the old owner admin, groups.owner_id moves.
 * `changed`: the target, then (transfer) the old owner; empty if nothing changed. */
#include "repo.h"

int repo_gop_role(repo_gtx_t *t)
{
    uint64_t gid = t->group->group_id, target = t->in->user_ids[0];
    repo_group_facts_t f = {.actor_role = t->actor_role};
    int rc = repo_group_roles(t->m, gid, &target, 1, &f.target_role);
    if (rc != IM_OK) return rc;
    t->out->outcome = repo_group_rule(REPO_GOP_ROLE, &f);
    if (t->out->outcome != IM__REPO__V1__GROUP_OUTCOME__GROUP_OK || f.target_role == t->in->role) return IM_OK;
    t->out->changed = im_rpc_alloc(t->call, 2 * sizeof *t->out->changed);
    t->out->changed[t->out->n_changed++] = target;
    rc = repo_group_set_role(t->m, gid, target, t->in->role);
    if (rc != IM_OK || t->in->role != REPO_ROLE_OWNER) return rc;
    rc = repo_group_set_role(t->m, gid, t->in->actor_id, REPO_ROLE_ADMIN);
    im_mysql_param_t p[] = {IM_MP_U64(target), IM_MP_U64(gid)};
    if (rc == IM_OK)
        rc = im_mysql_exec(t->m, "UPDATE `groups` SET owner_id = ? WHERE id = ?", p, 2, NULL, NULL, NULL, NULL);
    t->group->owner_id = target;
    t->out->changed[t->out->n_changed++] = t->in->actor_id;
    return rc;
}
