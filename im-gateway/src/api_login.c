/* api_login.c — POST /api/login {username,password} -> {token,user_id,expires_at}.
 * Attempts are limited per client address and per username across every gateway
 * (limits.c), before any password is checked: 429 with Retry-After. */
#include "gateway.h"

#include <jansson.h>

void gw_api_login(gw_t *g, gw_job_t *job)
{
    json_t *body = json_loadb(job->body, job->body_len, 0, NULL);
    const char *username = NULL, *password = NULL;
    if (!json_is_object(body) ||
        json_unpack(body, "{s:s, s:s}", "username", &username, "password", &password) != 0) {
        json_decref(body);
        gw_job_error(job, 400, "invalid_argument", "expected {username, password} strings");
        return;
    }
    if (gw_limit(g, job, "login:a", job->addr, IM_CFG_GET(g->cfg.login_addr_per_min) / 60.0,
                 IM_CFG_GET(g->cfg.login_addr_per_min)) != IM_OK ||
        gw_limit(g, job, "login:u", username, IM_CFG_GET(g->cfg.login_user_per_min) / 60.0,
                 IM_CFG_GET(g->cfg.login_user_per_min)) != IM_OK) {
        json_decref(body);   /* answered 429 with Retry-After */
        return;
    }
    Im__Logic__V1__LoginRequest req = IM__LOGIC__V1__LOGIN_REQUEST__INIT;
    req.username = (char *)username;
    req.password = (char *)password;
    ProtobufCMessage *resp = NULL;
    if (gw_logic_call(g, job, "LoginUser", &req.base, &resp) == IM_OK) {
        Im__Logic__V1__LoginReply *r = (void *)resp;
        if (!gw_reply_logic_error(job, r->error, r->message))
            gw_reply_json(job, 200, json_pack("{s:s, s:I, s:I}", "token", r->token, "user_id",
                                              (json_int_t)r->user_id, "expires_at",
                                              (json_int_t)r->expires_at));
        protobuf_c_message_free_unpacked(resp, NULL);
    }
    json_decref(body);
}
