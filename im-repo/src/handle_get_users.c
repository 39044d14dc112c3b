/* handle_get_users.c — Repo.GetUsers: profiles by id, cache-aside through user_info:{id}.
 * Unknown ids are simply absent from the reply. */
#include "im/log.h"
#include "im/names.h"
#include "repo.h"

#include <stdio.h>
#include <string.h>

#define USER_INFO_TTL_S 3600

/* Cache hit: user_info:{id} holds the columns of REPO_USER_COLS in order. */
static int from_cache(repo_t *r, repo_users_t *x, uint64_t id)
{
    redisReply *rep = im_redis_cmd(r->redis, "HMGET " IM_KEY_USER_INFO " id username nickname avatar_url created_at",
                                   (unsigned long long)id);
    int hit = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == REPO_USER_NCOLS &&
              rep->element[0]->type == REDIS_REPLY_STRING;
    if (hit) {
        char *cols[REPO_USER_NCOLS];
        for (int i = 0; i < REPO_USER_NCOLS; i++)
            cols[i] = rep->element[i]->type == REDIS_REPLY_STRING ? rep->element[i]->str : "";
        repo_row_append_user(x, cols, NULL, REPO_USER_NCOLS);
    }
    if (rep) freeReplyObject(rep);
    return hit;
}

static void to_cache(repo_t *r, const Im__Common__V1__User *u)
{
    char key[64];
    snprintf(key, sizeof key, IM_KEY_USER_INFO, (unsigned long long)u->user_id);
    redisReply *rep = im_redis_cmd(r->redis, "HSET %s id %llu username %s nickname %s avatar_url %s created_at %lld",
                                   key, (unsigned long long)u->user_id, u->username, u->nickname,
                                   u->avatar_url, (long long)(u->created_at / 1000));
    if (rep) freeReplyObject(rep);
    rep = im_redis_cmd(r->redis, "EXPIRE %s %d", key, USER_INFO_TTL_S);
    if (rep) freeReplyObject(rep);
}

REPO_HANDLER(repo_handle_get_users)
{
    repo_t *r = ud;
    const Im__Repo__V1__GetUsersRequest *in = (const void *)req;
    repo_users_t x = {call, (void *)resp};
    if (in->n_user_ids > 1000) return GRPC_STATUS_INVALID_ARGUMENT;
    x.out->users = im_rpc_alloc(call, (in->n_user_ids + 1) * sizeof *x.out->users);
    MYSQL *m = NULL;
    for (size_t i = 0; i < in->n_user_ids; i++) {
        if (from_cache(r, &x, in->user_ids[i])) continue;
        if (m == NULL && (m = im_mysql_acquire(r->db)) == NULL) return GRPC_STATUS_UNAVAILABLE;
        size_t before = x.out->n_users;
        im_mysql_param_t p[] = {IM_MP_U64(in->user_ids[i])};
        if (im_mysql_exec(m, "SELECT " REPO_USER_COLS " FROM users u WHERE u.id = ?", p, 1, repo_row_append_user, &x,
                          NULL, NULL) != IM_OK) {
            im_mysql_release(r->db, m);
            return GRPC_STATUS_INTERNAL;
        }
        if (x.out->n_users > before) to_cache(r, x.out->users[before]);
    }
    if (m) im_mysql_release(r->db, m);
    return GRPC_STATUS_OK;
}
