/* trace.c — spans and their exporter (see trace.h).
 *
 * Ids come from a per-thread splitmix64 seeded once from libsodium: a span id costs no
 * system call. The sampling decision is a process-wide counter: every one_in-th root
 * is sampled, so the ratio is exact and the choice cheap.
 *
 * Threads: any thread makes spans; `trace-export` owns the curl handle and posts.
 * Handoff: the `spans` queue (im_queue_t), one node per ended sampled span. */
#include "im/trace.h"
#include "im/clock.h"
#include "im/config.h"
#include "im/err.h"
#include "im/log.h"
#include "im/metrics.h"
#include "im/queue.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define QUEUE_MAX 10000      /* spans waiting; past this they are dropped */
#define BATCH_MAX 500
#define FLUSH_MS 500

typedef struct {
    im_queue_node_t node;
    im_span_t span;
} span_node_t;

static struct {
    int started;
    char service[64];
    char url[512];
    const int *one_in;
    uint64_t roots;           /* atomic */
    im_queue_t spans;
    pthread_t thread;
    im_metric_t *m_exported, *m_dropped;
} g_tr;

static __thread uint64_t t_rng;
static __thread const im_span_t *t_current;

static uint64_t next_id(void)
{
    if (t_rng == 0) randombytes_buf(&t_rng, sizeof t_rng);
    uint64_t z = (t_rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return z ? z : 1;   /* W3C: an all-zero id is invalid */
}

static void new_trace(im_span_t *s)
{
    snprintf(s->trace, sizeof s->trace, "%016llx%016llx", (unsigned long long)next_id(), (unsigned long long)next_id());
}

static void new_span(im_span_t *s, const char *name, im_span_kind_t kind)
{
    memset(s, 0, sizeof *s);
    snprintf(s->id, sizeof s->id, "%016llx", (unsigned long long)next_id());
    s->name = name;
    s->kind = kind;
    s->start_us = im_clock_wall_us();
}

void im_span_root(im_span_t *s, const char *name, im_span_kind_t kind)
{
    new_span(s, name, kind);
    new_trace(s);
    if (g_tr.started) {
        int one_in = IM_CFG_GET(*g_tr.one_in);
        uint64_t n = __atomic_fetch_add(&g_tr.roots, 1, __ATOMIC_RELAXED);
        s->sampled = one_in > 0 && n % (uint64_t)one_in == 0;
    }
}

static int hex_run(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f'))) return 0;
    return 1;
}

void im_span_from(im_span_t *s, const char *tp, const char *name, im_span_kind_t kind)
{
    /* "00-" 32 hex "-" 16 hex "-" 2 hex */
    if (tp == NULL || strlen(tp) < 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-' || !hex_run(tp + 3, 32) ||
        !hex_run(tp + 36, 16) || !hex_run(tp + 53, 2)) {
        new_span(s, name, kind);   /* a new trace, never sampled: the root decided elsewhere */
        new_trace(s);
        return;
    }
    new_span(s, name, kind);
    memcpy(s->trace, tp + 3, 32);
    memcpy(s->parent, tp + 36, 16);
    int flags_lo = tp[54] <= '9' ? tp[54] - '0' : tp[54] - 'a' + 10;   /* lower-case hex, checked above */
    s->sampled = g_tr.started && (flags_lo & 1);                        /* W3C: bit 0, sampled */
}

void im_span_child_of(im_span_t *s, const im_span_t *parent, const char *name, im_span_kind_t kind)
{
    new_span(s, name, kind);
    memcpy(s->trace, parent->trace, sizeof s->trace);
    memcpy(s->parent, parent->id, sizeof s->parent);
    s->sampled = parent->sampled;
}

void im_span_tag(im_span_t *s, const char *key, const char *fmt, ...)
{
    if (!s->sampled || s->ntags == IM_SPAN_TAGS) return;
    s->tags[s->ntags].key = key;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->tags[s->ntags].val, sizeof s->tags[s->ntags].val, fmt, ap);
    va_end(ap);
    s->ntags++;
}

void im_span_end(im_span_t *s)
{
    if (!s->sampled) return;
    if (s->end_us == 0) s->end_us = im_clock_wall_us();
    if (im_queue_len(&g_tr.spans) >= QUEUE_MAX) {
        im_metric_add(g_tr.m_dropped, 1);
        return;
    }
    span_node_t *n = im_malloc(sizeof *n);
    n->span = *s;
    n->span.prev = NULL;
    if (im_queue_push(&g_tr.spans, &n->node) != IM_OK) {   /* stopping */
        im_metric_add(g_tr.m_dropped, 1);
        im_free(n);
    }
}

void im_span_traceparent(const im_span_t *s, char out[56])
{
    snprintf(out, 56, "00-%.32s-%.16s-%s", s->trace, s->id, s->sampled ? "01" : "00");
}

void im_span_enter(im_span_t *s)
{
    s->prev = t_current;
    t_current = s;
    im_trace_set(s->trace);
}

void im_span_leave(im_span_t *s)
{
    t_current = s->prev;
    im_trace_set(t_current ? t_current->trace : "");
}

const im_span_t *im_span_current(void)
{
    return t_current;
}

