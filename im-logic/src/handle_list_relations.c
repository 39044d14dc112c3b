/* handle_list_relations.c — Logic.ListRelations: the caller's friends or blocked users
 * (profiles, A–Z by nickname, then username), or the pending friend requests to and
 * from them (newest first), each with both users' profiles. */
#include "logic.h"

#include <string.h>
#include <stdlib.h>
#include <strings.h>

static const char *name_of(const Im__Common__V1__User *u)
{
    return u->nickname[0] ? u->nickname : u->username;
}

static int by_name(const void *a, const void *b)
{
    const Im__Common__V1__User *x = *(Im__Common__V1__User *const *)a, *y = *(Im__Common__V1__User *const *)b;
    int c = strcasecmp(name_of(x), name_of(y));
    return c ? c : strcmp(x->username, y->username);
}

static const Im__Common__V1__User *find(const Im__Repo__V1__GetUsersReply *u, uint64_t id)
{
    for (size_t i = 0; i < u->n_users; i++)
        if (u->users[i]->user_id == id) return u->users[i];
    return NULL;
}

static grpc_status_code requests(logic_t *l, uint64_t me, Im__Logic__V1__ListRelationsReply *out, im_rpc_call_t *call)
{
    Im__Repo__V1__GetRelationsRequest q = IM__REPO__V1__GET_RELATIONS_REQUEST__INIT;
    q.user_id = me;
    ProtobufCMessage *rr = NULL;
    if (logic_repo_call(l, "ListFriendRequests", &q.base, &rr) != IM_OK) return GRPC_STATUS_UNAVAILABLE;
    Im__Repo__V1__ListFriendRequestsReply *r = (void *)rr;
    uint64_t *ids = im_calloc(r->n_requests + 1, sizeof *ids);
    for (size_t i = 0; i < r->n_requests; i++)
        ids[i] = r->requests[i]->from_id == me ? r->requests[i]->to_id : r->requests[i]->from_id;
    Im__Repo__V1__GetUsersReply *u = r->n_requests ? logic_repo_users(l, ids, r->n_requests) : NULL;
    im_free(ids);
    if (r->n_requests && u == NULL) {
        protobuf_c_message_free_unpacked(rr, NULL);
        return GRPC_STATUS_UNAVAILABLE;
    }
    Im__Repo__V1__GetUsersReply *mine = logic_repo_users(l, &me, 1);
    out->requests = im_rpc_alloc(call, (r->n_requests + 1) * sizeof *out->requests);
    for (size_t i = 0; mine && mine->n_users == 1 && i < r->n_requests; i++) {
        const Im__Repo__V1__FriendRequest *f = r->requests[i];
        const Im__Common__V1__User *other = find(u, f->from_id == me ? f->to_id : f->from_id);
        if (other == NULL) continue;
        Im__Logic__V1__RequestView *v = im_rpc_alloc(call, sizeof *v);
        im__logic__v1__request_view__init(v);
        v->request_id = f->request_id;
        v->from = logic_copy_user(call, f->from_id == me ? mine->users[0] : other);
        v->to = logic_copy_user(call, f->from_id == me ? other : mine->users[0]);
        v->message = im_rpc_strdup(call, f->message);
        v->created_at = f->created_at;
        out->requests[out->n_requests++] = v;
    }
    if (mine) protobuf_c_message_free_unpacked(&mine->base, NULL);
    if (u) protobuf_c_message_free_unpacked(&u->base, NULL);
    protobuf_c_message_free_unpacked(rr, NULL);
    return GRPC_STATUS_OK;
}

LOGIC_HANDLER(logic_handle_list_relations)
{
    logic_t *l = ud;
    const Im__Logic__V1__ListRelationsRequest *in = (const void *)req;
    Im__Logic__V1__ListRelationsReply *out = (void *)resp;
    int friends = strcmp(in->kind, "friends") == 0;
    if (strcmp(in->kind, "requests") == 0) return requests(l, in->user_id, out, call);
    if (!friends && strcmp(in->kind, "blocks") != 0) {
        out->error = "invalid_argument";
        out->message = "kind is friends, blocks or requests";
        return GRPC_STATUS_OK;
    }
    Im__Repo__V1__GetRelationsRequest q = IM__REPO__V1__GET_RELATIONS_REQUEST__INIT;
    q.user_id = in->user_id;
    ProtobufCMessage *rr = NULL;
    if (logic_repo_call(l, "GetRelations", &q.base, &rr) != IM_OK) return GRPC_STATUS_UNAVAILABLE;
    Im__Repo__V1__GetRelationsReply *r = (void *)rr;
    uint64_t *ids = friends ? r->friend_ids : r->blocked_ids;
    size_t n = friends ? r->n_friend_ids : r->n_blocked_ids;
    Im__Repo__V1__GetUsersReply *u = n ? logic_repo_users(l, ids, n) : NULL;
    grpc_status_code st = GRPC_STATUS_OK;
    if (n && u == NULL) {
        st = GRPC_STATUS_UNAVAILABLE;
    } else {
        out->users = im_rpc_alloc(call, ((u ? u->n_users : 0) + 1) * sizeof *out->users);
        for (size_t i = 0; u && i < u->n_users; i++) out->users[out->n_users++] = logic_copy_user(call, u->users[i]);
        qsort(out->users, out->n_users, sizeof *out->users, by_name);
    }
    if (u) protobuf_c_message_free_unpacked(&u->base, NULL);
    protobuf_c_message_free_unpacked(rr, NULL);
    return st;
}
