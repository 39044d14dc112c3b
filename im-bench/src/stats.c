/* stats.c — log-linear latency histograms and their percentiles.
 *
 * Values are nanoseconds. Below 64 each value has its own bucket; above, every power of
 * two is split into 32 buckets, so a bucket is at most 1/32 of its value wide. The
 * q-quantile is the value of nearest rank ceil(q * count) (p50 of 1..10 is 5, p99 of
 * 1..100 is 99), taken as the middle of its bucket, clamped to the exact min/max. */
#include "bench.h"

#include <math.h>
#include <string.h>
#include <time.h>

#define SUB_BITS 5
#define SUB (1u << SUB_BITS)        /* 32 buckets per power of two */
#define LINEAR (2u * SUB)           /* 0..63 exact */

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static unsigned bucket_of(uint64_t v)
{
    if (v < LINEAR) return (unsigned)v;
    int msb = 63 - __builtin_clzll(v);
    int shift = msb - SUB_BITS;                 /* v >> shift is in [32, 63] */
    return LINEAR + (unsigned)(shift - 1) * SUB + (unsigned)((v >> shift) - SUB);
}

/* The lowest and highest value of bucket i. */
static void bucket_range(unsigned i, uint64_t *lo, uint64_t *hi)
{
    if (i < LINEAR) {
        *lo = *hi = i;
        return;
    }
    unsigned shift = (i - LINEAR) / SUB + 1;
    uint64_t top = (i - LINEAR) % SUB + SUB;
    *lo = top << shift;
    *hi = ((top + 1) << shift) - 1;
}

void bench_hist_init(bench_hist_t *h)
{
    memset(h, 0, sizeof *h);
}

void bench_hist_add(bench_hist_t *h, uint64_t ns)
{
    if (h->count == 0 || ns < h->min) h->min = ns;
    if (ns > h->max) h->max = ns;
    h->count++;
    h->sum += (double)ns;
    h->b[bucket_of(ns)]++;
}

void bench_hist_merge(bench_hist_t *into, const bench_hist_t *from)
{
    if (from->count == 0) return;
    if (into->count == 0 || from->min < into->min) into->min = from->min;
    if (from->max > into->max) into->max = from->max;
    into->count += from->count;
    into->sum += from->sum;
    for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++) into->b[i] += from->b[i];
}

uint64_t bench_hist_quantile(const bench_hist_t *h, double q)
{
    if (h->count == 0) return 0;
    if (q >= 1.0) return h->max;
    double x = ceil(q * (double)h->count - 1e-9);   /* the epsilon: 0.29 * 100 is 29.000000000000004 */
    uint64_t rank = x < 1 ? 1 : (uint64_t)x;
    uint64_t seen = 0;
    for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= rank) {
            uint64_t lo, hi, mid;
            bucket_range(i, &lo, &hi);
            mid = lo + (hi - lo) / 2;
            return mid < h->min ? h->min : mid > h->max ? h->max : mid;
        }
    }
    return h->max;
}

double bench_hist_mean(const bench_hist_t *h)
{
    return h->count ? h->sum / (double)h->count : 0.0;
}

json_t *bench_hist_json(const bench_hist_t *h)
{
    return json_pack("{s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "count", (json_int_t)h->count,
                     "mean_ms", bench_hist_mean(h) / 1e6,
                     "min_ms", (double)(h->count ? h->min : 0) / 1e6,
                     "p50_ms", (double)bench_hist_quantile(h, 0.50) / 1e6,
                     "p90_ms", (double)bench_hist_quantile(h, 0.90) / 1e6,
                     "p99_ms", (double)bench_hist_quantile(h, 0.99) / 1e6,
                     "p999_ms", (double)bench_hist_quantile(h, 0.999) / 1e6,
                     "max_ms", (double)h->max / 1e6);
}

json_t *bench_hist_json_full(const bench_hist_t *h)
{
    json_t *j = bench_hist_json(h), *buckets = json_array();
    json_object_set_new(j, "p75_ms", json_real((double)bench_hist_quantile(h, 0.75) / 1e6));
    json_object_set_new(j, "p95_ms", json_real((double)bench_hist_quantile(h, 0.95) / 1e6));
    json_object_set_new(j, "p9999_ms", json_real((double)bench_hist_quantile(h, 0.9999) / 1e6));
    for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++) {
        if (h->b[i] == 0) continue;
        uint64_t lo, hi;
        bucket_range(i, &lo, &hi);
        json_array_append_new(buckets, json_pack("[f, f, I]", (double)lo / 1e6, (double)(hi + 1) / 1e6,
                                                 (json_int_t)h->b[i]));
    }
    json_object_set_new(j, "buckets", buckets);
    return j;
}
