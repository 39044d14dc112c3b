/* handle_update_cursor.c — Repo.UpdateCursor: advance a user's delivered or read seq in a
 * conversation. Never moves backwards, never past the conversation's max seq; a user
 * without a row in the conversation is forbidden. */
#include "repo.h"

static int row(void *ud, char **cols, unsigned long *lens, unsigned ncols)
{
    *(uint64_t *)ud = repo_u64(cols[0]);
    return 0;
}

REPO_HANDLER(repo_handle_update_cursor)
{
    repo_t *r = ud;
    const Im__Repo__V1__UpdateCursorRequest *in = (const void *)req;
    Im__Repo__V1__UpdateCursorReply *out = (void *)resp;
    MYSQL *m = im_mysql_acquire(r->db);
    if (m == NULL) return GRPC_STATUS_UNAVAILABLE;
    im_mysql_param_t p[] = {IM_MP_U64(in->seq), IM_MP_U64(in->user_id), IM_MP_STR(in->conversation_id)};
    const char *sql = in->read
        ? "UPDATE user_conversations uc JOIN conversations c ON c.conversation_id = uc.conversation_id "
          "SET uc.last_read_seq = GREATEST(uc.last_read_seq, LEAST(?, c.max_seq)), "
          "uc.last_delivered_seq = GREATEST(uc.last_delivered_seq, uc.last_read_seq) "
          "WHERE uc.user_id = ? AND uc.conversation_id = ?"
        : "UPDATE user_conversations uc JOIN conversations c ON c.conversation_id = uc.conversation_id "
          "SET uc.last_delivered_seq = GREATEST(uc.last_delivered_seq, LEAST(?, c.max_seq)) "
          "WHERE uc.user_id = ? AND uc.conversation_id = ?";
    int rc = im_mysql_exec(m, sql, p, 3, NULL, NULL, NULL, NULL);
    uint64_t last_read = 0;
    int exists = 0;
    if (rc == IM_OK) {
        im_mysql_param_t q[] = {IM_MP_U64(in->user_id), IM_MP_STR(in->conversation_id)};
        last_read = (uint64_t)-1;
        rc = im_mysql_exec(m, "SELECT last_read_seq FROM user_conversations WHERE user_id = ? AND conversation_id = ?",
                           q, 2, row, &last_read, NULL, NULL);
        exists = last_read != (uint64_t)-1;
    }
    im_mysql_release(r->db, m);
    if (rc != IM_OK) return GRPC_STATUS_INTERNAL;
    out->forbidden = !exists;
    out->last_read_seq = exists ? last_read : 0;
    return GRPC_STATUS_OK;
}
