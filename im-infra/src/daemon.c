/* daemon.c — config loading, signals, admin port and etcd registration for every daemon. */
#include "im/daemon.h"
#include "im/err.h"
#include "im/log.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void usage(const char *service, const im_cfg_field_t *table)
{
    fprintf(stderr, "usage: %s [-c config-file] [-d]\n  -d  print the resulting configuration and exit\n\nkeys (file `key = value`, or env CIM_<KEY>):\n",
            service);
    for (const im_cfg_field_t *f = table; f->name; f++)
        fprintf(stderr, "  %-22s %s (default: %s)\n", f->name, f->help, f->def ? f->def : "");
}

void im_daemon_config(const char *service, int argc, char **argv, const im_cfg_field_t *table,
                      void *cfg, const im_common_cfg_t *common)
{
    const char *path = NULL;
    int opt, dump = 0;
    while ((opt = getopt(argc, argv, "c:dh")) != -1) {
        if (opt == 'c') {
            path = optarg;
        } else if (opt == 'd') {
            dump = 1;
        } else {
            usage(service, table);
            exit(opt == 'h' ? 0 : 2);
        }
    }
    char err[512];
    int rc = im_config_load(table, cfg, path, err, sizeof err);
    if (dump) {   /* -d: print every key with its help and value, as a config file */
        printf("# %s configuration. Every key can also be set in the environment as CIM_<KEY>.\n\n", service);
        fflush(stdout);
        im_config_dump(table, cfg, STDOUT_FILENO);
        exit(0);
    }
    if (rc != IM_OK) {
        fprintf(stderr, "%s: config: %s\n", service, err);
        exit(2);
    }
    im_log_level_t level;
    if (im_log_level_parse(common->log_level, &level) != 0) {
        fprintf(stderr, "%s: config: log_level: '%s' is not debug|info|warn|error\n", service,
                common->log_level);
        exit(2);
    }
    im_log_init(service, level);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int im_daemon_init(im_daemon_t *d, const char *service, const im_common_cfg_t *c,
                   im_admin_health_fn health, void *ud)
{
    memset(d, 0, sizeof *d);
    d->service = service;
    if (c->instance_id[0]) {
        snprintf(d->instance, sizeof d->instance, "%s", c->instance_id);
    } else {
        char host[64] = "localhost";
        gethostname(host, sizeof host - 1);
        snprintf(d->instance, sizeof d->instance, "%s-%s-%d", service, host, (int)getpid());
    }
    d->admin = im_admin_start(c->admin_host, c->admin_port, health, ud);
    if (d->admin == NULL) return IM_EIO;
    d->etcd = im_etcd_new(c->etcd_endpoints);
    return d->etcd ? IM_OK : IM_EUNAVAIL;
}

int im_daemon_register(im_daemon_t *d, const im_common_cfg_t *c, const char *addr)
{
    char admin[96];
    snprintf(admin, sizeof admin, "%s:%d", c->advertise_host, im_admin_port(d->admin));
    json_t *v = json_pack("{s:s, s:s, s:s, s:s, s:i, s:I}", "service", d->service, "instance",
                          d->instance, "addr", addr, "admin", admin, "pid", (int)getpid(),
                          "started_at", (json_int_t)time(NULL));
    char *text = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    int rc = im_etcd_register(d->etcd, d->service, d->instance, text, c->lease_ttl_s);
    free(text);
    if (rc == IM_OK)
        im_info("daemon.registered", "service=%s instance=%s addr=%s admin=%s", d->service,
                d->instance, addr, admin);
    else
        im_error("daemon.register_failed", "service=%s err=\"%s\"", d->service, im_strerror(rc));
    return rc;
}

/* @locality: the etcd watch thread */
static void on_config(void *ud, const im_etcd_kv_t *kvs, size_t n)
{
    im_daemon_t *d = ud;
    size_t plen = strlen(IM_ETCD_CONFIG_PREFIX) + strlen(d->service) + 1;
    for (size_t i = 0; i < n; i++) {
        const char *name = kvs[i].key + plen, *value = kvs[i].value;
        char err[256];
        im_log_level_t level;
        if (strcmp(name, "log_level") == 0 && im_log_level_parse(value, &level) == 0) {
            im_log_set_level(level);
        } else if (im_config_set_live(d->table, d->cfg, name, value, err, sizeof err) != IM_OK) {
            im_warn("config.rejected", "key=%s err=\"%s\"", name, err);
            continue;
        }
        im_info("config.applied", "key=%s value=%s", name, value);
    }
}

void im_daemon_watch_config(im_daemon_t *d, const im_cfg_field_t *table, void *cfg)
{
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s%s/", IM_ETCD_CONFIG_PREFIX, d->service);
    d->table = table;
    d->cfg = cfg;
    d->config_watch = im_etcd_watch_prefix(d->etcd, prefix, on_config, d);
}

int im_daemon_serve(const char *host, int port, int threads, const ProtobufCServiceDescriptor *svc,
                    const im_rpc_method_t *methods, void *ud, im_rpc_server_t **out)
{
    char addr[128];
    snprintf(addr, sizeof addr, "%s:%d", host, port);
    im_rpc_server_t *s = im_rpc_server_new(addr, threads);
    int rc = im_rpc_server_add_service(s, svc, methods, ud);
    if (rc == IM_OK) rc = im_rpc_server_start(s);
    if (rc != IM_OK) {
        im_error("rpc.start_failed", "addr=%s err=\"%s\"", addr, im_strerror(rc));
        im_rpc_server_free(s);
        return rc;
    }
    im_info("rpc.listening", "service=%s addr=%s:%d", svc->name, host, im_rpc_server_port(s));
    *out = s;
    return IM_OK;
}

int im_daemon_wait(void)
{
    sigset_t set;
    int sig = 0;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigwait(&set, &sig);
    im_info("daemon.signal", "signal=%s", sig == SIGTERM ? "TERM" : "INT");
    return sig;
}

void im_daemon_fini(im_daemon_t *d)
{
    im_etcd_watch_free(d->config_watch);
    d->config_watch = NULL;
    if (d->etcd) {
        im_etcd_deregister(d->etcd);
        im_etcd_free(d->etcd);
        d->etcd = NULL;
    }
    im_admin_stop(d->admin);
    d->admin = NULL;
    im_info("daemon.stopped", "service=%s instance=%s", d->service, d->instance);
}
