/* api_group_create.c — POST /api/groups {name, member_ids, announcement?, open?}
 * -> 201 {group_id, conversation_id}; the caller is the owner. */
#include "gateway.h"

#include <jansson.h>

void gw_api_group_create(gw_t *g, gw_job_t *job)
{
    json_t *body = json_loadb(job->body, job->body_len, 0, NULL), *ids = NULL;
    const char *name = NULL, *announcement = "";
    int open = 0;
    if (!json_is_object(body) ||
        json_unpack(body, "{s:s, s:o, s?s, s?b}", "name", &name, "member_ids", &ids, "announcement",
                    &announcement, "open", &open) != 0 || !json_is_array(ids)) {
        json_decref(body);
        gw_job_error(job, 400, "invalid_argument", "expected {name, member_ids: [user ids], announcement?, open?}");
        return;
    }
    size_t n = json_array_size(ids);
    uint64_t *members = im_calloc(n + 1, sizeof *members);
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(ids, i);
        if (!json_is_integer(v) || json_integer_value(v) <= 0) {
            im_free(members);
            json_decref(body);
            gw_job_error(job, 400, "invalid_argument", "member_ids must be positive user ids");
            return;
        }
        members[i] = (uint64_t)json_integer_value(v);
    }
    Im__Logic__V1__CreateGroupRequest req = IM__LOGIC__V1__CREATE_GROUP_REQUEST__INIT;
    req.user_id = job->user_id;
    req.name = (char *)name;
    req.announcement = (char *)announcement;
    req.member_ids = members;
    req.n_member_ids = n;
    req.open = open;
    ProtobufCMessage *resp = NULL;
    if (gw_logic_call(g, job, "CreateGroup", &req.base, &resp) == IM_OK) {
        Im__Logic__V1__GroupReply *r = (void *)resp;
        if (!gw_reply_logic_error(job, r->error, r->message))
            gw_reply_json(job, 201, json_pack("{s:I, s:s}", "group_id", (json_int_t)(r->group ? r->group->group_id : 0),
                                              "conversation_id", r->conversation_id));
        protobuf_c_message_free_unpacked(resp, NULL);
    }
    im_free(members);
    json_decref(body);
}
