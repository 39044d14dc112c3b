/* group_tx.c — the statements of the group transactions. The caller has begun the txn
 * and, for a change, locked the group's row first (repo_group_lock): every membership
 * change of a group runs under that row lock, so reads of group_members here see the
 * latest committed state and no two changes of one group interleave.
 * Table order inside a txn: `groups`, group_members, conversations (read), user_conversations. */
#include "im/conv.h"
#include "repo.h"

#include <stdlib.h>

typedef struct {
    im_rpc_call_t *call;
    Im__Common__V1__Group *g;
} group_row_t;

static int group_row(void *ud, char **cols, unsigned long *lens, unsigned ncols)
{
    group_row_t *x = ud;
    x->g = repo_row_group(x->call, cols);
    return 0;
}

static int get(MYSQL *m, im_rpc_call_t *call, uint64_t gid, const char *sql, Im__Common__V1__Group **out)
{
    group_row_t x = {call, NULL};
    im_mysql_param_t p[] = {IM_MP_U64(gid)};
    int rc = im_mysql_exec(m, sql, p, 1, group_row, &x, NULL, NULL);
    if (rc == IM_OK) *out = x.g;
    return rc;
}

int repo_group_lock(MYSQL *m, im_rpc_call_t *call, uint64_t gid, Im__Common__V1__Group **out)
{
    return get(m, call, gid, "SELECT " REPO_GROUP_COLS " FROM `groups` g WHERE g.id = ? FOR UPDATE", out);
}

int repo_group_get(MYSQL *m, im_rpc_call_t *call, uint64_t gid, Im__Common__V1__Group **out)
{
    return get(m, call, gid, "SELECT " REPO_GROUP_COLS " FROM `groups` g WHERE g.id = ?", out);
}

typedef struct {
    const uint64_t *uids;
    size_t n;
    int *roles;       /* roles: role per uid */
    char *exists;     /* users_exist: 1 per uid */
} lookup_t;

/* cols: user id [, role] */
static int lookup_row(void *ud, char **cols, unsigned long *lens, unsigned ncols)
{
    lookup_t *x = ud;
    uint64_t id = repo_u64(cols[0]);
    for (size_t i = 0; i < x->n; i++) {
        if (x->uids[i] != id) continue;
        if (x->roles) x->roles[i] = (int)repo_u64(cols[1]);
        if (x->exists) x->exists[i] = 1;
    }
    return 0;
}

int repo_group_roles(MYSQL *m, uint64_t gid, const uint64_t *uids, size_t n, int *roles)
{
    static const repo_rows_sql_t sql = {"SELECT user_id, role FROM group_members WHERE ",
                                        "(group_id = ? AND user_id = ?)", " OR ", "", 2};
    for (size_t i = 0; i < n; i++) roles[i] = REPO_ROLE_NONE;
    im_mysql_param_t *p = im_calloc(2 * n + 1, sizeof *p);
    for (size_t i = 0; i < n; i++) {
        p[2 * i] = IM_MP_U64(gid);
        p[2 * i + 1] = IM_MP_U64(uids[i]);
    }
    lookup_t x = {uids, n, roles, NULL};
    int rc = repo_exec_chunked(m, &sql, n, p, lookup_row, &x);
    im_free(p);
    return rc;
}

