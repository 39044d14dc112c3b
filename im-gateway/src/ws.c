/* ws.c — WebSocket connections on [S]: upgrade check, open, frames in, frames out, close.
 *
 * A client message may arrive in several fragments and lws pieces; it is reassembled up
 * to max_frame bytes. Anything wrong with one message (too large, not UTF-8, not JSON,
 * unknown op) is answered with an `error` frame and the connection stays up.
 *
 * A connection is admitted or refused by [R] (too many from its address, limits.c) a
 * moment after its `hello`; the client's messages wait in c->held until then (up to
 * GW_HELD_MAX). Admitted: they are handled in order. Refused: `error rate_limited` with
 * retry_after_ms, then the connection ends once that frame is written (no close frame:
 * see writeable()), and what the client sent is dropped, never handled. */
#include "gateway.h"
#include "im/auth.h"
#include "im/clock.h"
#include "im/log.h"
#include "im/text.h"
#include "im/wire.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *op;
    gw_op_fn fn;
} ops[] = {
    {"send", gw_handle_send}, {"ack", gw_handle_cursor}, {"read", gw_handle_cursor},
    {"sync", gw_handle_sync}, {"ping", gw_handle_ping},  {"typing", gw_handle_typing},
    {"recall", gw_handle_recall},
};

static gw_t *gw_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

static json_t *error_json(const char *code, const char *message, const char *cmid)
{
    json_t *o = json_pack("{s:s, s:s, s:s}", "op", "error", "code", code, "message", message);
    if (cmid && *cmid) json_object_set_new(o, "cmid", json_string(cmid));
    return o;
}

char *gw_error_frame(const char *code, const char *message, const char *cmid)
{
    return im_wire_dump(error_json(code, message, cmid));
}

char *gw_error_frame_retry(const char *code, const char *message, const char *cmid, int64_t retry_ms)
{
    json_t *o = error_json(code, message, cmid);
    json_object_set_new(o, "retry_after_ms", json_integer((json_int_t)retry_ms));
    return im_wire_dump(o);
}

void gw_ws_error(gw_t *g, gw_conn_t *c, const char *code, const char *message, const char *cmid)
{
    char *text = gw_error_frame(code, message, cmid);
    gw_conn_send_text(g, c, text);
    im_free(text);
}

/* The claims of /ws?token=, or IM_EUNAUTH (also for a revoked token). The headers are
 * readable until ESTABLISHED. */
static int token_user(struct lws *wsi, im_jwt_claims_t *cl)
{
    char token[2048];
    const char *t = lws_get_urlarg_by_name(wsi, "token=", token, sizeof token);
    return t ? gw_token_check(gw_of(wsi), t, cl) : IM_EUNAUTH;
}

/* Refuses the upgrade with HTTP 401 unless /ws?token= carries a valid token.
 * (There is no session data yet at this point: ESTABLISHED reads the token again.) */
static int confirm_upgrade(struct lws *wsi)
{
    char uri[64];
    im_jwt_claims_t cl;
    if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) < 0 || strcmp(uri, "/ws") != 0) {
        lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL);
        return 1;
    }
    if (token_user(wsi, &cl) != IM_OK) {
        im_info("ws.refused", "reason=bad_token");
        lws_return_http_status(wsi, HTTP_STATUS_UNAUTHORIZED, "unauthorized");
        return 1;
    }
    return 0;
}

static int established(struct lws *wsi, gw_pss_t *pss)
{
    gw_t *g = gw_of(wsi);
    im_jwt_claims_t cl;
    if (token_user(wsi, &cl) != IM_OK) return -1;   /* expired or revoked in between */
    char addr[GW_ADDR_MAX];
    gw_client_addr(g, wsi, addr);
    gw_conn_t *c = gw_conn_open(g, wsi, cl.user_id);
    c->jti = cl.jti;
    pss->conn = c;
    gw_session_open(g, c->user->id, c->id, addr);   /* [R] may still refuse it: gw_ws_deliver */
    char conn_id[24];
    snprintf(conn_id, sizeof conn_id, "%llx", (unsigned long long)c->id);
    char *hello = im_wire_dump(json_pack("{s:s, s:I, s:s, s:s, s:i}", "op", "hello", "user_id",
                                         (json_int_t)c->user->id, "conn_id", conn_id,
                                         "gateway_id", g->gateway_id, "heartbeat_s",
                                         IM_CFG_GET(g->cfg.heartbeat_s)));
    gw_conn_send_text(g, c, hello);
    im_free(hello);
    im_info("ws.open", "user=%llu conn=%s addr=%s", (unsigned long long)c->user->id, conn_id, addr);
    return 0;
}

/* Admitted: the messages held meanwhile are handled, in order (none is held again). */
static void handle_held(gw_t *g, gw_conn_t *c)
{
    for (gw_held_t *h = c->held; h && !c->refused && !c->closing; h = h->next)
        gw_ws_dispatch(g, c, h->text, h->len);
    gw_conn_drop_held(c);
}

