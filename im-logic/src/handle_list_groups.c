/* handle_list_groups.c — Logic.ListGroups: the caller's groups by id, a page at a time
 * (after = the last id of the previous page; limit 1..200, default 50; next 0 = the end). */
#include "logic.h"

#define LIMIT_DEFAULT 50
#define LIMIT_MAX 200

LOGIC_HANDLER(logic_handle_list_groups)
{
    logic_t *l = ud;
    const Im__Logic__V1__ListGroupsRequest *in = (const void *)req;
    Im__Logic__V1__ListGroupsReply *out = (void *)resp;
    Im__Repo__V1__ListUserGroupsRequest q = IM__REPO__V1__LIST_USER_GROUPS_REQUEST__INIT;
    q.user_id = in->user_id;
    q.after = in->after;
    q.limit = in->limit == 0 ? LIMIT_DEFAULT : in->limit > LIMIT_MAX ? LIMIT_MAX : in->limit;
    ProtobufCMessage *rr = NULL;
    if (logic_repo_call(l, "ListUserGroups", &q.base, &rr) != IM_OK) return GRPC_STATUS_UNAVAILABLE;
    Im__Repo__V1__ListUserGroupsReply *r = (void *)rr;
    out->groups = im_rpc_alloc(call, (r->n_groups + 1) * sizeof *out->groups);
    out->roles = im_rpc_alloc(call, (r->n_groups + 1) * sizeof *out->roles);
    for (size_t i = 0; i < r->n_groups; i++) {
        out->groups[i] = logic_copy_group(call, r->groups[i]);
        out->roles[i] = i < r->n_roles ? r->roles[i] : 0;
    }
    out->n_groups = out->n_roles = r->n_groups;
    out->next = r->next;
    protobuf_c_message_free_unpacked(rr, NULL);
    return GRPC_STATUS_OK;
}
