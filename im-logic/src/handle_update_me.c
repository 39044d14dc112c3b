/* handle_update_me.c — Logic.UpdateMe: the caller's nickname (UTF-8, at most 50
 * characters; empty shows the username), through im-repo UpdateUser (cache-aside). */
#include "im/text.h"
#include "logic.h"

#include <string.h>

LOGIC_HANDLER(logic_handle_update_me)
{
    logic_t *l = ud;
    const Im__Logic__V1__UpdateMeRequest *in = (const void *)req;
    Im__Logic__V1__UserReply *out = (void *)resp;
    size_t n = strlen(in->nickname);
    if (!im_utf8_valid(in->nickname, n) || im_utf8_chars(in->nickname, n) > 50) {
        out->error = "invalid_argument";
        out->message = "nickname must be UTF-8, at most 50 characters";
        return GRPC_STATUS_OK;
    }
    Im__Repo__V1__UpdateUserRequest q = IM__REPO__V1__UPDATE_USER_REQUEST__INIT;
    q.user_id = in->user_id;
    q.nickname = in->nickname;
    ProtobufCMessage *rr = NULL;
    if (logic_repo_call(l, "UpdateUser", &q.base, &rr) != IM_OK) return GRPC_STATUS_UNAVAILABLE;
    logic_user_reply(call, out, (void *)rr);
    protobuf_c_message_free_unpacked(rr, NULL);
    return GRPC_STATUS_OK;
}
