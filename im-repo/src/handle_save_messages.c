/* handle_save_messages.c — Repo.SaveMessages: store a batch of messages in one transaction,
 * with a handful of statements per batch rather than per message, each of one of a few
 * fixed shapes (chunk.c).
 *
 *   1. the messages rows, INSERT ... ON DUPLICATE KEY UPDATE id = id: UNIQUE(sender_id,
 *      client_msg_id) is the dedup truth, UNIQUE(conversation_id, seq) the seq guard. A row
 *      a unique key refuses changes nothing and counts 0 affected rows, a new one 1 (the
 *      pool does not set CLIENT_FOUND_ROWS). A value that does not fit its column fails the
 *      batch (INVALID_ARGUMENT) instead of going in truncated. When a statement stored
 *      fewer rows than it carried, their ids are read back, and each item that did not go
 *      in is either a duplicate (the stored original is returned) or a seq conflict
 *      (reported, not stored: the caller raises its counter and retries). A row already
 *      stored under the same msg_id (a retried batch) counts as stored: a retry gets the
 *      first answer;
 *   2. one upsert of the conversations rows (max seq, last message);
 *   3. one upsert of the user_conversations rows, one per member; a sender's own message
 *      moves their read position (it never counts as unread for them). A group item
 *      (g_*) carries only its sender, whose row is updated, never created: membership
 *      rows are made by the group ops only, so a sender kicked in the same instant does
 *      not come back as a member;
 *   4. the mentions of the messages that have them;
 *   5. group mentions raise the mentioned members' user_conversations.mention_seq, and
 *      @all (mention REPO_MENTION_ALL) the conversation's all_mention_seq; a mentioned
 *      non-member has no row and is left alone;
 *   6. the file_refs rows of stored images and files: who may read a file follows the
 *      conversations that carry it (handle_get_files.c).
 * Rows of 2-6 are written in key order, so concurrent batches take their locks in one
 * order. The hot cache is filled after the commit only. */
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
    size_t off, k;             /* the items of the statement being read back */
    Im__Common__V1__Message *found;   /* dedup lookup result */
} batch_t;

#define MAX_ITEMS 1000

static const repo_rows_sql_t insert_sql = {
    "INSERT INTO messages (id, conversation_id, sender_id, client_msg_id, message_type, content, seq, "
    "created_at) VALUES ",
    "(?, ?, ?, ?, ?, ?, ?, FROM_UNIXTIME(? / 1000))", ",", " ON DUPLICATE KEY UPDATE id = id", 8};
static const repo_rows_sql_t stored_sql = {"SELECT id FROM messages WHERE id IN (", "?", ",", ")", 1};

static int mark_stored(void *ud, char **cols, unsigned long *lens, unsigned ncols)
{
    batch_t *b = ud;
    uint64_t id = repo_u64(cols[0]);
    for (size_t i = b->off; i < b->off + b->k; i++)
        if (b->items[i]->message->msg_id == id) b->stored[i] = 1;
    return 0;
}

/* Which items of [off, off + k) went in: their ids, read back. */
static int read_back(MYSQL *m, batch_t *b, size_t off, size_t k)
{
    im_mysql_param_t *p = im_calloc(k, sizeof *p);
    for (size_t i = 0; i < k; i++) p[i] = IM_MP_U64(b->items[off + i]->message->msg_id);
    b->off = off;
    b->k = k;
    int rc = repo_exec_rows(m, &stored_sql, k, p, mark_stored, b, NULL);
    im_free(p);
    return rc;
}

