/* handle_update_cursors.c — Repo.UpdateCursors: many users' delivered (ack) and read
 * positions in one call, answered per item in request order; Repo.UpdateCursor is the
 * same with one item. A position never moves backwards nor past the conversation's max
 * seq; a user without a row in the conversation is forbidden.
 *
 * Items are merged per (user, conversation) and sorted by that key; then, for each
 * fixed-shape chunk of keys (chunk.c):
 *   1. one SELECT of their user_conversations rows and their conversations' max seq
 *      (a consistent read, no locks): a key without a row is forbidden;
 *   2. one multi-row upsert of the single-chat rows that move, in key order (so
 *      concurrent batches and SaveMessages take row locks in one order), each value
 *      GREATEST(stored, new): a position never moves backwards, and never past the max
 *      seq read in 1. Only rows seen in 1 are written, and single-chat rows are never
 *      deleted, so that upsert only ever updates. Group rows are deleted on leave and kick
 *      (a non-member has none, so their cursor is forbidden in 1), so a group row that
 *      moves is written with an UPDATE that cannot bring back a row deleted after 1.
 * Conversation ids match byte for byte. A read also counts as delivered. */
#include "repo.h"

#include <stdlib.h>
#include <string.h>

#define MAX_ITEMS 65536

typedef struct {
    uint64_t user_id;
    const char *cid;
    uint64_t want_delivered, want_read;   /* the most its items asked for */
    int exists;                           /* has a user_conversations row */
    uint64_t max_seq;                     /* of the conversation */
    uint64_t delivered, read;             /* the row's positions: as read, then as written */
} ckey_t;

typedef struct {
    ckey_t *keys;                  /* the chunk being read */
    size_t k;
} chunk_t;

static int by_key(const void *a, const void *b)
{
    const ckey_t *x = a, *y = b;
    if (x->user_id != y->user_id) return x->user_id < y->user_id ? -1 : 1;
    return strcmp(x->cid, y->cid);
}

/* cols: user_id, conversation_id, last_delivered_seq, last_read_seq, max_seq */
static int row(void *ud, char **cols, unsigned long *lens, unsigned ncols)
{
    chunk_t *c = ud;
    ckey_t want = {.user_id = repo_u64(cols[0]), .cid = cols[1] ? cols[1] : ""};
    ckey_t *k = bsearch(&want, c->keys, c->k, sizeof *c->keys, by_key);
    if (k == NULL) return 0;   /* matched only by the column's collation */
    k->exists = 1;
    k->delivered = repo_u64(cols[2]);
    k->read = repo_u64(cols[3]);
    k->max_seq = repo_u64(cols[4]);
    return 0;
}

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }
static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

static ckey_t *find(ckey_t *keys, size_t nk, const Im__Repo__V1__UpdateCursorRequest *it)
{
    ckey_t want = {.user_id = it->user_id, .cid = it->conversation_id};
    return bsearch(&want, keys, nk, sizeof *keys, by_key);
}

/* A group member's row, only if it is still there: a row gone since the read (the member
 * just left) makes the key forbidden after all. */
static int update_group_row(MYSQL *m, ckey_t *x)
{
    im_mysql_param_t p[] = {IM_MP_U64(x->delivered), IM_MP_U64(x->read), IM_MP_U64(x->user_id), IM_MP_STR(x->cid)};
    uint64_t affected = 0;   /* changed rows: the row moves, so 0 means it is gone */
    int rc = im_mysql_exec(m, "UPDATE user_conversations SET "
                           "last_delivered_seq = GREATEST(last_delivered_seq, ?), "
                           "last_read_seq = GREATEST(last_read_seq, ?) WHERE user_id = ? AND conversation_id = ?",
                           p, 4, NULL, NULL, &affected, NULL);
    if (rc == IM_OK && affected == 0) x->exists = 0;
    return rc;
}

