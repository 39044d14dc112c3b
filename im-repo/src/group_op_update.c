/* group_op_update.c — ChangeGroup "update": name and/or announcement (has_name,
 * has_announcement), by an admin or the owner, inside handle_change_group.c's locked txn.
 * Membership does not change: `changed` stays empty and the cache is left alone. The
 * caller validates lengths; a value the column refuses fails the op (INVALID_ARGUMENT). */
#include "repo.h"

int repo_gop_update(repo_gtx_t *t)
{
    repo_group_facts_t f = {.actor_role = t->actor_role};
    t->out->outcome = repo_group_rule(REPO_GOP_UPDATE, &f);
    if (t->out->outcome != IM__REPO__V1__GROUP_OUTCOME__GROUP_OK) return IM_OK;
    const Im__Repo__V1__GroupOpRequest *in = t->in;
    int rc = IM_OK;
    if (in->has_name) {
        im_mysql_param_t p[] = {IM_MP_STR(in->name), IM_MP_U64(t->group->group_id)};
        rc = im_mysql_exec(t->m, "UPDATE `groups` SET name = ? WHERE id = ?", p, 2, NULL, NULL, NULL, NULL);
        t->group->name = in->name;
    }
    if (rc == IM_OK && in->has_announcement) {
        im_mysql_param_t p[] = {IM_MP_STR(in->announcement), IM_MP_U64(t->group->group_id)};
        rc = im_mysql_exec(t->m, "UPDATE `groups` SET announcement = ? WHERE id = ?", p, 2, NULL, NULL, NULL, NULL);
        t->group->announcement = in->announcement;
    }
    return rc;
}
