/* group_op_add.c — ChangeGroup "invite" (user_ids join, invited by the actor) and "join"
 * (the actor joins an open group), inside handle_change_group.c's locked txn.
 * Existing members are skipped and not in `changed`; new ones start read up to the
 * conversation's max_seq (group_tx.c). */
#include "repo.h"

#define O(x) IM__REPO__V1__GROUP_OUTCOME__##x

int repo_gop_add(repo_gtx_t *t, repo_gop_t op)
{
    const uint64_t *ids = op == REPO_GOP_JOIN ? &t->in->actor_id : t->in->user_ids;
    size_t n = op == REPO_GOP_JOIN ? 1 : t->in->n_user_ids;
    int *roles = im_calloc(n, sizeof *roles);
    char *exists = im_calloc(n, 1);
    repo_group_facts_t f = {.actor_role = t->actor_role, .open = t->group->open,
                            .member_count = t->group->member_count, .max_members = t->in->max_members};
    int rc = repo_group_roles(t->m, t->group->group_id, ids, n, roles);
    if (rc == IM_OK && op == REPO_GOP_INVITE) rc = repo_users_exist(t->m, ids, n, exists);
    uint64_t *fresh = im_rpc_alloc(t->call, (n + 1) * sizeof *fresh);
    int *fresh_roles = im_calloc(n + 1, sizeof *fresh_roles);
    size_t nf = 0;
    for (size_t i = 0; rc == IM_OK && i < n; i++) {
        if (op == REPO_GOP_INVITE && !exists[i]) f.unknown++;
        else if (roles[i] == REPO_ROLE_NONE) {
            size_t j = 0;   /* skip ids the caller repeated */
            while (j < nf && fresh[j] != ids[i]) j++;
            if (j < nf) continue;
            fresh_roles[nf] = REPO_ROLE_MEMBER;
            fresh[nf++] = ids[i];
        }
    }
    f.adding = (uint32_t)nf;
    if (rc == IM_OK) t->out->outcome = repo_group_rule(op, &f);
    if (rc == IM_OK && t->out->outcome == O(GROUP_OK) && nf > 0) {
        rc = repo_group_add(t->m, t->group->group_id, fresh, fresh_roles, nf);
        t->group->member_count += (uint32_t)nf;
        if (rc == IM_OK) rc = repo_group_save_count(t->m, t->group->group_id, t->group->member_count);
        t->out->changed = fresh;
        t->out->n_changed = nf;
    }
    im_free(fresh_roles);
    im_free(exists);
    im_free(roles);
    return rc;
}
