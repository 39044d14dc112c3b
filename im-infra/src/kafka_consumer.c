/* kafka_consumer.c — a consumer-group member that stores offsets only after the work.
 *
 * Lag: librdkafka's statistics (every LAG_INTERVAL_MS, JSON, delivered from
 * rd_kafka_consumer_poll on the polling thread) give each assigned partition's lag behind
 * its high watermark; their sum per topic is the gauge
 * cim_kafka_consumer_lag{group,topic}. Instances of a group each report their own
 * partitions: sum over instances for the group's lag. */
#include "im/kafka.h"
#include "im/err.h"
#include "im/log.h"
#include "im/metrics.h"

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <string.h>

#define LAG_INTERVAL_MS "5000"

struct im_kafka_consumer_s {
    rd_kafka_t *rk;
    char *group;          /* for the lag gauge's labels */
};

/* A partition's lag from its statistics object, or -1 if unknown (not assigned here). */
static json_int_t partition_lag(json_t *part)
{
    json_t *lag = json_object_get(part, "consumer_lag_stored");   /* offsets stored after the work */
    if (!json_is_integer(lag)) lag = json_object_get(part, "consumer_lag");
    return json_is_integer(lag) ? json_integer_value(lag) : -1;
}

/* @locality the thread calling im_kafka_consumer_poll. json is freed by librdkafka (return 0). */
static int on_stats(rd_kafka_t *rk, char *json, size_t len, void *ud)
{
    (void)rk;
    const char *group = ((im_kafka_consumer_t *)ud)->group;
    json_error_t jerr;
    json_t *root = json_loadb(json, len, 0, &jerr);
    json_t *topics = root ? json_object_get(root, "topics") : NULL;
    const char *topic;
    json_t *t;
    json_object_foreach(topics, topic, t) {
        json_int_t sum = 0;
        int known = 0;
        const char *pid;
        json_t *part;
        json_object_foreach(json_object_get(t, "partitions"), pid, part) {
            json_int_t lag = strcmp(pid, "-1") == 0 ? -1 : partition_lag(part);   /* -1: unassigned msgs */
            if (lag >= 0) sum += lag, known = 1;
        }
        if (!known) continue;
        char labels[256];
        snprintf(labels, sizeof labels, "group=\"%s\",topic=\"%s\"", group, topic);
        im_metric_set(im_metric_new_l(IM_METRIC_GAUGE, "cim_kafka_consumer_lag",
                                      "Kafka records not yet processed, per consumer group and "
                                      "topic (this instance's partitions)",
                                      labels),
                      sum);
    }
    if (root == NULL) IM_LOG_RATELIMITED(60, IM_LOG_WARN, "kafka.stats_unparsed", "err=\"%s\"", jerr.text);
    json_decref(root);
    return 0;
}

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
        {"reconnect.backoff.max.ms", "1000"},    /* a restarted broker: back within a second */
        {"statistics.interval.ms", LAG_INTERVAL_MS},   /* on_stats: the lag gauge */
    };
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    int ok = rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof err) == RD_KAFKA_CONF_OK &&
             rd_kafka_conf_set(conf, "group.id", group_id, err, sizeof err) == RD_KAFKA_CONF_OK;
    for (size_t i = 0; ok && i < sizeof settings / sizeof settings[0]; i++)
        ok = rd_kafka_conf_set(conf, settings[i][0], settings[i][1], err, sizeof err) == RD_KAFKA_CONF_OK;
    im_kafka_consumer_t *c = im_calloc(1, sizeof *c);
    c->group = im_strdup(group_id);
    rd_kafka_conf_set_stats_cb(conf, on_stats);
    rd_kafka_conf_set_opaque(conf, c);
    rd_kafka_t *rk = ok ? rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err) : NULL;
    if (rk == NULL) {   /* rd_kafka_new took conf only on success */
        im_error("kafka.consumer_failed", "group=%s err=\"%s\"", group_id, err);
        rd_kafka_conf_destroy(conf);
        goto fail;
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
        goto fail;
    }
    c->rk = rk;
    return c;
fail:
    im_free(c->group);
    im_free(c);
    return NULL;
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
    im_free(c->group);
    im_free(c);
}
