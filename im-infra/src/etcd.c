/* etcd.c — the JSON gateway client: one POST per call, keys and values in base64,
 * failover across endpoints. Calls may come from any thread (one curl handle per call). */
#include "etcd_internal.h"
#include "im/err.h"
#include "im/log.h"

#include <curl/curl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

im_etcd_t *im_etcd_new(const char *endpoints)
{
    pthread_once(&curl_once, curl_init_once);
    im_etcd_t *e = im_calloc(1, sizeof *e);
    char *list = im_strdup(endpoints), *save = NULL;
    for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        e->endpoints = im_realloc(e->endpoints, sizeof *e->endpoints * (size_t)(e->nendpoints + 1));
        e->endpoints[e->nendpoints++] = im_strdup(tok);
    }
    im_free(list);
    if (e->nendpoints == 0) {
        im_free(e);
        return NULL;
    }
    pthread_mutex_init(&e->lock, NULL);
    pthread_cond_init(&e->cond, NULL);
    return e;
}

void im_etcd_free(im_etcd_t *e)
{
    if (e == NULL) return;
    im_etcd_deregister(e);
    for (int i = 0; i < e->nendpoints; i++) im_free(e->endpoints[i]);
    im_free(e->endpoints);
    pthread_mutex_destroy(&e->lock);
    pthread_cond_destroy(&e->cond);
    im_free(e);
}

char *etcd_b64(const char *s)
{
    size_t n = strlen(s), cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *out = im_malloc(cap);
    sodium_bin2base64(out, cap, (const unsigned char *)s, n, sodium_base64_VARIANT_ORIGINAL);
    return out;
}

char *etcd_unb64(const char *s)
{
    size_t n = strlen(s), len = 0;
    char *out = im_malloc(n + 1);
    if (sodium_base642bin((unsigned char *)out, n, s, n, NULL, &len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
        im_free(out);
        return NULL;
    }
    out[len] = '\0';
    return out;
}

char *etcd_range_end(const char *prefix)
{
    char *end = im_strdup(prefix);
    end[strlen(end) - 1]++;
    return end;
}

int64_t etcd_int(json_t *o, const char *field)
{
    json_t *v = json_object_get(o, field);
    if (json_is_string(v)) return strtoll(json_string_value(v), NULL, 10);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

typedef struct {
    char *buf;
    size_t len;
} body_t;

void etcd_buf_append(char **buf, size_t *len, const char *p, size_t n)
{
    *buf = im_realloc(*buf, *len + n + 1);
    memcpy(*buf + *len, p, n);
    *len += n;
    (*buf)[*len] = '\0';
}

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
    body_t *b = ud;
    etcd_buf_append(&b->buf, &b->len, p, size * n);
    return size * n;
}

void *etcd_curl(const char *url, const char *body)
{
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    return c;
}

json_t *etcd_post(im_etcd_t *e, const char *path, json_t *body, int timeout_ms)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_t *reply = NULL;
    int first = __atomic_load_n(&e->current, __ATOMIC_RELAXED);
    for (int i = 0; i < e->nendpoints && reply == NULL; i++) {
        int idx = (first + i) % e->nendpoints;
        char url[512];
        snprintf(url, sizeof url, "%s/v3%s", e->endpoints[idx], path);
        body_t b = {NULL, 0};
        CURL *c = etcd_curl(url, text);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
        CURLcode cc = curl_easy_perform(c);
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(c);
        if (cc == CURLE_OK && b.buf) {
            reply = json_loads(b.buf, 0, NULL);
            if (status != 200) {   /* a gRPC error as JSON: {"error":..., "code":...} */
                IM_LOG_RATELIMITED(5, IM_LOG_WARN, "etcd.error", "path=%s status=%ld body=\"%.200s\"", path, status, b.buf);
                if (reply == NULL) reply = json_object();
                json_object_set_new(reply, "_status", json_integer(status));
            }
            __atomic_store_n(&e->current, idx, __ATOMIC_RELAXED);
        } else {
            IM_LOG_RATELIMITED(5, IM_LOG_WARN, "etcd.unreachable", "url=%s err=\"%s\"", url, curl_easy_strerror(cc));
        }
        im_free(b.buf);
    }
    free(text);
    return reply;
}

void etcd_kvs(json_t *reply, im_etcd_kv_t **kvs, size_t *n)
{
    json_t *arr = json_object_get(reply, "kvs");   /* absent when empty */
    size_t cnt = json_array_size(arr), m = 0;
    im_etcd_kv_t *out = im_calloc(cnt ? cnt : 1, sizeof *out);
    for (size_t i = 0; i < cnt; i++) {
        json_t *kv = json_array_get(arr, i);
        const char *v = json_string_value(json_object_get(kv, "value"));   /* absent when "" */
        out[m].key = etcd_unb64(json_string_value(json_object_get(kv, "key")));
        out[m].value = v ? etcd_unb64(v) : im_strdup("");
        out[m].mod_revision = etcd_int(kv, "mod_revision");
        if (out[m].key && out[m].value) {
            m++;
        } else {
            im_free(out[m].key);
            im_free(out[m].value);
        }
    }
    *kvs = out;
    *n = m;
}

