/* main.c — im-gateway: load config, find im-logic, start Redis sessions, Kafka up and
 * down, REST workers and lws, register, wait for SIGTERM, stop in reverse. */
#include "gateway.h"
#include "im/log.h"

#include <stdio.h>

static gw_t g_gw;

static void metrics(gw_t *g)
{
    g->m_conns = im_metric_new(IM_METRIC_GAUGE, "cim_gateway_connections", "Open WebSocket connections");
    g->m_sends = im_metric_new(IM_METRIC_COUNTER, "cim_gateway_sends_total", "Sends produced upstream");
    g->m_pushed = im_metric_new(IM_METRIC_COUNTER, "cim_gateway_frames_out_total", "Frames written to clients");
    g->m_outbox = im_metric_new(IM_METRIC_GAUGE, "cim_gateway_outbox_frames",
                                "Frames queued to connections, not yet written (all outboxes)");
    g->m_dropped = im_metric_new(IM_METRIC_COUNTER, "cim_gateway_slow_drops_total",
                                 "Connections closed for a full outbox");
    g->m_shed = im_metric_new(IM_METRIC_COUNTER, "cim_gateway_shed_frames_total",
                              "typing/presence/receipt frames dropped for a backed-up connection (shed_outbox)");
    g->m_hop_down = im_metric_new(IM_METRIC_HISTOGRAM, "cim_hop_downstream_seconds",
                                  "Logic produced a frame -> this gateway consumed it");
    g->m_hop_total = im_metric_new(IM_METRIC_HISTOGRAM, "cim_hop_server_seconds",
                                   "A gateway read a send -> its sent/msg frame queued to a socket here");
}

static int start(gw_t *g)
{
    int rc = im_daemon_init(&g->daemon, "im-gateway", &g->cfg.common, NULL, g);
    if (rc != IM_OK) return rc;
    im_daemon_watch_config(&g->daemon, gw_config_table, &g->cfg);
    g->gateway_id = g->daemon.instance;
    metrics(g);
    if ((rc = im_discovery_init(&g->logic, g->daemon.etcd, "im-logic", &im__logic__v1__logic__descriptor)) != IM_OK)
        return rc;
    im_discovery_set_breaker(&g->logic, &g->cfg.common.breaker);
    gw_session_start(g);
    if ((rc = gw_up_start(g)) != IM_OK) return rc;
    if ((rc = gw_store_init(g)) != IM_OK || (rc = gw_media_init()) != IM_OK) return rc;
    gw_jobs_start(g);
    if ((rc = gw_server_start(g)) != IM_OK) return rc;
    if ((rc = gw_down_start(g)) != IM_OK) return rc;
    if ((rc = gw_revoke_start(g)) != IM_OK) return rc;
    /* registered before the first connection is accepted: logic must see a gateway
     * alive before any session on it exists */
    char addr[128];
    snprintf(addr, sizeof addr, "%s:%d", g->cfg.common.advertise_host, g->cfg.port);
    if ((rc = im_daemon_register(&g->daemon, &g->cfg.common, addr)) != IM_OK) return rc;
    gw_server_run(g);
    return IM_OK;
}

/* Producers stop before the queues they feed close, and everything that wakes lws stops
 * before lws is destroyed; lws's CLOSED callbacks then post the sessions' HDELs. */
static void stop(gw_t *g)
{
    im_etcd_deregister(g->daemon.etcd);
    gw_server_stop(g);       /* [S] stops: no new jobs, sends or session posts */
    gw_cursors_flush(g);     /* the acks and reads [S] still held */
    gw_jobs_stop(g);         /* workers finish the call in hand and exit */
    gw_media_fini();
    gw_down_stop(g);         /* [D] stops */
    gw_revoke_stop(g);       /* [V] stops */
    gw_server_destroy(g);    /* closes every connection */
    gw_revoke_free(g);
    gw_jobs_free_done(g);
    gw_session_stop(g);      /* drains the HDELs */
    gw_up_stop(g);           /* flushes what clients sent */
    im_free(g->cursors);
    im_free(g->held);
    im_info("gateway.stopped", "sends_produced=%lld", (long long)im_metric_get(g->m_sends));
    im_discovery_fini(&g->logic);
    im_daemon_fini(&g->daemon);
}

int main(int argc, char **argv)
{
    gw_t *g = &g_gw;
    im_daemon_config("im-gateway", argc, argv, gw_config_table, &g->cfg, &g->cfg.common);
    char why[160];
    if (im_jwt_secret_check(g->cfg.jwt_secret, why, sizeof why) != IM_OK) {
        im_error("config.bad_secret", "reason=\"%s\"", why);
        return 1;
    }
    im_rpc_global_init();
    int rc = start(g);
    if (rc != IM_OK) {
        im_error("gateway.start_failed", "err=\"%s\"", im_strerror(rc));
        return 1;
    }
    im_daemon_wait();
    stop(g);
    im_rpc_global_shutdown();
    im_config_free(gw_config_table, &g->cfg);
    return 0;
}