/* 1. the messages rows; sets b->stored. */
static int insert_messages(MYSQL *m, batch_t *b)
{
    im_mysql_param_t *p = im_calloc(8 * b->n, sizeof *p);
    for (size_t i = 0; i < b->n; i++) {
        const Im__Common__V1__Message *msg = b->items[i]->message;
        im_mysql_param_t row[] = {
            IM_MP_U64(msg->msg_id), IM_MP_STR(msg->conversation_id), IM_MP_U64(msg->sender_id),
            IM_MP_STR(msg->cmid),   IM_MP_I64(msg->type),            IM_MP_STR(msg->content),
            IM_MP_U64(msg->seq),    IM_MP_I64(msg->created_at),
        };
        memcpy(&p[8 * i], row, sizeof row);
    }
    int rc = IM_OK;
    for (size_t off = 0, k; rc == IM_OK && off < b->n; off += k) {
        k = repo_chunk(b->n - off);
        uint64_t affected = 0;
        rc = repo_exec_rows(m, &insert_sql, k, &p[8 * off], NULL, NULL, &affected);
        if (rc == IM_OK && affected == k) memset(&b->stored[off], 1, k);
        else if (rc == IM_OK) rc = read_back(m, b, off, k);   /* some were refused by a unique key */
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
    static const repo_rows_sql_t sql = {
        "INSERT INTO conversations (conversation_id, type, last_message_id, max_seq, updated_at) VALUES ",
        "(?, ?, ?, ?, NOW(3))", ",",
        " ON DUPLICATE KEY UPDATE "
        "last_message_id = IF(VALUES(max_seq) > max_seq, VALUES(last_message_id), last_message_id), "
        "max_seq = GREATEST(max_seq, VALUES(max_seq)), updated_at = NOW(3)", 4};
    int rc = repo_exec_chunked(m, &sql, k, p, NULL, NULL);
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
        int group = it->message->conversation_id[0] == 'g';
        int single = !group && it->n_members == 2;
        for (size_t j = 0; j < it->n_members; j++) {
            if (group && it->members[j] != it->message->sender_id) continue;   /* the sender's row only */
            rows[nr++] = (member_row_t){it->members[j], single ? it->members[1 - j] : 0,
                                        it->members[j] == it->message->sender_id ? it->message->seq : 0,
                                        it->message->conversation_id};
        }
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
    size_t np = 0;
    int rc = IM_OK;
    for (size_t i = 0; i < k; i++) {
        if (rows[i].cid[0] == 'g') {   /* update only (rare per batch: one per sender and group) */
            im_mysql_param_t q[] = {IM_MP_U64(rows[i].read_seq), IM_MP_U64(rows[i].read_seq),
                                    IM_MP_U64(rows[i].user_id), IM_MP_STR(rows[i].cid)};
            if (rc == IM_OK)
                rc = im_mysql_exec(m, "UPDATE user_conversations SET updated_at = NOW(3), "
                                   "last_read_seq = GREATEST(last_read_seq, ?), "
                                   "last_delivered_seq = GREATEST(last_delivered_seq, ?) "
                                   "WHERE user_id = ? AND conversation_id = ?", q, 4, NULL, NULL, NULL, NULL);
            continue;
        }
        p[5 * np] = IM_MP_U64(rows[i].user_id);
        p[5 * np + 1] = IM_MP_STR(rows[i].cid);
        p[5 * np + 2] = IM_MP_U64(rows[i].peer_id);
        p[5 * np + 3] = IM_MP_U64(rows[i].read_seq);
        p[5 * np + 4] = IM_MP_U64(rows[i].read_seq);
        np++;
    }
    static const repo_rows_sql_t sql = {
        "INSERT INTO user_conversations (user_id, conversation_id, peer_id, last_read_seq, last_delivered_seq, "
        "updated_at) VALUES ",
        "(?, ?, ?, ?, ?, NOW(3))", ",",
        " ON DUPLICATE KEY UPDATE updated_at = NOW(3), "
        "last_read_seq = GREATEST(last_read_seq, VALUES(last_read_seq)), "
        "last_delivered_seq = GREATEST(last_delivered_seq, VALUES(last_delivered_seq))", 5};
    if (rc == IM_OK) rc = repo_exec_chunked(m, &sql, np, p, NULL, NULL);
    im_free(p);
    im_free(rows);
    return rc;
}

typedef struct {
    uint64_t msg_id, user_id;
} mention_t;

static int by_mention(const void *a, const void *b)
{
    const mention_t *x = a, *y = b;
    if (x->msg_id != y->msg_id) return x->msg_id < y->msg_id ? -1 : 1;
    return (x->user_id > y->user_id) - (x->user_id < y->user_id);
}

/* 4. mentions (rare): the stored messages' (message, mentioned user) rows. */
static int insert_mentions(MYSQL *m, batch_t *b)
{
    size_t cap = 0, k = 0;
    for (size_t i = 0; i < b->n; i++) cap += b->stored[i] ? b->items[i]->message->n_mentions : 0;
    if (cap == 0) return IM_OK;
    mention_t *rows = im_calloc(cap, sizeof *rows);
    for (size_t i = 0; i < b->n; i++) {
        const Im__Common__V1__Message *msg = b->items[i]->message;
        for (size_t j = 0; b->stored[i] && j < msg->n_mentions; j++) rows[k++] = (mention_t){msg->msg_id, msg->mentions[j]};
    }
    qsort(rows, k, sizeof *rows, by_mention);
    im_mysql_param_t *p = im_calloc(2 * k, sizeof *p);
    size_t np = 0;
    for (size_t i = 0; i < k; i++) {
        if (i && by_mention(&rows[i - 1], &rows[i]) == 0) continue;
        p[2 * np] = IM_MP_U64(rows[i].msg_id);
        p[2 * np + 1] = IM_MP_U64(rows[i].user_id);
        np++;
    }
    static const repo_rows_sql_t sql = {"INSERT INTO message_mentions (message_id, mentioned_user_id) VALUES ", "(?, ?)",
                                        ",", " ON DUPLICATE KEY UPDATE id = id", 2};
    int rc = repo_exec_chunked(m, &sql, np, p, NULL, NULL);
    im_free(p);
    im_free(rows);
    return rc;
}

/* 5. group mentions: per (member, conversation) and per @all conversation, the highest
 * mentioning seq of the batch, raised with GREATEST (never lowered). Rare: one statement
 * per row, in key order. */
static int mark_mentions(MYSQL *m, batch_t *b)
{
    size_t cap = 0, k = 0;
    for (size_t i = 0; i < b->n; i++)
        if (b->stored[i] && b->items[i]->message->conversation_id[0] == 'g') cap += b->items[i]->message->n_mentions;
    if (cap == 0) return IM_OK;
    member_row_t *rows = im_calloc(cap, sizeof *rows);   /* user_id 0 = @all; read_seq = the seq */
    for (size_t i = 0; i < b->n; i++) {
        const Im__Common__V1__Message *msg = b->items[i]->message;
        if (!b->stored[i] || msg->conversation_id[0] != 'g') continue;
        for (size_t j = 0; j < msg->n_mentions; j++)
            rows[k++] = (member_row_t){msg->mentions[j], 0, msg->seq, msg->conversation_id};
    }
    qsort(rows, k, sizeof *rows, by_member);
    int rc = IM_OK;
    for (size_t i = 0; rc == IM_OK && i < k; i++) {
        if (i + 1 < k && by_member(&rows[i], &rows[i + 1]) == 0) {   /* keep the highest seq of the key */
            if (rows[i].read_seq > rows[i + 1].read_seq) rows[i + 1].read_seq = rows[i].read_seq;
            continue;
        }
        if (rows[i].user_id == REPO_MENTION_ALL) {
            im_mysql_param_t p[] = {IM_MP_U64(rows[i].read_seq), IM_MP_STR(rows[i].cid)};
            rc = im_mysql_exec(m, "UPDATE conversations SET all_mention_seq = GREATEST(all_mention_seq, ?) "
                               "WHERE conversation_id = ?", p, 2, NULL, NULL, NULL, NULL);
        } else {
            im_mysql_param_t p[] = {IM_MP_U64(rows[i].read_seq), IM_MP_U64(rows[i].user_id), IM_MP_STR(rows[i].cid)};
            rc = im_mysql_exec(m, "UPDATE user_conversations SET mention_seq = GREATEST(mention_seq, ?) "
                               "WHERE user_id = ? AND conversation_id = ?", p, 3, NULL, NULL, NULL, NULL);
        }
    }
    im_free(rows);
    return rc;
}

/* 6. images and files (rare): one (file, conversation, seq) row per stored message. */
static int insert_file_refs(MYSQL *m, batch_t *b)
{
    int rc = IM_OK;
    for (size_t i = 0; rc == IM_OK && i < b->n; i++) {
        const Im__Repo__V1__SaveItem *it = b->items[i];
        if (!b->stored[i] || it->file_id == 0) continue;
        im_mysql_param_t p[] = {IM_MP_U64(it->file_id), IM_MP_STR(it->message->conversation_id),
                                IM_MP_U64(it->message->seq)};
        rc = im_mysql_exec(m, "INSERT IGNORE INTO file_refs (file_id, conversation_id, seq) VALUES (?, ?, ?)", p, 3,
                           NULL, NULL, NULL, NULL);
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
    if (rc == IM_OK) rc = mark_mentions(m, b);
    if (rc == IM_OK) rc = insert_file_refs(m, b);
    return rc;
}

REPO_HANDLER(repo_handle_save_messages)
{
    repo_t *r = ud;
    Im__Repo__V1__SaveMessagesRequest *in = (void *)req;
    Im__Repo__V1__SaveMessagesReply *out = (void *)resp;
    if (in->n_items == 0 || in->n_items > MAX_ITEMS) return GRPC_STATUS_INVALID_ARGUMENT;
    for (size_t i = 0; i < in->n_items; i++)
        if (in->items[i]->message == NULL || !in->items[i]->message->conversation_id[0] ||
            !in->items[i]->message->cmid[0])
            return GRPC_STATUS_INVALID_ARGUMENT;

    batch_t b = {call, in->items, in->n_items, im_rpc_alloc(call, in->n_items), 0, 0, NULL};
    out->results = im_rpc_alloc(call, (in->n_items + 1) * sizeof *out->results);
    MYSQL *m = im_mysql_acquire(r->db);
    if (m == NULL) return GRPC_STATUS_UNAVAILABLE;
    int rc = im_mysql_begin(m);
    if (rc == IM_OK) rc = save(m, &b, out);
    rc = rc == IM_OK ? im_mysql_commit(m) : rc;
    if (rc != IM_OK) {
        im_mysql_rollback(m);
        im_mysql_release(r->db, m);
        if (rc == IM_EINVAL) {   /* the server refused a value: retrying cannot help */
            im_rpc_set_message(call, "save refused: a value does not fit its column");
            return GRPC_STATUS_INVALID_ARGUMENT;
        }
        im_rpc_set_message(call, "save failed: %s", im_strerror(rc));
        return GRPC_STATUS_INTERNAL;
    }
    im_mysql_release(r->db, m);
    for (size_t i = 0; i < out->n_results; i++)
        im_metric_add(b.stored[i] ? r->metrics.stored
                      : out->results[i]->duplicate ? r->metrics.duplicates : r->metrics.seq_conflicts, 1);

    Im__Common__V1__Message **fresh = im_rpc_alloc(call, (in->n_items + 1) * sizeof *fresh);
    size_t nfresh = 0;
    for (size_t i = 0; i < in->n_items; i++) {
        if (!b.stored[i]) continue;
        fresh[nfresh++] = in->items[i]->message;
        im_trace_set(in->items[i]->trace);
        im_debug("msg.saved", "cid=%s seq=%llu msg_id=%llu", in->items[i]->message->conversation_id,
                (unsigned long long)in->items[i]->message->seq,
                (unsigned long long)in->items[i]->message->msg_id);
        im_trace_set("");
    }
    repo_hot_add(r, fresh, nfresh);
    return GRPC_STATUS_OK;
}
