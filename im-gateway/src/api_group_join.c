/* api_group_join.c — POST /api/groups/{gid}/join -> 200 group JSON: open groups only. */
#include "gateway.h"

#include <jansson.h>

void gw_api_group_join(gw_t *g, gw_job_t *job)
{
    Im__Logic__V1__ChangeGroupRequest req = IM__LOGIC__V1__CHANGE_GROUP_REQUEST__INIT;
    if ((req.group_id = gw_job_group(job)) == 0) return;
    req.op = "join";
    Im__Logic__V1__GroupReply *r = gw_change_group(g, job, &req);
    if (r) {
        if (r->group) gw_reply_json(job, 200, gw_json_group(r->group, r->my_role));
        else gw_reply_json(job, 200, json_object());
        protobuf_c_message_free_unpacked(&r->base, NULL);
    }
}
