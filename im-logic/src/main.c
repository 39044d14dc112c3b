/* main.c — im-logic: load config, connect Redis and Kafka, find im-repo, lease a snowflake
 * worker id, serve gRPC, consume upstream, register, wait, stop. */
#include "im/auth.h"
#include "im/log.h"
#include "logic.h"

#include <stdio.h>

static logic_t g_logic;

static int start(logic_t *l)
{
    int rc;
    if (im_daemon_init(&l->daemon, "im-logic", &l->cfg.common, NULL, l) != IM_OK) return IM_EIO;
    im_daemon_watch_config(&l->daemon, logic_config_table, &l->cfg);
    im_password_init(l->cfg.hash_concurrency, l->cfg.hash_passes, l->cfg.hash_memory_kib);
    l->redis = im_redis_pool_new(l->cfg.redis_host, l->cfg.redis_port, l->cfg.redis_pool, 2000);
    l->producer = im_kafka_producer_new(l->cfg.kafka_brokers, l->daemon.instance, NULL, NULL);
    if (l->producer == NULL) return IM_EUNAVAIL;
    if (logic_group_events_start(l) != IM_OK) return IM_EUNAVAIL;
    if ((rc = logic_fanout_start(l)) != IM_OK) return rc;
    im_snowflake_init(&l->ids, 0);
    rc = im_etcd_snowflake_worker(l->daemon.etcd, l->daemon.instance, l->cfg.common.lease_ttl_s, &l->ids);
    if (rc != IM_OK) return rc;
    im_info("snowflake.worker", "worker_id=%d", l->ids.worker_id);
    rc = im_discovery_init(&l->repo, l->daemon.etcd, "im-repo", &im__repo__v1__repo__descriptor);
    if (rc != IM_OK) return rc;
    im_discovery_set_breaker(&l->repo, &l->cfg.common.breaker);
    logic_gateways_start(l);
    if ((rc = logic_rpc_start(l)) != IM_OK) return rc;
    if ((rc = logic_consume_start(l)) != IM_OK) return rc;
    char addr[128];
    snprintf(addr, sizeof addr, "%s:%d", l->cfg.common.advertise_host, im_rpc_server_port(l->rpc));
    return im_daemon_register(&l->daemon, &l->cfg.common, addr);
}

static void stop(logic_t *l)
{
    im_etcd_deregister(l->daemon.etcd);  /* first: gateways stop picking us */
    logic_consume_stop(l);               /* finishes the batch in hand, commits offsets */
    logic_fanout_stop(l);                /* the notifies it queued, then joins */
    im_rpc_server_free(l->rpc);          /* finishes in-flight calls */
    logic_group_events_stop(l);          /* after the calls that wait on it */
    im_kafka_producer_free(l->producer); /* flushes acks and pushes */
    im_discovery_fini(&l->repo);
    logic_gateways_stop(l);
    im_daemon_fini(&l->daemon);
    im_snowflake_fini(&l->ids);
    im_redis_pool_free(l->redis);
}

int main(int argc, char **argv)
{
    logic_t *l = &g_logic;
    im_daemon_config("im-logic", argc, argv, logic_config_table, &l->cfg, &l->cfg.common);
    char why[160];
    if (im_jwt_secret_check(l->cfg.jwt_secret, why, sizeof why) != IM_OK) {
        im_error("config.bad_secret", "reason=\"%s\"", why);
        return 1;
    }
    im_rpc_global_init();
    int rc = start(l);
    if (rc != IM_OK) {
        im_error("logic.start_failed", "err=\"%s\"", im_strerror(rc));
        return 1;
    }
    im_daemon_wait();
    stop(l);
    im_rpc_global_shutdown();
    im_config_free(logic_config_table, &l->cfg);
    return 0;
}
