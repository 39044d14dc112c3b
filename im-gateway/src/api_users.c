/* api_users.c — GET /api/users?q=prefix -> {users:[…]} (never the caller);
 * GET /api/users?ids=1,2,3 -> the profiles of those users (at most GW_USER_IDS_MAX;
 * unknown ids are left out). */
#include "gateway.h"

#include <jansson.h>

#define GW_USER_IDS_MAX 100

void gw_api_users(gw_t *g, gw_job_t *job)
{
    char q[128], list[GW_USER_IDS_MAX * 24];
    uint64_t ids[GW_USER_IDS_MAX];
    int n_ids = 0;
    Im__Logic__V1__SearchUsersRequest req = IM__LOGIC__V1__SEARCH_USERS_REQUEST__INIT;
    req.user_id = job->user_id;
    if (gw_query_str(job->query, "ids", list, sizeof list)) {
        if ((n_ids = gw_parse_ids(list, ids, GW_USER_IDS_MAX)) <= 0) {
            gw_job_error(job, 400, "invalid_argument", "ids must be 1-100 user ids separated by commas");
            return;
        }
        req.n_ids = (size_t)n_ids;
        req.ids = ids;
        req.query = "";
    } else if (!gw_query_str(job->query, "q", q, sizeof q) || q[0] == '\0') {
        gw_job_error(job, 400, "invalid_argument", "q or ids is required");
        return;
    } else {
        req.query = q;
    }
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
