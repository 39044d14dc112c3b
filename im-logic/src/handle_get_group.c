/* handle_get_group.c — Logic.GetGroup: a group's profile and the caller's role, for
 * members only (not_found: no such group; forbidden: not a member). */
#include "im/conv.h"
#include "logic.h"

LOGIC_HANDLER(logic_handle_get_group)
{
    logic_t *l = ud;
    const Im__Logic__V1__GroupRequest *in = (const void *)req;
    Im__Logic__V1__GroupReply *out = (void *)resp;
    Im__Repo__V1__GetGroupRequest q = IM__REPO__V1__GET_GROUP_REQUEST__INIT;
    q.group_id = in->group_id;
    q.user_id = in->user_id;
    ProtobufCMessage *rr = NULL;
    if (logic_repo_call(l, "GetGroup", &q.base, &rr) != IM_OK) return GRPC_STATUS_UNAVAILABLE;
    Im__Repo__V1__GetGroupReply *r = (void *)rr;
    if (!r->found || r->group == NULL) {
        out->error = "not_found";
        out->message = "no such group";
    } else if (r->role == 0) {
        out->error = "forbidden";
        out->message = "not a member of this group";
    } else {
        char cid[IM_CONV_ID_MAX];
        im_conv_group(cid, r->group->group_id);
        out->group = logic_copy_group(call, r->group);
        out->my_role = r->role;
        out->conversation_id = im_rpc_strdup(call, cid);
    }
    protobuf_c_message_free_unpacked(rr, NULL);
    return GRPC_STATUS_OK;
}
