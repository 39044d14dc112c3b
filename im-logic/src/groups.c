/* groups.c — who is in a group, read from the cache im-repo keeps (group_members:{gid},
 * HASH uid -> role) with one script per distinct group, all in one pipeline.
 *
 * The script answers {HLEN, 1, HGETALL} — the whole hash (HGETALL) when the group has at most
 * full_upto members — else {HLEN, 0, HMGET of the uids the caller asked about}. HLEN 0
 * is a miss (a group always has its owner): im-repo GetMemberIds reads MySQL and fills
 * the cache (under its group_ver guard). A logic_groups_t belongs to one thread. */
#include "im/log.h"
#include "im/names.h"
#include "logic.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* KEYS[1] group_members:{gid}; ARGV[1] full_upto, ARGV[2..] uids. HMGET in chunks:
 * Lua's unpack() fails near 8,000 values. */
#define GROUP_VIEW                                                                    \
    "local n = redis.call('HLEN', KEYS[1]) "                                          \
    "if n == 0 then return {0, 0, {}} end "                                              \
    "if n <= tonumber(ARGV[1]) then return {n, 1, redis.call('HGETALL', KEYS[1])} end "  \
    "local out = {} "                                                                 \
    "for i = 2, #ARGV, 1000 do "                                                      \
    "  local r = redis.call('HMGET', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV))) " \
    "  for j = 1, #r do out[#out + 1] = r[j] end "                                    \
    "end "                                                                            \
    "return {n, 0, out}"

void logic_groups_init(logic_groups_t *gs)
{
    memset(gs, 0, sizeof *gs);
    im_u64map_init(&gs->index);
}

void logic_groups_free(logic_groups_t *gs)
{
    for (size_t i = 0; i < gs->n; i++) {
        logic_group_t *g = &gs->v[i];
        im_free(g->ids);
        im_free(g->asks);
        im_u64map_fini(&g->roles);
        im_u64map_fini(&g->got);
    }
    im_free(gs->v);
    im_u64map_fini(&gs->index);
    memset(gs, 0, sizeof *gs);
}

logic_group_t *logic_groups_find(const logic_groups_t *gs, uint64_t gid)
{
    uintptr_t k = gid ? (uintptr_t)im_u64map_get(&gs->index, gid) : 0;
    return k ? &gs->v[k - 1] : NULL;
}

logic_group_t *logic_groups_add(logic_groups_t *gs, uint64_t gid)
{
    logic_group_t *g = logic_groups_find(gs, gid);
    if (g) return g;
    if (gs->n == gs->cap) {
        gs->cap = gs->cap ? 2 * gs->cap : 4;
        gs->v = im_realloc(gs->v, gs->cap * sizeof *gs->v);
    }
    g = &gs->v[gs->n++];
    memset(g, 0, sizeof *g);
    g->gid = gid;
    im_u64map_init(&g->roles);
    im_u64map_init(&g->got);
    im_u64map_put(&gs->index, gid, (void *)(uintptr_t)gs->n);
    return g;
}

void logic_group_ask(logic_group_t *g, uint64_t uid)
{
    if (uid == 0) return;
    for (size_t i = 0; i < g->nasks; i++)   /* a batch asks about a handful */
        if (g->asks[i] == uid) return;
    if (g->nasks == g->capasks) {
        g->capasks = g->capasks ? 2 * g->capasks : 8;
        g->asks = im_realloc(g->asks, g->capasks * sizeof *g->asks);
    }
    g->asks[g->nasks++] = uid;
}

int logic_group_role(const logic_group_t *g, uint64_t uid)
{
    return uid ? (int)(uintptr_t)im_u64map_get(&g->roles, uid) : 0;
}

static void set_member(logic_group_t *g, uint64_t uid, int role)
{
    if (uid == 0 || role <= 0) return;
    im_u64map_put(&g->roles, uid, (void *)(uintptr_t)role);
    if (!g->full) return;
    if ((g->nids & (g->nids - 1)) == 0)   /* grows at powers of two */
        g->ids = im_realloc(g->ids, (g->nids ? 2 * g->nids : 1) * sizeof *g->ids);
    g->ids[g->nids++] = uid;
}

static uint64_t u64_of(const redisReply *r)
{
    if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len > 20) return 0;
    return strtoull(r->str, NULL, 10);
}

