/* handle_list_members.c — Logic.ListMembers: a group's members with their profiles and
 * roles, by user id a page at a time (after, limit 1..200 default 50, next 0 = the end);
 * for members only (GetGroup first: not_found, forbidden). */
#include "logic.h"

#define LIMIT_DEFAULT 50
#define LIMIT_MAX 200

/* IM_OK with *code untouched if uid is a member of gid, else with *code and *message set;
 * an error if im-repo could not say. */
static int check_member(logic_t *l, uint64_t gid, uint64_t uid, const char **code, const char **message)
{
    Im__Repo__V1__GetGroupRequest q = IM__REPO__V1__GET_GROUP_REQUEST__INIT;
    q.group_id = gid;
    q.user_id = uid;
    ProtobufCMessage *rr = NULL;
    int rc = logic_repo_call(l, "GetGroup", &q.base, &rr);
    if (rc != IM_OK) return rc;
    Im__Repo__V1__GetGroupReply *r = (void *)rr;
    if (!r->found) *code = "not_found", *message = "no such group";
    else if (r->role == 0) *code = "forbidden", *message = "not a member of this group";
    protobuf_c_message_free_unpacked(rr, NULL);
    return IM_OK;
}

LOGIC_HANDLER(logic_handle_list_members)
{
    logic_t *l = ud;
    const Im__Logic__V1__ListMembersRequest *in = (const void *)req;
    Im__Logic__V1__ListMembersReply *out = (void *)resp;
    const char *code = "", *message = "";
    if (check_member(l, in->group_id, in->user_id, &code, &message) != IM_OK) return GRPC_STATUS_UNAVAILABLE;
    if (code[0]) {
        out->error = (char *)code;
        out->message = (char *)message;
        return GRPC_STATUS_OK;
    }
    Im__Repo__V1__ListMembersRequest q = IM__REPO__V1__LIST_MEMBERS_REQUEST__INIT;
    q.group_id = in->group_id;
    q.after = in->after;
    q.limit = in->limit == 0 ? LIMIT_DEFAULT : in->limit > LIMIT_MAX ? LIMIT_MAX : in->limit;
    ProtobufCMessage *rr = NULL;
    if (logic_repo_call(l, "ListMembers", &q.base, &rr) != IM_OK) return GRPC_STATUS_UNAVAILABLE;
    Im__Repo__V1__ListMembersReply *r = (void *)rr;
    out->members = im_rpc_alloc(call, (r->n_members + 1) * sizeof *out->members);
    for (size_t i = 0; i < r->n_members; i++) out->members[i] = logic_copy_member(call, r->members[i]);
    out->n_members = r->n_members;
    out->next = r->next;
    protobuf_c_message_free_unpacked(rr, NULL);
    return GRPC_STATUS_OK;
}
