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
    Im__Repo__V1__GetUsersReply *r = logic_repo_users(l, &from, 1);
    if (r == NULL) return;
    if (r->n_users == 1) logic_push_to_users(l, &to, 1, 0, logic_frame_friend_request(request_id, r->users[0], message), "");
    protobuf_c_message_free_unpacked(&r->base, NULL);
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
