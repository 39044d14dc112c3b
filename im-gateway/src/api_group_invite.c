/* api_group_invite.c — POST /api/groups/{gid}/members {user_ids} -> 200 {added:[…]}: owner
 * and admins, or any member of an open group; users already in the group are skipped. */
#include "gateway.h"

#include <jansson.h>

void gw_api_group_invite(gw_t *g, gw_job_t *job)
{
    uint64_t gid = gw_job_group(job);
    if (gid == 0) return;
    json_t *body = json_loadb(job->body, job->body_len, 0, NULL);
    json_t *ids = json_object_get(body, "user_ids");
    size_t n = json_array_size(ids);
    uint64_t *users = im_calloc(n + 1, sizeof *users);
    int ok = json_is_object(body) && json_is_array(ids) && n > 0;
    for (size_t i = 0; ok && i < n; i++) {
        json_t *v = json_array_get(ids, i);
        ok = json_is_integer(v) && json_integer_value(v) > 0;
        users[i] = ok ? (uint64_t)json_integer_value(v) : 0;
    }
    if (!ok) {
        gw_job_error(job, 400, "invalid_argument", "expected {user_ids: [user ids], at least one}");
    } else {
        Im__Logic__V1__ChangeGroupRequest req = IM__LOGIC__V1__CHANGE_GROUP_REQUEST__INIT;
        req.group_id = gid;
        req.op = "invite";
        req.user_ids = users;
        req.n_user_ids = n;
        Im__Logic__V1__GroupReply *r = gw_change_group(g, job, &req);
        if (r) {
            json_t *added = json_array();
            for (size_t i = 0; i < r->n_changed; i++) json_array_append_new(added, json_integer((json_int_t)r->changed[i]));
            gw_reply_json(job, 200, json_pack("{s:o}", "added", added));
            protobuf_c_message_free_unpacked(&r->base, NULL);
        }
    }
    im_free(users);
    json_decref(body);
}
