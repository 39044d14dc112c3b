/* handle_get_messages.c — Repo.GetMessages: a seq range of one conversation, for a
 * participant only. Forward reads (after_seq) try the hot cache first; backward reads
 * (before_seq, scrolling up) go to MySQL, with the mentions of group messages from
 * message_mentions (mentions.c). Messages come back in ascending seq. */
#include "repo.h"

#include <stdlib.h>

#define DEFAULT_LIMIT 50
#define MAX_LIMIT 200

typedef struct {
    im_rpc_call_t *call;
    Im__Common__V1__Message **msgs;
    size_t n;
} ctx_t;

static int row(void *ud, char **cols, unsigned long *lens, unsigned ncols)
{
    ctx_t *x = ud;
    x->msgs[x->n++] = repo_row_message(x->call, cols);
    return 0;
}

static int max_seq_row(void *ud, char **cols, unsigned long *lens, unsigned ncols)
{
    *(uint64_t *)ud = repo_u64(cols[0]);
    return 0;
}

static int query(MYSQL *m, const Im__Repo__V1__GetMessagesRequest *in, uint32_t limit, ctx_t *x)
{
    if (in->before_seq) {
        im_mysql_param_t p[] = {IM_MP_STR(in->conversation_id), IM_MP_U64(in->after_seq),
                                IM_MP_U64(in->before_seq), IM_MP_U64(limit)};
        int rc = im_mysql_exec(m, "SELECT " REPO_MSG_COLS " FROM messages m WHERE m.conversation_id = ? "
                               "AND m.seq > ? AND m.seq < ? ORDER BY m.seq DESC LIMIT ?",
                               p, 4, row, x, NULL, NULL);
        for (size_t i = 0; i < x->n / 2; i++) { /* newest-first -> ascending */
            Im__Common__V1__Message *t = x->msgs[i];
            x->msgs[i] = x->msgs[x->n - 1 - i];
            x->msgs[x->n - 1 - i] = t;
        }
        return rc;
    }
    im_mysql_param_t p[] = {IM_MP_STR(in->conversation_id), IM_MP_U64(in->after_seq), IM_MP_U64(limit)};
    return im_mysql_exec(m, "SELECT " REPO_MSG_COLS " FROM messages m WHERE m.conversation_id = ? "
                         "AND m.seq > ? ORDER BY m.seq ASC LIMIT ?",
                         p, 3, row, x, NULL, NULL);
}

REPO_HANDLER(repo_handle_get_messages)
{
    repo_t *r = ud;
    const Im__Repo__V1__GetMessagesRequest *in = (const void *)req;
    Im__Repo__V1__GetMessagesReply *out = (void *)resp;
    uint32_t limit = in->limit == 0 ? DEFAULT_LIMIT : in->limit > MAX_LIMIT ? MAX_LIMIT : in->limit;

    MYSQL *m = im_mysql_acquire(r->db);
    if (m == NULL) return GRPC_STATUS_UNAVAILABLE;
    int rc = repo_can_read(r, m, in->user_id, in->conversation_id);
    if (rc == IM_EFORBIDDEN) {
        im_mysql_release(r->db, m);
        out->forbidden = 1;
        return GRPC_STATUS_OK;
    }
    im_mysql_param_t p[] = {IM_MP_STR(in->conversation_id)};
    if (rc == IM_OK)
        rc = im_mysql_exec(m, "SELECT max_seq FROM conversations WHERE conversation_id = ?", p, 1,
                           max_seq_row, &out->max_seq, NULL, NULL);
    ctx_t x = {call, NULL, 0};
    if (rc == IM_OK && !in->before_seq) {
        int n = repo_hot_range(r, call, in->conversation_id, in->after_seq, limit, &x.msgs);
        /* only a complete answer: a full page, or up to max_seq (a missing tail, after a
         * failed cache write or a recall's removal, is invisible to the cache itself) */
        if (n > 0 && ((uint32_t)n == limit || x.msgs[n - 1]->seq >= out->max_seq)) x.n = (size_t)n;
    }
    if (rc == IM_OK && x.n == 0) {
        x.msgs = im_rpc_alloc(call, limit * sizeof *x.msgs);
        rc = query(m, in, limit, &x);
        if (rc == IM_OK) rc = repo_attach_mentions(m, call, x.msgs, x.n);
    }
    im_mysql_release(r->db, m);
    if (rc != IM_OK) return GRPC_STATUS_INTERNAL;
    out->messages = x.msgs;
    out->n_messages = x.n;
    return GRPC_STATUS_OK;
}
