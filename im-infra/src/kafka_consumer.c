/* kafka_consumer.c — a consumer-group member that stores offsets only after the work. */
#include "im/kafka.h"
#include "im/err.h"
#include "im/log.h"

#include <librdkafka/rdkafka.h>
#include <string.h>

struct im_kafka_consumer_s {
    rd_kafka_t *rk;
};

im_kafka_consumer_t *im_kafka_consumer_new(const char *brokers, const char *group_id,
                                           const char *const *topics, size_t ntopics)
{
    static const char *const settings[][2] = {
        {"enable.auto.commit", "true"},          /* commits what was stored, every second */
        {"auto.commit.interval.ms", "1000"},
        {"enable.auto.offset.store", "false"},   /* stored by im_kafka_consumer_done() only */
        {"auto.offset.reset", "earliest"},
        {"session.timeout.ms", "6000"},          /* a dead member's partitions move in seconds */
        {"heartbeat.interval.ms", "1000"},
        {"enable.partition.eof", "false"},
        {"socket.nagle.disable", "true"},        /* small records: no Nagle delay */
        /* fetch.wait.max.ms stays at its default: the broker answers a fetch as soon as
         * one record is there, so a short wait buys no latency, only idle wakeups */
        {"fetch.error.backoff.ms", "100"},
    };
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    int ok = rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof err) == RD_KAFKA_CONF_OK &&
             rd_kafka_conf_set(conf, "group.id", group_id, err, sizeof err) == RD_KAFKA_CONF_OK;
    for (size_t i = 0; ok && i < sizeof settings / sizeof settings[0]; i++)
        ok = rd_kafka_conf_set(conf, settings[i][0], settings[i][1], err, sizeof err) == RD_KAFKA_CONF_OK;
    rd_kafka_t *rk = ok ? rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err) : NULL;
    if (rk == NULL) {   /* rd_kafka_new took conf only on success */
        im_error("kafka.consumer_failed", "group=%s err=\"%s\"", group_id, err);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new((int)ntopics);
    for (size_t i = 0; i < ntopics; i++)
        rd_kafka_topic_partition_list_add(subs, topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, subs);
    rd_kafka_topic_partition_list_destroy(subs);
    if (e) {
        im_error("kafka.subscribe_failed", "group=%s err=\"%s\"", group_id, rd_kafka_err2str(e));
        rd_kafka_destroy(rk);
        return NULL;
    }
    im_kafka_consumer_t *c = im_calloc(1, sizeof *c);
    c->rk = rk;
    return c;
}

int im_kafka_consumer_poll(im_kafka_consumer_t *c, int timeout_ms, im_kafka_msg_t *m)
{
    rd_kafka_message_t *rm = rd_kafka_consumer_poll(c->rk, timeout_ms);
    if (rm == NULL) return IM_ETIMEOUT;
    if (rm->err) {
        IM_LOG_RATELIMITED(5, IM_LOG_WARN, "kafka.consume_error", "err=\"%s\"", rd_kafka_message_errstr(rm));
        rd_kafka_message_destroy(rm);
        return IM_EIO;
    }
    memset(m, 0, sizeof *m);
    m->topic = rd_kafka_topic_name(rm->rkt);
    m->partition = rm->partition;
    m->offset = rm->offset;
    m->key = rm->key;
    m->keylen = rm->key_len;
    m->payload = rm->payload;
    m->len = rm->len;
    m->internal = rm;
    rd_kafka_headers_t *h = NULL;
    const void *val;
    size_t vlen;
    if (rd_kafka_message_headers(rm, &h) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        rd_kafka_header_get_last(h, "traceparent", &val, &vlen) == RD_KAFKA_RESP_ERR_NO_ERROR && val) {
        if (vlen >= sizeof m->traceparent) vlen = sizeof m->traceparent - 1;
        memcpy(m->traceparent, val, vlen);
        m->traceparent[vlen] = '\0';
    }
    return IM_OK;
}

void im_kafka_consumer_done(im_kafka_consumer_t *c, im_kafka_msg_t *m)
{
    rd_kafka_message_t *rm = m->internal;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, m->topic, m->partition)->offset = m->offset + 1;
    rd_kafka_resp_err_t e = rd_kafka_offsets_store(c->rk, l);
    if (e)   /* the partition moved away in a rebalance: its new owner reads the record again */
        im_debug("kafka.offset_store_failed", "partition=%d err=\"%s\"", m->partition, rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_message_destroy(rm);
    m->internal = NULL;
}

void im_kafka_msg_release(im_kafka_msg_t *m)
{
    rd_kafka_message_destroy(m->internal);
    m->internal = NULL;
}

void im_kafka_consumer_free(im_kafka_consumer_t *c)
{
    if (c == NULL) return;
    rd_kafka_consumer_close(c->rk);   /* commits stored offsets, leaves the group */
    rd_kafka_destroy(c->rk);
    im_free(c);
}