int repo_users_exist(MYSQL *m, const uint64_t *uids, size_t n, char *exists)
{
    static const repo_rows_sql_t sql = {"SELECT id FROM users WHERE id IN (", "?", ",", ")", 1};
    for (size_t i = 0; i < n; i++) exists[i] = 0;
    im_mysql_param_t *p = im_calloc(n + 1, sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = IM_MP_U64(uids[i]);
    lookup_t x = {uids, n, NULL, exists};
    int rc = repo_exec_chunked(m, &sql, n, p, lookup_row, &x);
    im_free(p);
    return rc;
}

typedef struct {
    uint64_t uid;
    int role;
} add_row_t;

static int by_uid(const void *a, const void *b)
{
    const add_row_t *x = a, *y = b;
    return (x->uid > y->uid) - (x->uid < y->uid);
}

int repo_group_add(MYSQL *m, uint64_t gid, const uint64_t *uids, const int *roles, size_t n)
{
    static const repo_rows_sql_t members_sql = {
        "INSERT INTO group_members (group_id, user_id, role) VALUES ", "(?, ?, ?)", ",",
        " ON DUPLICATE KEY UPDATE role = role", 3};
    /* a row left by an earlier membership cannot exist (leave deletes it), but if one does,
     * the new member still starts at max_seq */
    static const repo_rows_sql_t convs_sql = {
        "INSERT INTO user_conversations (user_id, conversation_id, peer_id, last_delivered_seq, "
        "last_read_seq, mention_seq, updated_at) VALUES ",
        "(?, ?, 0, ?, ?, 0, NOW(3))", ",",
        " ON DUPLICATE KEY UPDATE last_delivered_seq = VALUES(last_delivered_seq), "
        "last_read_seq = VALUES(last_read_seq), mention_seq = 0, updated_at = NOW(3)", 4};
    if (n == 0) return IM_OK;
    char cid[IM_CONV_ID_MAX];
    im_conv_group(cid, gid);
    uint64_t max_seq = 0;
    im_mysql_param_t q[] = {IM_MP_STR(cid)};
    int rc = im_mysql_exec(m, "SELECT max_seq FROM conversations WHERE conversation_id = ?", q, 1, repo_row_u64s,
                           &max_seq, NULL, NULL);
    if (rc != IM_OK) return rc;
    add_row_t *rows = im_calloc(n, sizeof *rows);   /* key order: concurrent txns lock alike */
    for (size_t i = 0; i < n; i++) rows[i] = (add_row_t){uids[i], roles[i]};
    qsort(rows, n, sizeof *rows, by_uid);
    im_mysql_param_t *p = im_calloc(4 * n, sizeof *p);
    for (size_t i = 0; i < n; i++) {
        p[3 * i] = IM_MP_U64(gid);
        p[3 * i + 1] = IM_MP_U64(rows[i].uid);
        p[3 * i + 2] = IM_MP_I64(rows[i].role);
    }
    rc = repo_exec_chunked(m, &members_sql, n, p, NULL, NULL);
    for (size_t i = 0; i < n; i++) {
        p[4 * i] = IM_MP_U64(rows[i].uid);
        p[4 * i + 1] = IM_MP_STR(cid);
        p[4 * i + 2] = IM_MP_U64(max_seq);
        p[4 * i + 3] = IM_MP_U64(max_seq);
    }
    if (rc == IM_OK) rc = repo_exec_chunked(m, &convs_sql, n, p, NULL, NULL);
    im_free(p);
    im_free(rows);
    return rc;
}

int repo_group_remove(MYSQL *m, uint64_t gid, uint64_t uid)
{
    char cid[IM_CONV_ID_MAX];
    im_conv_group(cid, gid);
    im_mysql_param_t p[] = {IM_MP_U64(gid), IM_MP_U64(uid)};
    int rc = im_mysql_exec(m, "DELETE FROM group_members WHERE group_id = ? AND user_id = ?", p, 2, NULL, NULL,
                           NULL, NULL);
    im_mysql_param_t q[] = {IM_MP_U64(uid), IM_MP_STR(cid)};
    if (rc == IM_OK)
        rc = im_mysql_exec(m, "DELETE FROM user_conversations WHERE user_id = ? AND conversation_id = ?", q, 2,
                           NULL, NULL, NULL, NULL);
    return rc;
}

int repo_group_set_role(MYSQL *m, uint64_t gid, uint64_t uid, int role)
{
    im_mysql_param_t p[] = {IM_MP_I64(role), IM_MP_U64(gid), IM_MP_U64(uid)};
    return im_mysql_exec(m, "UPDATE group_members SET role = ? WHERE group_id = ? AND user_id = ?", p, 3, NULL,
                         NULL, NULL, NULL);
}

int repo_group_save_count(MYSQL *m, uint64_t gid, uint32_t count)
{
    im_mysql_param_t p[] = {IM_MP_U64(count), IM_MP_U64(gid)};
    return im_mysql_exec(m, "UPDATE `groups` SET member_count = ? WHERE id = ?", p, 2, NULL, NULL, NULL, NULL);
}
