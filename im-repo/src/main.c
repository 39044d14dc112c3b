/* main.c — im-repo: load config, connect MySQL and Redis, serve gRPC, register, wait, stop. */
#include "repo.h"
#include "im/log.h"

#include <stdio.h>
#include <stdlib.h>

static repo_t g_repo;

static int health(void *ud, char *text, int len)
{
    repo_t *r = ud;
    MYSQL *m = im_mysql_acquire(r->db);
    int ok = m && im_mysql_exec(m, "SELECT 1", NULL, 0, NULL, NULL, NULL, NULL) == IM_OK;
    if (m) im_mysql_release(r->db, m);
    snprintf(text, (size_t)len, "%s", ok ? "ok" : "mysql down");
    return !ok;
}

static int connect_stores(repo_t *r)
{
    im_mysql_opts_t o = {r->cfg.mysql_host, r->cfg.mysql_port, r->cfg.mysql_user,
                         r->cfg.mysql_password, r->cfg.mysql_db, 5};
    r->db = im_mysql_pool_new(&o, r->cfg.mysql_pool);
    if (r->db == NULL) {
        im_error("mysql.connect_failed", "host=%s port=%d", o.host, o.port);
        return IM_EUNAVAIL;
    }
    r->redis = im_redis_pool_new(r->cfg.redis_host, r->cfg.redis_port, r->cfg.redis_pool, 2000);
    return IM_OK;
}

int main(int argc, char **argv)
{
    repo_t *r = &g_repo;
    im_daemon_config("im-repo", argc, argv, repo_config_table, &r->cfg, &r->cfg.common);
    im_rpc_global_init();
    repo_metrics_init(&r->metrics);
    if (connect_stores(r) != IM_OK) return 1;
    if (im_daemon_init(&r->daemon, "im-repo", &r->cfg.common, health, r) != IM_OK) return 1;
    im_daemon_watch_config(&r->daemon, repo_config_table, &r->cfg);
    if (repo_rpc_start(r) != IM_OK) return 1;

    char addr[128];
    snprintf(addr, sizeof addr, "%s:%d", r->cfg.common.advertise_host, im_rpc_server_port(r->rpc));
    if (im_daemon_register(&r->daemon, &r->cfg.common, addr) != IM_OK) return 1;

    im_daemon_wait();

    im_etcd_deregister(r->daemon.etcd);  /* first: peers stop picking us */
    im_rpc_server_free(r->rpc);          /* finishes in-flight calls */
    im_daemon_fini(&r->daemon);
    im_redis_pool_free(r->redis);
    im_mysql_pool_free(r->db);
    im_rpc_global_shutdown();
    im_config_free(repo_config_table, &r->cfg);
    return 0;
}
