/* vhash.c — a cache-aside Redis HASH guarded by a version key, owned by im-repo (the
 * group members of group_cache.c, a user's friends and blocks of relations.c):
 *   a change commits in MySQL, then INCRs the version and DELs the hash in one MULTI;
 *   a fill reads the version, then MySQL, then writes the hash with FILL_SCRIPT only if
 *   the version has not moved: a fill that read MySQL before a change cannot write the
 *   old rows after the change's DEL. */
#include "im/log.h"
#include "repo.h"

#include <stdio.h>
#include <string.h>

#define VER_TTL_S 86400
#define FILL_CHUNK 1000   /* field/value pairs per HSET: Lua unpack() fails near 8,000 values */

/* KEYS[1] the hash, KEYS[2] its version; ARGV[1] the version read before MySQL ("" =
 * none), ARGV[2] TTL, ARGV[3] pairs per HSET, ARGV[4..] field, value pairs. 1 written, 0 not. */
static const char FILL_SCRIPT[] =
    "if (redis.call('GET', KEYS[2]) or '') ~= ARGV[1] then return 0 end "
    "redis.call('DEL', KEYS[1]) "
    "local step = 2 * tonumber(ARGV[3]) "
    "for i = 4, #ARGV, step do "
    "  redis.call('HSET', KEYS[1], unpack(ARGV, i, math.min(i + step - 1, #ARGV))) "
    "end "
    "if #ARGV >= 4 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end "
    "return 1";

int repo_vhash_invalidate(repo_t *r, const char *key, const char *verkey)
{
    redisContext *c = im_redis_acquire(r->redis);
    if (c == NULL) return IM_EUNAVAIL;
    redisAppendCommand(c, "MULTI");
    redisAppendCommand(c, "INCR %s", verkey);
    redisAppendCommand(c, "EXPIRE %s %d", verkey, VER_TTL_S);
    redisAppendCommand(c, "DEL %s", key);
    redisAppendCommand(c, "EXEC");
    int rc = IM_OK, broken = 0;
    for (int i = 0; i < 5; i++) {
        redisReply *rep = NULL;
        int e = im_redis_reply(c, &rep, "vhash_invalidate");
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
    return rc;
}

int repo_vhash_version(repo_t *r, const char *verkey, char ver[32])
{
    redisReply *rep = im_redis_cmd(r->redis, "GET %s", verkey);
    if (rep == NULL) return IM_EIO;
    int rc = IM_OK;
    if (rep->type == REDIS_REPLY_NIL) ver[0] = 0;
    else if (rep->type == REDIS_REPLY_STRING && rep->len < 32) memcpy(ver, rep->str, rep->len + 1);
    else rc = IM_EPROTO;
    freeReplyObject(rep);
    return rc;
}

void repo_vhash_fill(repo_t *r, const char *key, const char *verkey, const char *ver, int ttl_s,
                     const char *const *fields, const char *const *values, size_t n)
{
    if (n == 0) return;
    char ttl[16], chunk[16];
    snprintf(ttl, sizeof ttl, "%d", ttl_s);
    snprintf(chunk, sizeof chunk, "%d", FILL_CHUNK);
    size_t argc = 8 + 2 * n;
    const char **argv = im_calloc(argc, sizeof *argv);
    size_t *lens = im_calloc(argc, sizeof *lens);
    argv[0] = "EVAL";
    argv[1] = FILL_SCRIPT;
    argv[2] = "2";
    argv[3] = key;
    argv[4] = verkey;
    argv[5] = ver;
    argv[6] = ttl;
    argv[7] = chunk;
    for (size_t i = 0; i < n; i++) {
        argv[8 + 2 * i] = fields[i];
        argv[9 + 2 * i] = values[i];
    }
    for (size_t i = 0; i < argc; i++) lens[i] = strlen(argv[i]);
    redisReply *rep = im_redis_cmdargv(r->redis, (int)argc, argv, lens);   /* errors are logged there */
    if (rep) freeReplyObject(rep);
    im_free(lens);
    im_free(argv);
}
