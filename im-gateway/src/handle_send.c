/* handle_send.c — `send {cmid, to, type, content}`: check the shape, rate limit, produce
 * upstream. The gateway does no business logic: logic validates the recipient, dedups and
 * stores; the client hears back through `sent` or `error` with its cmid. */
#include "gateway.h"
#include "im/clock.h"
#include "im/conv.h"
#include "im/log.h"
#include "im/text.h"

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
    if (json_object_get(msg, "group")) {
        gw_ws_error(g, c, "invalid_argument", "group messages are not available yet", cmid);
        return;
    }
    if (!json_is_integer(to) || json_integer_value(to) <= 0 || content == NULL ||
        (type && (!json_is_integer(type) || json_integer_value(type) < 1 || json_integer_value(type) > 255))) {
        gw_ws_error(g, c, "invalid_argument", "send needs to (user id), content (string), type? (1..255)", cmid);
        return;
    }
    if (!im_bucket_take(&c->user->send_bucket, IM_CFG_GET(g->cfg.send_rate), IM_CFG_GET(g->cfg.send_burst),
                        im_clock_mono_ms())) {
        gw_ws_error(g, c, "rate_limited", "too many messages, slow down", cmid);
        return;
    }
    uint64_t me = c->user->id, peer = (uint64_t)json_integer_value(to);
    char cid[IM_CONV_ID_MAX], trace[33];
    im_conv_single(cid, me, peer);
    im_trace_new(trace);

    Im__Mq__V1__Upstream up;
    gw_up_init(g, c, "send", &up);
    up.cmid = (char *)cmid;
    up.to_user = peer;
    up.type = type ? (int32_t)json_integer_value(type) : 1;
    up.content = (char *)content;
    up.conversation_id = cid;
    im_trace_set(trace);
    if (gw_up_send(g, &up, cid, trace) != IM_OK) {
        gw_ws_error(g, c, "unavailable", "could not queue the message, retry", cmid);
    } else {
        im_metric_add(g->m_sends, 1);
        im_debug("ws.send", "user=%llu conn=%llx cmid=%s cid=%s", (unsigned long long)me,
                 (unsigned long long)c->id, cmid, cid);
    }
    im_trace_set("");
}
