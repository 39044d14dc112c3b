/* handle_change_group.c — Logic.ChangeGroup: one change to a group by the caller.
 *   op "invite"  user_ids (1..500, deduplicated) join, invited by the caller
 *      "join"    the caller joins an open group
 *      "kick"    user_ids[0] is removed (the caller's own id: a leave)
 *      "leave"   the caller goes (the owner transfers ownership first)
 *      "role"    user_ids[0] gets role 1 member / 2 admin / 3 owner (a transfer)
 *      "update"  has_name/name (1..50 characters), has_announcement/announcement (<= 1000 bytes)
 * im-repo applies it in one transaction under the group's row lock with the role rules;
 * its outcome maps to an error (logic_group_outcome). A change that changed something
 * becomes a system message (group_event.c), produced before the answer: invite, join,
 * kick, leave, role, rename, announcement. The removed user gets theirs through also_to. */
#include "im/conv.h"
#include "im/text.h"
#include "logic.h"

#include <string.h>

#define NAME_MAX_CHARS 50
#define ANNOUNCEMENT_MAX_BYTES 1000
#define INVITES_PER_CALL 500

static int bad(Im__Logic__V1__GroupReply *out, const char *message)
{
    out->error = "invalid_argument";
    out->message = (char *)message;
    return 1;
}

/* The request's checks; 1 (out->error set) if refused. The repo request is filled in. */
static int prepare(logic_t *l, im_rpc_call_t *call, const Im__Logic__V1__ChangeGroupRequest *in,
                   Im__Repo__V1__GroupOpRequest *q, Im__Logic__V1__GroupReply *out)
{
    q->group_id = in->group_id;
    q->actor_id = in->user_id;
    q->op = in->op;
    q->role = in->role;
    q->max_members = (uint32_t)IM_CFG_GET(l->cfg.max_group_members);
    const char *op = in->op;
    if (in->group_id == 0) return bad(out, "missing group");
    if (strcmp(op, "invite") == 0) {
        uint64_t *ids = im_rpc_alloc(call, (in->n_user_ids + 1) * sizeof *ids);
        size_t n = 0;
        for (size_t i = 0; i < in->n_user_ids; i++) {
            size_t k = 0;
            while (k < n && ids[k] != in->user_ids[i]) k++;
            if (k == n && in->user_ids[i] != 0) ids[n++] = in->user_ids[i];
        }   /* the caller may be among them: repo checks the caller first, then skips members */
        if (n == 0) return bad(out, "user_ids must name someone to invite");
        if (n > INVITES_PER_CALL) {
            out->error = "too_large";
            out->message = "at most 500 users per invite";
            return 1;
        }
        q->user_ids = ids;
        q->n_user_ids = n;
    } else if (strcmp(op, "kick") == 0 || strcmp(op, "role") == 0) {
        if (in->n_user_ids != 1 || in->user_ids[0] == 0) return bad(out, "one user id expected");
        if (op[0] == 'r' && (in->role < 1 || in->role > 3)) return bad(out, "role must be member, admin or owner");
        if (op[0] == 'k' && in->user_ids[0] == in->user_id) q->op = "leave";   /* removing yourself */
        else q->user_ids = in->user_ids, q->n_user_ids = 1;
    } else if (strcmp(op, "update") == 0) {
        size_t nlen = strlen(in->name), alen = strlen(in->announcement);
        if (!in->has_name && !in->has_announcement) return bad(out, "nothing to change");
        if (in->has_name && (nlen == 0 || !im_utf8_valid(in->name, nlen) ||
                             im_utf8_chars(in->name, nlen) > NAME_MAX_CHARS))
            return bad(out, "name must be 1-50 characters");
        if (in->has_announcement && (alen > ANNOUNCEMENT_MAX_BYTES || !im_utf8_valid(in->announcement, alen)))
            return bad(out, "announcement must be UTF-8 of at most 1000 bytes");
        q->has_name = in->has_name;
        q->name = in->name;
        q->has_announcement = in->has_announcement;
        q->announcement = in->announcement;
    } else if (strcmp(op, "join") != 0 && strcmp(op, "leave") != 0) {
        return bad(out, "unknown op");
    }
    return 0;
}

