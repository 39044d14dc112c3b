/* handle_list_conversations.c — Repo.ListConversations: a user's conversations, most
 * recent first, each with its last message, max seq, read position and unread count. */
#include "repo.h"

#define MAX_CONVERSATIONS 200

typedef struct {
    im_rpc_call_t *call;
    Im__Repo__V1__ListConversationsReply *out;
} ctx_t;

/* cols: conversation_id, type, peer_id, max_seq, last_read_seq, then REPO_MSG_COLS (NULL if none) */
static int row(void *ud, char **c, unsigned long *lens, unsigned ncols)
{
    ctx_t *x = ud;
    Im__Repo__V1__ConversationSummary *s = im_rpc_alloc(x->call, sizeof *s);
    im__repo__v1__conversation_summary__init(s);
    s->conversation_id = im_rpc_strdup(x->call, c[0]);
    s->type = (int32_t)repo_u64(c[1]);
    s->peer_id = repo_u64(c[2]);
    s->max_seq = repo_u64(c[3]);
    s->last_read_seq = repo_u64(c[4]);
    s->unread = s->max_seq > s->last_read_seq ? s->max_seq - s->last_read_seq : 0;
    if (c[5]) s->last_message = repo_row_message(x->call, c + 5);
    x->out->conversations[x->out->n_conversations++] = s;
    return 0;
}

REPO_HANDLER(repo_handle_list_conversations)
{
    repo_t *r = ud;
    const Im__Repo__V1__ListConversationsRequest *in = (const void *)req;
    ctx_t x = {call, (void *)resp};
    x.out->conversations = im_rpc_alloc(call, MAX_CONVERSATIONS * sizeof *x.out->conversations);
    MYSQL *m = im_mysql_acquire(r->db);
    if (m == NULL) return GRPC_STATUS_UNAVAILABLE;
    im_mysql_param_t p[] = {IM_MP_U64(in->user_id), IM_MP_U64(MAX_CONVERSATIONS)};
    int rc = im_mysql_exec(m,
                           "SELECT uc.conversation_id, c.type, uc.peer_id, c.max_seq, uc.last_read_seq, " REPO_MSG_COLS
                           " FROM user_conversations uc JOIN conversations c ON c.conversation_id = uc.conversation_id"
                           " LEFT JOIN messages m ON m.id = c.last_message_id"
                           " WHERE uc.user_id = ? ORDER BY c.updated_at DESC LIMIT ?",
                           p, 2, row, &x, NULL, NULL);
    im_mysql_release(r->db, m);
    return rc == IM_OK ? GRPC_STATUS_OK : GRPC_STATUS_INTERNAL;
}
