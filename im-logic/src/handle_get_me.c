/* handle_get_me.c — Logic.GetMe: the caller's own profile. */
#include "logic.h"

LOGIC_HANDLER(logic_handle_get_me)
{
    logic_t *l = ud;
    const Im__Logic__V1__UserRequest *in = (const void *)req;
    Im__Logic__V1__UserReply *out = (void *)resp;
    uint64_t ids[1] = {in->user_id};
    Im__Repo__V1__GetUsersRequest q = IM__REPO__V1__GET_USERS_REQUEST__INIT;
    q.n_user_ids = 1;
    q.user_ids = ids;
    ProtobufCMessage *rr = NULL;
    if (logic_repo_call(l, "GetUsers", &q.base, &rr) != IM_OK) return GRPC_STATUS_UNAVAILABLE;
    logic_user_reply(call, out, (void *)rr);
    protobuf_c_message_free_unpacked(rr, NULL);
    return GRPC_STATUS_OK;
}
