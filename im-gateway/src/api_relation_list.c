/* api_relation_list.c — the lists of Logic.ListRelations:
 *   GET /api/friends          -> {friends: [user]}, A–Z by nickname, then username
 *   GET /api/blocks           -> {blocks: [user]}
 *   GET /api/friends/requests -> {requests: [{request_id, from, to, message, created_at}]}:
 *                                pending, to or from the caller, newest first each way */
#include "gateway.h"

#include <jansson.h>

static void list(gw_t *g, gw_job_t *job, const char *kind, const char *key)
{
    Im__Logic__V1__ListRelationsRequest req = IM__LOGIC__V1__LIST_RELATIONS_REQUEST__INIT;
    req.user_id = job->user_id;
    req.kind = (char *)kind;
    ProtobufCMessage *resp = NULL;
    if (gw_logic_call(g, job, "ListRelations", &req.base, &resp) != IM_OK) return;
    Im__Logic__V1__ListRelationsReply *r = (void *)resp;
    if (!gw_reply_logic_error(job, r->error, r->message)) {
        json_t *a = json_array();
        for (size_t i = 0; i < r->n_users; i++) json_array_append_new(a, gw_json_user(r->users[i]));
        for (size_t i = 0; i < r->n_requests; i++) {
            const Im__Logic__V1__RequestView *v = r->requests[i];
            json_array_append_new(a, json_pack("{s:I, s:o, s:o, s:s, s:I}", "request_id", (json_int_t)v->request_id,
                                               "from", gw_json_user(v->from), "to", gw_json_user(v->to), "message",
                                               v->message, "created_at", (json_int_t)v->created_at));
        }
        gw_reply_json(job, 200, json_pack("{s:o}", key, a));
    }
    protobuf_c_message_free_unpacked(resp, NULL);
}

void gw_api_friends(gw_t *g, gw_job_t *job)
{
    list(g, job, "friends", "friends");
}

void gw_api_blocks(gw_t *g, gw_job_t *job)
{
    list(g, job, "blocks", "blocks");
}

void gw_api_friend_requests(gw_t *g, gw_job_t *job)
{
    list(g, job, "requests", "requests");
}
