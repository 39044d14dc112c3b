/* handle_save_messages.c — Repo.SaveMessages: store a batch of messages in one transaction,
 * with a handful of statements per batch rather than per message.
 *
 *   1. one multi-row INSERT IGNORE of the messages rows; UNIQUE(sender_id, client_msg_id)
 *      is the dedup truth, UNIQUE(conversation_id, seq) the seq guard. If fewer rows went
 *      in than were sent, the ids that did are read back, and each one that did not is
 *      either a duplicate (the stored original is returned) or a seq conflict (reported,
 *      not stored: the caller raises its counter and retries);
 *   2. one upsert of the conversations rows (max seq, last message);
 *   3. one upsert of the user_conversations rows, one per member; a sender's own message
 *      moves their read position (it never counts as unread for them);
 *   4. mentions, for the messages that have them.
 * Rows are written in key order, so concurrent batches take their locks in one order.
 * The hot cache is filled after the commit only. */
#include "im/log.h"
#include "repo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    im_rpc_call_t *call;
    Im__Repo__V1__SaveItem **items;
    size_t n;
    char *stored;              /* per item: its row went in */
    Im__Common__V1__Message *found;   /* dedup lookup result */
} batch_t;

/* Runs "HEAD row,row,...TAIL" with n copies of row (nothing to do when n is 0). */
static int exec_rows(MYSQL *m, const char *head, const char *row, size_t n, const char *tail,
                     const im_mysql_param_t *params, unsigned nparams, im_mysql_row_fn fn, void *ud,
                     uint64_t *affected)
{
    if (n == 0) return IM_OK;
    size_t len = strlen(head) + n * (strlen(row) + 1) + strlen(tail) + 1;
    char *sql = im_malloc(len), *p = sql;
    p += sprintf(p, "%s", head);
    for (size_t i = 0; i < n; i++) p += sprintf(p, "%s%s", i ? "," : "", row);
    sprintf(p, "%s", tail);
    int rc = im_mysql_exec(m, sql, params, nparams, fn, ud, affected, NULL);
    im_free(sql);
    return rc;
}

static int mark_stored(void *ud, char **cols, unsigned long *lens, unsigned ncols)
{
    batch_t *b = ud;
    uint64_t id = repo_u64(cols[0]);
    for (size_t i = 0; i < b->n; i++)
        if (b->items[i]->message->msg_id == id) b->stored[i] = 1;
    return 0;
}

/* 1. the messages rows; sets b->stored. */
static int insert_messages(MYSQL *m, batch_t *b)
{
    size_t n = b->n;
    im_mysql_param_t *p = im_calloc(8 * n, sizeof *p);
    for (size_t i = 0; i < n; i++) {
        const Im__Common__V1__Message *msg = b->items[i]->message;
        im_mysql_param_t row[] = {
            IM_MP_U64(msg->msg_id), IM_MP_STR(msg->conversation_id), IM_MP_U64(msg->sender_id),
            IM_MP_STR(msg->cmid),   IM_MP_I64(msg->type),            IM_MP_STR(msg->content),
            IM_MP_U64(msg->seq),    IM_MP_I64(msg->created_at),
        };
        memcpy(&p[8 * i], row, sizeof row);
    }
    uint64_t affected = 0;
    int rc = exec_rows(m, "INSERT IGNORE INTO messages (id, conversation_id, sender_id, client_msg_id, "
                       "message_type, content, seq, created_at) VALUES ",
                       "(?, ?, ?, ?, ?, ?, ?, FROM_UNIXTIME(? / 1000))", n, "", p, (unsigned)(8 * n), NULL,
                       NULL, &affected);
    if (rc == IM_OK && affected == n) {
        memset(b->stored, 1, n);
    } else if (rc == IM_OK) {   /* some were refused by a unique key: which ones went in */
        for (size_t i = 0; i < n; i++) p[i] = IM_MP_U64(b->items[i]->message->msg_id);
        rc = exec_rows(m, "SELECT id FROM messages WHERE id IN (", "?", n, ")", p, (unsigned)n, mark_stored, b, NULL);
    }
    im_free(p);
    return rc;
}

static int found_row(void *ud, char **cols, unsigned long *lens, unsigned ncols)
{
    batch_t *b = ud;
    b->found = repo_row_message(b->call, cols);
    return 0;
}

