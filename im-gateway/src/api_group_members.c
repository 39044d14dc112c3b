/* api_group_members.c — GET /api/groups/{gid}/members?after=&limit= -> {members:[{user_id,
 * username, nickname, role}], next}, by user id; members only. */
#include "gateway.h"

#include <jansson.h>
#include <stdio.h>

void gw_api_group_members(gw_t *g, gw_job_t *job)
{
    Im__Logic__V1__ListMembersRequest req = IM__LOGIC__V1__LIST_MEMBERS_REQUEST__INIT;
    uint64_t limit = 50;
    req.user_id = job->user_id;
    if ((req.group_id = gw_job_group(job)) == 0) return;
    gw_query_u64(job->query, "after", &req.after);
    gw_query_u64(job->query, "limit", &limit);
    req.limit = limit > 200 ? 200 : (uint32_t)limit;
    ProtobufCMessage *resp = NULL;
    if (gw_logic_call(g, job, "ListMembers", &req.base, &resp) != IM_OK) return;
    Im__Logic__V1__ListMembersReply *r = (void *)resp;
    if (!gw_reply_logic_error(job, r->error, r->message)) {
        json_t *list = json_array();
        for (size_t i = 0; i < r->n_members; i++) {
            const Im__Common__V1__Member *m = r->members[i];
            json_array_append_new(list, json_pack("{s:I, s:s, s:s, s:s?}", "user_id", (json_int_t)m->user_id,
                                                  "username", m->username, "nickname", m->nickname, "role",
                                                  gw_role_name(m->role)));
        }
        char next[24];
        snprintf(next, sizeof next, "%llu", (unsigned long long)r->next);
        gw_reply_json(job, 200, json_pack("{s:o, s:o}", "members", list, "next",
                                          r->next ? json_string(next) : json_null()));
    }
    protobuf_c_message_free_unpacked(resp, NULL);
}
