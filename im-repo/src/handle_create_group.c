/* handle_create_group.c — Repo.CreateGroup: in one transaction the `groups` row, the
 * group_members rows (owner role 3, the others role 1), the conversation g_{id} (type 2)
 * and a user_conversations row per member. USER_NOT_FOUND (nothing stored) if a member id
 * is no user; GROUP_FULL if max_members (when set) is below 1 + member_ids.
 * Reply: outcome, group, changed = every member (owner first), actor_role 0. */
#include "im/conv.h"
#include "im/log.h"
#include "repo.h"

#define MAX_MEMBERS 1000
#define O(x) IM__REPO__V1__GROUP_OUTCOME__##x

/* The members, owner first, without repeats or zeros; n set. */
static uint64_t *members_of(im_rpc_call_t *call, const Im__Repo__V1__CreateGroupRequest *in, size_t *n)
{
    uint64_t *ids = im_rpc_alloc(call, (in->n_member_ids + 1) * sizeof *ids);
    size_t k = 0;
    ids[k++] = in->owner_id;
    for (size_t i = 0; i < in->n_member_ids; i++) {
        size_t j = 0;
        while (j < k && ids[j] != in->member_ids[i]) j++;
        if (j == k && in->member_ids[i] != 0) ids[k++] = in->member_ids[i];
    }
    *n = k;
    return ids;
}

static int create(MYSQL *m, im_rpc_call_t *call, const Im__Repo__V1__CreateGroupRequest *in, const uint64_t *ids,
                  size_t n, Im__Repo__V1__GroupOpReply *out)
{
    char *exists = im_calloc(n, 1);
    int rc = repo_users_exist(m, ids, n, exists);
    for (size_t i = 0; rc == IM_OK && i < n; i++)
        if (!exists[i]) out->outcome = O(USER_NOT_FOUND);
    im_free(exists);
    if (rc != IM_OK || out->outcome != O(GROUP_OK)) return rc;
    uint64_t gid = 0;
    im_mysql_param_t g[] = {IM_MP_STR(in->name), IM_MP_U64(in->owner_id), IM_MP_STR(in->announcement),
                            IM_MP_U64(n), IM_MP_I64(in->open ? 1 : 0)};
    rc = im_mysql_exec(m, "INSERT INTO `groups` (name, owner_id, announcement, member_count, is_open) "
                       "VALUES (?, ?, ?, ?, ?)", g, 5, NULL, NULL, NULL, &gid);
    char cid[IM_CONV_ID_MAX];
    im_conv_group(cid, gid);
    im_mysql_param_t c[] = {IM_MP_STR(cid)};
    if (rc == IM_OK)   /* before the members' rows: they start at its max_seq (0) */
        rc = im_mysql_exec(m, "INSERT INTO conversations (conversation_id, type) VALUES (?, 2) "
                           "ON DUPLICATE KEY UPDATE type = type", c, 1, NULL, NULL, NULL, NULL);
    int *roles = im_calloc(n, sizeof *roles);
    for (size_t i = 0; i < n; i++) roles[i] = i == 0 ? REPO_ROLE_OWNER : REPO_ROLE_MEMBER;
    if (rc == IM_OK) rc = repo_group_add(m, gid, ids, roles, n);
    im_free(roles);
    if (rc == IM_OK) rc = repo_group_get(m, call, gid, &out->group);
    if (rc == IM_OK && out->group == NULL) rc = IM_EIO;
    return rc;
}

REPO_HANDLER(repo_handle_create_group)
{
    repo_t *r = ud;
    const Im__Repo__V1__CreateGroupRequest *in = (const void *)req;
    Im__Repo__V1__GroupOpReply *out = (void *)resp;
    if (in->owner_id == 0 || !in->name[0] || in->n_member_ids > MAX_MEMBERS) {
        im_rpc_set_message(call, "bad group: owner, name and at most %d members", MAX_MEMBERS);
        return GRPC_STATUS_INVALID_ARGUMENT;
    }
    size_t n;
    uint64_t *ids = members_of(call, in, &n);
    if (in->max_members && n > in->max_members) {
        out->outcome = O(GROUP_FULL);
        return GRPC_STATUS_OK;
    }
    MYSQL *m = im_mysql_acquire(r->db);
    if (m == NULL) return GRPC_STATUS_UNAVAILABLE;
    int rc = im_mysql_begin(m);
    if (rc == IM_OK) rc = create(m, call, in, ids, n, out);
    int ok = rc == IM_OK && out->outcome == O(GROUP_OK);
    if (ok) rc = im_mysql_commit(m);
    if (!ok || rc != IM_OK) im_mysql_rollback(m);
    im_mysql_release(r->db, m);
    if (rc == IM_EINVAL) {
        im_rpc_set_message(call, "group refused: a value does not fit its column");
        return GRPC_STATUS_INVALID_ARGUMENT;
    }
    if (rc != IM_OK) {
        im_rpc_set_message(call, "create group failed: %s", im_strerror(rc));
        return GRPC_STATUS_INTERNAL;
    }
    if (!ok) {
        out->group = NULL;
        return GRPC_STATUS_OK;
    }
    out->changed = ids;
    out->n_changed = n;
    repo_group_cache_invalidate(r, out->group->group_id);   /* a stale group_ver from an older database */
    im_info("group.created", "group=%llu owner=%llu members=%zu", (unsigned long long)out->group->group_id,
            (unsigned long long)in->owner_id, n);
    return GRPC_STATUS_OK;
}
