/* test_group_rules.c — the role rules of group ops (group_rules.c), without a database. */
#include "im_test.h"
#include "repo.h"

#define O(x) IM__REPO__V1__GROUP_OUTCOME__##x
enum { NONE = REPO_ROLE_NONE, MEMBER = REPO_ROLE_MEMBER, ADMIN = REPO_ROLE_ADMIN, OWNER = REPO_ROLE_OWNER };

static int rule(repo_gop_t op, int actor, int target)
{
    repo_group_facts_t f = {.actor_role = actor, .target_role = target, .member_count = 3, .adding = 1};
    return repo_group_rule(op, &f);
}

static void test_invite(void)
{
    repo_group_facts_t f = {.actor_role = MEMBER, .member_count = 3, .adding = 2};
    CHECK_INT(repo_group_rule(REPO_GOP_INVITE, &f), O(ACTOR_ROLE));     /* closed group: member may not */
    f.open = 1;
    CHECK_INT(repo_group_rule(REPO_GOP_INVITE, &f), O(GROUP_OK));       /* open: any member */
    f.open = 0;
    f.actor_role = ADMIN;
    CHECK_INT(repo_group_rule(REPO_GOP_INVITE, &f), O(GROUP_OK));
    f.actor_role = NONE;
    CHECK_INT(repo_group_rule(REPO_GOP_INVITE, &f), O(ACTOR_NOT_MEMBER));
    f.actor_role = OWNER;
    f.unknown = 1;
    CHECK_INT(repo_group_rule(REPO_GOP_INVITE, &f), O(USER_NOT_FOUND));
    f.unknown = 0;
    f.max_members = 5;
    CHECK_INT(repo_group_rule(REPO_GOP_INVITE, &f), O(GROUP_OK));       /* 3 + 2 = 5: at the cap */
    f.adding = 3;
    CHECK_INT(repo_group_rule(REPO_GOP_INVITE, &f), O(GROUP_FULL));
    f.adding = 0;                                                       /* all already members */
    CHECK_INT(repo_group_rule(REPO_GOP_INVITE, &f), O(GROUP_OK));
    f.max_members = 0;
    f.adding = 100000;
    CHECK_INT(repo_group_rule(REPO_GOP_INVITE, &f), O(GROUP_OK));       /* 0 = no cap */
}

static void test_join(void)
{
    repo_group_facts_t f = {.actor_role = NONE, .member_count = 3, .adding = 1};
    CHECK_INT(repo_group_rule(REPO_GOP_JOIN, &f), O(NOT_OPEN));
    f.open = 1;
    CHECK_INT(repo_group_rule(REPO_GOP_JOIN, &f), O(GROUP_OK));
    f.max_members = 3;
    CHECK_INT(repo_group_rule(REPO_GOP_JOIN, &f), O(GROUP_FULL));
    f.actor_role = MEMBER;                                              /* already in: OK, nothing added */
    f.adding = 0;
    CHECK_INT(repo_group_rule(REPO_GOP_JOIN, &f), O(GROUP_OK));
}

static void test_kick(void)
{
    CHECK_INT(rule(REPO_GOP_KICK, NONE, MEMBER), O(ACTOR_NOT_MEMBER));
    CHECK_INT(rule(REPO_GOP_KICK, MEMBER, MEMBER), O(ACTOR_ROLE));
    CHECK_INT(rule(REPO_GOP_KICK, ADMIN, MEMBER), O(GROUP_OK));
    CHECK_INT(rule(REPO_GOP_KICK, ADMIN, ADMIN), O(TARGET_ROLE));
    CHECK_INT(rule(REPO_GOP_KICK, ADMIN, OWNER), O(TARGET_ROLE));
    CHECK_INT(rule(REPO_GOP_KICK, OWNER, ADMIN), O(GROUP_OK));
    CHECK_INT(rule(REPO_GOP_KICK, OWNER, NONE), O(TARGET_NOT_MEMBER));   /* the second of two kicks */
    CHECK_INT(rule(REPO_GOP_KICK, OWNER, OWNER), O(TARGET_ROLE));        /* oneself */
}

static void test_leave_role_update(void)
{
    CHECK_INT(rule(REPO_GOP_LEAVE, MEMBER, MEMBER), O(GROUP_OK));
    CHECK_INT(rule(REPO_GOP_LEAVE, ADMIN, ADMIN), O(GROUP_OK));
    CHECK_INT(rule(REPO_GOP_LEAVE, OWNER, OWNER), O(TARGET_ROLE));
    CHECK_INT(rule(REPO_GOP_LEAVE, NONE, NONE), O(ACTOR_NOT_MEMBER));
    CHECK_INT(rule(REPO_GOP_ROLE, OWNER, MEMBER), O(GROUP_OK));
    CHECK_INT(rule(REPO_GOP_ROLE, OWNER, ADMIN), O(GROUP_OK));
    CHECK_INT(rule(REPO_GOP_ROLE, ADMIN, MEMBER), O(ACTOR_ROLE));
    CHECK_INT(rule(REPO_GOP_ROLE, MEMBER, MEMBER), O(ACTOR_ROLE));
    CHECK_INT(rule(REPO_GOP_ROLE, OWNER, NONE), O(TARGET_NOT_MEMBER));
    CHECK_INT(rule(REPO_GOP_ROLE, OWNER, OWNER), O(TARGET_ROLE));
    CHECK_INT(rule(REPO_GOP_ROLE, NONE, MEMBER), O(ACTOR_NOT_MEMBER));
    CHECK_INT(rule(REPO_GOP_UPDATE, MEMBER, NONE), O(ACTOR_ROLE));
    CHECK_INT(rule(REPO_GOP_UPDATE, ADMIN, NONE), O(GROUP_OK));
    CHECK_INT(rule(REPO_GOP_UPDATE, OWNER, NONE), O(GROUP_OK));
    CHECK_INT(rule(REPO_GOP_UPDATE, NONE, NONE), O(ACTOR_NOT_MEMBER));
}

static void test_parse(void)
{
    repo_gop_t op = REPO_GOP_UPDATE;
    CHECK(repo_gop_parse("invite", &op) == IM_OK && op == REPO_GOP_INVITE);
    CHECK(repo_gop_parse("leave", &op) == IM_OK && op == REPO_GOP_LEAVE);
    CHECK(repo_gop_parse("update", &op) == IM_OK && op == REPO_GOP_UPDATE);
    CHECK(repo_gop_parse("Kick", &op) == IM_EINVAL);
    CHECK(repo_gop_parse("", &op) == IM_EINVAL);
    CHECK(repo_gop_parse(NULL, &op) == IM_EINVAL);
}

int main(void)
{
    test_invite();
    test_join();
    test_kick();
    test_leave_role_update();
    test_parse();
    IM_TEST_DONE();
}
