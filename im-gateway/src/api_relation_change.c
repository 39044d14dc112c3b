/* api_relation_change.c — friends and blocks, each a Logic.ChangeRelation:
 *   POST   /api/friends/requests {user_id, message?}  -> 201 {request_id}
 *   POST   /api/friends/requests/{id}/accept|decline  -> 200 {}
 *   DELETE /api/friends/{uid}                         -> 200 {}
 *   POST   /api/blocks {user_id}                      -> 201 {}
 *   DELETE /api/blocks/{uid}                          -> 200 {} */
#include "gateway.h"

#include <jansson.h>

static void change(gw_t *g, gw_job_t *job, const char *op, uint64_t peer, uint64_t request_id, const char *message,
                   int status)
{
    Im__Logic__V1__ChangeRelationRequest req = IM__LOGIC__V1__CHANGE_RELATION_REQUEST__INIT;
    req.user_id = job->user_id;
    req.op = (char *)op;
    req.peer_id = peer;
    req.request_id = request_id;
    req.message = (char *)(message ? message : "");
    ProtobufCMessage *resp = NULL;
    if (gw_logic_call(g, job, "ChangeRelation", &req.base, &resp) != IM_OK) return;
    Im__Logic__V1__RelationReply *r = (void *)resp;
    if (!gw_reply_logic_error(job, r->error, r->message)) {
        json_t *o = json_object();
        if (r->request_id) json_object_set_new(o, "request_id", json_integer((json_int_t)r->request_id));
        gw_reply_json(job, status, o);
    }
    protobuf_c_message_free_unpacked(resp, NULL);
}

/* {user_id, message?} of a POST body; 0 (answered 400) if malformed. */
static uint64_t body_user(gw_job_t *job, json_t **body, const char **message)
{
    json_int_t uid = 0;
    *body = json_loadb(job->body, job->body_len, 0, NULL);
    if (!json_is_object(*body) || json_unpack(*body, "{s:I, s?s}", "user_id", &uid, "message", message) != 0 ||
        uid <= 0) {
        gw_job_error(job, 400, "invalid_argument", "expected {user_id, message?}");
        return 0;
    }
    return (uint64_t)uid;
}

/* The {} of the path as an id, or answered 404. */
static uint64_t path_id(gw_job_t *job)
{
    uint64_t id = gw_parse_id(job->params[0]);
    if (id == 0) gw_job_error(job, 404, "not_found", "no such endpoint");
    return id;
}

/* A POST whose body names the other user: op on them, 201 on success. */
static void change_posted(gw_t *g, gw_job_t *job, const char *op, int with_message)
{
    json_t *body;
    const char *message = NULL;
    uint64_t uid = body_user(job, &body, &message);
    if (uid) change(g, job, op, uid, 0, with_message ? message : NULL, 201);
    json_decref(body);
}

void gw_api_friend_request(gw_t *g, gw_job_t *job)
{
    change_posted(g, job, "request", 1);
}

void gw_api_friend_accept(gw_t *g, gw_job_t *job)
{
    uint64_t id = path_id(job);
    if (id) change(g, job, "accept", 0, id, NULL, 200);
}

void gw_api_friend_decline(gw_t *g, gw_job_t *job)
{
    uint64_t id = path_id(job);
    if (id) change(g, job, "decline", 0, id, NULL, 200);
}

void gw_api_unfriend(gw_t *g, gw_job_t *job)
{
    uint64_t uid = path_id(job);
    if (uid) change(g, job, "unfriend", uid, 0, NULL, 200);
}

void gw_api_block(gw_t *g, gw_job_t *job)
{
    change_posted(g, job, "block", 0);
}

void gw_api_unblock(gw_t *g, gw_job_t *job)
{
    uint64_t uid = path_id(job);
    if (uid) change(g, job, "unblock", uid, 0, NULL, 200);
}
