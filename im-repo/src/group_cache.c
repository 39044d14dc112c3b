/* group_cache.c — the cache-aside copy of a group's membership, owned by im-repo:
 *   group_members:{gid}  HASH uid -> role ("1".."3"), TTL GROUP_MEMBERS_TTL_S
 *   group_ver:{gid}      STRING, INCR after every committed change, TTL GROUP_VER_TTL_S
 * A change commits, then INCRs group_ver and DELs the hash in one MULTI. A fill reads
 * group_ver, then MySQL, then writes the hash with FILL_SCRIPT only if group_ver has not
 * moved: a fill that read MySQL before a change cannot write the old members after the
 * change's DEL. Readers (im-logic, access.c) treat a missing hash as a miss: a group
 * always has its owner, so an empty hash never means "no members". */
#include "im/log.h"
#include "im/names.h"
#include "repo.h"

#include <stdio.h>
#include <string.h>

#define GROUP_MEMBERS_TTL_S 600
#define GROUP_VER_TTL_S 86400
#define FILL_CHUNK 1000   /* uid/role pairs per HSET: Lua unpack() fails near 8,000 values */

/* KEYS[1] group_members, KEYS[2] group_ver; ARGV[1] the version read before MySQL ("" =
 * none), ARGV[2] TTL, ARGV[3] pairs per HSET, ARGV[4..] uid, role pairs. 1 written, 0 not. */
static const char FILL_SCRIPT[] =
    "if (redis.call('GET', KEYS[2]) or '') ~= ARGV[1] then return 0 end "
    "redis.call('DEL', KEYS[1]) "
    "local step = 2 * tonumber(ARGV[3]) "
    "for i = 4, #ARGV, step do "
    "  redis.call('HSET', KEYS[1], unpack(ARGV, i, math.min(i + step - 1, #ARGV))) "
    "end "
    "if #ARGV >= 4 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end "
    "return 1";

void repo_group_cache_invalidate(repo_t *r, uint64_t gid)
{
    char members[64], ver[64];
    snprintf(members, sizeof members, IM_KEY_GROUP_MEMBERS, (unsigned long long)gid);
    snprintf(ver, sizeof ver, IM_KEY_GROUP_VER, (unsigned long long)gid);
    redisContext *c = im_redis_acquire(r->redis);
    if (c == NULL) {
        im_error("group.cache_invalidate_failed", "group=%llu err=\"no redis\"", (unsigned long long)gid);
        return;
    }
    redisAppendCommand(c, "MULTI");
    redisAppendCommand(c, "INCR %s", ver);
    redisAppendCommand(c, "EXPIRE %s %d", ver, GROUP_VER_TTL_S);
    redisAppendCommand(c, "DEL %s", members);
    redisAppendCommand(c, "EXEC");
    int rc = IM_OK, broken = 0;
    for (int i = 0; i < 5; i++) {
        redisReply *rep = NULL;
        int e = im_redis_reply(c, &rep, "group_cache_invalidate");
        if (e == IM_EIO) {
            rc = e;
            broken = 1;
            break;
        }
        if (e != IM_OK) rc = e;
        else if (i == 4 && rep->type != REDIS_REPLY_ARRAY) rc = IM_EPROTO;   /* EXEC aborted */
        if (rep) freeReplyObject(rep);
    }
    im_redis_release(r->redis, c, broken);
    if (rc != IM_OK)   /* members may be stale until GROUP_MEMBERS_TTL_S */
        im_error("group.cache_invalidate_failed", "group=%llu err=%s", (unsigned long long)gid, im_strerror(rc));
}

int repo_group_cache_version(repo_t *r, uint64_t gid, char ver[32])
{
    redisReply *rep = im_redis_cmd(r->redis, "GET " IM_KEY_GROUP_VER, (unsigned long long)gid);
    if (rep == NULL) return IM_EIO;
    int rc = IM_OK;
    if (rep->type == REDIS_REPLY_NIL) ver[0] = 0;
    else if (rep->type == REDIS_REPLY_STRING && rep->len < 32) memcpy(ver, rep->str, rep->len + 1);
    else rc = IM_EPROTO;
    freeReplyObject(rep);
    return rc;
}

void repo_group_cache_fill(repo_t *r, uint64_t gid, const char *ver, const uint64_t *uids,
                           const int *roles, size_t n)
{
    if (n == 0) return;
    char members[64], verkey[64], ttl[16], chunk[16];
    snprintf(members, sizeof members, IM_KEY_GROUP_MEMBERS, (unsigned long long)gid);
    snprintf(verkey, sizeof verkey, IM_KEY_GROUP_VER, (unsigned long long)gid);
    snprintf(ttl, sizeof ttl, "%d", GROUP_MEMBERS_TTL_S);
    snprintf(chunk, sizeof chunk, "%d", FILL_CHUNK);
    size_t argc = 8 + 2 * n;
    const char **argv = im_calloc(argc, sizeof *argv);
    size_t *lens = im_calloc(argc, sizeof *lens);
    char *nums = im_calloc(n, 24);   /* decimal uids; roles are one digit */
    static const char *const role_text[] = {"0", "1", "2", "3"};
    argv[0] = "EVAL";
    argv[1] = FILL_SCRIPT;
    argv[2] = "2";
    argv[3] = members;
    argv[4] = verkey;
    argv[5] = ver;
    argv[6] = ttl;
    argv[7] = chunk;
    for (size_t i = 0; i < n; i++) {
        snprintf(nums + 24 * i, 24, "%llu", (unsigned long long)uids[i]);
        argv[8 + 2 * i] = nums + 24 * i;
        argv[9 + 2 * i] = role_text[roles[i] >= 0 && roles[i] <= 3 ? roles[i] : 0];
    }
    for (size_t i = 0; i < argc; i++) lens[i] = strlen(argv[i]);
    redisReply *rep = im_redis_cmdargv(r->redis, (int)argc, argv, lens);   /* errors are logged there */
    if (rep) freeReplyObject(rep);
    im_free(nums);
    im_free(lens);
    im_free(argv);
}

int repo_group_cache_is_member(repo_t *r, uint64_t gid, uint64_t uid)
{
    char key[64];
    snprintf(key, sizeof key, IM_KEY_GROUP_MEMBERS, (unsigned long long)gid);
    redisContext *c = im_redis_acquire(r->redis);
    if (c == NULL) return -1;
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
    if (!ok || v[0] == 0) return -1;
    return v[1] ? 1 : 0;
}
