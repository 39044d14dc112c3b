/* kafka_probe.c — drives im-infra's Kafka wrappers against a real broker for the
 * integration tests.
 *
 *   kafka_probe produce BROKERS TOPIC N PREFIX      N records "PREFIX-i", keys "k-i"
 *   kafka_probe consume BROKERS TOPIC GROUP N       print N payloads, store offsets
 *   kafka_probe crash   BROKERS TOPIC GROUP         print one payload, then SIGKILL
 *                                                   itself before storing its offset
 */
#include "im/err.h"
#include "im/kafka.h"
#include "im/log.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int produce(const char *brokers, const char *topic, int n, const char *prefix)
{
    if (im_kafka_topic_ensure(brokers, topic, 2, 15000) != IM_OK) return 1;
    im_kafka_producer_t *p = im_kafka_producer_new(brokers, "kafka-probe", NULL, NULL);
    for (int i = 0; i < n; i++) {
        char key[32], val[128];
        snprintf(key, sizeof key, "k-%d", i);
        snprintf(val, sizeof val, "%s-%d", prefix, i);
        if (im_kafka_producer_send(p, topic, key, strlen(key), val, strlen(val), "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", NULL) != IM_OK)
            return 1;
    }
    int rc = im_kafka_producer_flush(p, 15000);
    im_kafka_producer_free(p);
    return rc == IM_OK ? 0 : 1;
}

static int consume(const char *brokers, const char *topic, const char *group, int n, int crash)
{
    const char *topics[] = {topic};
    im_kafka_consumer_t *c = im_kafka_consumer_new(brokers, group, topics, 1);
    if (c == NULL) return 1;
    const char *wait_s = getenv("PROBE_WAIT_S");   /* how long to wait for n records */
    time_t deadline = time(NULL) + (wait_s ? atoi(wait_s) : 60);
    int got = 0;
    while (got < n && time(NULL) < deadline) {
        im_kafka_msg_t m;
        if (im_kafka_consumer_poll(c, 500, &m) != IM_OK) continue;
        printf("%.*s traceparent=%s\n", (int)m.len, (const char *)m.payload, m.traceparent);
        fflush(stdout);
        if (crash) raise(SIGKILL);   /* before im_kafka_consumer_done(): offset never stored */
        im_kafka_consumer_done(c, &m);
        got++;
    }
    im_kafka_consumer_free(c);
    return got == n ? 0 : 1;
}

int main(int argc, char **argv)
{
    im_log_init("kafka-probe", IM_LOG_WARN);
    if (argc == 6 && strcmp(argv[1], "produce") == 0) return produce(argv[2], argv[3], atoi(argv[4]), argv[5]);
    if (argc == 6 && strcmp(argv[1], "consume") == 0) return consume(argv[2], argv[3], argv[4], atoi(argv[5]), 0);
    if (argc == 5 && strcmp(argv[1], "crash") == 0) return consume(argv[2], argv[3], argv[4], 1, 1);
    fprintf(stderr, "usage: see the comment at the top of kafka_probe.c\n");
    return 2;
}
