/* api_group_remove.c — DELETE /api/groups/{gid}/members/{uid} -> 200 {}: the caller leaves
 * (uid = caller; the owner must hand over ownership first) or kicks (owner, admin; only
 * members of a lower role). */
#include "gateway.h"

#include <jansson.h>

void gw_api_group_remove(gw_t *g, gw_job_t *job)
{
    uint64_t gid = gw_job_group(job), uid = gid ? gw_parse_id(job->params[1]) : 0;
    if (gid == 0) return;
    if (uid == 0) {
        gw_job_error(job, 404, "not_found", "no such member");
        return;
    }
    Im__Logic__V1__ChangeGroupRequest req = IM__LOGIC__V1__CHANGE_GROUP_REQUEST__INIT;
    req.group_id = gid;
    req.op = uid == job->user_id ? "leave" : "kick";
    req.user_ids = &uid;
    req.n_user_ids = uid == job->user_id ? 0 : 1;
    Im__Logic__V1__GroupReply *r = gw_change_group(g, job, &req);
    if (r) {
        gw_reply_json(job, 200, json_object());
        protobuf_c_message_free_unpacked(&r->base, NULL);
    }
}
