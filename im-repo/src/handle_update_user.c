/* handle_update_user.c — Repo.UpdateUser: the profile in MySQL first (the nickname, and
 * an avatar: the image made public and the user's avatar_url, in one txn), then the cached
 * copy user_info:{id} deleted (cache-aside: the next read fills it from the new row), so
 * every gateway sees the change at once. If the delete fails the call fails: the caller
 * retries, and until then the old nickname may be served for up to the cache's TTL. */
#include "im/log.h"
#include "im/names.h"
#include "repo.h"

#include <stdio.h>

REPO_HANDLER(repo_handle_update_user)
{
    repo_t *r = ud;
    const Im__Repo__V1__UpdateUserRequest *in = (const void *)req;
    repo_users_t x = {call, (void *)resp};
    x.out->users = im_rpc_alloc(call, sizeof *x.out->users);
    MYSQL *m = im_mysql_acquire(r->db);
    if (m == NULL) return GRPC_STATUS_UNAVAILABLE;
    char url[64];
    snprintf(url, sizeof url, "/api/files/%llu/thumb", (unsigned long long)in->avatar_file_id);
    im_mysql_param_t p[] = {IM_MP_STR(in->nickname), IM_MP_U64(in->user_id)};
    im_mysql_param_t a[] = {IM_MP_U64(in->avatar_file_id), IM_MP_U64(in->user_id), IM_MP_STR(url), IM_MP_U64(in->user_id)};
    int rc = im_mysql_begin(m);
    if (rc == IM_OK && !in->keep_nickname)
        rc = im_mysql_exec(m, "UPDATE users SET nickname = ? WHERE id = ?", p, 2, NULL, NULL, NULL, NULL);
    if (rc == IM_OK && in->avatar_file_id)
        rc = im_mysql_exec(m, "UPDATE files SET public = 1 WHERE id = ? AND uploader_id = ?", a, 2, NULL, NULL, NULL, NULL);
    if (rc == IM_OK && in->avatar_file_id)
        rc = im_mysql_exec(m, "UPDATE users SET avatar_url = ? WHERE id = ?", a + 2, 2, NULL, NULL, NULL, NULL);
    rc = rc == IM_OK ? im_mysql_commit(m) : rc;
    if (rc != IM_OK) im_mysql_rollback(m);
    if (rc == IM_OK)
        rc = im_mysql_exec(m, "SELECT " REPO_USER_COLS " FROM users u WHERE u.id = ?", p + 1, 1, repo_row_append_user,
                           &x, NULL, NULL);
    im_mysql_release(r->db, m);
    if (rc != IM_OK) return GRPC_STATUS_INTERNAL;
    redisReply *rep = im_redis_cmd(r->redis, "DEL " IM_KEY_USER_INFO, (unsigned long long)in->user_id);
    int ok = rep && rep->type == REDIS_REPLY_INTEGER;
    if (rep) freeReplyObject(rep);
    if (!ok) {
        im_warn("user.cache_delete_failed", "user=%llu", (unsigned long long)in->user_id);
        return GRPC_STATUS_UNAVAILABLE;
    }
    return GRPC_STATUS_OK;
}
