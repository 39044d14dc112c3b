/* handle_list_conversations.c — Repo.ListConversations: a user's conversations, most
 * recent first, each with its last message, max seq, read position and unread count.
 * Groups (type 2) also carry `group` (the profile, one chunked SELECT of `groups` for the
 * page) and `mentioned`: max(mention_seq, the conversation's all_mention_seq) is past the
 * read position. A user has a group's row only while a member (leave/kick deletes it). */
#include "im/conv.h"
#include "repo.h"

#include <stdlib.h>
#include <string.h>

#define MAX_CONVERSATIONS 200

typedef struct {
    im_rpc_call_t *call;
    Im__Repo__V1__ListConversationsReply *out;
    uint64_t *gids;            /* group ids of the page, in row order */
    size_t ngids;
} ctx_t;

/* cols: conversation_id, type, peer_id, max_seq, last_read_seq, mentioned, then
 * REPO_MSG_COLS (NULL if none) */
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
    s->mentioned = repo_u64(c[5]) != 0;
    if (c[6]) s->last_message = repo_row_message(x->call, c + 6);
    im_conv_t conv;
    if (im_conv_parse(s->conversation_id, &conv) == IM_OK && conv.kind == IM_CONV_GROUP)
        x->gids[x->ngids++] = conv.a;
    x->out->conversations[x->out->n_conversations++] = s;
    return 0;
}

/* A `groups` row: onto the summaries of that group. */
static int group_row(void *ud, char **cols, unsigned long *lens, unsigned ncols)
{
    ctx_t *x = ud;
    Im__Common__V1__Group *g = repo_row_group(x->call, cols);
    char cid[IM_CONV_ID_MAX];
    im_conv_group(cid, g->group_id);
    for (size_t i = 0; i < x->out->n_conversations; i++)
        if (strcmp(x->out->conversations[i]->conversation_id, cid) == 0) x->out->conversations[i]->group = g;
    return 0;
}

static int attach_groups(MYSQL *m, ctx_t *x)
{
    static const repo_rows_sql_t sql = {"SELECT " REPO_GROUP_COLS " FROM `groups` g WHERE g.id IN (", "?", ",", ")", 1};
    im_mysql_param_t *p = im_calloc(x->ngids + 1, sizeof *p);
    for (size_t i = 0; i < x->ngids; i++) p[i] = IM_MP_U64(x->gids[i]);
    int rc = repo_exec_chunked(m, &sql, x->ngids, p, group_row, x);
    im_free(p);
    return rc;
}

REPO_HANDLER(repo_handle_list_conversations)
{
    repo_t *r = ud;
    const Im__Repo__V1__ListConversationsRequest *in = (const void *)req;
    ctx_t x = {call, (void *)resp, im_rpc_alloc(call, MAX_CONVERSATIONS * sizeof *x.gids), 0};
    x.out->conversations = im_rpc_alloc(call, MAX_CONVERSATIONS * sizeof *x.out->conversations);
    MYSQL *m = im_mysql_acquire(r->db);
    if (m == NULL) return GRPC_STATUS_UNAVAILABLE;
    im_mysql_param_t p[] = {IM_MP_U64(in->user_id), IM_MP_U64(MAX_CONVERSATIONS)};
    int rc = im_mysql_exec(m,
                           "SELECT uc.conversation_id, c.type, uc.peer_id, c.max_seq, uc.last_read_seq, "
                           "GREATEST(uc.mention_seq, c.all_mention_seq) > uc.last_read_seq, " REPO_MSG_COLS
                           " FROM user_conversations uc JOIN conversations c ON c.conversation_id = uc.conversation_id"
                           " LEFT JOIN messages m ON m.id = c.last_message_id"
                           " WHERE uc.user_id = ? ORDER BY c.updated_at DESC LIMIT ?",
                           p, 2, row, &x, NULL, NULL);
    if (rc == IM_OK && x.ngids) rc = attach_groups(m, &x);
    im_mysql_release(r->db, m);
    return rc == IM_OK ? GRPC_STATUS_OK : GRPC_STATUS_INTERNAL;
}