/* The system message(s) of a change that went through. */
static void tell(logic_t *l, const Im__Repo__V1__GroupOpRequest *q, const Im__Repo__V1__GroupOpReply *r)
{
    uint64_t gid = q->group_id, actor = q->actor_id;
    const char *op = q->op;
    if (strcmp(op, "update") == 0) {
        json_t *x;
        if (q->has_name) {
            x = json_pack("{s:s}", "name", q->name);
            logic_group_event(l, gid, actor, "rename", NULL, 0, x, NULL, 0);
            json_decref(x);
        }
        if (q->has_announcement) {
            x = json_pack("{s:s}", "announcement", q->announcement);
            logic_group_event(l, gid, actor, "announcement", NULL, 0, x, NULL, 0);
            json_decref(x);
        }
        return;
    }
    if (r->n_changed == 0) return;   /* join by a member, a role it already had */
    if (strcmp(op, "invite") == 0) {
        logic_group_event(l, gid, actor, "invite", r->changed, r->n_changed, NULL, NULL, 0);
    } else if (strcmp(op, "join") == 0) {
        logic_group_event(l, gid, actor, "join", &actor, 1, NULL, NULL, 0);
    } else if (strcmp(op, "kick") == 0 || strcmp(op, "leave") == 0) {
        logic_group_event(l, gid, actor, op, r->changed, 1, NULL, r->changed, 1);
    } else if (strcmp(op, "role") == 0) {
        json_t *x = json_pack("{s:s}", "role", logic_role_name(q->role));
        logic_group_event(l, gid, actor, "role", q->user_ids, 1, x, NULL, 0);
        json_decref(x);
    }
}

/* The caller's role after the change. */
static int role_after(const Im__Repo__V1__GroupOpRequest *q, const Im__Repo__V1__GroupOpReply *r)
{
    if (strcmp(q->op, "leave") == 0) return 0;
    if (strcmp(q->op, "join") == 0 && r->n_changed > 0) return 1;
    if (strcmp(q->op, "role") == 0 && q->role == 3 && r->n_changed > 1) return 2;   /* transferred */
    return r->actor_role;
}

LOGIC_HANDLER(logic_handle_change_group)
{
    logic_t *l = ud;
    const Im__Logic__V1__ChangeGroupRequest *in = (const void *)req;
    Im__Logic__V1__GroupReply *out = (void *)resp;
    Im__Repo__V1__GroupOpRequest q = IM__REPO__V1__GROUP_OP_REQUEST__INIT;
    if (prepare(l, call, in, &q, out)) return GRPC_STATUS_OK;
    ProtobufCMessage *rr = NULL;
    int rc = logic_repo_call(l, "ChangeGroup", &q.base, &rr);
    if (rc == IM_EINVAL) {
        bad(out, "the change could not be stored");
        return GRPC_STATUS_OK;
    }
    if (rc != IM_OK) return GRPC_STATUS_UNAVAILABLE;
    Im__Repo__V1__GroupOpReply *r = (void *)rr;
    const char *code = "", *msg = "";
    if (logic_group_outcome(r->outcome, &code, &msg)) {
        out->error = (char *)code;
        out->message = (char *)msg;
        protobuf_c_message_free_unpacked(rr, NULL);
        return GRPC_STATUS_OK;
    }
    if (r->group) out->group = logic_copy_group(call, r->group);
    out->my_role = role_after(&q, r);
    char cid[IM_CONV_ID_MAX];
    im_conv_group(cid, in->group_id);
    out->conversation_id = im_rpc_strdup(call, cid);
    out->changed = im_rpc_alloc(call, (r->n_changed + 1) * sizeof *out->changed);
    memcpy(out->changed, r->changed, r->n_changed * sizeof *out->changed);
    out->n_changed = r->n_changed;
    tell(l, &q, r);
    protobuf_c_message_free_unpacked(rr, NULL);
    return GRPC_STATUS_OK;
}
