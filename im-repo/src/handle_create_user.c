/* handle_create_user.c — Repo.CreateUser: one users row; a taken username is not an error. */
#include "im/log.h"
#include "repo.h"

REPO_HANDLER(repo_handle_create_user)
{
    repo_t *r = ud;
    const Im__Repo__V1__CreateUserRequest *in = (const void *)req;
    Im__Repo__V1__CreateUserReply *out = (void *)resp;
    MYSQL *m = im_mysql_acquire(r->db);
    if (m == NULL) return GRPC_STATUS_UNAVAILABLE;
    im_mysql_param_t p[] = {IM_MP_STR(in->username), IM_MP_STR(in->password_hash),
                            IM_MP_STR(in->nickname)};
    uint64_t id = 0;
    int rc = im_mysql_exec(m, "INSERT INTO users (username, password_hash, nickname) VALUES (?, ?, ?)",
                           p, 3, NULL, NULL, NULL, &id);
    im_mysql_release(r->db, m);
    if (rc == IM_EEXISTS) {
        out->taken = 1;
        return GRPC_STATUS_OK;
    }
    if (rc != IM_OK) return GRPC_STATUS_INTERNAL;
    out->user_id = id;
    im_info("user.created", "user=%llu", (unsigned long long)id);
    return GRPC_STATUS_OK;
}
