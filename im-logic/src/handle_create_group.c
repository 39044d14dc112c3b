/* handle_create_group.c — Logic.CreateGroup: the caller creates a group and is its owner.
 * name 1..50 characters, announcement <= 1000 bytes (both UTF-8), member_ids deduplicated
 * without the caller, at most 500 (too_large) and max_group_members in all; im-repo
 * creates it in one transaction (an unknown member id: not_found, nothing stored), then
 * the "create" system message is produced (group_event.c) before the answer. */
#include "im/conv.h"
#include "im/text.h"
#include "logic.h"

#include <string.h>

#define NAME_MAX_CHARS 50
#define ANNOUNCEMENT_MAX_BYTES 1000
#define MEMBERS_PER_CALL 500

/* The other members: distinct, non-zero, not the owner. */
static uint64_t *others(im_rpc_call_t *call, const Im__Logic__V1__CreateGroupRequest *in, size_t *n)
{
    uint64_t *ids = im_rpc_alloc(call, (in->n_member_ids + 1) * sizeof *ids);
    im_u64map_t seen;
    im_u64map_init(&seen);
    size_t k = 0;
    for (size_t i = 0; i < in->n_member_ids; i++) {
        uint64_t id = in->member_ids[i];
        if (id == 0 || id == in->user_id || im_u64map_get(&seen, id)) continue;
        im_u64map_put(&seen, id, (void *)1);
        ids[k++] = id;
    }
    im_u64map_fini(&seen);
    *n = k;
    return ids;
}

LOGIC_HANDLER(logic_handle_create_group)
{
    logic_t *l = ud;
    const Im__Logic__V1__CreateGroupRequest *in = (const void *)req;
    Im__Logic__V1__GroupReply *out = (void *)resp;
    size_t nlen = strlen(in->name), alen = strlen(in->announcement), n;
    uint64_t *ids = others(call, in, &n);
    if (nlen == 0 || !im_utf8_valid(in->name, nlen) || im_utf8_chars(in->name, nlen) > NAME_MAX_CHARS) {
        out->error = "invalid_argument";
        out->message = "name must be 1-50 characters";
    } else if (alen > ANNOUNCEMENT_MAX_BYTES || !im_utf8_valid(in->announcement, alen)) {
        out->error = "invalid_argument";
        out->message = "announcement must be UTF-8 of at most 1000 bytes";
    } else if (n > MEMBERS_PER_CALL || n + 1 > (size_t)IM_CFG_GET(l->cfg.max_group_members)) {
        out->error = "too_large";
        out->message = "too many members";
    }
    if (out->error[0]) return GRPC_STATUS_OK;

    Im__Repo__V1__CreateGroupRequest q = IM__REPO__V1__CREATE_GROUP_REQUEST__INIT;
    q.owner_id = in->user_id;
    q.name = in->name;
    q.announcement = in->announcement;
    q.member_ids = ids;
    q.n_member_ids = n;
    q.open = in->open;
    q.max_members = (uint32_t)IM_CFG_GET(l->cfg.max_group_members);
    ProtobufCMessage *rr = NULL;
    int rc = logic_repo_call(l, "CreateGroup", &q.base, &rr);
    if (rc == IM_EINVAL) {
        out->error = "invalid_argument";
        out->message = "the group could not be stored";
        return GRPC_STATUS_OK;
    }
    if (rc != IM_OK) return GRPC_STATUS_UNAVAILABLE;
    Im__Repo__V1__GroupOpReply *r = (void *)rr;
    const char *code = "", *msg = "";
    if (logic_group_outcome(r->outcome, &code, &msg) || r->group == NULL) {
        grpc_status_code st = r->group || r->outcome ? GRPC_STATUS_OK : GRPC_STATUS_INTERNAL;
        out->error = (char *)code;
        out->message = (char *)msg;
        protobuf_c_message_free_unpacked(rr, NULL);
        return st;
    }
    out->group = logic_copy_group(call, r->group);
    out->my_role = 3;
    char cid[IM_CONV_ID_MAX];
    im_conv_group(cid, r->group->group_id);
    out->conversation_id = im_rpc_strdup(call, cid);
    out->changed = im_rpc_alloc(call, (r->n_changed + 1) * sizeof *out->changed);
    memcpy(out->changed, r->changed, r->n_changed * sizeof *out->changed);
    out->n_changed = r->n_changed;
    protobuf_c_message_free_unpacked(rr, NULL);
    json_t *extra = json_pack("{s:s}", "name", out->group->name);
    logic_group_event(l, out->group->group_id, in->user_id, "create", ids, n, extra, NULL, 0);
    json_decref(extra);
    return GRPC_STATUS_OK;
}
