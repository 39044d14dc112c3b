/* handle_search_users.c — Repo.SearchUsers: usernames starting with the query. */
#include "repo.h"

#include <string.h>

REPO_HANDLER(repo_handle_search_users)
{
    repo_t *r = ud;
    const Im__Repo__V1__SearchUsersRequest *in = (const void *)req;
    uint32_t limit = in->limit == 0 || in->limit > 50 ? 50 : in->limit;
    /* LIKE metacharacters in the query are matched literally */
    size_t n = strlen(in->query);
    char *pattern = im_rpc_alloc(call, 2 * n + 2), *p = pattern;
    for (size_t i = 0; i < n; i++) {
        if (in->query[i] == '%' || in->query[i] == '_' || in->query[i] == '\\') *p++ = '\\';
        *p++ = in->query[i];
    }
    *p++ = '%';
    repo_users_t x = {call, (void *)resp};
    x.out->users = im_rpc_alloc(call, limit * sizeof *x.out->users);
    MYSQL *m = im_mysql_acquire(r->db);
    if (m == NULL) return GRPC_STATUS_UNAVAILABLE;
    im_mysql_param_t params[] = {IM_MP_STR(pattern), IM_MP_U64(limit)};
    int rc = im_mysql_exec(m, "SELECT " REPO_USER_COLS " FROM users u WHERE u.username LIKE ? ORDER BY u.username LIMIT ?",
                           params, 2, repo_row_append_user, &x, NULL, NULL);
    im_mysql_release(r->db, m);
    return rc == IM_OK ? GRPC_STATUS_OK : GRPC_STATUS_INTERNAL;
}
