/* api_me.c — GET /api/me -> {user_id,username,nickname}. */
#include "gateway.h"

#include <jansson.h>

void gw_api_me(gw_t *g, gw_job_t *job)
{
    Im__Logic__V1__UserRequest req = IM__LOGIC__V1__USER_REQUEST__INIT;
    req.user_id = job->user_id;
    ProtobufCMessage *resp = NULL;
    if (gw_logic_call(g, job, "GetMe", &req.base, &resp) != IM_OK) return;
    Im__Logic__V1__UserReply *r = (void *)resp;
    if (!gw_reply_logic_error(job, r->error, r->message)) gw_reply_json(job, 200, gw_json_user(r->user));
    protobuf_c_message_free_unpacked(resp, NULL);
}
