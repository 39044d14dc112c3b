/* task.h — im-task: slow, retryable work taken off the message path.
 *
 * DESIGN
 *   Threads: main (config, start, wait for SIGTERM, stop); `consume` reading the
 *   consumer group im-task on im-task-topic; `push-N` workers making push attempts;
 *   `retry` holding failed pushes until they are due; `admin`; etcd keepalive.
 *   [consume] never waits for a push: one slow or failing webhook call stalls one worker,
 *   a failing push waits in the retry heap, and every other task keeps flowing.
 *
 *   im-logic -produce-> im-task-topic -> [consume] consume.c -> handle_offline_push.c
 *     -todo-> [push-N] push.c -> a push provider (provider_<name>.c): `log` writes a
 *             line; `webhook` POSTs JSON with libcurl (APNs/FCM bridges plug in here)
 *     failed -retry-> [retry] retry.c (min-heap by due time, capped exponential backoff)
 *             -todo-> [push-N] again, until delivered or given up after push_attempts
 *     delivered / given up -done-> [consume] window.c -> im_kafka_consumer_done()
 *
 *   Metrics (cim_task_*): consume.c counts records and outcomes, push.c provider
 *   attempts and their latency, retry.c the jobs waiting; registered by the *_start
 *   functions before their threads run.
 *
 *   Offsets (at-least-once): a record's offset is stored only once it and every record
 *   before it in its partition are finished (window.c). A crash replays the unfinished
 *   tail, so every task handler is idempotent (a push carries msg_id; receivers drop
 *   repeats). At max_inflight unfinished records [consume] waits for `done` instead of
 *   polling; that wait is bounded by one push's retry budget
 *   (push_attempts x (webhook_timeout_ms + push_backoff_max_ms)).
 */
#ifndef IM_TASK_H
#define IM_TASK_H

#include <pthread.h>
#include <stdint.h>

#include "im/daemon.h"
#include "im/kafka.h"
#include "im/queue.h"
#include "im/trace.h"
#include "mq.pb-c.h"

typedef struct {
    im_common_cfg_t common;
    char *kafka_brokers;      /* host:port[,...] */
    char *push_provider;      /* log | webhook */
    char *webhook_url;        /* webhook provider: where offline pushes are POSTed */
    int webhook_timeout_ms;   /* live: one POST */
    int push_workers;         /* start-only: push-N threads (one webhook connection each) */
    int push_attempts;        /* live: tries per push before it is given up (logged) */
    int push_backoff_ms;      /* live: wait before the first retry; doubles per attempt */
    int push_backoff_max_ms;  /* live: cap of that wait */
    int max_inflight;         /* live: records read but not yet stored, all partitions */
} task_config_t;

/* An offline-push provider. push() runs on push worker `worker` (0..push_workers-1), so a
 * provider may keep one connection per worker; IM_OK when the provider took the push,
 * anything else is retried up to push_attempts times. */
typedef struct {
    const char *name;
    int (*push)(void *state, int worker, uint64_t user_id, const char *json_body);
    void *state;
} task_provider_t;

typedef enum {
    TASK_DELIVERED,   /* the provider took it */
    TASK_GIVEN_UP,    /* failed push_attempts times, or a record that can never be pushed */
    TASK_ABANDONED,   /* still unfinished at shutdown: its offset is not stored */
} task_outcome_t;

/* One record of im-task-topic from poll to stored offset. It sits in exactly one of the
 * queues todo, retry, done at a time (node) and, all along, in its partition's list of
 * window.c (next_in_partition, [consume] only). */
typedef struct task_job_s {
    im_queue_node_t node;
    struct task_job_s *next_in_partition;
    im_kafka_msg_t msg;         /* the record; stored or released by [consume] only */
    int finished;               /* [consume] only: may its offset be stored */
    task_outcome_t outcome;     /* set by whoever pushes the job to `done` */
    im_span_t span;             /* "offline push", child of logic's span (span.trace: logs) */
    uint64_t user_id, msg_id;   /* offline_push: who is told about which message */
    char *body;                 /* offline_push: the JSON the provider gets */
    int attempts;               /* push attempts made */
    int64_t due_ms;             /* im_clock_mono_ms() of the next attempt (retry heap) */
} task_job_t;

