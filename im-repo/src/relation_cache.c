/* relation_cache.c — user_rel:{uid}, the cache-aside copy of a user's friends and blocks
 * (a versioned hash, vhash.c, with user_rel_ver:{uid}):
 *   field = the other user's id, value "f" (friends), "b" (uid blocked them) or "fb";
 *   field "0" = "1" marks the hash loaded, so a user with no relations is cached too.
 * im-logic reads it on every single-chat batch (is the sender blocked? friends?);
 * handle_get_relations.c fills it. */
#include "im/log.h"
#include "im/names.h"
#include "repo.h"

#include <stdio.h>

static void keys(uint64_t uid, char rel[64], char ver[64])
{
    snprintf(rel, 64, IM_KEY_USER_REL, (unsigned long long)uid);
    snprintf(ver, 64, IM_KEY_USER_REL_VER, (unsigned long long)uid);
}

void repo_relation_cache_invalidate(repo_t *r, uint64_t uid)
{
    char rel[64], ver[64];
    keys(uid, rel, ver);
    int rc = repo_vhash_invalidate(r, rel, ver);
    if (rc != IM_OK)   /* a block may not be seen until RELATION_TTL_S: logged loudly */
        im_error("relation.cache_invalidate_failed", "user=%llu err=%s", (unsigned long long)uid, im_strerror(rc));
}

int repo_relation_cache_version(repo_t *r, uint64_t uid, char ver[32])
{
    char rel[64], verkey[64];
    keys(uid, rel, verkey);
    return repo_vhash_version(r, verkey, ver);
}

void repo_relation_cache_fill(repo_t *r, uint64_t uid, const char *ver, const uint64_t *friends, size_t nf,
                              const uint64_t *blocked, size_t nb)
{
    char rel[64], verkey[64];
    keys(uid, rel, verkey);
    size_t cap = nf + nb + 1, n = 0;
    char *nums = im_calloc(cap, 24);
    const char **fields = im_calloc(cap, sizeof *fields), **values = im_calloc(cap, sizeof *values);
    im_u64map_t at;   /* uid -> 1 + index, for "fb" */
    im_u64map_init(&at);
    fields[n] = "0";
    values[n++] = "1";
    for (size_t i = 0; i < nf; i++) {
        snprintf(nums + 24 * n, 24, "%llu", (unsigned long long)friends[i]);
        fields[n] = nums + 24 * n;
        values[n] = "f";
        im_u64map_put(&at, friends[i], (void *)(uintptr_t)(n + 1));
        n++;
    }
    for (size_t i = 0; i < nb; i++) {
        uintptr_t k = (uintptr_t)im_u64map_get(&at, blocked[i]);
        if (k) {
            values[k - 1] = "fb";
            continue;
        }
        snprintf(nums + 24 * n, 24, "%llu", (unsigned long long)blocked[i]);
        fields[n] = nums + 24 * n;
        values[n++] = "b";
    }
    repo_vhash_fill(r, rel, verkey, ver, REPO_RELATION_TTL_S, fields, values, n);
    im_metric_add(r->metrics.relation_fill, 1);
    im_u64map_fini(&at);
    im_free(values);
    im_free(fields);
    im_free(nums);
}
