/* test_kafka.c — the Kafka wrappers against librdkafka's mock cluster (the real broker is
 * exercised by tests/integration): headers, consumer groups, offsets stored only by done(). */
#include "im/err.h"
#include "im/kafka.h"
#include "im/log.h"
#include "im_test.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <time.h>

static int consume(const char *brokers, const char *group, int n, int done_first, char out[][96])
{
    const char *topics[] = {"t"};
    im_kafka_consumer_t *c = im_kafka_consumer_new(brokers, group, topics, 1);
    int got = 0;
    time_t deadline = time(NULL) + 20;
    while (got < n && time(NULL) < deadline) {
        im_kafka_msg_t m;
        if (im_kafka_consumer_poll(c, 200, &m) != IM_OK) continue;
        snprintf(out[got], 96, "%.*s|%s", (int)m.len, (const char *)m.payload, m.traceparent);
        if (got < done_first) im_kafka_consumer_done(c, &m);
        else im_kafka_msg_release(&m);
        got++;
    }
    im_kafka_consumer_free(c);
    return got;
}

int main(void)
{
    im_log_init("test", IM_LOG_ERROR);
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, 1);
    const char *brokers = rd_kafka_mock_cluster_bootstraps(mc);
    rd_kafka_mock_topic_create(mc, "t", 1, 1);

    im_kafka_producer_t *p = im_kafka_producer_new(brokers, "test", NULL, NULL);
    for (int i = 0; i < 10; i++) {
        char v[16];
        snprintf(v, sizeof v, "m%d", i);
        CHECK_INT(im_kafka_producer_send(p, "t", "k", 1, v, strlen(v), i % 2 ? "tp" : NULL, NULL), IM_OK);
    }
    CHECK_INT(im_kafka_producer_flush(p, 10000), IM_OK);
    im_kafka_producer_free(p);

    char got[10][96];
    CHECK_INT(consume(brokers, "g", 10, 4, got), 10);   /* done() only the first 4 */
    CHECK_STR(got[0], "m0|");
    CHECK_STR(got[1], "m1|tp");                          /* the traceparent header */
    CHECK_INT(consume(brokers, "g", 6, 6, got), 6);      /* the group resumes after the 4th */
    CHECK_STR(got[0], "m4|");
    CHECK_STR(got[5], "m9|tp");

    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    IM_TEST_DONE();
}
