/* group_rules.c — who may change a group, and how: a pure function of the group's locked
 * state, so every op is checked atomically inside its transaction (handle_change_group.c)
 * and the rules are unit-tested without a database (tests/test_group_rules.c).
 *
 *   invite  actor >= admin, or any member of an open group; unknown invitees refused;
 *           existing members skipped (the caller counts only the others in `adding`)
 *   join    an existing member: OK (nothing added); else the group must be open
 *   kick    actor >= admin; the target a member with a role below the actor's
 *   leave   any member but the owner (who transfers first)
 *   role    owner only, on another member (role 3 = transfer of ownership)
 *   update  actor >= admin
 *   invite and join beyond max_members (when set): GROUP_FULL */
#include "repo.h"

#include <string.h>

#define O(x) IM__REPO__V1__GROUP_OUTCOME__##x

static Im__Repo__V1__GroupOutcome full(const repo_group_facts_t *f)
{
    if (f->max_members && (uint64_t)f->member_count + f->adding > f->max_members) return O(GROUP_FULL);
    return O(GROUP_OK);
}

Im__Repo__V1__GroupOutcome repo_group_rule(repo_gop_t op, const repo_group_facts_t *f)
{
    if (op == REPO_GOP_JOIN) {
        if (f->actor_role != REPO_ROLE_NONE) return O(GROUP_OK);
        return f->open ? full(f) : O(NOT_OPEN);
    }
    if (f->actor_role == REPO_ROLE_NONE) return O(ACTOR_NOT_MEMBER);
    switch (op) {
    case REPO_GOP_INVITE:
        if (f->actor_role < REPO_ROLE_ADMIN && !f->open) return O(ACTOR_ROLE);
        if (f->unknown) return O(USER_NOT_FOUND);
        return full(f);
    case REPO_GOP_KICK:
        if (f->actor_role < REPO_ROLE_ADMIN) return O(ACTOR_ROLE);
        if (f->target_role == REPO_ROLE_NONE) return O(TARGET_NOT_MEMBER);
        return f->target_role < f->actor_role ? O(GROUP_OK) : O(TARGET_ROLE);
    case REPO_GOP_LEAVE:
        return f->actor_role == REPO_ROLE_OWNER ? O(TARGET_ROLE) : O(GROUP_OK);
    case REPO_GOP_ROLE:
        if (f->actor_role != REPO_ROLE_OWNER) return O(ACTOR_ROLE);
        if (f->target_role == REPO_ROLE_NONE) return O(TARGET_NOT_MEMBER);
        return f->target_role == REPO_ROLE_OWNER ? O(TARGET_ROLE) : O(GROUP_OK);   /* the owner itself */
    case REPO_GOP_UPDATE:
        return f->actor_role >= REPO_ROLE_ADMIN ? O(GROUP_OK) : O(ACTOR_ROLE);
    default:
        return O(ACTOR_ROLE);
    }
}

int repo_gop_parse(const char *s, repo_gop_t *op)
{
    static const char *const names[] = {"invite", "join", "kick", "leave", "role", "update"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (s && strcmp(s, names[i]) == 0) {
            *op = (repo_gop_t)i;
            return IM_OK;
        }
    return IM_EINVAL;
}
