/* api_me_update.c — PATCH /api/me {nickname?, avatar_file_id?} -> 200 {user_id,username,
 * nickname,avatar_url}: the new profile, visible at once from every gateway (im-repo
 * deletes the cached copy). The avatar is an image the caller uploaded (POST /api/files);
 * from then on any signed-in user may read it, at avatar_url (its thumbnail). */
#include "gateway.h"

#include <jansson.h>

void gw_api_me_update(gw_t *g, gw_job_t *job)
{
    json_t *body = json_loadb(job->body, job->body_len, 0, NULL);
    json_t *nick = json_object_get(body, "nickname"), *avatar = json_object_get(body, "avatar_file_id");
    uint64_t avatar_id = json_is_string(avatar) ? gw_parse_id(json_string_value(avatar)) : 0;
    if (!json_is_object(body) || (nick && !json_is_string(nick)) || (avatar && avatar_id == 0) ||
        (!nick && !avatar)) {
        json_decref(body);
        return gw_job_error(job, 400, "invalid_argument", "expected {nickname?: string, avatar_file_id?: \"<id>\"}");
    }
    Im__Logic__V1__UpdateMeRequest req = IM__LOGIC__V1__UPDATE_ME_REQUEST__INIT;
    req.user_id = job->user_id;
    req.has_nickname = nick != NULL;
    req.nickname = nick ? (char *)json_string_value(nick) : "";
    req.avatar_file_id = avatar_id;
    ProtobufCMessage *resp = NULL;
    if (gw_logic_call(g, job, "UpdateMe", &req.base, &resp) == IM_OK) {
        Im__Logic__V1__UserReply *r = (void *)resp;
        if (!gw_reply_logic_error(job, r->error, r->message)) gw_reply_json(job, 200, gw_json_user(r->user));
        protobuf_c_message_free_unpacked(resp, NULL);
    }
    json_decref(body);
}