/* A partition's unfinished records in the order they were read ([consume] only). */
typedef struct {
    int32_t partition;
    task_job_t *head, *tail;
} task_partition_t;

typedef struct {
    task_partition_t *parts;   /* one per partition seen (im-task reads one topic) */
    size_t nparts;
    size_t len;                /* jobs held, all partitions */
} task_window_t;

struct task_s;

/* A push-N thread; `worker` picks its connection in the provider. */
typedef struct {
    pthread_t thread;
    struct task_s *t;
    int worker;   /* 0..push_workers-1 */
} task_worker_t;

typedef struct task_s {
    task_config_t cfg;
    im_daemon_t daemon;            /* identity, etcd, admin port */
    im_kafka_consumer_t *consumer; /* group im-task on im-task-topic; [consume] only */
    pthread_t consume_thread;
    volatile int stopping;
    task_window_t window;          /* [consume] only: read records not yet stored */
    im_queue_t todo;               /* [consume], [retry] -> [push-N]: attempts due now */
    im_queue_t retry;              /* [push-N] -> [retry]: failed attempts to try again */
    im_queue_t done;               /* [push-N], [retry] -> [consume]: finished jobs */
    task_worker_t *workers;        /* cfg.push_workers of them */
    pthread_t retry_thread;
    im_metric_t *m_consumed;       /* records read from im-task-topic */
    im_metric_t *m_tasks;          /* tasks handled (pushes delivered) */
    im_metric_t *m_failures;       /* tasks that failed (given up, unreadable) */
    im_metric_t *m_retries;        /* push attempts scheduled again */
    im_metric_t *m_inflight;       /* gauge: window.len */
    im_metric_t *m_push_ok, *m_push_failed;   /* provider attempts by result */
    im_metric_t *m_push_seconds;   /* one provider attempt, {provider} */
    im_metric_t *m_retry_waiting;  /* gauge: jobs in [retry]'s heap */
    task_provider_t provider;      /* offline pushes */
} task_t;

/* ---- config.c ---- */
extern const im_cfg_field_t task_config_table[];

/* ---- provider_log.c, provider_webhook.c ---- */
int task_provider_log(task_t *t, task_provider_t *p);
int task_provider_webhook(task_t *t, task_provider_t *p);
void task_provider_webhook_free(task_provider_t *p);

/* ---- handle_offline_push.c ([consume]) ---- */
/* Fills job's user_id, msg_id and body from an offline_push task. */
int task_offline_push_prepare(task_t *t, const Im__Mq__V1__Task *task, task_job_t *job);

/* ---- push.c: the push-N workers ---- */
int task_push_start(task_t *t);
/* Closes todo and retry, joins the workers and [retry]; unfinished jobs end in `done`
 * as TASK_ABANDONED. After task_consume_stop. */
void task_push_stop(task_t *t);
/* Hands a finished job to [consume] (any thread). */
void task_push_finish(task_t *t, task_job_t *job, task_outcome_t outcome);
void task_job_free(task_job_t *job);

/* ---- retry.c: the `retry` thread ---- */
/* Wait before attempt `attempts`+1: base << (attempts-1), capped at max, no overflow. */
int64_t task_backoff_ms(int64_t base_ms, int64_t max_ms, int attempts);
void task_retry_start(task_t *t);
void task_retry_join(task_t *t);   /* after closing t->retry */

/* ---- window.c ([consume] only): offsets stored in order per partition ---- */
void task_window_add(task_window_t *w, task_job_t *job);
/* Marks job finished; returns the jobs whose offsets may now be stored, oldest first,
 * linked by next_in_partition and removed from the window (the caller owns them). */
task_job_t *task_window_finish(task_window_t *w, task_job_t *job);
/* Removes every job (shutdown), linked by next_in_partition; the caller owns them. */
task_job_t *task_window_take_all(task_window_t *w);
void task_window_fini(task_window_t *w);

/* ---- consume.c: the `consume` thread ---- */
int task_consume_start(task_t *t);
void task_consume_stop(task_t *t);    /* joins [consume]: no more records are read */
/* After task_push_stop: stores the offsets of what finished, releases the rest, leaves
 * the group. */
void task_consume_close(task_t *t);

#endif
