/* access.c — authorization of reads: a user sees only the conversations they are in.
 * Single chats carry their members in the id (`s_{min}_{max}`); groups are checked
 * against group_members. */
#include <stdio.h>
#include <string.h>

#include "repo.h"

int repo_single_members(const char *cid, uint64_t *a, uint64_t *b)
{
    unsigned long long x, y;
    int end = 0;
    if (sscanf(cid, "s_%llu_%llu%n", &x, &y, &end) != 2 || cid[end] != '\0' || x == 0 || x >= y)
        return IM_EINVAL;
    *a = x;
    *b = y;
    return IM_OK;
}

static int found(void *ud, char **cols, unsigned long *lens, unsigned ncols)
{
    *(int *)ud = 1;
    return 0;
}

int repo_can_read(repo_t *r, MYSQL *m, uint64_t user_id, const char *cid)
{
    uint64_t a, b;
    if (repo_single_members(cid, &a, &b) == IM_OK)
        return user_id == a || user_id == b ? IM_OK : IM_EFORBIDDEN;
    unsigned long long gid;
    int end = 0;
    if (sscanf(cid, "g_%llu%n", &gid, &end) != 1 || cid[end] != '\0') return IM_EFORBIDDEN;
    int member = 0;
    im_mysql_param_t p[] = {IM_MP_U64(gid), IM_MP_U64(user_id)};
    int rc = im_mysql_exec(m, "SELECT 1 FROM group_members WHERE group_id = ? AND user_id = ?", p,
                           2, found, &member, NULL, NULL);
    if (rc != IM_OK) return rc;
    return member ? IM_OK : IM_EFORBIDDEN;
}
