/* handle_change_relation.c — Logic.ChangeRelation: friend requests (with a message of at
 * most 200 characters), accept, decline, unfriend, block, unblock, checked by im-repo
 * (ChangeRelation); a new request is pushed to the recipient's connections as a
 * `friend_request` frame (best effort: GET /api/friends/requests is the record). */
#include "im/log.h"
#include "im/text.h"
#include "logic.h"

#include <string.h>

#define MESSAGE_MAX 200

static const char *const OPS[] = {"request", "accept", "decline", "unfriend", "block", "unblock", NULL};

/* The request's frame to the recipient, from an RPC thread. */
static void push_request(logic_t *l, uint64_t request_id, uint64_t from, uint64_t to, const char *message)
{
    Im__Repo__V1__GetUsersRequest q = IM__REPO__V1__GET_USERS_REQUEST__INIT;
    q.n_user_ids = 1;
    q.user_ids = &from;
    ProtobufCMessage *rr = NULL;
    if (logic_repo_call(l, "GetUsers", &q.base, &rr) != IM_OK) return;
    Im__Repo__V1__GetUsersReply *r = (void *)rr;
    if (r->n_users == 1) {
        logic_sessions_t s;
        logic_sessions_load(l, &s, &to, 1);
        logic_out_t o;
        logic_out_init(&o);
        const char *frame = logic_out_keep(&o, logic_frame_friend_request(request_id, r->users[0], message));
        logic_push_user(l, &o, &s, to, 0, frame, "", 0);
        logic_out_flush(l, &o);
        logic_sessions_free(&s);
    }
    protobuf_c_message_free_unpacked(rr, NULL);
}

LOGIC_HANDLER(logic_handle_change_relation)
{
    logic_t *l = ud;
    const Im__Logic__V1__ChangeRelationRequest *in = (const void *)req;
    Im__Logic__V1__RelationReply *out = (void *)resp;
    size_t k = 0, mlen = strlen(in->message);
    while (OPS[k] && strcmp(OPS[k], in->op) != 0) k++;
    int answer = k == 1 || k == 2;
    out->error = "invalid_argument";
    if (OPS[k] == NULL) {
        out->message = "unknown operation";
    } else if (answer ? in->request_id == 0 : in->peer_id == 0) {
        out->message = answer ? "request_id is required" : "user_id is required";
    } else if (!im_utf8_valid(in->message, mlen) || im_utf8_chars(in->message, mlen) > MESSAGE_MAX) {
        out->message = "message must be UTF-8, at most 200 characters";
    } else {
        out->error = "";
    }
    if (*out->error) return GRPC_STATUS_OK;
    Im__Repo__V1__RelationOpRequest q = IM__REPO__V1__RELATION_OP_REQUEST__INIT;
    q.actor_id = in->user_id;
    q.op = in->op;
    q.peer_id = in->peer_id;
    q.request_id = in->request_id;
    q.message = in->message;
    ProtobufCMessage *rr = NULL;
    if (logic_repo_call(l, "ChangeRelation", &q.base, &rr) != IM_OK) return GRPC_STATUS_UNAVAILABLE;
    Im__Repo__V1__RelationOpReply *r = (void *)rr;
    out->error = im_rpc_strdup(call, r->error);
    out->message = im_rpc_strdup(call, r->message);
    out->request_id = r->request_id;
    int pushed = k == 0 && r->error[0] == '\0';
    protobuf_c_message_free_unpacked(rr, NULL);
    if (pushed) push_request(l, out->request_id, in->user_id, in->peer_id, in->message);
    return GRPC_STATUS_OK;
}