void gw_ws_deliver(gw_t *g, gw_job_t *job)
{
    gw_conn_t *c = im_u64map_get(&g->conns, job->conn_id);   /* gone meanwhile: nothing to do */
    if (c && job->resp) gw_conn_send_text(g, c, job->resp);
    if (c && job->admit) {
        c->admitted = 1;
        handle_held(g, c);
    }
    if (c && job->refuse && !c->closing) {
        c->refused = 1;   /* gw_conn_send queues nothing more */
        gw_conn_drop_held(c);   /* what it sent is never handled */
        lws_callback_on_writable(c->wsi);
    }
    gw_job_free(job);
}

/* A whole message from a connection [R] has not admitted yet: it waits. */
static void hold(gw_conn_t *c, const char *text, size_t len)
{
    if (c->nheld >= GW_HELD_MAX) {
        IM_LOG_RATELIMITED(1, IM_LOG_WARN, "ws.held_full", "user=%llu", (unsigned long long)c->user->id);
        return;
    }
    gw_held_t *h = im_malloc(sizeof *h + len + 1);
    h->next = NULL;
    h->len = len;
    memcpy(h->text, text, len);
    h->text[len] = '\0';
    *c->held_tail = h;
    c->held_tail = &h->next;
    c->nheld++;
}

/* WRITEABLE: one frame out; a connection to close once its outbox is written is closed
 * on the WRITEABLE after its last frame (that frame is on the wire first). */
static int writeable(gw_t *g, struct lws *wsi, gw_conn_t *c)
{
    if (c->refused && c->out_head == NULL) {
        /* lws 4.1 sends no close frame here, with or without lws_close_reason(): the
         * client sees the error frame, then the connection end (docs/PROTOCOL.md) */
        return -1;
    }
    int rc = gw_conn_write(g, c);
    if (rc == 0 && c->refused) lws_callback_on_writable(wsi);
    return rc;
}

void gw_ws_dispatch(gw_t *g, gw_conn_t *c, const char *text, size_t len)
{
    if (!im_utf8_valid(text, len)) {
        gw_ws_error(g, c, "invalid_argument", "frame is not valid UTF-8", NULL);
        return;
    }
    json_error_t err;
    json_t *msg = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    const char *op = json_string_value(json_object_get(msg, "op"));
    const char *cmid = json_string_value(json_object_get(msg, "cmid"));
    if (!im_cmid_valid(cmid)) cmid = NULL;   /* echoed back only if it is one (docs/PROTOCOL.md) */
    if (msg == NULL || !json_is_object(msg)) {
        gw_ws_error(g, c, "invalid_argument", "malformed JSON", NULL);
    } else if (op == NULL) {
        gw_ws_error(g, c, "invalid_argument", "missing op", cmid);
    } else {
        size_t i = 0;
        while (i < sizeof ops / sizeof ops[0] && strcmp(ops[i].op, op) != 0) i++;
        if (i < sizeof ops / sizeof ops[0]) ops[i].fn(g, c, msg);
        else gw_ws_error(g, c, "invalid_argument", "unknown op", cmid);
    }
    json_decref(msg);
}

static void receive(struct lws *wsi, gw_conn_t *c, const void *in, size_t len)
{
    gw_t *g = gw_of(wsi);
    if (lws_is_first_fragment(wsi)) {
        c->rx_len = 0;
        c->rx_too_large = 0;
    }
    c->last_seen_ms = im_clock_mono_ms();
    if (!c->rx_too_large && c->rx_len + len > (size_t)g->cfg.max_frame) {
        c->rx_too_large = 1;
        im_free(c->rx);
        c->rx = NULL;
    }
    if (!c->rx_too_large) {
        c->rx = im_realloc(c->rx, c->rx_len + len + 1);
        memcpy(c->rx + c->rx_len, in, len);
        c->rx_len += len;
    }
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) > 0) return;
    if (c->rx_too_large) gw_ws_error(g, c, "too_large", "message larger than max_frame", NULL);
    else if (lws_frame_is_binary(wsi)) gw_ws_error(g, c, "invalid_argument", "binary frames are not supported", NULL);
    else if (c->admitted) gw_ws_dispatch(g, c, c->rx, c->rx_len);
    else hold(c, c->rx, c->rx_len);
    im_free(c->rx);
    c->rx = NULL;
    c->rx_len = 0;
}

int gw_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len)
{
    gw_pss_t *pss = user;
    gw_t *g = gw_of(wsi);
    if (reason == LWS_CALLBACK_HTTP_CONFIRM_UPGRADE) return confirm_upgrade(wsi);   /* no pss yet */
    if (pss == NULL) return reason == LWS_CALLBACK_ESTABLISHED ? -1 : 0;
    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
        return established(wsi, pss);
    case LWS_CALLBACK_RECEIVE:
        if (pss->conn && !pss->conn->refused) receive(wsi, pss->conn, in, len);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return pss->conn ? writeable(g, wsi, pss->conn) : 0;
    case LWS_CALLBACK_CLOSED:
        if (pss->conn) {
            im_info("ws.close", "user=%llu conn=%llx", (unsigned long long)pss->conn->user->id,
                    (unsigned long long)pss->conn->id);
            gw_session_post(g, GW_SESS_CLOSE, pss->conn->user->id, pss->conn->id);
            gw_conn_close(g, pss->conn);
            pss->conn = NULL;
        }
        return 0;
    default:
        return 0;
    }
}
