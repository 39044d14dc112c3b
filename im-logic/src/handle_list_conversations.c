/* handle_list_conversations.c — Logic.ListConversations: the caller's conversations with
 * the peer's profile filled in (one GetUsers for all single-chat peers); groups carry
 * their profile (`group`) and `mentioned` as im-repo gives them. */
#include "logic.h"

LOGIC_HANDLER(logic_handle_list_conversations)
{
    logic_t *l = ud;
    const Im__Logic__V1__UserRequest *in = (const void *)req;
    Im__Logic__V1__ListConversationsReply *out = (void *)resp;
    Im__Repo__V1__ListConversationsRequest q = IM__REPO__V1__LIST_CONVERSATIONS_REQUEST__INIT;
    q.user_id = in->user_id;
    ProtobufCMessage *rr = NULL, *ur = NULL;
    if (logic_repo_call(l, "ListConversations", &q.base, &rr) != IM_OK) return GRPC_STATUS_UNAVAILABLE;
    Im__Repo__V1__ListConversationsReply *r = (void *)rr;

    Im__Repo__V1__GetUsersRequest uq = IM__REPO__V1__GET_USERS_REQUEST__INIT;
    uq.user_ids = im_rpc_alloc(call, (r->n_conversations + 1) * sizeof *uq.user_ids);
    for (size_t i = 0; i < r->n_conversations; i++)
        if (r->conversations[i]->type != 2 && r->conversations[i]->peer_id) uq.user_ids[uq.n_user_ids++] = r->conversations[i]->peer_id;
    Im__Repo__V1__GetUsersReply *users = NULL;
    if (uq.n_user_ids && logic_repo_call(l, "GetUsers", &uq.base, &ur) == IM_OK) users = (void *)ur;

    out->conversations = im_rpc_alloc(call, (r->n_conversations + 1) * sizeof *out->conversations);
    for (size_t i = 0; i < r->n_conversations; i++) {
        const Im__Repo__V1__ConversationSummary *s = r->conversations[i];
        Im__Logic__V1__ConversationView *v = im_rpc_alloc(call, sizeof *v);
        im__logic__v1__conversation_view__init(v);
        v->conversation_id = im_rpc_strdup(call, s->conversation_id);
        v->type = s->type;
        v->max_seq = s->max_seq;
        v->last_read_seq = s->last_read_seq;
        v->unread = s->unread;
        v->mentioned = s->mentioned;
        if (s->group) v->group = logic_copy_group(call, s->group);
        if (s->last_message) v->last_message = logic_copy_message(call, s->last_message);
        for (size_t k = 0; users && s->peer_id && k < users->n_users; k++)
            if (users->users[k]->user_id == s->peer_id) v->peer = logic_copy_user(call, users->users[k]);
        out->conversations[out->n_conversations++] = v;
    }
    protobuf_c_message_free_unpacked(rr, NULL);
    if (ur) protobuf_c_message_free_unpacked(ur, NULL);
    return GRPC_STATUS_OK;
}
