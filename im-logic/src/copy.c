/* copy.c — deep copies of im-repo reply parts into a Logic call's arena, so the repo
 * reply can be freed before the Logic reply is packed. */
#include <string.h>

#include "logic.h"

Im__Common__V1__User *logic_copy_user(im_rpc_call_t *call, const Im__Common__V1__User *u)
{
    Im__Common__V1__User *c = im_rpc_alloc(call, sizeof *c);
    im__common__v1__user__init(c);
    c->user_id = u->user_id;
    c->username = im_rpc_strdup(call, u->username);
    c->nickname = im_rpc_strdup(call, u->nickname);
    c->avatar_url = im_rpc_strdup(call, u->avatar_url);
    c->created_at = u->created_at;
    return c;
}

Im__Common__V1__Message *logic_copy_message(im_rpc_call_t *call, const Im__Common__V1__Message *m)
{
    Im__Common__V1__Message *c = im_rpc_alloc(call, sizeof *c);
    *c = *m;
    c->conversation_id = im_rpc_strdup(call, m->conversation_id);
    c->content = im_rpc_strdup(call, m->content);
    c->cmid = im_rpc_strdup(call, m->cmid);
    c->mentions = im_rpc_alloc(call, (m->n_mentions + 1) * sizeof *c->mentions);
    memcpy(c->mentions, m->mentions, m->n_mentions * sizeof *c->mentions);
    return c;
}

Im__Common__V1__Group *logic_copy_group(im_rpc_call_t *call, const Im__Common__V1__Group *g)
{
    Im__Common__V1__Group *c = im_rpc_alloc(call, sizeof *c);
    *c = *g;
    c->name = im_rpc_strdup(call, g->name);
    c->announcement = im_rpc_strdup(call, g->announcement);
    c->avatar_url = im_rpc_strdup(call, g->avatar_url);
    return c;
}

Im__Common__V1__Member *logic_copy_member(im_rpc_call_t *call, const Im__Common__V1__Member *m)
{
    Im__Common__V1__Member *c = im_rpc_alloc(call, sizeof *c);
    *c = *m;
    c->username = im_rpc_strdup(call, m->username);
    c->nickname = im_rpc_strdup(call, m->nickname);
    c->avatar_url = im_rpc_strdup(call, m->avatar_url);
    return c;
}

void logic_user_reply(im_rpc_call_t *call, Im__Logic__V1__UserReply *out, const Im__Repo__V1__GetUsersReply *r)
{
    if (r->n_users == 1) {
        out->user = logic_copy_user(call, r->users[0]);
    } else {
        out->error = "not_found";
        out->message = "no such user";
    }
}

Im__Common__V1__File *logic_copy_file(im_rpc_call_t *call, const Im__Common__V1__File *f)
{
    Im__Common__V1__File *c = im_rpc_alloc(call, sizeof *c);
    *c = *f;
    c->base.n_unknown_fields = 0;
    c->base.unknown_fields = NULL;
    c->sha256 = im_rpc_strdup(call, f->sha256);
    c->content_type = im_rpc_strdup(call, f->content_type);
    c->name = im_rpc_strdup(call, f->name);
    return c;
}
