/* api_group_util.c — what the group endpoints share ([W]): roles by name, the group JSON,
 * the {gid} of the path, and the Logic.ChangeGroup call behind every change. */
#include "gateway.h"

#include <jansson.h>
#include <string.h>

static const char *const roles[] = {NULL, "member", "admin", "owner"};

const char *gw_role_name(int role)
{
    return role >= 1 && role <= 3 ? roles[role] : NULL;
}

int gw_role_of(const char *name)
{
    for (int r = 1; name && r <= 3; r++)
        if (strcmp(name, roles[r]) == 0) return r;
    return 0;
}

void *gw_json_group(const Im__Common__V1__Group *gr, int my_role)
{
    const char *role = gw_role_name(my_role);
    return json_pack("{s:I, s:s, s:I, s:s, s:I, s:b, s:s?}", "group_id", (json_int_t)gr->group_id, "name",
                     gr->name, "owner_id", (json_int_t)gr->owner_id, "announcement", gr->announcement,
                     "member_count", (json_int_t)gr->member_count, "open", gr->open, "my_role", role);
}

uint64_t gw_job_group(gw_job_t *job)
{
    uint64_t gid = gw_parse_id(job->params[0]);
    if (gid == 0) gw_job_error(job, 404, "not_found", "no such group");
    return gid;
}

Im__Logic__V1__GroupReply *gw_change_group(gw_t *g, gw_job_t *job, Im__Logic__V1__ChangeGroupRequest *req)
{
    req->user_id = job->user_id;
    ProtobufCMessage *resp = NULL;
    if (gw_logic_call(g, job, "ChangeGroup", &req->base, &resp) != IM_OK) return NULL;
    Im__Logic__V1__GroupReply *r = (void *)resp;
    if (gw_reply_logic_error(job, r->error, r->message)) {
        protobuf_c_message_free_unpacked(resp, NULL);
        return NULL;
    }
    return r;
}
