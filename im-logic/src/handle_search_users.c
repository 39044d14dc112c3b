/* handle_search_users.c — Logic.SearchUsers: users whose name starts with the query
 * (never the caller), or the profiles of up to LOGIC_USER_IDS_MAX given ids (how a
 * client names the senders and the members named by system messages of a group). */
#include <string.h>

#include "im/text.h"
#include "logic.h"

#define LOGIC_USER_IDS_MAX 100

static grpc_status_code by_ids(logic_t *l, const Im__Logic__V1__SearchUsersRequest *in,
                               Im__Logic__V1__SearchUsersReply *out, im_rpc_call_t *call)
{
    if (in->n_ids > LOGIC_USER_IDS_MAX) {
        out->error = "invalid_argument";
        out->message = "at most 100 ids";
        return GRPC_STATUS_OK;
    }
    Im__Repo__V1__GetUsersReply *r = logic_repo_users(l, in->ids, in->n_ids);
    if (r == NULL) return GRPC_STATUS_UNAVAILABLE;
    out->users = im_rpc_alloc(call, (r->n_users + 1) * sizeof *out->users);
    for (size_t i = 0; i < r->n_users; i++) out->users[out->n_users++] = logic_copy_user(call, r->users[i]);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return GRPC_STATUS_OK;
}

LOGIC_HANDLER(logic_handle_search_users)
{
    logic_t *l = ud;
    const Im__Logic__V1__SearchUsersRequest *in = (const void *)req;
    Im__Logic__V1__SearchUsersReply *out = (void *)resp;
    if (in->n_ids > 0) return by_ids(l, in, out, call);
    size_t n = strlen(in->query);
    if (n == 0 || n > 32 || !im_utf8_valid(in->query, n)) {
        out->error = "invalid_argument";
        out->message = "q must be 1-32 characters";
        return GRPC_STATUS_OK;
    }
    Im__Repo__V1__SearchUsersRequest q = IM__REPO__V1__SEARCH_USERS_REQUEST__INIT;
    q.query = in->query;
    q.limit = in->limit ? in->limit : 20;
    ProtobufCMessage *rr = NULL;
    if (logic_repo_call(l, "SearchUsers", &q.base, &rr) != IM_OK) return GRPC_STATUS_UNAVAILABLE;
    Im__Repo__V1__GetUsersReply *r = (void *)rr;
    out->users = im_rpc_alloc(call, (r->n_users + 1) * sizeof *out->users);
    for (size_t i = 0; i < r->n_users; i++)
        if (r->users[i]->user_id != in->user_id)   /* not yourself */
            out->users[out->n_users++] = logic_copy_user(call, r->users[i]);
    protobuf_c_message_free_unpacked(rr, NULL);
    return GRPC_STATUS_OK;
}
