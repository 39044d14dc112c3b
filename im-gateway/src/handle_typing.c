/* handle_typing.c — `typing {conversation_id}`: relayed to the peer through logic. */
#include "gateway.h"
#include "im/log.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

void gw_handle_typing(gw_t *g, gw_conn_t *c, void *msg)
{
    const char *cid = json_string_value(json_object_get(msg, "conversation_id"));
    if (cid == NULL || !*cid || strlen(cid) > 64) {
        gw_ws_error(g, c, "invalid_argument", "needs conversation_id (string)", NULL);
        return;
    }
    if (!im_bucket_take(&c->user->send_bucket, g->cfg.send_rate, g->cfg.send_burst, gw_now_ms()))
        return;   /* typing is a hint: drop it quietly when over the limit */
    char conn_id[24], trace[33];
    im_trace_new(trace);
    Im__Mq__V1__Upstream up;
    gw_up_init(g, c, "typing", &up, conn_id);
    up.conversation_id = (char *)cid;
    gw_up_send(g, &up, cid, trace);
}
