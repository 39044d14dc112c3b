/* admin.c — the gateways' admin ports: where they are (--admin, etcd, or the ports
 * deploy/local/up.sh gives) and what their Prometheus /metrics say about the process. */
#include "bench.h"
#include "im/err.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *b64(const char *s)
{
    size_t n = strlen(s), cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *out = im_malloc(cap);
    sodium_bin2base64(out, cap, (const unsigned char *)s, n, sodium_base64_VARIANT_ORIGINAL);
    return out;
}

static char *unb64(const char *s)
{
    size_t n = strlen(s), len = 0;
    char *out = im_malloc(n + 1);
    if (sodium_base642bin((unsigned char *)out, n, s, n, NULL, &len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
        len = 0;
    out[len] = '\0';
    return out;
}

/* Registered gateways from etcd: for each gw[i] whose "addr" is host:port, admin[i]. */
static int from_etcd(bench_opts_t *o)
{
    bench_url_t etcd;
    if (bench_url_parse(o->etcd, &etcd) != 0) return IM_EINVAL;
    char *key = b64("/im/services/im-gateway/"), *end = b64("/im/services/im-gateway0");
    char *body = im_sprintf("{\"key\":\"%s\",\"range_end\":\"%s\"}", key, end), *resp = NULL;
    im_free(key);
    im_free(end);
    int st, rc = bench_http(&etcd, "POST", "/v3/kv/range", NULL, body, 5, &st, &resp);
    im_free(body);
    if (rc != IM_OK) return rc;
    json_t *r = json_loads(resp, 0, NULL), *kv;
    im_free(resp);
    size_t i;
    int found = 0;
    json_array_foreach(json_object_get(r, "kvs"), i, kv) {
        char *text = unb64(json_string_value(json_object_get(kv, "value")) ?: "");
        json_t *v = json_loads(text, 0, NULL);
        im_free(text);
        const char *addr = json_string_value(json_object_get(v, "addr"));
        const char *admin = json_string_value(json_object_get(v, "admin"));
        for (int g = 0; addr && admin && g < o->ngw; g++) {
            char hp[96];
            snprintf(hp, sizeof hp, "%s:%d", o->gw[g].host, o->gw[g].port);
            char *url = im_sprintf("http://%s", admin);
            if (strcmp(hp, addr) == 0 && bench_url_parse(url, &o->admin[g]) == 0) found++;
            im_free(url);
        }
        json_decref(v);
    }
    json_decref(r);
    return found == o->ngw ? IM_OK : IM_ENOTFOUND;
}

void bench_admin_resolve(bench_opts_t *o)
{
    if (o->nadmin || !o->etcd[0]) return;
    int rc = from_etcd(o);
    if (rc == IM_OK) o->nadmin = o->ngw;
    else fprintf(stderr, "im-bench: admin ports not found in etcd %s (%s): no RSS/CPU sampling\n",
                 o->etcd, im_strerror(rc));
}

/* The value of an unlabelled sample `name value` in a Prometheus text page. */
static int metric(const char *page, const char *name, double *out)
{
    size_t n = strlen(name);
    for (const char *p = page; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, name, n) == 0 && (p[n] == ' ' || p[n] == '{')) {
            const char *v = p[n] == '{' ? strchr(p, '}') : p + n;
            if (v == NULL) return -1;
            *out = strtod(v + 1, NULL);
            return 0;
        }
    }
    return -1;
}

void bench_admin_sample(const bench_opts_t *o, bench_sample_t out[BENCH_MAX_GW])
{
    for (int i = 0; i < o->nadmin; i++) {
        bench_sample_t s = {0};
        char *page = NULL;
        int st;
        s.t_ns = bench_now_ns();
        if (bench_http(&o->admin[i], "GET", "/metrics", NULL, NULL, 5, &st, &page) == IM_OK && st == 200) {
            s.ok = metric(page, "process_resident_memory_bytes", &s.rss_bytes) == 0 &&
                   metric(page, "process_cpu_seconds_total", &s.cpu_s) == 0;
            metric(page, "cim_gateway_connections", &s.conns);
            metric(page, "process_open_fds", &s.open_fds);
        }
        if (!s.ok) fprintf(stderr, "im-bench: no metrics from %s/metrics\n", o->admin[i].text);
        im_free(page);
        out[i] = s;
    }
}
