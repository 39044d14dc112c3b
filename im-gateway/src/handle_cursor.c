/* handle_cursor.c — `ack {conversation_id, seq}` (delivered) and `read {…}`: rate-limited
 * per user, then coalesced (cursors.c) into one upstream record per flush; logic advances
 * the positions in one call and sends the read receipts. */
#include "gateway.h"
#include "im/clock.h"
#include "im/conv.h"
#include "im/log.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

void gw_handle_cursor(gw_t *g, gw_conn_t *c, void *msg)
{
    const char *op = json_string_value(json_object_get(msg, "op"));
    const char *cid = json_string_value(json_object_get(msg, "conversation_id"));
    json_t *seq = json_object_get(msg, "seq");
    im_conv_t conv;
    if (im_conv_parse(cid, &conv) != IM_OK || !json_is_integer(seq) || json_integer_value(seq) < 0) {
        gw_ws_error(g, c, "invalid_argument", "needs conversation_id (a conversation id) and seq (integer)", NULL);
        return;
    }
    if (!im_bucket_take(&c->user->cursor_bucket, IM_CFG_GET(g->cfg.cursor_rate), IM_CFG_GET(g->cfg.cursor_burst),
                        im_clock_mono_ms())) {
        gw_ws_error(g, c, "rate_limited", "too many acks/reads, slow down", NULL);
        return;
    }
    gw_cursor_add(g, c->user->id, cid, (uint64_t)json_integer_value(seq), strcmp(op, "read") == 0);
}
