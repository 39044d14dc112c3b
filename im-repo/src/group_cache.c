/* group_cache.c — the cache-aside copy of a group's membership, owned by im-repo, a
 * versioned hash (vhash.c):
 *   group_members:{gid}  HASH uid -> role ("1".."3"), TTL GROUP_MEMBERS_TTL_S
 *   group_ver:{gid}      STRING, INCR after every committed change
 * Readers (im-logic, access.c) treat a missing hash as a miss: a group always has its
 * owner, so an empty hash never means "no members". */
#include "im/log.h"
#include "im/names.h"
#include "repo.h"

#include <stdio.h>
#include <string.h>

#define GROUP_MEMBERS_TTL_S 600

static void keys(uint64_t gid, char members[64], char ver[64])
{
    snprintf(members, 64, IM_KEY_GROUP_MEMBERS, (unsigned long long)gid);
    snprintf(ver, 64, IM_KEY_GROUP_VER, (unsigned long long)gid);
}

void repo_group_cache_invalidate(repo_t *r, uint64_t gid)
{
    char members[64], ver[64];
    keys(gid, members, ver);
    int rc = repo_vhash_invalidate(r, members, ver);
    if (rc != IM_OK)   /* members may be stale until GROUP_MEMBERS_TTL_S */
        im_error("group.cache_invalidate_failed", "group=%llu err=%s", (unsigned long long)gid, im_strerror(rc));
}

int repo_group_cache_version(repo_t *r, uint64_t gid, char ver[32])
{
    char members[64], verkey[64];
    keys(gid, members, verkey);
    return repo_vhash_version(r, verkey, ver);
}

void repo_group_cache_fill(repo_t *r, uint64_t gid, const char *ver, const uint64_t *uids,
                           const int *roles, size_t n)
{
    char members[64], verkey[64];
    keys(gid, members, verkey);
    static const char *const role_text[] = {"0", "1", "2", "3"};
    char *nums = im_calloc(n ? n : 1, 24);   /* decimal uids */
    const char **fields = im_calloc(n ? n : 1, sizeof *fields), **values = im_calloc(n ? n : 1, sizeof *values);
    for (size_t i = 0; i < n; i++) {
        snprintf(nums + 24 * i, 24, "%llu", (unsigned long long)uids[i]);
        fields[i] = nums + 24 * i;
        values[i] = role_text[roles[i] >= 0 && roles[i] <= 3 ? roles[i] : 0];
    }
    repo_vhash_fill(r, members, verkey, ver, GROUP_MEMBERS_TTL_S, fields, values, n);
    im_metric_add(r->metrics.group_fill, 1);
    im_free(values);
    im_free(fields);
    im_free(nums);
}

int repo_group_cache_is_member(repo_t *r, uint64_t gid, uint64_t uid)
{
    char key[64];
    snprintf(key, sizeof key, IM_KEY_GROUP_MEMBERS, (unsigned long long)gid);
    redisContext *c = im_redis_acquire(r->redis);
    if (c == NULL) {
        im_metric_add(r->metrics.group_miss, 1);
        return -1;
    }
    redisAppendCommand(c, "EXISTS %s", key);
    redisAppendCommand(c, "HEXISTS %s %llu", key, (unsigned long long)uid);
    long long v[2] = {0, 0};
    int ok = 1, broken = 0;
    for (int i = 0; i < 2; i++) {
        redisReply *rep = NULL;
        int e = im_redis_reply(c, &rep, "group_cache_is_member");
        if (e == IM_EIO) {
            ok = 0;
            broken = 1;
            break;
        }
        if (e != IM_OK || rep->type != REDIS_REPLY_INTEGER) ok = 0;
        else v[i] = rep->integer;
        if (rep) freeReplyObject(rep);
    }
    im_redis_release(r->redis, c, broken);
    if (!ok || v[0] == 0) {
        im_metric_add(r->metrics.group_miss, 1);
        return -1;
    }
    im_metric_add(r->metrics.group_hit, 1);
    return v[1] ? 1 : 0;
}
