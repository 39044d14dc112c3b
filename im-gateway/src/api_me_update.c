/* api_me_update.c — PATCH /api/me {nickname} -> 200 {user_id,username,nickname}: the new
 * profile, visible at once from every gateway (im-repo deletes the cached copy). */
#include "gateway.h"

#include <jansson.h>

void gw_api_me_update(gw_t *g, gw_job_t *job)
{
    json_t *body = json_loadb(job->body, job->body_len, 0, NULL);
    const char *nickname = NULL;
    if (!json_is_object(body) || json_unpack(body, "{s:s}", "nickname", &nickname) != 0) {
        json_decref(body);
        gw_job_error(job, 400, "invalid_argument", "expected {nickname: string}");
        return;
    }
    Im__Logic__V1__UpdateMeRequest req = IM__LOGIC__V1__UPDATE_ME_REQUEST__INIT;
    req.user_id = job->user_id;
    req.nickname = (char *)nickname;
    ProtobufCMessage *resp = NULL;
    if (gw_logic_call(g, job, "UpdateMe", &req.base, &resp) == IM_OK) {
        Im__Logic__V1__UserReply *r = (void *)resp;
        if (!gw_reply_logic_error(job, r->error, r->message)) gw_reply_json(job, 200, gw_json_user(r->user));
        protobuf_c_message_free_unpacked(resp, NULL);
    }
    json_decref(body);
}
