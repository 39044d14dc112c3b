/* access.c — authorization of reads: a user sees only the conversations they are in.
 * Single chats carry their members in the id (`s_{min}_{max}`, parsed by im/conv.h);
 * groups are checked against the group_members:{gid} cache when it is there (read
 * diffusion sends every member to sync at once), else against MySQL group_members, the
 * truth (the cache is invalidated after every change commits). */
#include "im/conv.h"
#include "repo.h"

static int found(void *ud, char **cols, unsigned long *lens, unsigned ncols)
{
    *(int *)ud = 1;
    return 0;
}

int repo_can_read(repo_t *r, MYSQL *m, uint64_t user_id, const char *cid)
{
    im_conv_t c;
    if (im_conv_parse(cid, &c) != IM_OK) return IM_EFORBIDDEN;
    if (c.kind == IM_CONV_SINGLE) return user_id == c.a || user_id == c.b ? IM_OK : IM_EFORBIDDEN;
    int cached = repo_group_cache_is_member(r, c.a, user_id);
    if (cached >= 0) return cached ? IM_OK : IM_EFORBIDDEN;
    int member = 0;
    im_mysql_param_t p[] = {IM_MP_U64(c.a), IM_MP_U64(user_id)};
    int rc = im_mysql_exec(m, "SELECT 1 FROM group_members WHERE group_id = ? AND user_id = ?", p,
                           2, found, &member, NULL, NULL);
    if (rc != IM_OK) return rc;
    return member ? IM_OK : IM_EFORBIDDEN;
}