void im_span_child(const char *name, int64_t start_us, int64_t end_us, const char *key, const char *val)
{
    if (t_current == NULL || !t_current->sampled) return;
    im_span_t s;
    im_span_child_of(&s, t_current, name, IM_SPAN_CLIENT);
    s.start_us = start_us;
    s.end_us = end_us;
    if (key) im_span_tag(&s, key, "%s", val);
    im_span_end(&s);
}

/* ---- the exporter ---- */

static const char *kind_name(im_span_kind_t k)
{
    switch (k) {
    case IM_SPAN_SERVER: return "SERVER";
    case IM_SPAN_CLIENT: return "CLIENT";
    case IM_SPAN_PRODUCER: return "PRODUCER";
    case IM_SPAN_CONSUMER: return "CONSUMER";
    default: return NULL;
    }
}

/* Zipkin v2 JSON of one span. */
static json_t *to_json(const im_span_t *s, json_t *endpoint)
{
    int64_t dur = s->end_us - s->start_us;
    json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:O}", "traceId", s->trace, "id", s->id, "name", s->name,
                          "timestamp", (json_int_t)s->start_us, "duration", (json_int_t)(dur > 0 ? dur : 1),
                          "localEndpoint", endpoint);
    if (o == NULL) return NULL;
    if (s->parent[0]) json_object_set_new(o, "parentId", json_string(s->parent));
    if (kind_name(s->kind)) json_object_set_new(o, "kind", json_string(kind_name(s->kind)));
    if (s->ntags) {
        json_t *tags = json_object();
        for (int i = 0; i < s->ntags; i++) json_object_set_new(tags, s->tags[i].key, json_string(s->tags[i].val));
        json_object_set_new(o, "tags", tags);
    }
    return o;
}

/* Posts the batch; the spans are counted exported or dropped. */
static void post(CURL *c, json_t *batch, size_t n)
{
    char *body = json_dumps(batch, JSON_COMPACT);
    if (body == NULL) {
        im_metric_add(g_tr.m_dropped, (int64_t)n);
        return;
    }
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (rc == CURLE_OK && status / 100 == 2) {
        im_metric_add(g_tr.m_exported, (int64_t)n);
    } else {
        im_metric_add(g_tr.m_dropped, (int64_t)n);
        IM_LOG_RATELIMITED(30, IM_LOG_WARN, "trace.export_failed", "spans=%zu status=%ld err=\"%s\"", n, status,
                           curl_easy_strerror(rc));
    }
    curl_slist_free_all(h);
    free(body);
}

static void *export_main(void *arg)
{
    (void)arg;
    im_log_set_thread("trace-export");
    char url[600];
    snprintf(url, sizeof url, "%s/api/v2/spans", g_tr.url);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
    json_t *endpoint = json_pack("{s:s}", "serviceName", g_tr.service);
    json_t *batch = json_array();
    size_t n = 0;
    int64_t first_ms = 0;
    for (;;) {
        im_queue_node_t *q = im_queue_take_all_wait(&g_tr.spans, FLUSH_MS);
        int closed = q == NULL && im_queue_closed(&g_tr.spans);
        while (q) {
            span_node_t *sn = IM_QUEUE_ENTRY(q, span_node_t, node);
            q = q->next;
            json_t *o = to_json(&sn->span, endpoint);
            if (o) {
                json_array_append_new(batch, o);
                if (n++ == 0) first_ms = im_clock_mono_ms();
            }
            im_free(sn);
        }
        if (n && (n >= BATCH_MAX || closed || im_clock_mono_ms() - first_ms >= FLUSH_MS)) {
            post(c, batch, n);
            json_array_clear(batch);
            n = 0;
        }
        if (closed) break;
    }
    json_decref(batch);
    json_decref(endpoint);
    curl_easy_cleanup(c);
    return NULL;
}

void im_tracing_start(const char *service, const char *url, const int *one_in)
{
    g_tr.m_exported = im_metric_new(IM_METRIC_COUNTER, "cim_trace_spans_exported_total",
                                    "Sampled spans accepted by the trace collector");
    g_tr.m_dropped = im_metric_new(IM_METRIC_COUNTER, "cim_trace_spans_dropped_total",
                                   "Sampled spans dropped: exporter queue full or collector unreachable");
    snprintf(g_tr.service, sizeof g_tr.service, "%s", service);
    snprintf(g_tr.url, sizeof g_tr.url, "%s", url);
    size_t len = strlen(g_tr.url);
    while (len && g_tr.url[len - 1] == '/') g_tr.url[--len] = '\0';
    g_tr.one_in = one_in;
    im_queue_init(&g_tr.spans, NULL, NULL);
    pthread_create(&g_tr.thread, NULL, export_main, NULL);
    g_tr.started = 1;
    im_info("trace.started", "url=%s one_in=%d", g_tr.url, IM_CFG_GET(*one_in));
}

void im_tracing_stop(void)
{
    if (!g_tr.started) return;
    g_tr.started = 0;   /* new spans are no longer sampled */
    im_queue_close(&g_tr.spans);
    pthread_join(g_tr.thread, NULL);
    im_queue_fini(&g_tr.spans);
}
