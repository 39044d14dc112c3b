/* server.c — the lws context: one vhost, one protocol for REST and WebSocket, the web
 * client mounted at /, and the [S] service thread. */
#include "gateway.h"
#include "im/err.h"
#include "im/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* [S]: another thread has work for us — finished jobs, downstream records, logouts. */
static void drain(gw_t *g)
{
    gw_revoke_drain(g);
    for (im_queue_node_t *n = im_queue_take_all(&g->done), *next; n; n = next) {
        next = n->next;
        gw_job_t *j = IM_QUEUE_ENTRY(n, gw_job_t, node);
        if (j->revoke) gw_revoke_apply(g, j->jti, j->user_id, j->exp);   /* before the reply */
        if (j->conn_id == 0) {
            gw_http_deliver(g, j);
            continue;
        }
        gw_ws_deliver(g, j);   /* a WebSocket job: a sync's reply, or a refused connection */
    }
    for (im_queue_node_t *n = im_queue_take_all(&g->inbox), *next; n; n = next) {
        next = n->next;
        gw_push_t *p = IM_QUEUE_ENTRY(n, gw_push_t, node);
        gw_conns_deliver(g, p);
        gw_push_free(p);
    }
}

/* [S]: every lws event of the "cim" protocol lands here. */
static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    gw_t *g = lws_context_user(lws_get_context(wsi));
    switch (reason) {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        drain(g);
        return 0;
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
    case LWS_CALLBACK_ESTABLISHED:
    case LWS_CALLBACK_RECEIVE:
    case LWS_CALLBACK_SERVER_WRITEABLE:
    case LWS_CALLBACK_CLOSED:
        return gw_ws_callback(wsi, reason, user, in, len);
    default:
        return gw_http_callback(wsi, reason, user, in, len);
    }
}

/* rx_buffer_size is allocated per connection: kept small, since ws.c reassembles a message
 * from as many pieces as it takes (up to max_frame). Most client frames fit in one. */
#define GW_RX_BUFFER 512

static const struct lws_protocols protocols[] = {
    {"cim", callback, sizeof(gw_pss_t), GW_RX_BUFFER, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static struct lws_http_mount mount_api, mount_web;

/* [S]: lws runs on our own libuv loop (epoll), one turn at a time so that `stopping`
 * is seen; lws_cancel_service() wakes the loop from other threads. */
static void *service_main(void *arg)
{
    gw_t *g = arg;
    im_log_set_thread("lws");
    while (!g->stopping) uv_run(&g->loop, UV_RUN_ONCE);
    return NULL;
}

static void lws_log(int level, const char *line)
{
    im_log(level == LLL_ERR ? IM_LOG_ERROR : IM_LOG_WARN, "lws.log", "msg=\"%.*s\"",
           (int)strcspn(line, "\n"), line);
}

int gw_server_start(gw_t *g)
{
    /* CIM_LWS_LOG=1 adds lws's notice/info lines (debugging the HTTP/WebSocket layer) */
    lws_set_log_level(getenv("CIM_LWS_LOG") ? LLL_ERR | LLL_WARN | LLL_NOTICE | LLL_INFO : LLL_ERR | LLL_WARN,
                      lws_log);
    mount_api = (struct lws_http_mount){
        .mountpoint = "/api", .mountpoint_len = 4, .origin = "cim",
        .origin_protocol = LWSMPRO_CALLBACK,
    };
    mount_web = (struct lws_http_mount){
        .mount_next = &mount_api, .mountpoint = "/", .mountpoint_len = 1,
        .origin = g->cfg.web_root, .def = "index.html", .origin_protocol = LWSMPRO_FILE,
    };
    struct lws_context_creation_info info = {0};
    info.port = g->cfg.port;
    info.iface = g->cfg.host;
    info.protocols = protocols;
    info.mounts = &mount_web;
    info.user = g;
    /* UTF-8 is checked per message by ws.c, which answers an error instead of closing */
    /* libuv: epoll, so an idle connection costs nothing per wakeup (poll() scans them all) */
    info.options = LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE | LWS_SERVER_OPTION_LIBUV;
    uv_loop_init(&g->loop);
    void *loops[1] = {&g->loop};
    info.foreign_loops = loops;
    info.count_threads = 1;
    info.fd_limit_per_thread = 0;
    info.vhost_name = "cim";
    if (*g->cfg.tls_cert || *g->cfg.tls_key) {   /* lws's own TLS (OpenSSL): HTTPS and WSS only */
        if (!*g->cfg.tls_cert || !*g->cfg.tls_key) {
            im_error("tls.incomplete", "reason=\"tls_cert and tls_key go together\"");
            return IM_ECONFIG;
        }
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = g->cfg.tls_cert;
        info.ssl_private_key_filepath = g->cfg.tls_key;
        info.alpn = "http/1.1";   /* the REST and upload paths speak HTTP/1.1, not lws's h2 */
    }
    g->lws = lws_create_context(&info);
    if (g->lws == NULL) {   /* also a certificate or key that does not load */
        im_error("lws.start_failed", "host=%s port=%d tls=%s", g->cfg.host, g->cfg.port, *g->cfg.tls_cert ? "yes" : "no");
        return IM_EIO;
    }
    if (g->cfg.port == 0) {
        struct lws_vhost *vh = lws_get_vhost_by_name(g->lws, "cim");
        g->cfg.port = lws_get_vhost_listen_port(vh);
    }
    gw_conns_init(g);
    gw_conns_sweep_start(g);
    return IM_OK;
}

void gw_server_wake(void *ud)
{
    gw_t *g = ud;
    lws_cancel_service(g->lws);   /* the one lws call that is safe off [S] */
}

void gw_server_run(gw_t *g)
{
    pthread_create(&g->lws_thread, NULL, service_main, g);
    im_info("gateway.listening", "url=%s://%s:%d/", *g->cfg.tls_cert ? "https" : "http", g->cfg.host, g->cfg.port);
}

void gw_server_stop(gw_t *g)
{
    g->stopping = 1;
    lws_cancel_service(g->lws);
    pthread_join(g->lws_thread, NULL);
}

void gw_server_destroy(gw_t *g)
{
    lws_context_destroy(g->lws);   /* closes every connection (CLOSED callbacks run here) */
    g->lws = NULL;
    uv_run(&g->loop, UV_RUN_DEFAULT);   /* lets lws's handles finish closing */
    uv_loop_close(&g->loop);
    for (im_queue_node_t *n = im_queue_take_all(&g->inbox), *next; n; n = next) {
        next = n->next;
        gw_push_free(IM_QUEUE_ENTRY(n, gw_push_t, node));
    }
    im_queue_fini(&g->inbox);
}
