/* handle_save_messages.c — Repo.SaveMessages: store a batch of messages in one transaction.
 *
 * Per message: the messages row (UNIQUE(sender_id, client_msg_id) is the dedup truth,
 * UNIQUE(conversation_id, seq) the seq guard), the conversations row (max seq, last
 * message) and one user_conversations row per member. A duplicate returns the stored
 * original; a seq already taken by another message is reported, not stored, so the
 * caller can re-seed its counter and retry. Hot cache after commit only. */
#include "im/log.h"
#include "repo.h"

#include <string.h>

typedef struct {
    im_rpc_call_t *call;
    Im__Common__V1__Message *msg;
} find_t;

static int found_row(void *ud, char **cols, unsigned long *lens, unsigned ncols)
{
    find_t *f = ud;
    f->msg = repo_row_message(f->call, cols);
    return 0;
}

static int insert_message(MYSQL *m, const Im__Common__V1__Message *msg)
{
    im_mysql_param_t p[] = {
        IM_MP_U64(msg->msg_id),    IM_MP_STR(msg->conversation_id), IM_MP_U64(msg->sender_id),
        IM_MP_STR(msg->cmid),      IM_MP_I64(msg->type),            IM_MP_STR(msg->content),
        IM_MP_U64(msg->seq),       IM_MP_I64(msg->created_at),
    };
    return im_mysql_exec(m,
                         "INSERT INTO messages (id, conversation_id, sender_id, client_msg_id, "
                         "message_type, content, seq, created_at) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, FROM_UNIXTIME(? / 1000))",
                         p, 8, NULL, NULL, NULL, NULL);
}

static int touch_conversation(MYSQL *m, const Im__Repo__V1__SaveItem *it)
{
    const Im__Common__V1__Message *msg = it->message;
    int type = msg->conversation_id[0] == 'g' ? 2 : 1;
    im_mysql_param_t p[] = {IM_MP_STR(msg->conversation_id), IM_MP_I64(type),
                            IM_MP_U64(msg->msg_id), IM_MP_U64(msg->seq)};
    int rc = im_mysql_exec(m,
                           "INSERT INTO conversations (conversation_id, type, last_message_id, max_seq, updated_at) "
                           "VALUES (?, ?, ?, ?, NOW(3)) ON DUPLICATE KEY UPDATE "
                           "last_message_id = IF(VALUES(max_seq) > max_seq, VALUES(last_message_id), last_message_id), "
                           "max_seq = GREATEST(max_seq, VALUES(max_seq)), updated_at = NOW(3)",
                           p, 4, NULL, NULL, NULL, NULL);
    for (size_t i = 0; rc == IM_OK && i < it->n_members; i++) {
        uint64_t peer = 0;
        if (type == 1 && it->n_members == 2) peer = it->members[1 - i];
        /* the sender has read their own message: it never counts as unread for them */
        uint64_t read = it->members[i] == msg->sender_id ? msg->seq : 0;
        im_mysql_param_t q[] = {IM_MP_U64(it->members[i]), IM_MP_STR(msg->conversation_id),
                                IM_MP_U64(peer), IM_MP_U64(read), IM_MP_U64(read)};
        rc = im_mysql_exec(m,
                           "INSERT INTO user_conversations (user_id, conversation_id, peer_id, "
                           "last_read_seq, last_delivered_seq, updated_at) VALUES (?, ?, ?, ?, ?, NOW(3)) "
                           "ON DUPLICATE KEY UPDATE updated_at = NOW(3), "
                           "last_read_seq = GREATEST(last_read_seq, VALUES(last_read_seq)), "
                           "last_delivered_seq = GREATEST(last_delivered_seq, VALUES(last_delivered_seq))",
                           q, 5, NULL, NULL, NULL, NULL);
    }
    for (size_t i = 0; rc == IM_OK && i < msg->n_mentions; i++) {
        im_mysql_param_t q[] = {IM_MP_U64(msg->msg_id), IM_MP_U64(msg->mentions[i])};
        rc = im_mysql_exec(m, "INSERT IGNORE INTO message_mentions (message_id, mentioned_user_id) VALUES (?, ?)",
                           q, 2, NULL, NULL, NULL, NULL);
    }
    return rc;
}

/* One item inside the open transaction; fills *res. */
static int save_one(im_rpc_call_t *call, MYSQL *m, Im__Repo__V1__SaveItem *it,
                    Im__Repo__V1__SaveResult *res)
{
    Im__Common__V1__Message *msg = it->message;
    int rc = insert_message(m, msg);
    if (rc == IM_OK) {
        res->message = msg;
        im_trace_set(it->trace);
        im_info("msg.saved", "cid=%s seq=%llu msg_id=%llu", msg->conversation_id,
                (unsigned long long)msg->seq, (unsigned long long)msg->msg_id);
        im_trace_set("");
        return touch_conversation(m, it);
    }
    if (rc != IM_EEXISTS) return rc;
    find_t f = {call, NULL};
    im_mysql_param_t p[] = {IM_MP_U64(msg->sender_id), IM_MP_STR(msg->cmid)};
    rc = im_mysql_exec(m, "SELECT " REPO_MSG_COLS " FROM messages m WHERE m.sender_id = ? AND m.client_msg_id = ?",
                       p, 2, found_row, &f, NULL, NULL);
    if (rc != IM_OK) return rc;
    if (f.msg) {
        res->duplicate = 1;
        res->message = f.msg;
    } else {
        res->seq_conflict = 1;
        res->message = msg;
        im_warn("msg.seq_conflict", "cid=%s seq=%llu", msg->conversation_id, (unsigned long long)msg->seq);
    }
    return IM_OK;
}

REPO_HANDLER(repo_handle_save_messages)
{
    repo_t *r = ud;
    Im__Repo__V1__SaveMessagesRequest *in = (void *)req;
    Im__Repo__V1__SaveMessagesReply *out = (void *)resp;
    for (size_t i = 0; i < in->n_items; i++)
        if (in->items[i]->message == NULL || !in->items[i]->message->conversation_id[0] ||
            !in->items[i]->message->cmid[0])
            return GRPC_STATUS_INVALID_ARGUMENT;

    out->results = im_rpc_alloc(call, (in->n_items + 1) * sizeof *out->results);
    MYSQL *m = im_mysql_acquire(r->db);
    if (m == NULL) return GRPC_STATUS_UNAVAILABLE;
    int rc = im_mysql_begin(m);
    for (size_t i = 0; rc == IM_OK && i < in->n_items; i++) {
        Im__Repo__V1__SaveResult *res = im_rpc_alloc(call, sizeof *res);
        im__repo__v1__save_result__init(res);
        out->results[out->n_results++] = res;
        rc = save_one(call, m, in->items[i], res);
    }
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
    for (size_t i = 0; i < out->n_results; i++) {
        Im__Repo__V1__SaveResult *res = out->results[i];
        if (!res->duplicate && !res->seq_conflict) fresh[nfresh++] = res->message;
    }
    repo_hot_add(r, fresh, nfresh);
    im_debug("msg.saved", "batch=%zu stored=%zu", in->n_items, nfresh);
    return GRPC_STATUS_OK;
}
