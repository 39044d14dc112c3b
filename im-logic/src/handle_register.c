/* handle_register.c — Logic.RegisterUser: validate, hash (argon2id), store via im-repo. */
#include "im/auth.h"
#include "im/log.h"
#include "im/text.h"
#include "logic.h"

#include <string.h>

LOGIC_HANDLER(logic_handle_register)
{
    logic_t *l = ud;
    const Im__Logic__V1__RegisterRequest *in = (const void *)req;
    Im__Logic__V1__RegisterReply *out = (void *)resp;
    size_t plen = strlen(in->password), nlen = strlen(in->nickname);
    if (!IM_CFG_GET(l->cfg.registration_open)) {   /* a degradation switch */
        out->error = "unavailable";
        out->message = "registration is closed for now, try again later";
        return GRPC_STATUS_OK;
    }
    out->error = "invalid_argument";
    if (!im_username_valid(in->username)) {
        out->message = "username must be 3-32 characters of letters, digits, _ . -";
        return GRPC_STATUS_OK;
    }
    if (plen < 8 || plen > 128) {
        out->message = "password must be 8-128 characters";
        return GRPC_STATUS_OK;
    }
    if (!im_utf8_valid(in->nickname, nlen) || im_utf8_chars(in->nickname, nlen) > 50) {
        out->message = "nickname must be UTF-8, at most 50 characters";
        return GRPC_STATUS_OK;
    }
    out->error = "";
    char hash[128];
    if (im_password_hash(in->password, hash) != IM_OK) return GRPC_STATUS_INTERNAL;

    Im__Repo__V1__CreateUserRequest cr = IM__REPO__V1__CREATE_USER_REQUEST__INIT;
    cr.username = in->username;
    cr.password_hash = hash;
    cr.nickname = (char *)(nlen ? in->nickname : in->username);
    ProtobufCMessage *rr = NULL;
    if (logic_repo_call(l, "CreateUser", &cr.base, &rr) != IM_OK) return GRPC_STATUS_UNAVAILABLE;
    Im__Repo__V1__CreateUserReply *r = (void *)rr;
    if (r->taken) {
        out->error = "username_taken";
        out->message = "username is taken";
    } else {
        out->user_id = r->user_id;
        im_info("user.registered", "user=%llu", (unsigned long long)r->user_id);
    }
    protobuf_c_message_free_unpacked(rr, NULL);
    return GRPC_STATUS_OK;
}
