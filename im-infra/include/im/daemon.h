/* daemon.h — what every cim daemon does the same way: common config keys, signals,
 * its identity in etcd, and finding a peer service there.
 *
 * A daemon's main() reads: load config -> im_daemon_init -> start its parts ->
 * im_daemon_wait (SIGTERM/SIGINT) -> stop its parts -> im_daemon_fini. */
#ifndef IM_DAEMON_H
#define IM_DAEMON_H

#include <stddef.h>
#include <protobuf-c/protobuf-c.h>

#include "im/config.h"
#include "im/err.h"
#include "im/breaker.h"
#include "im/etcd.h"
#include "im/metrics.h"
#include "im/rpc.h"

/* Keys every daemon has; embed as the first member `common` of the daemon's config.
 * All start-only but log_level. */
typedef struct {
    char *instance_id;     /* unique per process; "" = {service}-{hostname}-{pid} */
    int log_level;         /* im_log_level_t (live: the logger follows it) */
    char *etcd_endpoints;  /* http://host:port[,...] */
    char *advertise_host;  /* the address peers use to reach this process */
    char *admin_host;      /* /healthz and /metrics */
    int admin_port;
    int lease_ttl_s;       /* etcd registration lease */
    im_breaker_cfg_t breaker;   /* live: the gRPC client's per-endpoint circuit breakers */
    char *tracing_url;     /* Zipkin collector base URL; "" = no tracing (im/trace.h) */
    int trace_one_in;      /* live: sample one trace in this many; 0 = none */
} im_common_cfg_t;

/* The words of log_level, in im_log_level_t order. */
extern const char *const im_daemon_log_levels[];

#define IM_COMMON_CFG_FIELDS(type, default_admin_port)                                          \
    {"instance_id", IM_CFG_STR, offsetof(type, common.instance_id), "", 0, 0,                    \
     "Unique name of this process in etcd; empty = {service}-{hostname}-{pid}"},                 \
    {"log_level", IM_CFG_ENUM, offsetof(type, common.log_level), "info", 0, 0,                   \
     "debug | info | warn | error", IM_CFG_LIVE, im_daemon_log_levels},                         \
    {"etcd_endpoints", IM_CFG_STR, offsetof(type, common.etcd_endpoints),                        \
     "http://127.0.0.1:2379", 1, 0, "etcd v3 JSON gateway URLs, comma separated"},              \
    {"advertise_host", IM_CFG_STR, offsetof(type, common.advertise_host), "127.0.0.1", 1, 0,    \
     "Host other processes use to reach this one (registered in etcd)"},                        \
    {"admin_host", IM_CFG_STR, offsetof(type, common.admin_host), "127.0.0.1", 1, 0,            \
     "Bind address of the admin port (/healthz, /metrics)"},                                    \
    {"admin_port", IM_CFG_INT, offsetof(type, common.admin_port), #default_admin_port, 0,       \
     65535, "Admin port; 0 = any free port"},                                                    \
    {"lease_ttl_s", IM_CFG_INT, offsetof(type, common.lease_ttl_s), "5", 2, 300,                \
     "TTL of the etcd registration lease: a dead process disappears after this"},                \
    {"breaker_min_calls", IM_CFG_INT, offsetof(type, common.breaker.min_calls), "10", 1, 20,     \
     "gRPC circuit breaker: outcomes of an endpoint needed before its failure rate counts",      \
     IM_CFG_LIVE},                                                                              \
    {"breaker_failure_pct", IM_CFG_INT, offsetof(type, common.breaker.failure_pct), "50", 0,     \
     100, "gRPC circuit breaker: open an endpoint at this failure rate of its last 20 calls "   \
     "(unavailable, deadline exceeded, slow); 0 = never", IM_CFG_LIVE},                         \
    {"breaker_open_ms", IM_CFG_INT, offsetof(type, common.breaker.open_ms), "5000", 10,          \
     3600000, "gRPC circuit breaker: how long an open endpoint is skipped before one probe",     \
     IM_CFG_LIVE},                                                                              \
    {"breaker_slow_ms", IM_CFG_INT, offsetof(type, common.breaker.slow_ms), "0", 0, 600000,      \
     "gRPC circuit breaker: a call slower than this counts as failed; 0 = only errors count",   \
     IM_CFG_LIVE},                                                                              \
    {"tracing_url", IM_CFG_STR, offsetof(type, common.tracing_url), "", 0, 0,                   \
     "Zipkin collector (http://host:9411): spans are posted to {url}/api/v2/spans; empty = "    \
     "no tracing"},                                                                             \
    {"trace_one_in", IM_CFG_INT, offsetof(type, common.trace_one_in), "1000", 0, 1000000000,     \
     "Trace one message (or call) in this many, decided where it enters cim; 1 = all, 0 = "     \
     "none", IM_CFG_LIVE}

typedef struct {
    const char *service;      /* "im-logic" */
    char instance[96];        /* resolved instance id */
    im_etcd_t *etcd;
    im_admin_t *admin;
    im_etcd_watch_t *config_watch;   /* /im/config/{service}/ */
    const im_cfg_field_t *table;
    void *cfg;
    const im_common_cfg_t *common;
    struct im_daemon_key_s *keys;   /* per table key: what etcd set; the start value */
} im_daemon_t;

/* Parses `-c FILE` (and -h) from argv, loads the config table, sets up logging and
 * blocks SIGTERM/SIGINT/SIGPIPE for every thread created afterwards. Exits with a
 * clear message on a bad config. */
void im_daemon_config(const char *service, int argc, char **argv, const im_cfg_field_t *table,
                      void *cfg, const im_common_cfg_t *common);
/* Starts the admin port and connects etcd. */
int im_daemon_init(im_daemon_t *d, const char *service, const im_common_cfg_t *c,
                   im_admin_health_fn health, void *ud);
/* Registers /im/services/{service}/{instance} with `addr` (host:port, "" if none). */
int im_daemon_register(im_daemon_t *d, const im_common_cfg_t *c, const char *addr);
/* Follows /im/config/{service}/{key} in etcd (see config.h): a live key takes a new value
 * at once (`config.applied`), a start-only key, an unknown key or a bad value is refused
 * (`config.rejected` at warn, with the reason) and the running value stays; deleting the
 * etcd key reverts a live key to its value at this call (`config.reverted`). Values that
 * were in etcd before the daemon started are handled the same way. */
void im_daemon_watch_config(im_daemon_t *d, const im_cfg_field_t *table, void *cfg);
/* Serves svc's methods on host:port (0 = any) with `threads` workers; logs the address. */
int im_daemon_serve(const char *host, int port, int threads, const ProtobufCServiceDescriptor *svc,
                    const im_rpc_method_t *methods, void *ud, im_rpc_server_t **out);
/* Blocks until SIGTERM or SIGINT; returns the signal. */
int im_daemon_wait(void);
void im_daemon_fini(im_daemon_t *d);    /* deregisters, closes etcd, stops the admin port */

/* A gRPC client whose endpoints follow /im/services/{service}/ in etcd. */
typedef struct {
    im_rpc_client_t *client;
    im_etcd_watch_t *watch;
} im_discovery_t;
/* The client's endpoints get circuit breakers with these settings (read live). */
void im_discovery_set_breaker(im_discovery_t *dc, const im_breaker_cfg_t *cfg);
int im_discovery_init(im_discovery_t *dc, im_etcd_t *e, const char *service,
                      const ProtobufCServiceDescriptor *svc);
void im_discovery_fini(im_discovery_t *dc);

#endif
