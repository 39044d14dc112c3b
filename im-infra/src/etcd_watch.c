/* etcd_watch.c — a prefix watch on its own thread.
 *
 * Loop: range the prefix (the full set, to the callback) -> open a watch stream from
 * the next revision -> on every event batch, range again and call back. The stream is a
 * chunked HTTP body of newline-separated JSON objects that do not align with chunks; a
 * broken stream (etcd restart) is simply reopened after a pause. */
#include "etcd_internal.h"
#include "im/err.h"
#include "im/log.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct im_etcd_watch_s {
    im_etcd_t *e;
    char *prefix;
    im_etcd_watch_fn cb;
    void *ud;
    pthread_t thread;
    volatile int stopping;
    int changed;          /* events arrived in the current stream read */
    char *buf;            /* partial line of the stream */
    size_t len;
};

/* The full set under the prefix to the callback; returns the revision it was read at. */
static int64_t snapshot(im_etcd_watch_t *w)
{
    char *k = etcd_b64(w->prefix), *end = etcd_range_end(w->prefix), *re = etcd_b64(end);
    json_t *body = json_pack("{s:s, s:s}", "key", k, "range_end", re);
    json_t *r = etcd_post(w->e, "/kv/range", body, 5000);
    json_decref(body);
    im_free(k);
    im_free(end);
    im_free(re);
    if (r == NULL || json_object_get(r, "_status")) {
        json_decref(r);
        return -1;
    }
    int64_t rev = etcd_int(json_object_get(r, "header"), "revision");
    im_etcd_kv_t *kvs;
    size_t m;
    etcd_kvs(r, &kvs, &m);
    json_decref(r);
    w->cb(w->ud, kvs, m);
    im_etcd_kvs_free(kvs, m);
    return rev;
}

static size_t on_stream(char *p, size_t size, size_t n, void *ud)
{
    im_etcd_watch_t *w = ud;
    etcd_buf_append(&w->buf, &w->len, p, size * n);
    char *nl;
    while ((nl = memchr(w->buf, '\n', w->len)) != NULL) {
        *nl = '\0';
        json_t *msg = json_loads(w->buf, 0, NULL);
        json_t *res = json_object_get(msg, "result");
        if (json_array_size(json_object_get(res, "events")) > 0) w->changed = 1;
        if (json_is_true(json_object_get(res, "canceled")) || json_object_get(msg, "error")) w->changed = -1;
        json_decref(msg);
        size_t used = (size_t)(nl - w->buf) + 1;
        memmove(w->buf, nl + 1, w->len - used + 1);
        w->len -= used;
    }
    /* end the transfer to re-read the set (or to stop); the next stream resumes */
    return w->changed || w->stopping ? 0 : size * n;
}

static int on_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    return ((im_etcd_watch_t *)ud)->stopping;
}

/* One watch stream from `rev`; returns when something changed, it broke, or stopping. */
static void stream(im_etcd_watch_t *w, int64_t rev)
{
    char *k = etcd_b64(w->prefix), *end = etcd_range_end(w->prefix), *re = etcd_b64(end);
    json_t *body = json_pack("{s:{s:s, s:s, s:I}}", "create_request", "key", k, "range_end", re,
                             "start_revision", (json_int_t)rev);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    im_free(k);
    im_free(end);
    im_free(re);
    int idx = __atomic_load_n(&w->e->current, __ATOMIC_RELAXED);
    char url[512];
    snprintf(url, sizeof url, "%s/v3/watch", w->e->endpoints[idx]);
    CURL *c = etcd_curl(url, text);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_stream);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, w);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, w);
    w->changed = 0;
    w->len = 0;
    curl_easy_perform(c);
    curl_easy_cleanup(c);
    free(text);
}

static void *watch_main(void *arg)
{
    im_etcd_watch_t *w = arg;
    im_log_set_thread("etcd-watch");
    while (!w->stopping) {
        int64_t rev = snapshot(w);
        if (rev < 0) {
            for (int i = 0; i < 10 && !w->stopping; i++) usleep(50000);
            continue;
        }
        stream(w, rev + 1);
        if (w->changed <= 0)   /* broke or was cancelled: a short pause, then again */
            for (int i = 0; i < 4 && !w->stopping; i++) usleep(50000);
    }
    return NULL;
}

im_etcd_watch_t *im_etcd_watch_prefix(im_etcd_t *e, const char *prefix, im_etcd_watch_fn cb, void *ud)
{
    im_etcd_watch_t *w = im_calloc(1, sizeof *w);
    w->e = e;
    w->prefix = im_strdup(prefix);
    w->cb = cb;
    w->ud = ud;
    pthread_create(&w->thread, NULL, watch_main, w);
    return w;
}

void im_etcd_watch_free(im_etcd_watch_t *w)
{
    if (w == NULL) return;
    w->stopping = 1;
    pthread_join(w->thread, NULL);
    im_free(w->prefix);
    im_free(w->buf);
    im_free(w);
}
