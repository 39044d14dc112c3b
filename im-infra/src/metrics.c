/* metrics.c — the counter registry and its Prometheus rendering. */
#include "im/metrics.h"
#include "im/err.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Histogram bucket bounds in µs (Prometheus `le`, cumulative when rendered). */
static const int64_t bounds_us[] = {250,   500,   1000,   2000,   3000,   4000,   5000,    7500,
                                    10000, 15000, 20000,  30000,  50000,  75000,  100000,  200000,
                                    500000, 1000000, 5000000};
#define NBOUNDS (sizeof bounds_us / sizeof bounds_us[0])

struct im_metric_s {
    im_metric_kind_t kind;
    const char *name, *help;
    int64_t value;            /* atomic; a histogram's count */
    int64_t sum_us;           /* atomic, histograms */
    int64_t buckets[NBOUNDS + 1];   /* atomic, histograms: per bucket, the last is +Inf */
    im_metric_t *next;
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static im_metric_t *g_head;

im_metric_t *im_metric_new(im_metric_kind_t kind, const char *name, const char *help)
{
    im_metric_t *m = im_calloc(1, sizeof *m);
    m->kind = kind;
    m->name = name;
    m->help = help;
    pthread_mutex_lock(&g_lock);
    m->next = g_head;
    g_head = m;
    pthread_mutex_unlock(&g_lock);
    return m;
}

void im_metric_add(im_metric_t *m, int64_t n)
{
    __atomic_add_fetch(&m->value, n, __ATOMIC_RELAXED);
}

void im_metric_set(im_metric_t *m, int64_t v)
{
    __atomic_store_n(&m->value, v, __ATOMIC_RELAXED);
}

int64_t im_metric_get(const im_metric_t *m)
{
    return __atomic_load_n(&m->value, __ATOMIC_RELAXED);
}

void im_metric_observe_us(im_metric_t *m, int64_t us)
{
    if (us < 0) us = 0;   /* wall clocks of two processes on one box */
    size_t b = 0;
    while (b < NBOUNDS && us > bounds_us[b]) b++;
    __atomic_add_fetch(&m->buckets[b], 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&m->sum_us, us, __ATOMIC_RELAXED);
    __atomic_add_fetch(&m->value, 1, __ATOMIC_RELAXED);
}

static void render_histogram(FILE *fp, const im_metric_t *m)
{
    fprintf(fp, "# HELP %s %s\n# TYPE %s histogram\n", m->name, m->help, m->name);
    int64_t cum = 0;
    for (size_t b = 0; b <= NBOUNDS; b++) {
        cum += __atomic_load_n(&m->buckets[b], __ATOMIC_RELAXED);
        if (b < NBOUNDS) fprintf(fp, "%s_bucket{le=\"%g\"} %lld\n", m->name, bounds_us[b] / 1e6, (long long)cum);
        else fprintf(fp, "%s_bucket{le=\"+Inf\"} %lld\n", m->name, (long long)cum);
    }
    fprintf(fp, "%s_sum %.6f\n%s_count %lld\n", m->name, __atomic_load_n(&m->sum_us, __ATOMIC_RELAXED) / 1e6,
            m->name, (long long)cum);
}

static long rss_bytes(void)
{
    long pages = 0, resident = 0;
    FILE *fp = fopen("/proc/self/statm", "r");
    if (fp) {
        if (fscanf(fp, "%ld %ld", &pages, &resident) != 2) resident = 0;
        fclose(fp);
    }
    return resident * sysconf(_SC_PAGESIZE);
}

static int open_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL) return 0;
    while (readdir(d)) n++;
    closedir(d);
    return n > 2 ? n - 3 : 0; /* ".", ".." and the DIR's own fd */
}

char *im_metrics_render(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    pthread_mutex_lock(&g_lock);
    for (im_metric_t *m = g_head; m; m = m->next)
        if (m->kind == IM_METRIC_HISTOGRAM) render_histogram(fp, m);
        else fprintf(fp, "# HELP %s %s\n# TYPE %s %s\n%s %lld\n", m->name, m->help, m->name,
                m->kind == IM_METRIC_COUNTER ? "counter" : "gauge", m->name,
                (long long)im_metric_get(m));
    pthread_mutex_unlock(&g_lock);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
                 (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    fprintf(fp,
            "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %ld\n"
            "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %.3f\n"
            "# TYPE process_open_fds gauge\nprocess_open_fds %d\n",
            rss_bytes(), cpu, open_fds());
    fclose(fp);
    char *out = im_strdup(buf);
    free(buf);
    return out;
}
