/* handle_update_me.c — Logic.UpdateMe: the caller's nickname (UTF-8, at most 50
 * characters; empty shows the username) and/or avatar (an image the caller uploaded,
 * which becomes readable by every signed-in user), through im-repo UpdateUser
 * (cache-aside). */
#include "im/text.h"
#include "logic.h"

#include <string.h>

static int refuse(Im__Logic__V1__UserReply *out, const char *message)
{
    out->error = "invalid_argument";
    out->message = (char *)message;
    return GRPC_STATUS_OK;
}

/* IM_OK if file_id is an image user_id uploaded; IM_EINVAL if not; else unavailable. */
static int check_avatar(logic_t *l, uint64_t user_id, uint64_t file_id)
{
    Im__Repo__V1__GetFilesReply *r = logic_repo_files(l, &user_id, &file_id, 1);
    if (r == NULL) return IM_EUNAVAIL;
    const Im__Repo__V1__FileResult *res = r->results[0];
    int ok = res->found && res->file->uploader_id == user_id && res->file->has_thumb;
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return ok ? IM_OK : IM_EINVAL;
}

LOGIC_HANDLER(logic_handle_update_me)
{
    logic_t *l = ud;
    const Im__Logic__V1__UpdateMeRequest *in = (const void *)req;
    Im__Logic__V1__UserReply *out = (void *)resp;
    size_t n = strlen(in->nickname);
    if (!in->has_nickname && in->avatar_file_id == 0) return refuse(out, "nothing to change");
    if (in->has_nickname && (!im_utf8_valid(in->nickname, n) || im_utf8_chars(in->nickname, n) > 50))
        return refuse(out, "nickname must be UTF-8, at most 50 characters");
    int rc = in->avatar_file_id ? check_avatar(l, in->user_id, in->avatar_file_id) : IM_OK;
    if (rc == IM_EINVAL) return refuse(out, "avatar_file_id must be an image you uploaded");
    if (rc != IM_OK) return GRPC_STATUS_UNAVAILABLE;
    Im__Repo__V1__UpdateUserRequest q = IM__REPO__V1__UPDATE_USER_REQUEST__INIT;
    q.user_id = in->user_id;
    q.nickname = in->nickname;
    q.keep_nickname = !in->has_nickname;
    q.avatar_file_id = in->avatar_file_id;
    ProtobufCMessage *rr = NULL;
    if (logic_repo_call(l, "UpdateUser", &q.base, &rr) != IM_OK) return GRPC_STATUS_UNAVAILABLE;
    logic_user_reply(call, out, (void *)rr);
    protobuf_c_message_free_unpacked(rr, NULL);
    return GRPC_STATUS_OK;
}
