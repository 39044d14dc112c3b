/* handle_change_relation.c — Repo.ChangeRelation: one friend or block operation of the
 * actor, checked and written in MySQL, then the relation cache of each side whose
 * friends or blocks changed is invalidated (relation_cache.c).
 *   request   to an existing other user who has not blocked the actor and is not a
 *             friend yet; asking again re-opens the same row (pending, new message)
 *   accept    only the request's recipient, only a pending request: both friend rows,
 *             and a pending request the other way is accepted with it (one txn)
 *   decline   only the recipient, only a pending request
 *   unfriend  both rows go (nothing to do is not an error: changed = false)
 *   block     the peer's pending requests to the actor are declined with it
 *   unblock
 * Errors are client codes in the reply (error, message); gRPC errors only for the
 * database. */
#include "im/log.h"
#include "repo.h"

#include <string.h>

typedef struct {
    repo_t *r;
    MYSQL *m;
    const Im__Repo__V1__RelationOpRequest *in;
    Im__Repo__V1__RelationOpReply *out;
    int refused;
} op_t;

static int refuse(op_t *o, const char *error, const char *message)
{
    o->refused = 1;
    o->out->error = (char *)error;
    o->out->message = (char *)message;
    return IM_OK;
}

/* 1 if the SELECT found a row. */
static int found(MYSQL *m, const char *sql, uint64_t a, uint64_t b, int *rc)
{
    uint64_t v[1] = {0};
    im_mysql_param_t p[] = {IM_MP_U64(a), IM_MP_U64(b)};
    *rc = im_mysql_exec(m, sql, p, 2, repo_row_u64s, v, NULL, NULL);
    return *rc == IM_OK && v[0] != 0;
}

/* The peer exists and is not the actor; else the reply says why. */
static int valid_peer(op_t *o, int *rc)
{
    char exists = 0;
    if (o->in->peer_id == o->in->actor_id) return refuse(o, "invalid_argument", "that is you"), 0;
    if ((*rc = repo_users_exist(o->m, &o->in->peer_id, 1, &exists)) != IM_OK) return 0;
    if (!exists) return refuse(o, "not_found", "no such user"), 0;
    return 1;
}

static int op_request(op_t *o)
{
    int rc = IM_OK;
    uint64_t a = o->in->actor_id, p = o->in->peer_id, id = 0;
    if (!valid_peer(o, &rc)) return rc;
    if (found(o->m, "SELECT 1 FROM blocks WHERE user_id = ? AND blocked_id = ?", p, a, &rc))
        return refuse(o, "blocked", "this user does not accept your requests");
    if (rc == IM_OK && found(o->m, "SELECT 1 FROM friends WHERE user_id = ? AND friend_id = ?", a, p, &rc))
        return refuse(o, "invalid_argument", "already friends");
    if (rc != IM_OK) return rc;
    im_mysql_param_t q[] = {IM_MP_U64(a), IM_MP_U64(p), IM_MP_STR(o->in->message)};
    rc = im_mysql_exec(o->m,
                       "INSERT INTO friend_requests (from_id, to_id, message) VALUES (?, ?, ?) "
                       "ON DUPLICATE KEY UPDATE message = VALUES(message), status = 0, "
                       "created_at = CURRENT_TIMESTAMP(3), updated_at = CURRENT_TIMESTAMP(3), id = LAST_INSERT_ID(id)",
                       q, 3, NULL, NULL, NULL, &id);
    o->out->request_id = id;
    o->out->changed = 1;
    return rc;
}

/* accept / decline: inside a txn, the request row locked. */
static int op_answer(op_t *o, int accept)
{
    uint64_t row[3] = {0, 0, 0};   /* from_id, to_id, status + 1 */
    im_mysql_param_t q[] = {IM_MP_U64(o->in->request_id)};
    int rc = im_mysql_exec(o->m, "SELECT from_id, to_id, status + 1 FROM friend_requests WHERE id = ? FOR UPDATE", q,
                           1, repo_row_u64s, row, NULL, NULL);
    if (rc != IM_OK) return rc;
    if (row[2] == 0) return refuse(o, "not_found", "no such request");
    if (row[1] != o->in->actor_id) return refuse(o, "forbidden", "this request is not to you");
    if (row[2] != 1) return refuse(o, "invalid_argument", "this request was already answered");
    uint64_t from = row[0], me = row[1];
    o->out->peer_id = from;
    im_mysql_param_t s[] = {IM_MP_U64(accept ? 1 : 2), IM_MP_U64(o->in->request_id)};
    rc = im_mysql_exec(o->m, "UPDATE friend_requests SET status = ?, updated_at = CURRENT_TIMESTAMP(3) WHERE id = ?", s,
                       2, NULL, NULL, NULL, NULL);
    if (rc != IM_OK || !accept) return rc;
    im_mysql_param_t f[] = {IM_MP_U64(me), IM_MP_U64(from), IM_MP_U64(from), IM_MP_U64(me)};
    rc = im_mysql_exec(o->m, "INSERT IGNORE INTO friends (user_id, friend_id) VALUES (?, ?), (?, ?)", f, 4, NULL, NULL,
                       NULL, NULL);
    if (rc == IM_OK)   /* the same wish the other way is answered too */
        rc = im_mysql_exec(o->m,
                           "UPDATE friend_requests SET status = 1, updated_at = CURRENT_TIMESTAMP(3) "
                           "WHERE from_id = ? AND to_id = ? AND status = 0",
                           f, 2, NULL, NULL, NULL, NULL);
    o->out->changed = 1;
    return rc;
}

