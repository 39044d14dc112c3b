/* handle_get_me.c — Logic.GetMe: the caller's own profile. */
#include "logic.h"

LOGIC_HANDLER(logic_handle_get_me)
{
    logic_t *l = ud;
    const Im__Logic__V1__UserRequest *in = (const void *)req;
    Im__Logic__V1__UserReply *out = (void *)resp;
    Im__Repo__V1__GetUsersReply *r = logic_repo_users(l, &in->user_id, 1);
    if (r == NULL) return GRPC_STATUS_UNAVAILABLE;
    logic_user_reply(call, out, r);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return GRPC_STATUS_OK;
}
