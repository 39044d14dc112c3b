/* handle_change_group.c — Repo.ChangeGroup: one op on a group in one transaction.
 *   1. lock the group's row (SELECT ... FOR UPDATE): ops of one group run one at a time,
 *      on every repo instance, for as long as the txn and no longer;
 *   2. read the actor's role, then the op's file checks its rules (group_rules.c) and
 *      writes: group_op_add.c (invite, join), group_op_remove.c (kick, leave),
 *      group_op_role.c, group_op_update.c;
 *   3. commit if the outcome is GROUP_OK (roll back otherwise), then invalidate the
 *      group_members cache (group_cache.c).
 * A refused op is a gRPC OK with outcome != GROUP_OK; a database failure is INTERNAL and
 * changes nothing. */
#include "im/log.h"
#include "repo.h"

#define MAX_USER_IDS 1000

static int run(repo_gtx_t *t, repo_gop_t op)
{
    int rc = repo_group_lock(t->m, t->call, t->in->group_id, &t->group);
    if (rc != IM_OK) return rc;
    if (t->group == NULL) {
        t->out->outcome = IM__REPO__V1__GROUP_OUTCOME__GROUP_NOT_FOUND;
        return IM_OK;
    }
    rc = repo_group_roles(t->m, t->in->group_id, &t->in->actor_id, 1, &t->actor_role);
    if (rc != IM_OK) return rc;
    t->out->actor_role = t->actor_role;
    switch (op) {
    case REPO_GOP_INVITE:
    case REPO_GOP_JOIN: return repo_gop_add(t, op);
    case REPO_GOP_KICK:
    case REPO_GOP_LEAVE: return repo_gop_remove(t, op);
    case REPO_GOP_ROLE: return repo_gop_role(t);
    default: return repo_gop_update(t);
    }
}

REPO_HANDLER(repo_handle_change_group)
{
    repo_t *r = ud;
    const Im__Repo__V1__GroupOpRequest *in = (const void *)req;
    Im__Repo__V1__GroupOpReply *out = (void *)resp;
    repo_gop_t op;
    if (repo_gop_parse(in->op, &op) != IM_OK || in->group_id == 0 || in->actor_id == 0 ||
        in->n_user_ids > MAX_USER_IDS ||
        ((op == REPO_GOP_KICK || op == REPO_GOP_ROLE) && in->n_user_ids != 1) ||
        (op == REPO_GOP_INVITE && in->n_user_ids == 0) ||
        (op == REPO_GOP_ROLE && (in->role < REPO_ROLE_MEMBER || in->role > REPO_ROLE_OWNER))) {
        im_rpc_set_message(call, "bad group op");
        return GRPC_STATUS_INVALID_ARGUMENT;
    }
    MYSQL *m = im_mysql_acquire(r->db);
    if (m == NULL) return GRPC_STATUS_UNAVAILABLE;
    repo_gtx_t t = {r, m, call, in, NULL, REPO_ROLE_NONE, out};
    int rc = im_mysql_begin(m);
    if (rc == IM_OK) rc = run(&t, op);
    int ok = rc == IM_OK && out->outcome == IM__REPO__V1__GROUP_OUTCOME__GROUP_OK;
    if (ok) rc = im_mysql_commit(m);
    if (!ok || rc != IM_OK) im_mysql_rollback(m);
    im_mysql_release(r->db, m);
    if (rc == IM_EINVAL) {   /* a value the columns refused (too long) */
        im_rpc_set_message(call, "group op refused: a value does not fit its column");
        return GRPC_STATUS_INVALID_ARGUMENT;
    }
    if (rc != IM_OK) {
        im_rpc_set_message(call, "group op failed: %s", im_strerror(rc));
        return GRPC_STATUS_INTERNAL;
    }
    out->group = t.group;
    if (ok && out->n_changed > 0) repo_group_cache_invalidate(r, in->group_id);
    if (ok)
        im_info("group.changed", "group=%llu op=%s actor=%llu changed=%zu", (unsigned long long)in->group_id,
                in->op, (unsigned long long)in->actor_id, out->n_changed);
    return GRPC_STATUS_OK;
}