/* The script's reply into g; IM_EPROTO if it has another shape. */
static int take(logic_group_t *g, const redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 || r->element[0]->type != REDIS_REPLY_INTEGER ||
        r->element[1]->type != REDIS_REPLY_INTEGER || r->element[2]->type != REDIS_REPLY_ARRAY)
        return IM_EPROTO;
    const redisReply *list = r->element[2];
    g->count = (uint32_t)r->element[0]->integer;
    g->found = g->count > 0;
    if (!g->found) return IM_OK;   /* a miss: im-repo tells */
    if (r->element[1]->integer == 1) {   /* HGETALL: uid, role pairs */
        g->full = 1;
        for (size_t i = 0; i + 1 < list->elements; i += 2)
            set_member(g, u64_of(list->element[i]), (int)u64_of(list->element[i + 1]));
        return IM_OK;
    }
    if (list->elements != g->nasks) return IM_EPROTO;
    for (size_t i = 0; i < g->nasks; i++) set_member(g, g->asks[i], (int)u64_of(list->element[i]));
    return IM_OK;
}

/* A miss: every member from MySQL (im-repo fills the cache on the way). */
static int from_repo(logic_t *l, logic_group_t *g)
{
    Im__Repo__V1__GetMemberIdsRequest req = IM__REPO__V1__GET_MEMBER_IDS_REQUEST__INIT;
    req.group_id = g->gid;
    ProtobufCMessage *resp = NULL;
    int rc = logic_repo_call(l, "GetMemberIds", &req.base, &resp);
    if (rc != IM_OK) return rc;
    Im__Repo__V1__GetMemberIdsReply *r = (void *)resp;
    g->found = r->found && r->n_user_ids > 0;
    g->count = (uint32_t)r->n_user_ids;
    g->full = 1;
    for (size_t i = 0; i < r->n_user_ids; i++)
        set_member(g, r->user_ids[i], i < r->n_roles ? r->roles[i] : 1);
    protobuf_c_message_free_unpacked(resp, NULL);
    return IM_OK;
}

static void append(redisContext *c, const logic_group_t *g, uint32_t full_upto)
{
    size_t argc = 5 + g->nasks;
    const char **argv = im_calloc(argc, sizeof *argv);
    size_t *lens = im_calloc(argc, sizeof *lens);
    char key[64], upto[16], *nums = im_calloc(g->nasks ? g->nasks : 1, 24);
    snprintf(key, sizeof key, IM_KEY_GROUP_MEMBERS, (unsigned long long)g->gid);
    snprintf(upto, sizeof upto, "%u", full_upto);
    argv[0] = "EVAL";
    argv[1] = GROUP_VIEW;
    argv[2] = "1";
    argv[3] = key;
    argv[4] = upto;
    for (size_t i = 0; i < g->nasks; i++) {
        snprintf(nums + 24 * i, 24, "%llu", (unsigned long long)g->asks[i]);
        argv[5 + i] = nums + 24 * i;
    }
    for (size_t i = 0; i < argc; i++) lens[i] = strlen(argv[i]);
    redisAppendCommandArgv(c, (int)argc, argv, lens);
    im_free(nums);
    im_free(lens);
    im_free(argv);
}

int logic_groups_load(logic_t *l, logic_groups_t *gs, uint32_t full_upto)
{
    if (gs->n == 0) return IM_OK;
    redisContext *c = im_redis_acquire(l->redis);
    if (c == NULL) return IM_EUNAVAIL;
    for (size_t i = 0; i < gs->n; i++) append(c, &gs->v[i], full_upto);
    int rc = IM_OK;
    for (size_t i = 0; i < gs->n; i++) {   /* every reply is read, so the connection stays usable */
        redisReply *r = NULL;
        int e = im_redis_reply(c, &r, "group.view");
        if (e == IM_EIO) {
            rc = e;
            break;
        }
        if (e == IM_OK) e = take(&gs->v[i], r);
        if (e != IM_OK) rc = e;
        if (r) freeReplyObject(r);
    }
    im_redis_release(l->redis, c, rc == IM_EIO);
    for (size_t i = 0; rc == IM_OK && i < gs->n; i++)
        if (!gs->v[i].found) rc = from_repo(l, &gs->v[i]);
    if (rc != IM_OK)
        IM_LOG_RATELIMITED(5, IM_LOG_WARN, "group.view_failed", "groups=%zu err=\"%s\"", gs->n, im_strerror(rc));
    return rc;
}