/* An item whose row did not go in: the stored original, or a seq conflict. */
static int resolve(MYSQL *m, batch_t *b, size_t i, Im__Repo__V1__SaveResult *res)
{
    Im__Common__V1__Message *msg = b->items[i]->message;
    im_mysql_param_t p[] = {IM_MP_U64(msg->sender_id), IM_MP_STR(msg->cmid)};
    b->found = NULL;
    int rc = im_mysql_exec(m, "SELECT " REPO_MSG_COLS " FROM messages m WHERE m.sender_id = ? AND m.client_msg_id = ?",
                           p, 2, found_row, b, NULL, NULL);
    if (rc != IM_OK) return rc;
    if (b->found) {
        res->duplicate = 1;
        res->message = b->found;
    } else {
        res->seq_conflict = 1;
        res->message = msg;
        im_warn("msg.seq_conflict", "cid=%s seq=%llu", msg->conversation_id, (unsigned long long)msg->seq);
    }
    return IM_OK;
}

typedef struct {
    uint64_t user_id, peer_id, read_seq;
    const char *cid;
} member_row_t;

static int by_member(const void *a, const void *b)
{
    const member_row_t *x = a, *y = b;
    if (x->user_id != y->user_id) return x->user_id < y->user_id ? -1 : 1;
    return strcmp(x->cid, y->cid);
}

