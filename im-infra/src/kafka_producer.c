/* kafka_producer.c — the idempotent producer and its delivery-report thread.
 *
 * Each delivery report observes librdkafka's own produce() → report latency into
 * cim_kafka_produce_seconds (no clock read of ours); a failed delivery, or a record
 * refused at produce() for a reason other than a full queue, counts in
 * cim_kafka_produce_errors_total{stage="delivery"|"enqueue"}. */
#include "im/kafka.h"
#include "im/err.h"
#include "im/log.h"
#include "im/metrics.h"

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct im_kafka_producer_s {
    rd_kafka_t *rk;
    im_kafka_dr_fn dr_cb;
    pthread_t poller;
    volatile int stopping;
};

static im_metric_t *g_seconds, *g_enqueue_errors, *g_delivery_errors;   /* set by register_metrics */
static pthread_once_t g_metrics_once = PTHREAD_ONCE_INIT;

static void register_metrics(void)
{
    g_seconds = im_metric_new(IM_METRIC_HISTOGRAM, "cim_kafka_produce_seconds",
                              "Kafka produce call to delivery report (acks=all)");
    const char *help = "Kafka records not produced, by stage";
    g_enqueue_errors =
        im_metric_new_l(IM_METRIC_COUNTER, "cim_kafka_produce_errors_total", help, "stage=\"enqueue\"");
    g_delivery_errors =
        im_metric_new_l(IM_METRIC_COUNTER, "cim_kafka_produce_errors_total", help, "stage=\"delivery\"");
}

/* @locality the kafka-dr thread (rd_kafka_poll) */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *ud)
{
    im_kafka_producer_t *p = ud;
    (void)rk;
    int64_t us = rd_kafka_message_latency(m);
    if (us >= 0) im_metric_observe_us(g_seconds, us);
    if (m->err) im_metric_add(g_delivery_errors, 1);
    if (m->err)
        IM_LOG_RATELIMITED(2, IM_LOG_WARN, "kafka.delivery_failed", "topic=%s err=\"%s\"",
                           rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
    if (p->dr_cb) p->dr_cb(m->_private, m->err ? IM_EIO : IM_OK);
}

static void *poll_main(void *arg)
{
    im_kafka_producer_t *p = arg;
    im_log_set_thread("kafka-dr");
    while (!p->stopping) rd_kafka_poll(p->rk, 100);
    return NULL;
}

static int set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
    char err[256];
    if (rd_kafka_conf_set(conf, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) {
        im_error("kafka.conf", "key=%s err=\"%s\"", k, err);
        return IM_ECONFIG;
    }
    return IM_OK;
}

im_kafka_producer_t *im_kafka_producer_new(const char *brokers, const char *client_id,
                                           im_kafka_dr_fn dr_cb, const im_kafka_producer_opts_t *opts)
{
    char queue_max[24];
    snprintf(queue_max, sizeof queue_max, "%d", opts && opts->queue_max > 0 ? opts->queue_max : 100000);
    pthread_once(&g_metrics_once, register_metrics);
    im_kafka_producer_t *p = im_calloc(1, sizeof *p);
    p->dr_cb = dr_cb;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    int rc = set(conf, "bootstrap.servers", brokers) | set(conf, "client.id", client_id) |
             set(conf, "acks", "all") | set(conf, "enable.idempotence", "true") |
             /* linger 0: an idle producer sends at once; under load records still batch
              * while earlier requests are in flight (idempotence allows 5). No compression:
              * records are a few hundred bytes, and lz4 cost CPU on both sides and ~3 ms
              * of p50 at 200 msg/s (docs/BENCHMARKS.md) */
             set(conf, "linger.ms", "0") | set(conf, "compression.type", "none") |
             set(conf, "queue.buffering.max.messages", queue_max) |
             set(conf, "socket.nagle.disable", "true") |
             /* a restarted broker is found within a second, not after librdkafka's 10 s
              * backoff (tests/faults: kafka-kill) */
             set(conf, "reconnect.backoff.max.ms", "1000") |
             set(conf, "message.timeout.ms", "30000");
    if (rc != IM_OK) {
        rd_kafka_conf_destroy(conf);
        im_free(p);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, p);
    char err[256];
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);   /* takes ownership of conf */
    if (p->rk == NULL) {
        im_error("kafka.producer_failed", "err=\"%s\"", err);
        rd_kafka_conf_destroy(conf);
        im_free(p);
        return NULL;
    }
    pthread_create(&p->poller, NULL, poll_main, p);
    return p;
}

/* One produce; RD_KAFKA_RESP_ERR__QUEUE_FULL is left to the caller. */
static rd_kafka_resp_err_t produce(im_kafka_producer_t *p, const char *topic, const void *key,
                                   size_t keylen, const void *payload, size_t len,
                                   const char *traceparent, void *opaque)
{
    rd_kafka_headers_t *h = NULL;
    if (traceparent && *traceparent) {
        h = rd_kafka_headers_new(1);
        rd_kafka_header_add(h, "traceparent", -1, traceparent, -1);
    }
    rd_kafka_resp_err_t err = rd_kafka_producev(
        p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY((void *)key, keylen),
        RD_KAFKA_V_VALUE((void *)payload, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return err;   /* headers now owned by the message */
    if (h) rd_kafka_headers_destroy(h);
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        im_metric_add(g_enqueue_errors, 1);
        IM_LOG_RATELIMITED(2, IM_LOG_WARN, "kafka.produce_failed", "topic=%s err=\"%s\"", topic,
                           rd_kafka_err2str(err));
    }
    return err;
}

int im_kafka_producer_send(im_kafka_producer_t *p, const char *topic, const void *key,
                           size_t keylen, const void *payload, size_t len,
                           const char *traceparent, void *opaque)
{
    for (int tries = 0; tries < 50; tries++) {
        rd_kafka_resp_err_t err = produce(p, topic, key, keylen, payload, len, traceparent, opaque);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return IM_OK;
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) return IM_EIO;
        usleep(2000);
    }
    return IM_EUNAVAIL;
}

int im_kafka_producer_try_send(im_kafka_producer_t *p, const char *topic, const void *key,
                               size_t keylen, const void *payload, size_t len,
                               const char *traceparent, void *opaque)
{
    rd_kafka_resp_err_t err = produce(p, topic, key, keylen, payload, len, traceparent, opaque);
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        IM_LOG_RATELIMITED(2, IM_LOG_WARN, "kafka.queue_full", "topic=%s", topic);
        return IM_EUNAVAIL;
    }
    return err == RD_KAFKA_RESP_ERR_NO_ERROR ? IM_OK : IM_EIO;
}

int im_kafka_producer_flush(im_kafka_producer_t *p, int timeout_ms)
{
    return rd_kafka_flush(p->rk, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR ? IM_OK : IM_ETIMEOUT;
}

void im_kafka_producer_free(im_kafka_producer_t *p)
{
    if (p == NULL) return;
    if (im_kafka_producer_flush(p, 5000) != IM_OK)
        im_warn("kafka.flush_incomplete", "left=%d", rd_kafka_outq_len(p->rk));
    p->stopping = 1;
    pthread_join(p->poller, NULL);
    rd_kafka_destroy(p->rk);
    im_free(p);
}
