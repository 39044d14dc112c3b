/* test_metrics.c — labeled metrics: families, rendering, and registration from many threads. */
#include "im/metrics.h"
#include "im_test.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
    return n;
}

static void test_family(void)
{
    im_metric_t *a = im_metric_new_l(IM_METRIC_COUNTER, "cim_t_calls_total", "calls",
                                     "method=\"Save\",side=\"server\"");
    im_metric_t *b = im_metric_new_l(IM_METRIC_COUNTER, "cim_t_calls_total", "calls",
                                     "method=\"Pull\",side=\"server\"");
    CHECK(a != b);
    char labels[64];
    snprintf(labels, sizeof labels, "method=\"%s\",side=\"server\"", "Save");
    /* labels are copied: the same text from another buffer finds the same metric */
    CHECK(im_metric_new_l(IM_METRIC_COUNTER, "cim_t_calls_total", "calls", labels) == a);
    CHECK(im_metric_find_l("cim_t_calls_total", "method=\"Pull\",side=\"server\"") == b);
    CHECK(im_metric_find_l("cim_t_calls_total", "method=\"Nope\"") == NULL);
    CHECK(im_metric_find_l("cim_t_nothing", NULL) == NULL);
    im_metric_t *plain = im_metric_new(IM_METRIC_GAUGE, "cim_t_plain", "plain");
    CHECK(im_metric_find_l("cim_t_plain", "") == plain);
    CHECK(im_metric_find_l("cim_t_plain", NULL) == plain);
    CHECK(im_metric_new(IM_METRIC_GAUGE, "cim_t_plain", "plain") == plain);
    im_metric_add(a, 3);
    im_metric_add(b, 5);
    im_metric_set(plain, -2);

    im_metric_t *h = im_metric_new_l(IM_METRIC_HISTOGRAM, "cim_t_sql_seconds", "sql", "op=\"exec\"");
    im_metric_t *h2 = im_metric_new_l(IM_METRIC_HISTOGRAM, "cim_t_sql_seconds", "sql", "op=\"commit\"");
    im_metric_observe_us(h, 400);
    im_metric_observe_us(h, 2000000);
    im_metric_observe_us(h2, 100);

    char *out = im_metrics_render();
    CHECK_INT(count_of(out, "# HELP cim_t_calls_total calls\n"), 1);
    CHECK_INT(count_of(out, "# TYPE cim_t_calls_total counter\n"), 1);
    CHECK(strstr(out, "# TYPE cim_t_calls_total counter\n"
                      "cim_t_calls_total{method=\"Save\",side=\"server\"} 3\n"
                      "cim_t_calls_total{method=\"Pull\",side=\"server\"} 5\n") != NULL);
    CHECK(strstr(out, "# TYPE cim_t_plain gauge\ncim_t_plain -2\n") != NULL);
    CHECK_INT(count_of(out, "# TYPE cim_t_sql_seconds histogram\n"), 1);
    CHECK(strstr(out, "cim_t_sql_seconds_bucket{op=\"exec\",le=\"0.00025\"} 0\n") != NULL);
    CHECK(strstr(out, "cim_t_sql_seconds_bucket{op=\"exec\",le=\"0.0005\"} 1\n") != NULL);
    CHECK(strstr(out, "cim_t_sql_seconds_bucket{op=\"exec\",le=\"+Inf\"} 2\n") != NULL);
    CHECK(strstr(out, "cim_t_sql_seconds_sum{op=\"exec\"} 2.000400\n"
                      "cim_t_sql_seconds_count{op=\"exec\"} 2\n") != NULL);
    CHECK(strstr(out, "cim_t_sql_seconds_bucket{op=\"commit\",le=\"0.00025\"} 1\n") != NULL);
    CHECK(strstr(out, "cim_t_sql_seconds_count{op=\"commit\"} 1\n") != NULL);
    free(out);
}

#define THREADS 8
#define METHODS 16
#define ROUNDS 2000

/* Every thread registers the same METHODS labeled counters lazily and bumps them. */
static void *racer(void *arg)
{
    (void)arg;
    for (int r = 0; r < ROUNDS; r++) {
        char labels[64];
        snprintf(labels, sizeof labels, "method=\"M%d\"", r % METHODS);
        im_metric_add(im_metric_new_l(IM_METRIC_COUNTER, "cim_t_race_total", "race", labels), 1);
    }
    return NULL;
}

static void test_threads(void)
{
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, racer, NULL);
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    char *out = im_metrics_render();
    CHECK_INT(count_of(out, "# TYPE cim_t_race_total counter\n"), 1);
    CHECK_INT(count_of(out, "cim_t_race_total{"), METHODS);
    for (int i = 0; i < METHODS; i++) {
        char line[96];
        snprintf(line, sizeof line, "cim_t_race_total{method=\"M%d\"} %d\n", i, THREADS * ROUNDS / METHODS);
        CHECK(strstr(out, line) != NULL);
    }
    free(out);
}

int main(void)
{
    test_family();
    test_threads();
    IM_TEST_DONE();
}
