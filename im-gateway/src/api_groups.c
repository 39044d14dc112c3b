/* api_groups.c — GET /api/groups?after=&limit= -> {groups:[group JSON with my_role], next}:
 * the caller's groups by id; next is the id to pass as `after`, null at the end. */
#include "gateway.h"

#include <jansson.h>
#include <stdio.h>

void gw_api_groups(gw_t *g, gw_job_t *job)
{
    Im__Logic__V1__ListGroupsRequest req = IM__LOGIC__V1__LIST_GROUPS_REQUEST__INIT;
    uint64_t limit = 50;
    req.user_id = job->user_id;
    gw_query_u64(job->query, "after", &req.after);
    gw_query_u64(job->query, "limit", &limit);
    req.limit = limit > 200 ? 200 : (uint32_t)limit;
    ProtobufCMessage *resp = NULL;
    if (gw_logic_call(g, job, "ListGroups", &req.base, &resp) != IM_OK) return;
    Im__Logic__V1__ListGroupsReply *r = (void *)resp;
    if (!gw_reply_logic_error(job, r->error, r->message)) {
        json_t *list = json_array();
        for (size_t i = 0; i < r->n_groups; i++)
            json_array_append_new(list, gw_json_group(r->groups[i], i < r->n_roles ? r->roles[i] : 0));
        char next[24];
        snprintf(next, sizeof next, "%llu", (unsigned long long)r->next);
        gw_reply_json(job, 200, json_pack("{s:o, s:o}", "groups", list, "next",
                                          r->next ? json_string(next) : json_null()));
    }
    protobuf_c_message_free_unpacked(resp, NULL);
}
