/* api_group_update.c — PATCH /api/groups/{gid} {name?, announcement?} (owner, admin)
 * -> 200 group JSON; each change is also a system message. */
#include "gateway.h"

#include <jansson.h>

void gw_api_group_update(gw_t *g, gw_job_t *job)
{
    uint64_t gid = gw_job_group(job);
    if (gid == 0) return;
    json_t *body = json_loadb(job->body, job->body_len, 0, NULL);
    const char *name = NULL, *announcement = NULL;
    if (!json_is_object(body) ||
        json_unpack(body, "{s?s, s?s}", "name", &name, "announcement", &announcement) != 0 ||
        (name == NULL && announcement == NULL)) {
        json_decref(body);
        gw_job_error(job, 400, "invalid_argument", "expected {name?, announcement?} strings, at least one");
        return;
    }
    Im__Logic__V1__ChangeGroupRequest req = IM__LOGIC__V1__CHANGE_GROUP_REQUEST__INIT;
    req.group_id = gid;
    req.op = "update";
    req.has_name = name != NULL;
    req.name = (char *)(name ? name : "");
    req.has_announcement = announcement != NULL;
    req.announcement = (char *)(announcement ? announcement : "");
    Im__Logic__V1__GroupReply *r = gw_change_group(g, job, &req);
    if (r) {
        if (r->group) gw_reply_json(job, 200, gw_json_group(r->group, r->my_role));
        else gw_reply_json(job, 200, json_object());
        protobuf_c_message_free_unpacked(&r->base, NULL);
    }
    json_decref(body);
}
