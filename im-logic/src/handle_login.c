/* handle_login.c — Logic.LoginUser: check the password, issue an HS256 JWT.
 * Unknown users cost the same argon2id verify as known ones (no user enumeration). */
#include "im/auth.h"
#include "im/log.h"
#include "logic.h"

#include <pthread.h>

static char dummy_hash[128];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void make_dummy(void)
{
    im_password_hash("not a real password", dummy_hash);
}

LOGIC_HANDLER(logic_handle_login)
{
    logic_t *l = ud;
    const Im__Logic__V1__LoginRequest *in = (const void *)req;
    Im__Logic__V1__LoginReply *out = (void *)resp;
    Im__Repo__V1__GetUserByNameRequest q = IM__REPO__V1__GET_USER_BY_NAME_REQUEST__INIT;
    q.username = in->username;
    ProtobufCMessage *rr = NULL;
    if (logic_repo_call(l, "GetUserByName", &q.base, &rr) != IM_OK) return GRPC_STATUS_UNAVAILABLE;
    Im__Repo__V1__GetUserByNameReply *r = (void *)rr;
    pthread_once(&dummy_once, make_dummy);
    int ok = im_password_verify(r->found ? r->password_hash : dummy_hash, in->password) == IM_OK;
    if (!r->found || !ok) {
        out->error = "invalid_credentials";
        out->message = "wrong username or password";
    } else {
        char *token;
        if (im_jwt_issue(l->cfg.jwt_secret, r->user->user_id, IM_CFG_GET(l->cfg.jwt_ttl_s), &token,
                         &out->expires_at) != IM_OK) {
            protobuf_c_message_free_unpacked(rr, NULL);
            return GRPC_STATUS_INTERNAL;
        }
        out->token = im_rpc_strdup(call, token);
        im_free(token);
        out->user_id = r->user->user_id;
        im_info("user.login", "user=%llu", (unsigned long long)out->user_id);
    }
    protobuf_c_message_free_unpacked(rr, NULL);
    return GRPC_STATUS_OK;
}