static int by_cid(const void *a, const void *b)
{
    const Im__Common__V1__Message *x = *(Im__Common__V1__Message *const *)a;
    const Im__Common__V1__Message *y = *(Im__Common__V1__Message *const *)b;
    int c = strcmp(x->conversation_id, y->conversation_id);
    return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

/* 2. the conversations rows: the newest stored message of each conversation. */
static int upsert_conversations(MYSQL *m, batch_t *b)
{
    Im__Common__V1__Message **last = im_calloc(b->n, sizeof *last);
    size_t nl = 0;
    for (size_t i = 0; i < b->n; i++)
        if (b->stored[i]) last[nl++] = b->items[i]->message;
    qsort(last, nl, sizeof *last, by_cid);
    size_t k = 0;   /* keep the last (highest seq) of each conversation */
    for (size_t i = 0; i < nl; i++)
        if (i + 1 == nl || strcmp(last[i]->conversation_id, last[i + 1]->conversation_id) != 0) last[k++] = last[i];
    im_mysql_param_t *p = im_calloc(4 * k + 1, sizeof *p);
    for (size_t i = 0; i < k; i++) {
        p[4 * i] = IM_MP_STR(last[i]->conversation_id);
        p[4 * i + 1] = IM_MP_I64(last[i]->conversation_id[0] == 'g' ? 2 : 1);
        p[4 * i + 2] = IM_MP_U64(last[i]->msg_id);
        p[4 * i + 3] = IM_MP_U64(last[i]->seq);
    }
    int rc = exec_rows(m, "INSERT INTO conversations (conversation_id, type, last_message_id, max_seq, updated_at) VALUES ",
                       "(?, ?, ?, ?, NOW(3))", k,
                       " ON DUPLICATE KEY UPDATE "
                       "last_message_id = IF(VALUES(max_seq) > max_seq, VALUES(last_message_id), last_message_id), "
                       "max_seq = GREATEST(max_seq, VALUES(max_seq)), updated_at = NOW(3)",
                       p, (unsigned)(4 * k), NULL, NULL, NULL);
    im_free(p);
    im_free(last);
    return rc;
}

/* 3. the user_conversations rows of every member of every conversation in the batch. */
static int upsert_members(MYSQL *m, batch_t *b)
{
    size_t cap = 0, nr = 0;
    for (size_t i = 0; i < b->n; i++) cap += b->stored[i] ? b->items[i]->n_members : 0;
    member_row_t *rows = im_calloc(cap + 1, sizeof *rows);
    for (size_t i = 0; i < b->n; i++) {
        if (!b->stored[i]) continue;
        const Im__Repo__V1__SaveItem *it = b->items[i];
        int single = it->message->conversation_id[0] != 'g' && it->n_members == 2;
        for (size_t j = 0; j < it->n_members; j++)
            rows[nr++] = (member_row_t){it->members[j], single ? it->members[1 - j] : 0,
                                        it->members[j] == it->message->sender_id ? it->message->seq : 0,
                                        it->message->conversation_id};
    }
    qsort(rows, nr, sizeof *rows, by_member);
    size_t k = 0;   /* one row per (user, conversation), with the highest own seq */
    for (size_t i = 0; i < nr; i++) {
        if (k && rows[k - 1].user_id == rows[i].user_id && strcmp(rows[k - 1].cid, rows[i].cid) == 0) {
            if (rows[i].read_seq > rows[k - 1].read_seq) rows[k - 1].read_seq = rows[i].read_seq;
        } else {
            rows[k++] = rows[i];
        }
    }
    im_mysql_param_t *p = im_calloc(5 * k + 1, sizeof *p);
    for (size_t i = 0; i < k; i++) {
        p[5 * i] = IM_MP_U64(rows[i].user_id);
        p[5 * i + 1] = IM_MP_STR(rows[i].cid);
        p[5 * i + 2] = IM_MP_U64(rows[i].peer_id);
        p[5 * i + 3] = IM_MP_U64(rows[i].read_seq);
        p[5 * i + 4] = IM_MP_U64(rows[i].read_seq);
    }
    int rc = exec_rows(m, "INSERT INTO user_conversations (user_id, conversation_id, peer_id, last_read_seq, "
                       "last_delivered_seq, updated_at) VALUES ",
                       "(?, ?, ?, ?, ?, NOW(3))", k,
                       " ON DUPLICATE KEY UPDATE updated_at = NOW(3), "
                       "last_read_seq = GREATEST(last_read_seq, VALUES(last_read_seq)), "
                       "last_delivered_seq = GREATEST(last_delivered_seq, VALUES(last_delivered_seq))",
                       p, (unsigned)(5 * k), NULL, NULL, NULL);
    im_free(p);
    im_free(rows);
    return rc;
}

/* 4. mentions (rare): one statement per mentioned user. */
static int insert_mentions(MYSQL *m, batch_t *b)
{
    int rc = IM_OK;
    for (size_t i = 0; rc == IM_OK && i < b->n; i++) {
        const Im__Common__V1__Message *msg = b->items[i]->message;
        for (size_t j = 0; b->stored[i] && rc == IM_OK && j < msg->n_mentions; j++) {
            im_mysql_param_t q[] = {IM_MP_U64(msg->msg_id), IM_MP_U64(msg->mentions[j])};
            rc = im_mysql_exec(m, "INSERT IGNORE INTO message_mentions (message_id, mentioned_user_id) VALUES (?, ?)",
                               q, 2, NULL, NULL, NULL, NULL);
        }
    }
    return rc;
}

static int save(MYSQL *m, batch_t *b, Im__Repo__V1__SaveMessagesReply *out)
{
    int rc = insert_messages(m, b);
    for (size_t i = 0; rc == IM_OK && i < b->n; i++) {
        Im__Repo__V1__SaveResult *res = im_rpc_alloc(b->call, sizeof *res);
        im__repo__v1__save_result__init(res);
        out->results[out->n_results++] = res;
        if (b->stored[i]) res->message = b->items[i]->message;
        else rc = resolve(m, b, i, res);
    }
    if (rc == IM_OK) rc = upsert_conversations(m, b);
    if (rc == IM_OK) rc = upsert_members(m, b);
    if (rc == IM_OK) rc = insert_mentions(m, b);
    return rc;
}

REPO_HANDLER(repo_handle_save_messages)
{
    repo_t *r = ud;
    Im__Repo__V1__SaveMessagesRequest *in = (void *)req;
    Im__Repo__V1__SaveMessagesReply *out = (void *)resp;
    if (in->n_items == 0 || in->n_items > 1000) return GRPC_STATUS_INVALID_ARGUMENT;
    for (size_t i = 0; i < in->n_items; i++)
        if (in->items[i]->message == NULL || !in->items[i]->message->conversation_id[0] ||
            !in->items[i]->message->cmid[0])
            return GRPC_STATUS_INVALID_ARGUMENT;

    batch_t b = {call, in->items, in->n_items, im_rpc_alloc(call, in->n_items), NULL};
    out->results = im_rpc_alloc(call, (in->n_items + 1) * sizeof *out->results);
    MYSQL *m = im_mysql_acquire(r->db);
    if (m == NULL) return GRPC_STATUS_UNAVAILABLE;
    int rc = im_mysql_begin(m);
    if (rc == IM_OK) rc = save(m, &b, out);
    rc = rc == IM_OK ? im_mysql_commit(m) : rc;
    if (rc != IM_OK) {
        im_mysql_rollback(m);
        im_mysql_release(r->db, m);
        im_rpc_set_message(call, "save failed: %s", im_strerror(rc));
        return GRPC_STATUS_INTERNAL;
    }
    im_mysql_release(r->db, m);

    Im__Common__V1__Message **fresh = im_rpc_alloc(call, (in->n_items + 1) * sizeof *fresh);
    size_t nfresh = 0;
    for (size_t i = 0; i < in->n_items; i++) {
        if (!b.stored[i]) continue;
        fresh[nfresh++] = in->items[i]->message;
        im_trace_set(in->items[i]->trace);
        im_info("msg.saved", "cid=%s seq=%llu msg_id=%llu", in->items[i]->message->conversation_id,
                (unsigned long long)in->items[i]->message->seq,
                (unsigned long long)in->items[i]->message->msg_id);
        im_trace_set("");
    }
    repo_hot_add(r, fresh, nfresh);
    return GRPC_STATUS_OK;
}
