/* rows.c — MySQL rows (all columns as text) to protobuf messages in the call's arena. */
#include <stdlib.h>

#include "repo.h"

uint64_t repo_u64(const char *s)
{
    return s ? strtoull(s, NULL, 10) : 0;
}

Im__Common__V1__Message *repo_row_message(im_rpc_call_t *call, char **c)
{
    Im__Common__V1__Message *m = im_rpc_alloc(call, sizeof *m);
    im__common__v1__message__init(m);
    m->msg_id = repo_u64(c[0]);
    m->conversation_id = im_rpc_strdup(call, c[1]);
    m->sender_id = repo_u64(c[2]);
    m->cmid = im_rpc_strdup(call, c[3]);
    m->type = (int32_t)repo_u64(c[4]);
    m->content = im_rpc_strdup(call, c[5] ? c[5] : "");
    m->seq = repo_u64(c[6]);
    m->created_at = (int64_t)repo_u64(c[7]);
    m->recalled = repo_u64(c[8]) != 0;
    return m;
}

Im__Common__V1__User *repo_row_user(im_rpc_call_t *call, char **c)
{
    Im__Common__V1__User *u = im_rpc_alloc(call, sizeof *u);
    im__common__v1__user__init(u);
    u->user_id = repo_u64(c[0]);
    u->username = im_rpc_strdup(call, c[1]);
    u->nickname = im_rpc_strdup(call, c[2] ? c[2] : "");
    u->avatar_url = im_rpc_strdup(call, c[3] ? c[3] : "");
    u->created_at = (int64_t)repo_u64(c[4]) * 1000;
    return u;
}

int repo_row_append_user(void *ud, char **cols, unsigned long *lens, unsigned ncols)
{
    repo_users_t *x = ud;
    x->out->users[x->out->n_users++] = repo_row_user(x->call, cols);
    return 0;
}

Im__Common__V1__Group *repo_row_group(im_rpc_call_t *call, char **c)
{
    Im__Common__V1__Group *g = im_rpc_alloc(call, sizeof *g);
    im__common__v1__group__init(g);
    g->group_id = repo_u64(c[0]);
    g->name = im_rpc_strdup(call, c[1] ? c[1] : "");
    g->owner_id = repo_u64(c[2]);
    g->announcement = im_rpc_strdup(call, c[3] ? c[3] : "");
    g->member_count = (uint32_t)repo_u64(c[4]);
    g->open = repo_u64(c[5]) != 0;
    g->avatar_url = im_rpc_strdup(call, c[6] ? c[6] : "");
    g->created_at = (int64_t)repo_u64(c[7]) * 1000;
    return g;
}

int repo_row_u64s(void *ud, char **cols, unsigned long *lens, unsigned ncols)
{
    uint64_t *out = ud;
    for (unsigned i = 0; i < ncols; i++) out[i] = repo_u64(cols[i]);
    return 0;
}
