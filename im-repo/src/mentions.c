/* mentions.c — Message.mentions for messages read from MySQL (the hot cache keeps them
 * in its packed messages): one chunked SELECT of message_mentions for the group messages
 * among msgs. mentioned_user_id REPO_MENTION_ALL (0) is @all, returned as 0. */
#include "repo.h"

#include <stdlib.h>

typedef struct {
    im_rpc_call_t *call;
    Im__Common__V1__Message **msgs;   /* the group messages, by msg_id */
    size_t n;
} ctx_t;

static int by_id(const void *a, const void *b)
{
    const Im__Common__V1__Message *x = *(Im__Common__V1__Message *const *)a;
    const Im__Common__V1__Message *y = *(Im__Common__V1__Message *const *)b;
    return (x->msg_id > y->msg_id) - (x->msg_id < y->msg_id);
}

/* cols: message_id, mentioned_user_id; rows come in (message_id, user) order */
static int row(void *ud, char **cols, unsigned long *lens, unsigned ncols)
{
    ctx_t *x = ud;
    Im__Common__V1__Message want = {.msg_id = repo_u64(cols[0])}, *w = &want;
    Im__Common__V1__Message **hit = bsearch(&w, x->msgs, x->n, sizeof *x->msgs, by_id);
    if (hit == NULL) return 0;
    Im__Common__V1__Message *msg = *hit;
    uint64_t *a = im_rpc_alloc(x->call, (msg->n_mentions + 1) * sizeof *a);   /* rare: copy to grow */
    for (size_t i = 0; i < msg->n_mentions; i++) a[i] = msg->mentions[i];
    a[msg->n_mentions] = repo_u64(cols[1]);
    msg->mentions = a;
    msg->n_mentions++;
    return 0;
}

int repo_attach_mentions(MYSQL *m, im_rpc_call_t *call, Im__Common__V1__Message **msgs, size_t n)
{
    static const repo_rows_sql_t sql = {"SELECT message_id, mentioned_user_id FROM message_mentions WHERE message_id IN (",
                                        "?", ",", ") ORDER BY message_id, mentioned_user_id", 1};
    ctx_t x = {call, im_calloc(n + 1, sizeof *x.msgs), 0};
    for (size_t i = 0; i < n; i++)
        if (msgs[i]->conversation_id[0] == 'g' && msgs[i]->n_mentions == 0) x.msgs[x.n++] = msgs[i];
    qsort(x.msgs, x.n, sizeof *x.msgs, by_id);
    im_mysql_param_t *p = im_calloc(x.n + 1, sizeof *p);
    for (size_t i = 0; i < x.n; i++) p[i] = IM_MP_U64(x.msgs[i]->msg_id);
    int rc = repo_exec_chunked(m, &sql, x.n, p, row, &x);
    im_free(p);
    im_free(x.msgs);
    return rc;
}
