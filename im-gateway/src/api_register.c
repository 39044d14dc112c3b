/* api_register.c — POST /api/register {username,password,nickname?} -> 201 {user_id}. */
#include "gateway.h"

#include <jansson.h>

void gw_api_register(gw_t *g, gw_job_t *job)
{
    json_t *body = json_loadb(job->body, job->body_len, 0, NULL);
    const char *username = NULL, *password = NULL, *nickname = "";
    if (!json_is_object(body) ||
        json_unpack(body, "{s:s, s:s, s?s}", "username", &username, "password", &password,
                    "nickname", &nickname) != 0) {
        json_decref(body);
        gw_job_error(job, 400, "invalid_argument", "expected {username, password, nickname?} strings");
        return;
    }
    Im__Logic__V1__RegisterRequest req = IM__LOGIC__V1__REGISTER_REQUEST__INIT;
    req.username = (char *)username;
    req.password = (char *)password;
    req.nickname = (char *)nickname;
    ProtobufCMessage *resp = NULL;
    if (gw_logic_call(g, job, "RegisterUser", &req.base, &resp) == IM_OK) {
        Im__Logic__V1__RegisterReply *r = (void *)resp;
        if (!gw_reply_logic_error(job, r->error, r->message))
            gw_reply_json(job, 201, json_pack("{s:I}", "user_id", (json_int_t)r->user_id));
        protobuf_c_message_free_unpacked(resp, NULL);
    }
    json_decref(body);
}