/* NULL if unreachable or an error reply; otherwise the reply (caller decrefs). */
static json_t *call(im_etcd_t *e, const char *path, json_t *body)
{
    json_t *r = etcd_post(e, path, body, 5000);
    json_decref(body);
    if (r && json_object_get(r, "_status")) {
        json_decref(r);
        return NULL;
    }
    return r;
}

int im_etcd_put(im_etcd_t *e, const char *key, const char *value, int64_t lease)
{
    char *k = etcd_b64(key), *v = etcd_b64(value);
    json_t *body = json_pack("{s:s, s:s}", "key", k, "value", v);
    if (lease) json_object_set_new(body, "lease", json_integer(lease));
    json_t *r = call(e, "/kv/put", body);
    im_free(k);
    im_free(v);
    if (r == NULL) return IM_EUNAVAIL;
    json_decref(r);
    return IM_OK;
}

static int range(im_etcd_t *e, const char *key, const char *range_end, im_etcd_kv_t **kvs, size_t *n)
{
    char *k = etcd_b64(key), *re = range_end ? etcd_b64(range_end) : NULL;
    json_t *body = json_pack("{s:s}", "key", k);
    if (re) json_object_set_new(body, "range_end", json_string(re));
    json_t *r = call(e, "/kv/range", body);
    im_free(k);
    im_free(re);
    if (r == NULL) return IM_EUNAVAIL;
    etcd_kvs(r, kvs, n);
    json_decref(r);
    return IM_OK;
}

int im_etcd_get(im_etcd_t *e, const char *key, char **value)
{
    im_etcd_kv_t *kvs;
    size_t n;
    int rc = range(e, key, NULL, &kvs, &n);
    if (rc != IM_OK) return rc;
    if (n == 0) rc = IM_ENOTFOUND;
    else *value = im_strdup(kvs[0].value);
    im_etcd_kvs_free(kvs, n);
    return rc;
}

int im_etcd_get_prefix(im_etcd_t *e, const char *prefix, im_etcd_kv_t **kvs, size_t *n)
{
    char *end = etcd_range_end(prefix);
    int rc = range(e, prefix, end, kvs, n);
    im_free(end);
    return rc;
}

void im_etcd_kvs_free(im_etcd_kv_t *kvs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        im_free(kvs[i].key);
        im_free(kvs[i].value);
    }
    im_free(kvs);
}

int im_etcd_delete(im_etcd_t *e, const char *key)
{
    char *k = etcd_b64(key);
    json_t *r = call(e, "/kv/deleterange", json_pack("{s:s}", "key", k));
    im_free(k);
    if (r == NULL) return IM_EUNAVAIL;
    json_decref(r);
    return IM_OK;
}

int im_etcd_create(im_etcd_t *e, const char *key, const char *value, int64_t lease)
{
    char *k = etcd_b64(key), *v = etcd_b64(value);
    json_t *put = json_pack("{s:s, s:s}", "key", k, "value", v);
    if (lease) json_object_set_new(put, "lease", json_integer(lease));
    /* create_revision 0 is the default and so omitted from the compare */
    json_t *body = json_pack("{s:[{s:s, s:s, s:s}], s:[{s:o}]}", "compare", "key", k, "target",
                             "CREATE", "result", "EQUAL", "success", "request_put", put);
    json_t *r = call(e, "/kv/txn", body);
    im_free(k);
    im_free(v);
    if (r == NULL) return IM_EUNAVAIL;
    int ok = json_is_true(json_object_get(r, "succeeded"));
    json_decref(r);
    return ok ? IM_OK : IM_EEXISTS;
}

int im_etcd_lease_grant(im_etcd_t *e, int ttl_s, int64_t *lease)
{
    json_t *r = call(e, "/lease/grant", json_pack("{s:i}", "TTL", ttl_s));
    if (r == NULL) return IM_EUNAVAIL;
    int64_t id = etcd_int(r, "ID");
    json_decref(r);
    if (id == 0) return IM_EPROTO;
    *lease = id;
    return IM_OK;
}

int im_etcd_lease_keepalive(im_etcd_t *e, int64_t lease, int *ttl_left)
{
    json_t *r = call(e, "/lease/keepalive", json_pack("{s:I}", "ID", (json_int_t)lease));
    if (r == NULL) return IM_EUNAVAIL;
    int64_t ttl = etcd_int(json_object_get(r, "result"), "TTL");   /* absent (0) when the lease is gone */
    json_decref(r);
    if (ttl <= 0) return IM_ENOTFOUND;
    if (ttl_left) *ttl_left = (int)ttl;
    return IM_OK;
}

int im_etcd_lease_revoke(im_etcd_t *e, int64_t lease)
{
    json_t *r = call(e, "/lease/revoke", json_pack("{s:I}", "ID", (json_int_t)lease));
    if (r == NULL) return IM_EUNAVAIL;
    json_decref(r);
    return IM_OK;
}
