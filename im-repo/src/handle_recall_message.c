/* handle_recall_message.c — Repo.RecallMessage: a message's content cleared for good.
 *   who   a participant (else forbidden); the sender within window_s of sending
 *         (after it: recall_expired), or an owner or admin of the group at any time
 *   what  not a system message; one already recalled answers OK with changed = false
 *   how   in one txn, the row locked: content = '', recalled = 1 (the seq stays, so sync
 *         and history show it as recalled), and the file it carried no longer readable
 *         through it (its file_refs row goes); then its hot_messages entry is dropped. If
 *         that drop fails the call fails (the old content could still be served from the
 *         cache) and a retry drops it again. */
#include "im/clock.h"
#include "im/conv.h"
#include "repo.h"

#define TYPE_SYSTEM 100
#define ROLE_ADMIN 2

static int refuse(Im__Repo__V1__RecallReply *out, const char *error, const char *message)
{
    out->error = (char *)error;
    out->message = (char *)message;
    return IM_OK;
}

static int recall(repo_t *r, MYSQL *m, const Im__Repo__V1__RecallRequest *in, Im__Repo__V1__RecallReply *out)
{
    int rc = repo_can_read(r, m, in->actor_id, in->conversation_id);
    if (rc == IM_EFORBIDDEN) return refuse(out, "forbidden", "not a participant of this conversation");
    if (rc != IM_OK) return rc;
    uint64_t row[5] = {0};   /* id, sender, created_at ms, recalled, type */
    im_mysql_param_t p[] = {IM_MP_STR(in->conversation_id), IM_MP_U64(in->seq)};
    rc = im_mysql_exec(m,
                       "SELECT id, sender_id, CAST(UNIX_TIMESTAMP(created_at) * 1000 AS UNSIGNED), recalled, "
                       "message_type FROM messages WHERE conversation_id = ? AND seq = ? FOR UPDATE",
                       p, 2, repo_row_u64s, row, NULL, NULL);
    if (rc != IM_OK) return rc;
    if (row[0] == 0) return refuse(out, "not_found", "no such message");
    if (row[4] == TYPE_SYSTEM) return refuse(out, "invalid_argument", "a system message cannot be recalled");
    if (row[3]) return IM_OK;   /* recalled already */
    int sender = row[1] == in->actor_id;
    int in_time = (uint64_t)im_clock_wall_ms() <= row[2] + (uint64_t)in->window_s * 1000;
    if (!(sender && in_time)) {
        im_conv_t c;
        uint64_t role[1] = {0};
        if (im_conv_parse(in->conversation_id, &c) == IM_OK && c.kind == IM_CONV_GROUP) {
            im_mysql_param_t q[] = {IM_MP_U64(c.a), IM_MP_U64(in->actor_id)};
            rc = im_mysql_exec(m, "SELECT role FROM group_members WHERE group_id = ? AND user_id = ?", q, 2,
                               repo_row_u64s, role, NULL, NULL);
            if (rc != IM_OK) return rc;
        }
        if (role[0] < ROLE_ADMIN)
            return sender ? refuse(out, "recall_expired", "too late to recall this message")
                          : refuse(out, "forbidden", "only the sender or a group admin may recall this");
    }
    im_mysql_param_t u[] = {IM_MP_U64(row[0])};
    rc = im_mysql_exec(m, "UPDATE messages SET content = '', recalled = 1 WHERE id = ?", u, 1, NULL, NULL, NULL, NULL);
    if (rc == IM_OK)
        rc = im_mysql_exec(m, "DELETE FROM file_refs WHERE conversation_id = ? AND seq = ?", p, 2, NULL, NULL, NULL, NULL);
    out->changed = rc == IM_OK;
    return rc;
}

REPO_HANDLER(repo_handle_recall_message)
{
    repo_t *r = ud;
    const Im__Repo__V1__RecallRequest *in = (const void *)req;
    Im__Repo__V1__RecallReply *out = (void *)resp;
    MYSQL *m = im_mysql_acquire(r->db);
    if (m == NULL) return GRPC_STATUS_UNAVAILABLE;
    int rc = im_mysql_begin(m);
    if (rc == IM_OK) rc = recall(r, m, in, out);
    if (rc == IM_OK && out->error[0] == '\0') rc = im_mysql_commit(m);
    else im_mysql_rollback(m);
    im_mysql_release(r->db, m);
    if (rc != IM_OK) return GRPC_STATUS_INTERNAL;
    if (out->error[0] == '\0' && repo_hot_remove(r, in->conversation_id, in->seq) != IM_OK)
        return GRPC_STATUS_UNAVAILABLE;
    return GRPC_STATUS_OK;
}
