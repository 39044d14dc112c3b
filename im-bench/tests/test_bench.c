/* test_bench.c — im-bench's arithmetic: histogram percentiles (nearest rank, merged
 * across processes) and --source-addrs parsing and spreading. */
#include "bench.h"
#include "im_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#define MS 1000000ull

/* Within the histogram's error (a bucket is at most 1/32 of its value wide). */
static int near(uint64_t got, uint64_t want)
{
    double d = (double)got - (double)want;
    return (d < 0 ? -d : d) <= (double)want / 32.0 + 1;
}

static void test_quantiles(void)
{
    bench_hist_t h;
    bench_hist_init(&h);
    CHECK_INT(bench_hist_quantile(&h, 0.5), 0);
    for (uint64_t i = 1; i <= 10; i++) bench_hist_add(&h, i);   /* exact below 64 */
    CHECK_INT(bench_hist_quantile(&h, 0.5), 5);
    CHECK_INT(bench_hist_quantile(&h, 0.9), 9);
    CHECK_INT(bench_hist_quantile(&h, 0.99), 10);
    CHECK_INT(bench_hist_quantile(&h, 0.0), 1);
    CHECK_INT(bench_hist_quantile(&h, 1.0), 10);

    bench_hist_init(&h);
    for (uint64_t i = 1; i <= 100; i++) bench_hist_add(&h, i * MS);
    CHECK(near(bench_hist_quantile(&h, 0.5), 50 * MS));
    CHECK(near(bench_hist_quantile(&h, 0.9), 90 * MS));
    CHECK(near(bench_hist_quantile(&h, 0.29), 29 * MS));
    CHECK(near(bench_hist_quantile(&h, 0.99), 99 * MS));
    CHECK_INT(bench_hist_quantile(&h, 1.0), 100 * MS);
    CHECK_INT(h.min, 1 * MS);
    CHECK(bench_hist_mean(&h) > 50.4 * MS && bench_hist_mean(&h) < 50.6 * MS);

    /* Two processes' halves merge into the whole. */
    bench_hist_t a, b;
    bench_hist_init(&a);
    bench_hist_init(&b);
    for (uint64_t i = 1; i <= 100; i++) bench_hist_add(i % 2 ? &a : &b, i * MS);
    bench_hist_merge(&a, &b);
    CHECK_INT(a.count, 100);
    CHECK_INT(bench_hist_quantile(&a, 0.5), bench_hist_quantile(&h, 0.5));
    CHECK_INT(bench_hist_quantile(&a, 0.99), bench_hist_quantile(&h, 0.99));
    CHECK_INT(a.max, 100 * MS);

    /* A tail: 990 fast, 10 slow -> p99 fast, p99.9 slow. */
    bench_hist_init(&h);
    for (int i = 0; i < 990; i++) bench_hist_add(&h, 2 * MS);
    for (int i = 0; i < 10; i++) bench_hist_add(&h, 200 * MS);
    CHECK(near(bench_hist_quantile(&h, 0.99), 2 * MS));
    CHECK(near(bench_hist_quantile(&h, 0.995), 200 * MS));

    json_t *j = bench_hist_json_full(&h), *bk;
    size_t i;
    json_int_t n = 0;
    json_array_foreach(json_object_get(j, "buckets"), i, bk) n += json_integer_value(json_array_get(bk, 2));
    CHECK_INT(n, 1000);
    CHECK_INT(json_array_size(json_object_get(j, "buckets")), 2);
    json_decref(j);
}

static const char *src_text(const bench_opts_t *o, int i, char *buf)
{
    const struct sockaddr_in *in = (const struct sockaddr_in *)&o->src[i];
    return inet_ntop(AF_INET, &in->sin_addr, buf, INET_ADDRSTRLEN);
}

static void test_source_addrs(void)
{
    static bench_opts_t o;
    char buf[INET_ADDRSTRLEN];
    CHECK_INT(bench_src_parse(&o, "127.0.0.2,127.0.0.3"), 0);
    CHECK_INT(o.nsrc, 2);
    CHECK_STR(src_text(&o, 1, buf), "127.0.0.3");
    CHECK_INT(bench_src_parse(&o, "127.0.0.250-127.0.1.3"), 0);
    CHECK_INT(o.nsrc, 10);
    CHECK_STR(src_text(&o, 6, buf), "127.0.1.0");
    CHECK_INT(bench_src_parse(&o, "127.0.0.2-9,10.0.0.1"), 0);
    CHECK_INT(o.nsrc, 9);
    CHECK_STR(src_text(&o, 7, buf), "127.0.0.9");
    CHECK_STR(src_text(&o, 8, buf), "10.0.0.1");
    CHECK_INT(bench_src_parse(&o, "::1"), 0);
    CHECK_INT(o.src[0].ss_family, AF_INET6);
    CHECK(bench_src_parse(&o, "127.0.0.9-127.0.0.2") != 0);
    CHECK(bench_src_parse(&o, "127.0.0.1,::1") != 0);
    CHECK(bench_src_parse(&o, "localhost") != 0);
    CHECK(bench_src_parse(&o, "10.0.0.0-10.0.255.255") != 0);   /* over BENCH_MAX_SRC */

    /* 2 gateways, 2 sources: each gateway gets both sources, evenly. */
    CHECK_INT(bench_src_parse(&o, "127.0.0.2,127.0.0.3"), 0);
    o.ngw = 2;
    int seen[2][2] = {{0}};
    for (uint64_t idx = 0; idx < 400; idx++) {
        const struct sockaddr *s = bench_src_of(&o, idx);
        seen[idx % 2][s == (const struct sockaddr *)&o.src[1]]++;
    }
    CHECK_INT(seen[0][0], 100);
    CHECK_INT(seen[0][1], 100);
    CHECK_INT(seen[1][0], 100);
    CHECK_INT(seen[1][1], 100);
    o.nsrc = 0;
    CHECK(bench_src_of(&o, 5) == NULL);
}

int main(void)
{
    test_quantiles();
    test_source_addrs();
    IM_TEST_DONE();
}
