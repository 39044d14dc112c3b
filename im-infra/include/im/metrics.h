/* metrics.h — process-wide Prometheus counters and gauges, and the admin HTTP port.
 *
 * Counters, gauges and latency histograms are registered (im_metric_new, im_metric_new_l)
 * from any thread, usually once at start, and updated lock-free from any thread. Metrics
 * of one name with different label sets form one family: rendered under one `# HELP` and
 * `# TYPE`, in registration order. The admin server is one thread answering
 * `GET /healthz` and `GET /metrics`. */
#ifndef IM_METRICS_H
#define IM_METRICS_H

#include <stdint.h>

typedef enum { IM_METRIC_COUNTER, IM_METRIC_GAUGE, IM_METRIC_HISTOGRAM } im_metric_kind_t;
typedef struct im_metric_s im_metric_t;

/* name must be a Prometheus name (cim_... ). Registering a name + labels that already exist
 * returns the existing metric (a different kind for the same name aborts: a programming
 * error). The registry copies name, help and labels; metrics live until the process ends. */
im_metric_t *im_metric_new(im_metric_kind_t kind, const char *name, const char *help);   /* no labels */
/* labels is Prometheus label text without braces, e.g. `method="SaveMessages",side="server"`;
 * NULL or "" means none. Takes the registry lock: callers on a hot path keep the pointer. */
im_metric_t *im_metric_new_l(im_metric_kind_t kind, const char *name, const char *help,
                             const char *labels);
/* The metric registered under name + labels, or NULL. */
im_metric_t *im_metric_find_l(const char *name, const char *labels);
void im_metric_add(im_metric_t *m, int64_t n);
void im_metric_set(im_metric_t *m, int64_t v);
int64_t im_metric_get(const im_metric_t *m);   /* a histogram: its count */
/* A histogram of durations (fixed buckets from 0.25 ms to 5 s, rendered in seconds). */
void im_metric_observe_us(im_metric_t *m, int64_t us);

/* Prometheus text exposition of every metric plus process_resident_memory_bytes,
 * process_cpu_seconds_total and process_open_fds. Caller frees. */
char *im_metrics_render(void);

/* healthz returns 0 when healthy; its text goes in the body. Called on the admin thread. */
typedef int (*im_admin_health_fn)(void *ud, char *text, int textlen);
typedef struct im_admin_s im_admin_t;
im_admin_t *im_admin_start(const char *host, int port, im_admin_health_fn health, void *ud);
int im_admin_port(const im_admin_t *a);
void im_admin_stop(im_admin_t *a);   /* NULL ok */

#endif
