/* metrics.c — the metric registry (families of labeled metrics) and its Prometheus rendering. */
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

/* One name: its header, and its metrics (one per label set) in registration order. */
typedef struct family_s {
    char *name, *help;
    im_metric_kind_t kind;
    im_metric_t *first, *last;
    struct family_s *next;
} family_t;

struct im_metric_s {
    im_metric_kind_t kind;
    const family_t *family;
    char *labels;             /* "" = none */
    int64_t value;            /* atomic; a histogram's count */
    int64_t sum_us;           /* atomic, histograms */
    int64_t buckets[NBOUNDS + 1];   /* atomic, histograms: per bucket, the last is +Inf */
    im_metric_t *next;        /* in its family */
};

/* g_lock guards the family list and each family's metric list (not the values). */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static family_t *g_first, *g_last;

static family_t *family_find(const char *name)
{
    for (family_t *f = g_first; f; f = f->next)
        if (strcmp(f->name, name) == 0) return f;
    return NULL;
}

static im_metric_t *member_find(const family_t *f, const char *labels)
{
    for (im_metric_t *m = f->first; m; m = m->next)
        if (strcmp(m->labels, labels) == 0) return m;
    return NULL;
}

im_metric_t *im_metric_new_l(im_metric_kind_t kind, const char *name, const char *help,
                             const char *labels)
{
    if (labels == NULL) labels = "";
    pthread_mutex_lock(&g_lock);
    family_t *f = family_find(name);
    if (f == NULL) {
        f = im_calloc(1, sizeof *f);
        f->name = im_strdup(name);
        f->help = im_strdup(help ? help : "");
        f->kind = kind;
        if (g_last) g_last->next = f;
        else g_first = f;
        g_last = f;
    } else if (f->kind != kind) {
        fprintf(stderr, "metrics: %s registered as two kinds\n", name);
        abort();
    }
    im_metric_t *m = member_find(f, labels);
    if (m == NULL) {
        m = im_calloc(1, sizeof *m);
        m->kind = kind;
        m->family = f;
        m->labels = im_strdup(labels);
        if (f->last) f->last->next = m;
        else f->first = m;
        f->last = m;
    }
    pthread_mutex_unlock(&g_lock);
    return m;
}

im_metric_t *im_metric_new(im_metric_kind_t kind, const char *name, const char *help)
{
    return im_metric_new_l(kind, name, help, NULL);
}

im_metric_t *im_metric_find_l(const char *name, const char *labels)
{
    im_metric_t *m = NULL;
    pthread_mutex_lock(&g_lock);
    const family_t *f = family_find(name);
    if (f) m = member_find(f, labels ? labels : "");
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

/* `{labels}` or "" for the plain series of m; with a trailing comma inside for buckets. */
static void render_histogram(FILE *fp, const char *name, const im_metric_t *m)
{
    const char *l = m->labels, *comma = *l ? "," : "";
    int64_t cum = 0;
    for (size_t b = 0; b <= NBOUNDS; b++) {
        cum += __atomic_load_n(&m->buckets[b], __ATOMIC_RELAXED);
        if (b < NBOUNDS)
            fprintf(fp, "%s_bucket{%s%sle=\"%g\"} %lld\n", name, l, comma, bounds_us[b] / 1e6,
                    (long long)cum);
        else fprintf(fp, "%s_bucket{%s%sle=\"+Inf\"} %lld\n", name, l, comma, (long long)cum);
    }
    const char *open = *l ? "{" : "", *close = *l ? "}" : "";
    fprintf(fp, "%s_sum%s%s%s %.6f\n%s_count%s%s%s %lld\n", name, open, l, close,
            __atomic_load_n(&m->sum_us, __ATOMIC_RELAXED) / 1e6, name, open, l, close, (long long)cum);
}

static void render_family(FILE *fp, const family_t *f)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    fprintf(fp, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, types[f->kind]);
    for (const im_metric_t *m = f->first; m; m = m->next)
        if (f->kind == IM_METRIC_HISTOGRAM) render_histogram(fp, f->name, m);
        else if (*m->labels)
            fprintf(fp, "%s{%s} %lld\n", f->name, m->labels, (long long)im_metric_get(m));
        else fprintf(fp, "%s %lld\n", f->name, (long long)im_metric_get(m));
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
    for (const family_t *f = g_first; f; f = f->next) render_family(fp, f);
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
