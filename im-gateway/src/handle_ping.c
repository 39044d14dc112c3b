/* handle_ping.c — `ping` -> `pong`; any frame already counts as a heartbeat. */
#include "gateway.h"

void gw_handle_ping(gw_t *g, gw_conn_t *c, void *msg)
{
    gw_conn_send_text(g, c, "{\"op\":\"pong\"}");
}