/* The chunk's keys: which exist, then the rows that move. */
static int update_chunk(MYSQL *m, ckey_t *keys, size_t k)
{
    static const repo_rows_sql_t read_sql = {
        "SELECT uc.user_id, uc.conversation_id, uc.last_delivered_seq, uc.last_read_seq, "
        "COALESCE(c.max_seq, 0) FROM user_conversations uc "
        "LEFT JOIN conversations c ON c.conversation_id = uc.conversation_id WHERE ",
        "(uc.user_id = ? AND uc.conversation_id = ?)", " OR ", "", 2};
    static const repo_rows_sql_t write_sql = {
        "INSERT INTO user_conversations (user_id, conversation_id, last_delivered_seq, "
        "last_read_seq) VALUES ",
        "(?, ?, ?, ?)", ",",
        " ON DUPLICATE KEY UPDATE "
        "last_delivered_seq = GREATEST(last_delivered_seq, VALUES(last_delivered_seq)), "
        "last_read_seq = GREATEST(last_read_seq, VALUES(last_read_seq))", 4};
    im_mysql_param_t *p = im_calloc(4 * k, sizeof *p);
    for (size_t i = 0; i < k; i++) {
        p[2 * i] = IM_MP_U64(keys[i].user_id);
        p[2 * i + 1] = IM_MP_STR(keys[i].cid);
    }
    chunk_t c = {keys, k};
    int rc = repo_exec_rows(m, &read_sql, k, p, row, &c, NULL);
    size_t nw = 0;
    for (size_t i = 0; rc == IM_OK && i < k; i++) {
        ckey_t *x = &keys[i];
        if (!x->exists) continue;
        uint64_t read = min_u64(x->want_read, x->max_seq);
        uint64_t delivered = max_u64(min_u64(x->want_delivered, x->max_seq), read);
        if (delivered <= x->delivered && read <= x->read) continue;   /* nothing moves */
        x->delivered = max_u64(x->delivered, delivered);
        x->read = max_u64(x->read, read);
        if (x->cid[0] == 'g') {
            rc = update_group_row(m, x);
            continue;
        }
        p[4 * nw] = IM_MP_U64(x->user_id);
        p[4 * nw + 1] = IM_MP_STR(x->cid);
        p[4 * nw + 2] = IM_MP_U64(x->delivered);
        p[4 * nw + 3] = IM_MP_U64(x->read);
        nw++;
    }
    if (rc == IM_OK) rc = repo_exec_chunked(m, &write_sql, nw, p, NULL, NULL);
    im_free(p);
    return rc;
}

int repo_cursors_update(MYSQL *m, Im__Repo__V1__UpdateCursorRequest *const *items, size_t n,
                        Im__Repo__V1__UpdateCursorReply *const *out)
{
    ckey_t *keys = im_calloc(n + 1, sizeof *keys);
    for (size_t i = 0; i < n; i++) {
        keys[i].user_id = items[i]->user_id;
        keys[i].cid = items[i]->conversation_id;
    }
    qsort(keys, n, sizeof *keys, by_key);
    size_t nk = 0;   /* one key per (user, conversation) */
    for (size_t i = 0; i < n; i++)
        if (nk == 0 || by_key(&keys[nk - 1], &keys[i]) != 0) keys[nk++] = keys[i];
    for (size_t i = 0; i < n; i++) {   /* a read is also a delivery */
        ckey_t *k = find(keys, nk, items[i]);
        k->want_delivered = max_u64(k->want_delivered, items[i]->seq);
        if (items[i]->read) k->want_read = max_u64(k->want_read, items[i]->seq);
    }
    int rc = IM_OK;
    for (size_t off = 0, k; rc == IM_OK && off < nk; off += k) {
        k = repo_chunk(nk - off);
        rc = update_chunk(m, &keys[off], k);
    }
    for (size_t i = 0; rc == IM_OK && i < n; i++) {
        const ckey_t *k = find(keys, nk, items[i]);
        out[i]->forbidden = !k->exists;
        out[i]->last_read_seq = k->exists ? k->read : 0;
    }
    im_free(keys);
    return rc;
}

REPO_HANDLER(repo_handle_update_cursors)
{
    repo_t *r = ud;
    const Im__Repo__V1__UpdateCursorsRequest *in = (const void *)req;
    Im__Repo__V1__UpdateCursorsReply *out = (void *)resp;
    if (in->n_items > MAX_ITEMS) return GRPC_STATUS_INVALID_ARGUMENT;
    out->results = im_rpc_alloc(call, (in->n_items + 1) * sizeof *out->results);
    for (size_t i = 0; i < in->n_items; i++) {
        out->results[i] = im_rpc_alloc(call, sizeof *out->results[i]);
        im__repo__v1__update_cursor_reply__init(out->results[i]);
    }
    out->n_results = in->n_items;
    if (in->n_items == 0) return GRPC_STATUS_OK;
    MYSQL *m = im_mysql_acquire(r->db);
    if (m == NULL) return GRPC_STATUS_UNAVAILABLE;
    int rc = repo_cursors_update(m, in->items, in->n_items, out->results);
    im_mysql_release(r->db, m);
    if (rc != IM_OK) {
        im_rpc_set_message(call, "cursor update failed: %s", im_strerror(rc));
        return GRPC_STATUS_INTERNAL;
    }
    return GRPC_STATUS_OK;
}

REPO_HANDLER(repo_handle_update_cursor)
{
    repo_t *r = ud;
    Im__Repo__V1__UpdateCursorRequest *in = (void *)req;
    Im__Repo__V1__UpdateCursorReply *out = (void *)resp;
    MYSQL *m = im_mysql_acquire(r->db);
    if (m == NULL) return GRPC_STATUS_UNAVAILABLE;
    int rc = repo_cursors_update(m, &in, 1, &out);
    im_mysql_release(r->db, m);
    return rc == IM_OK ? GRPC_STATUS_OK : GRPC_STATUS_INTERNAL;
}
