/* task.h — im-task: slow, retryable work taken off the message path.
 *
 * DESIGN
 *   Threads: main (config, start, wait for SIGTERM, stop); `consume` reading the
 *   consumer group im-task on im-task-topic; `admin`; etcd keepalive.
 *   Each record is handled, then its offset stored (at-least-once): a crash replays it,
 *   so every task handler is idempotent.
 *
 *   im-logic -produce-> im-task-topic -> [consume] consume.c -> handle_<kind>.c
 *   offline_push -> handle_offline_push.c -> a push provider (provider_<name>.c):
 *     `log` writes a line; `webhook` POSTs JSON with libcurl (APNs/FCM bridges plug in here).
 */
#ifndef IM_TASK_H
#define IM_TASK_H

#include <pthread.h>

#include "im/daemon.h"
#include "im/kafka.h"
#include "mq.pb-c.h"

typedef struct {
    im_common_cfg_t common;
    char *kafka_brokers;      /* host:port[,...] */
    char *push_provider;      /* log | webhook */
    char *webhook_url;        /* webhook provider: where offline pushes are POSTed */
    int webhook_timeout_ms;
    int push_attempts;        /* tries per push before it is given up (logged) */
} task_config_t;

/* An offline-push provider. push() returns IM_OK when the provider took the push;
 * anything else is retried up to push_attempts times. */
typedef struct {
    const char *name;
    int (*push)(void *state, uint64_t user_id, const char *json_body);
    void *state;
} task_provider_t;

typedef struct {
    task_config_t cfg;
    im_daemon_t daemon;            /* identity, etcd, admin port */
    im_kafka_consumer_t *consumer; /* group im-task on im-task-topic */
    pthread_t consume_thread;
    volatile int stopping;
    im_metric_t *m_tasks;          /* tasks handled */
    im_metric_t *m_failures;       /* tasks that failed */
    task_provider_t provider;      /* offline pushes */
} task_t;

/* ---- config.c ---- */
extern const im_cfg_field_t task_config_table[];

/* ---- provider_log.c, provider_webhook.c ---- */
int task_provider_log(task_t *t, task_provider_t *p);
int task_provider_webhook(task_t *t, task_provider_t *p);
void task_provider_webhook_free(task_provider_t *p);

/* ---- handle_offline_push.c ---- */
int task_handle_offline_push(task_t *t, const Im__Mq__V1__Task *task);

/* ---- consume.c ---- */
int task_consume_start(task_t *t);
void task_consume_stop(task_t *t);

#endif
