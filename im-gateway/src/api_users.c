/* api_users.c — GET /api/users?q=prefix -> {users:[…]} (never the caller). */
#include "gateway.h"

#include <jansson.h>

void gw_api_users(gw_t *g, gw_job_t *job)
{
    char q[128];
    if (!gw_query_str(job->query, "q", q, sizeof q) || q[0] == '\0') {
        gw_job_error(job, 400, "invalid_argument", "q is required");
        return;
    }
    Im__Logic__V1__SearchUsersRequest req = IM__LOGIC__V1__SEARCH_USERS_REQUEST__INIT;
    req.user_id = job->user_id;
    req.query = q;
    ProtobufCMessage *resp = NULL;
    if (gw_logic_call(g, job, "SearchUsers", &req.base, &resp) != IM_OK) return;
    Im__Logic__V1__SearchUsersReply *r = (void *)resp;
    if (!gw_reply_logic_error(job, r->error, r->message)) {
        json_t *users = json_array();
        for (size_t i = 0; i < r->n_users; i++) json_array_append_new(users, gw_json_user(r->users[i]));
        gw_reply_json(job, 200, json_pack("{s:o}", "users", users));
    }
    protobuf_c_message_free_unpacked(resp, NULL);
}
