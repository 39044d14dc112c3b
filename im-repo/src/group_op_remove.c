/* group_op_remove.c — ChangeGroup "kick" (user_ids[0] removed by the actor) and "leave"
 * (the actor goes), inside handle_change_group.c's locked txn: the member's
 * group_members and user_conversations rows are deleted, member_count drops. Of two
 * concurrent kicks of one member the second finds no row: TARGET_NOT_MEMBER. */
#include "repo.h"

int repo_gop_remove(repo_gtx_t *t, repo_gop_t op)
{
    uint64_t target = op == REPO_GOP_LEAVE ? t->in->actor_id : t->in->user_ids[0];
    repo_group_facts_t f = {.actor_role = t->actor_role, .target_role = t->actor_role};
    int rc = IM_OK;
    if (op == REPO_GOP_KICK) rc = repo_group_roles(t->m, t->group->group_id, &target, 1, &f.target_role);
    if (rc != IM_OK) return rc;
    t->out->outcome = repo_group_rule(op, &f);
    if (t->out->outcome != IM__REPO__V1__GROUP_OUTCOME__GROUP_OK) return IM_OK;
    rc = repo_group_remove(t->m, t->group->group_id, target);
    if (t->group->member_count > 0) t->group->member_count--;
    if (rc == IM_OK) rc = repo_group_save_count(t->m, t->group->group_id, t->group->member_count);
    t->out->changed = im_rpc_alloc(t->call, sizeof *t->out->changed);
    t->out->changed[0] = target;
    t->out->n_changed = 1;
    return rc;
}