static int op_unfriend(op_t *o)
{
    uint64_t a = o->in->actor_id, p = o->in->peer_id, n = 0;
    im_mysql_param_t q[] = {IM_MP_U64(a), IM_MP_U64(p), IM_MP_U64(p), IM_MP_U64(a)};
    int rc = im_mysql_exec(o->m,
                           "DELETE FROM friends WHERE (user_id = ? AND friend_id = ?) OR (user_id = ? AND friend_id = ?)",
                           q, 4, NULL, NULL, &n, NULL);
    o->out->changed = n > 0;
    return rc;
}

static int op_block(op_t *o, int block)
{
    int rc = IM_OK;
    uint64_t a = o->in->actor_id, p = o->in->peer_id, n = 0;
    if (block && !valid_peer(o, &rc)) return rc;
    im_mysql_param_t q[] = {IM_MP_U64(a), IM_MP_U64(p)};
    rc = im_mysql_exec(o->m,
                       block ? "INSERT IGNORE INTO blocks (user_id, blocked_id) VALUES (?, ?)"
                             : "DELETE FROM blocks WHERE user_id = ? AND blocked_id = ?",
                       q, 2, NULL, NULL, &n, NULL);
    o->out->changed = n > 0;
    if (rc == IM_OK && block) {   /* their pending requests to the actor are declined */
        im_mysql_param_t d[] = {IM_MP_U64(p), IM_MP_U64(a)};
        rc = im_mysql_exec(o->m, "UPDATE friend_requests SET status = 2 WHERE from_id = ? AND to_id = ? AND status = 0",
                           d, 2, NULL, NULL, NULL, NULL);
    }
    return rc;
}

REPO_HANDLER(repo_handle_change_relation)
{
    repo_t *r = ud;
    op_t o = {r, NULL, (const void *)req, (void *)resp, 0};
    const char *op = o.in->op;
    int answer = strcmp(op, "accept") == 0 || strcmp(op, "decline") == 0;
    if (!answer && strcmp(op, "request") != 0 && strcmp(op, "unfriend") != 0 && strcmp(op, "block") != 0 &&
        strcmp(op, "unblock") != 0)
        return GRPC_STATUS_INVALID_ARGUMENT;
    if ((o.m = im_mysql_acquire(r->db)) == NULL) return GRPC_STATUS_UNAVAILABLE;
    int rc = im_mysql_begin(o.m);
    if (rc == IM_OK) {
        if (answer) rc = op_answer(&o, op[0] == 'a');
        else if (strcmp(op, "request") == 0) rc = op_request(&o);
        else if (strcmp(op, "unfriend") == 0) rc = op_unfriend(&o);
        else rc = op_block(&o, strcmp(op, "block") == 0);
    }
    if (rc == IM_OK && !o.refused) rc = im_mysql_commit(o.m);
    else im_mysql_rollback(o.m);
    im_mysql_release(r->db, o.m);
    if (rc != IM_OK) return GRPC_STATUS_INTERNAL;
    int friends = strcmp(op, "accept") == 0 || strcmp(op, "unfriend") == 0;
    if (!o.refused && o.out->changed && (friends || strcmp(op, "block") == 0 || strcmp(op, "unblock") == 0)) {
        repo_relation_cache_invalidate(r, o.in->actor_id);   /* blocks live in the blocker's hash */
        if (friends) repo_relation_cache_invalidate(r, answer ? o.out->peer_id : o.in->peer_id);
    }
    im_info("relation.changed", "op=%s actor=%llu peer=%llu request=%llu error=%s changed=%d", op,
            (unsigned long long)o.in->actor_id, (unsigned long long)(o.in->peer_id ? o.in->peer_id : o.out->peer_id),
            (unsigned long long)(o.in->request_id ? o.in->request_id : o.out->request_id), o.out->error,
            (int)o.out->changed);
    return GRPC_STATUS_OK;
}
