/* kafka_admin.c — create a topic if it is missing (admin API), then confirm it exists. */
#include "im/err.h"
#include "im/kafka.h"
#include "im/log.h"

#include <librdkafka/rdkafka.h>
#include <string.h>
#include <unistd.h>

static int topic_exists(rd_kafka_t *rk, const char *topic, int timeout_ms)
{
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    int ok = 0;
    if (rd_kafka_metadata(rk, 0, t, &md, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        ok = md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
             md->topics[0].partition_cnt > 0;
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(t);
    return ok;
}

int im_kafka_topic_ensure(const char *brokers, const char *topic, int partitions, int timeout_ms)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof err);
    rd_kafka_conf_set(conf, "allow.auto.create.topics", "false", err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        return IM_EUNAVAIL;
    }
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, 1, err, sizeof err);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *opt = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(opt, timeout_ms, err, sizeof err);
    rd_kafka_CreateTopics(rk, &nt, 1, opt, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, timeout_ms + 1000);
    int rc = IM_ETIMEOUT;
    if (ev) {
        const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
        size_t n = 0;
        const rd_kafka_topic_result_t **tr = res ? rd_kafka_CreateTopics_result_topics(res, &n) : NULL;
        rd_kafka_resp_err_t e = n == 1 ? rd_kafka_topic_result_error(tr[0]) : rd_kafka_event_error(ev);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) im_info("kafka.topic_created", "topic=%s partitions=%d", topic, partitions);
        rc = e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS ? IM_OK : IM_EIO;
        if (rc != IM_OK) im_warn("kafka.topic_create_failed", "topic=%s err=\"%s\"", topic, rd_kafka_err2str(e));
        rd_kafka_event_destroy(ev);
    }
    /* a created topic takes a moment to show in metadata */
    for (int tries = 0; rc == IM_OK && !topic_exists(rk, topic, 1000);) {
        if (++tries == 50) rc = IM_ETIMEOUT;
        else usleep(100000);
    }
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return rc;
}
