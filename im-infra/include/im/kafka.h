/* kafka.h — librdkafka, the way cim uses it: at-least-once everywhere.
 *
 * Producer: acks=all, idempotence on, a poll thread serving delivery reports.
 * Consumer: a group member whose offsets are stored only by im_kafka_consumer_done(),
 * after the work is done, and committed in the background; a consumer that dies before
 * done() leaves its records to be read again by the group. */
#ifndef IM_KAFKA_H
#define IM_KAFKA_H

#include <stddef.h>
#include <stdint.h>

typedef struct im_kafka_producer_s im_kafka_producer_t;

/* Runs on the producer's poll thread with the opaque given to send. */
typedef void (*im_kafka_dr_fn)(void *opaque, int err /* IM_OK or IM_EIO */);

typedef struct {
    int queue_max;   /* records waiting in the local queue before a send is refused; 0 = 100,000 */
} im_kafka_producer_opts_t;

/* opts may be NULL (defaults). linger.ms is 0: an idle producer sends at once and a busy
 * one batches while its earlier requests are in flight (measured in docs/BENCHMARKS.md). */
im_kafka_producer_t *im_kafka_producer_new(const char *brokers, const char *client_id,
                                           im_kafka_dr_fn dr_cb, const im_kafka_producer_opts_t *opts);
/* Copies key and payload; traceparent (NULL or "" for none) goes in the header
 * `traceparent`. Waits briefly when the local queue is full; IM_EUNAVAIL if it stays full. */
int im_kafka_producer_send(im_kafka_producer_t *p, const char *topic, const void *key,
                           size_t keylen, const void *payload, size_t len,
                           const char *traceparent, void *opaque);
/* Like send, but never waits: IM_EUNAVAIL at once when the local queue is full (for a
 * thread that must not block, like the gateway's service thread). */
int im_kafka_producer_try_send(im_kafka_producer_t *p, const char *topic, const void *key,
                               size_t keylen, const void *payload, size_t len,
                               const char *traceparent, void *opaque);
int im_kafka_producer_flush(im_kafka_producer_t *p, int timeout_ms);   /* IM_ETIMEOUT if some remain */
void im_kafka_producer_free(im_kafka_producer_t *p);                  /* flushes up to 5 s; NULL ok */

typedef struct im_kafka_consumer_s im_kafka_consumer_t;

typedef struct {
    const char *topic;
    int32_t partition;
    int64_t offset;
    const void *key;
    size_t keylen;
    const void *payload;
    size_t len;
    char traceparent[64];   /* "" if absent */
    void *internal;         /* the rd_kafka_message_t */
} im_kafka_msg_t;

/* auto.offset.reset=earliest. session_timeout_ms small enough that a killed member's
 * partitions move on within seconds. */
im_kafka_consumer_t *im_kafka_consumer_new(const char *brokers, const char *group_id,
                                           const char *const *topics, size_t ntopics);
/* IM_OK and *m, IM_ETIMEOUT if nothing came, IM_EIO on a consumer error (logged). */
int im_kafka_consumer_poll(im_kafka_consumer_t *c, int timeout_ms, im_kafka_msg_t *m);
void im_kafka_consumer_done(im_kafka_consumer_t *c, im_kafka_msg_t *m);   /* stores offset+1, frees m */
void im_kafka_msg_release(im_kafka_msg_t *m);                             /* frees m, stores nothing */
void im_kafka_consumer_free(im_kafka_consumer_t *c);   /* commits stored offsets, leaves the group; NULL ok */

/* Creates the topic if it does not exist; IM_OK once it exists. */
int im_kafka_topic_ensure(const char *brokers, const char *topic, int partitions, int timeout_ms);

#endif
