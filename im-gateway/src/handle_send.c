/* handle_send.c — `send {cmid, to | group, type, content, mentions?}`: check the shape, hand
 * it to [P] keyed by the conversation (up.c takes the sender's token of the per-user limit
 * shared by every gateway, then produces). The gateway does no business logic:
 * logic checks the recipient or the membership and the mentions, dedups and stores; the
 * client hears back through `sent` or `error` with its cmid. */
#include "gateway.h"
#include "im/conv.h"
#include "im/log.h"
#include "im/text.h"
#include "im/trace.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

void gw_handle_send(gw_t *g, gw_conn_t *c, void *msg)
{
    const char *cmid = json_string_value(json_object_get(msg, "cmid"));
    const char *content = json_string_value(json_object_get(msg, "content"));
    json_t *to = json_object_get(msg, "to"), *type = json_object_get(msg, "type");
    if (!im_cmid_valid(cmid)) {   /* not echoed back: it may be anything */
        gw_ws_error(g, c, "invalid_argument", "cmid must be 1..64 of [A-Za-z0-9_.:-]", NULL);
        return;
    }
    json_t *group = json_object_get(msg, "group"), *mentions = json_object_get(msg, "mentions");
    json_t *dest = group ? group : to;
    if ((group != NULL) == (to != NULL) || !json_is_integer(dest) || json_integer_value(dest) <= 0 ||
        content == NULL ||
        (type && (!json_is_integer(type) || json_integer_value(type) < 1 || json_integer_value(type) > 255))) {
        gw_ws_error(g, c, "invalid_argument",
                    "send needs to (user id) or group (group id), content (string), type? (1..255)", cmid);
        return;
    }
    uint64_t ids[GW_MENTIONS_MAX];
    size_t nids = 0;
    int all = 0;
    if (mentions && gw_mentions_parse(mentions, group != NULL, ids, &nids, &all) != IM_OK) {
        gw_ws_error(g, c, "invalid_argument",
                    "mentions (groups only) is a list of up to 100 member ids, or [\"all\"]", cmid);
        return;
    }
    uint64_t me = c->user->id, dest_id = (uint64_t)json_integer_value(dest);
    char cid[IM_CONV_ID_MAX], tp[56];
    if (group) im_conv_group(cid, dest_id);
    else im_conv_single(cid, me, dest_id);
    im_span_t span;   /* the root of the message's trace: the frame read -> handed to [P] */
    im_span_root(&span, "send", IM_SPAN_PRODUCER);
    im_span_tag(&span, "user", "%llu", (unsigned long long)me);
    im_span_tag(&span, "conversation", "%s", cid);
    im_span_traceparent(&span, tp);

    Im__Mq__V1__Upstream up;
    gw_up_init(g, c, "send", &up);
    up.cmid = (char *)cmid;
    up.to_user = group ? 0 : dest_id;
    up.group_id = group ? dest_id : 0;
    up.mentions = ids;
    up.n_mentions = nids;
    up.mention_all = all;
    up.type = type ? (int32_t)json_integer_value(type) : 1;
    up.content = (char *)content;
    up.conversation_id = cid;
    im_trace_set(span.trace);
    if (gw_up_send(g, &up, cid, tp) != IM_OK) {
        im_span_tag(&span, "error", "unavailable");
        gw_ws_error(g, c, "unavailable", GW_UP_REFUSED, cmid);
    } else {
        im_debug("ws.send", "user=%llu conn=%llx cmid=%s cid=%s", (unsigned long long)me,
                 (unsigned long long)c->id, cmid, cid);
    }
    im_span_end(&span);
    im_trace_set("");
}

int gw_mentions_parse(void *list, int in_group, uint64_t out[GW_MENTIONS_MAX], size_t *n, int *all)
{
    json_t *a = list;
    size_t len = json_array_size(a);
    *n = 0;
    *all = 0;
    if (!json_is_array(a) || (len > 0 && !in_group) || len > GW_MENTIONS_MAX) return IM_EINVAL;
    if (len == 1 && json_is_string(json_array_get(a, 0))) {
        *all = strcmp(json_string_value(json_array_get(a, 0)), "all") == 0;
        return *all ? IM_OK : IM_EINVAL;
    }
    for (size_t i = 0; i < len; i++) {
        json_t *v = json_array_get(a, i);
        if (!json_is_integer(v) || json_integer_value(v) <= 0) return IM_EINVAL;
        out[(*n)++] = (uint64_t)json_integer_value(v);
    }
    return IM_OK;
}
