/* handle_send.c — `send {cmid, to, type, content}`: rate limit, check, produce upstream.
 * The gateway does no business logic: logic validates the recipient, dedups and stores;
 * the client hears back through `sent` or `error` with its cmid. */
#include "gateway.h"
#include "im/log.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

void gw_handle_send(gw_t *g, gw_conn_t *c, void *msg)
{
    const char *cmid = json_string_value(json_object_get(msg, "cmid"));
    const char *content = json_string_value(json_object_get(msg, "content"));
    json_t *to = json_object_get(msg, "to"), *type = json_object_get(msg, "type");
    if (cmid == NULL || !*cmid || strlen(cmid) > 64) {
        gw_ws_error(g, c, "invalid_argument", "cmid must be a string of 1..64 characters", NULL);
        return;
    }
    if (json_object_get(msg, "group")) {
        gw_ws_error(g, c, "invalid_argument", "group messages are not available yet", cmid);
        return;
    }
    if (!json_is_integer(to) || json_integer_value(to) <= 0 || content == NULL ||
        (type && !json_is_integer(type))) {
        gw_ws_error(g, c, "invalid_argument", "send needs to (user id), content (string), type?", cmid);
        return;
    }
    if (!im_bucket_take(&c->user->send_bucket, g->cfg.send_rate, g->cfg.send_burst, gw_now_ms())) {
        gw_ws_error(g, c, "rate_limited", "too many messages, slow down", cmid);
        return;
    }
    uint64_t me = c->user->id, peer = (uint64_t)json_integer_value(to);
    char cid[64], conn_id[24], trace[33];
    snprintf(cid, sizeof cid, "s_%llu_%llu", (unsigned long long)(me < peer ? me : peer),
             (unsigned long long)(me < peer ? peer : me));
    im_trace_new(trace);

    Im__Mq__V1__Upstream up;
    gw_up_init(g, c, "send", &up, conn_id);
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
        im_info("ws.send", "user=%llu conn=%s cmid=%s cid=%s", (unsigned long long)me, conn_id, cmid, cid);
    }
    im_trace_set("");
}
