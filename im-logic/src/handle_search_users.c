/* handle_search_users.c — Logic.SearchUsers: users whose name starts with the query. */
#include <string.h>

#include "im/text.h"
#include "logic.h"

LOGIC_HANDLER(logic_handle_search_users)
{
    logic_t *l = ud;
    const Im__Logic__V1__SearchUsersRequest *in = (const void *)req;
    Im__Logic__V1__SearchUsersReply *out = (void *)resp;
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
