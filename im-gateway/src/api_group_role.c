/* api_group_role.c — PUT /api/groups/{gid}/members/{uid} {role: "member"|"admin"|"owner"}
 * -> 200 {}: owner only; "owner" hands the group over (the old owner becomes an admin). */
#include "gateway.h"

#include <jansson.h>

void gw_api_group_role(gw_t *g, gw_job_t *job)
{
    uint64_t gid = gw_job_group(job), uid = gid ? gw_parse_id(job->params[1]) : 0;
    if (gid == 0) return;
    if (uid == 0) {
        gw_job_error(job, 404, "not_found", "no such member");
        return;
    }
    json_t *body = json_loadb(job->body, job->body_len, 0, NULL);
    int role = gw_role_of(json_string_value(json_object_get(body, "role")));
    json_decref(body);
    if (role == 0) {
        gw_job_error(job, 400, "invalid_argument", "expected {role: \"member\"|\"admin\"|\"owner\"}");
        return;
    }
    Im__Logic__V1__ChangeGroupRequest req = IM__LOGIC__V1__CHANGE_GROUP_REQUEST__INIT;
    req.group_id = gid;
    req.op = "role";
    req.user_ids = &uid;
    req.n_user_ids = 1;
    req.role = role;
    Im__Logic__V1__GroupReply *r = gw_change_group(g, job, &req);
    if (r) {
        gw_reply_json(job, 200, json_object());
        protobuf_c_message_free_unpacked(&r->base, NULL);
    }
}
