/* daemon.c — config loading, signals, admin port and etcd registration for every daemon. */
#include "im/daemon.h"
#include "im/err.h"
#include "im/log.h"
#include "im/trace.h"

#include <ctype.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *const im_daemon_log_levels[] = {"debug", "info", "warn", "error", NULL};
_Static_assert(IM_LOG_DEBUG == 0 && IM_LOG_INFO == 1 && IM_LOG_WARN == 2 && IM_LOG_ERROR == 3,
               "im_daemon_log_levels follows im_log_level_t");

static void usage(const char *service, const im_cfg_field_t *table)
{
    fprintf(stderr, "usage: %s [-c config-file] [-d]\n  -d  print the resulting configuration and exit\n\nkeys (file `key = value`, or env CIM_<KEY>):\n",
            service);
    for (const im_cfg_field_t *f = table; f->name; f++)
        fprintf(stderr, "  %-22s %s (default: %s%s)\n", f->name, f->help, f->def ? f->def : "",
                f->flags & IM_CFG_LIVE ? "; live" : "");
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
        printf("# %s configuration. Every key can also be set in the environment as CIM_<KEY>.\n"
               "# A live key may also be changed while the daemon runs: put it in etcd as\n"
               "# " IM_ETCD_CONFIG_PREFIX "%s/<key>; deleting that reverts to the start value.\n"
               "# etcd cannot change a start-only key: the daemon logs config.rejected and\n"
               "# keeps its value.\n\n",
               service, service);
        fflush(stdout);
        im_config_dump(table, cfg, service, STDOUT_FILENO);
        exit(0);
    }
    if (rc != IM_OK) {
        fprintf(stderr, "%s: config: %s\n", service, err);
        exit(2);
    }
    im_log_init(service, (im_log_level_t)common->log_level);
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
    d->common = c;
    if (c->instance_id[0]) {
        snprintf(d->instance, sizeof d->instance, "%s", c->instance_id);
    } else {
        char host[64] = "localhost";
        gethostname(host, sizeof host - 1);
        snprintf(d->instance, sizeof d->instance, "%s-%s-%d", service, host, (int)getpid());
    }
    d->admin = im_admin_start(c->admin_host, c->admin_port, health, ud);
    if (d->admin == NULL) return IM_EIO;
    if (c->tracing_url[0]) im_tracing_start(service, c->tracing_url, &c->trace_one_in);
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

/* What /im/config/ did to one table key; touched only by the etcd watch thread. */
struct im_daemon_key_s {
    int64_t rev;        /* mod_revision of the etcd value last seen; 0 = not in etcd */
    int applied;        /* that value is in effect (a live key) */
    char start[32];     /* a live key's value when the watch began, as text */
};

/* Keys named by etcd are operator input: anything outside [A-Za-z0-9_.-] is shown as '?'. */
static const char *safe_name(char out[64], const char *s)
{
    size_t i = 0;
    for (; s[i] && i < 63; i++)
        out[i] = isalnum((unsigned char)s[i]) || strchr("_.-", s[i]) ? s[i] : '?';
    out[i] = '\0';
    return out;
}

/* Derived state that follows the config: the logger's level. */
static void apply(im_daemon_t *d)
{
    im_log_set_level((im_log_level_t)IM_CFG_GET(d->common->log_level));
}

/* @locality: the etcd watch thread */
static void set_key(im_daemon_t *d, const im_etcd_kv_t *kv, const char *name)
{
    const im_cfg_field_t *f = im_config_find(d->table, name);
    struct im_daemon_key_s *k = f ? &d->keys[f - d->table] : NULL;
    if (k && k->rev == kv->mod_revision) return;   /* unchanged since the last callback */
    if (k) k->rev = kv->mod_revision;
    char err[160], shown[64];
    if (im_config_set_live(d->table, d->cfg, name, kv->value, err, sizeof err) != IM_OK) {
        im_warn("config.rejected", "key=%s reason=\"%s\" value_len=%zu", safe_name(shown, name),
                err, strlen(kv->value));
        return;
    }
    k->applied = 1;
    char value[32];
    im_config_format(f, d->cfg, value, sizeof value);
    im_info("config.applied", "key=%s value=%s", f->name, value);
}

/* @locality: the etcd watch thread. A deleted key reverts to its start value. */
static void unset_key(im_daemon_t *d, const im_cfg_field_t *f)
{
    struct im_daemon_key_s *k = &d->keys[f - d->table];
    int was_applied = k->applied;
    k->rev = 0;
    k->applied = 0;
    char err[160];
    if (!was_applied) return;
    if (im_config_set_live(d->table, d->cfg, f->name, k->start, err, sizeof err) == IM_OK)
        im_info("config.reverted", "key=%s value=%s", f->name, k->start);
}

static int in_set(const im_etcd_kv_t *kvs, size_t n, size_t plen, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kvs[i].key + plen, name) == 0) return 1;
    return 0;
}

/* @locality: the etcd watch thread. kvs is the full set under /im/config/{service}/. */
static void on_config(void *ud, const im_etcd_kv_t *kvs, size_t n)
{
    im_daemon_t *d = ud;
    size_t plen = strlen(IM_ETCD_CONFIG_PREFIX) + strlen(d->service) + 1;
    for (size_t i = 0; i < n; i++) set_key(d, &kvs[i], kvs[i].key + plen);
    for (const im_cfg_field_t *f = d->table; f->name; f++)
        if (d->keys[f - d->table].rev != 0 && !in_set(kvs, n, plen, f->name)) unset_key(d, f);
    apply(d);
}

void im_daemon_watch_config(im_daemon_t *d, const im_cfg_field_t *table, void *cfg)
{
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s%s/", IM_ETCD_CONFIG_PREFIX, d->service);
    size_t n = 0;
    while (table[n].name) n++;
    d->table = table;
    d->cfg = cfg;
    d->keys = im_calloc(n, sizeof *d->keys);
    for (size_t t = 0; t < n; t++)
        if (table[t].flags & IM_CFG_LIVE)
            im_config_format(&table[t], cfg, d->keys[t].start, sizeof d->keys[t].start);
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
    im_free(d->keys);
    d->keys = NULL;
    if (d->etcd) {
        im_etcd_deregister(d->etcd);
        im_etcd_free(d->etcd);
        d->etcd = NULL;
    }
    im_tracing_stop();
    im_admin_stop(d->admin);
    d->admin = NULL;
    im_info("daemon.stopped", "service=%s instance=%s", d->service, d->instance);
}
