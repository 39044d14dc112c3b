/* api_group.c — GET /api/groups/{gid} -> {group_id, name, owner_id, announcement,
 * member_count, open, my_role}; members only (403 for others, 404 if there is no such group). */
#include "gateway.h"

void gw_api_group(gw_t *g, gw_job_t *job)
{
    Im__Logic__V1__GroupRequest req = IM__LOGIC__V1__GROUP_REQUEST__INIT;
    req.user_id = job->user_id;
    if ((req.group_id = gw_job_group(job)) == 0) return;
    ProtobufCMessage *resp = NULL;
    if (gw_logic_call(g, job, "GetGroup", &req.base, &resp) != IM_OK) return;
    Im__Logic__V1__GroupReply *r = (void *)resp;
    if (!gw_reply_logic_error(job, r->error, r->message)) {
        if (r->group) gw_reply_json(job, 200, gw_json_group(r->group, r->my_role));
        else gw_job_error(job, 404, "not_found", "no such group");
    }
    protobuf_c_message_free_unpacked(resp, NULL);
}
