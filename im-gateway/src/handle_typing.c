/* handle_typing.c — `typing {conversation_id}`: relayed to the peer through logic. */
#include "gateway.h"
#include "im/clock.h"
#include "im/conv.h"
#include "im/log.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

void gw_handle_typing(gw_t *g, gw_conn_t *c, void *msg)
{
    const char *cid = json_string_value(json_object_get(msg, "conversation_id"));
    im_conv_t conv;
    if (!IM_CFG_GET(g->cfg.typing_enabled)) return;   /* a degradation switch: a hint, dropped quietly */
    if (im_conv_parse(cid, &conv) != IM_OK) {
        gw_ws_error(g, c, "invalid_argument", "needs conversation_id (a conversation id)", NULL);
        return;
    }
    if (!im_bucket_take(&c->user->typing_bucket, IM_CFG_GET(g->cfg.send_rate), IM_CFG_GET(g->cfg.send_burst),
                        im_clock_mono_ms()))
        return;   /* typing is a hint: drop it quietly when over the limit */
    Im__Mq__V1__Upstream up;
    gw_up_init(g, c, "typing", &up);
    up.conversation_id = (char *)cid;
    gw_up_send(g, &up, cid, NULL);   /* a hint: a full queue drops it */
}
