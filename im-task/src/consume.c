/* consume.c — the `consume` thread: read im-task-topic, turn each record into a job for
 * the push workers, and store offsets as jobs come back finished (window.c).
 *
 * Why offsets in order per partition and not a retry topic: a retry topic needs its own
 * consumer that must wait for each record's due time (stalling that topic's partitions
 * the same way) or a topic per delay. Here a failing push waits in memory in the retry
 * heap, its offset stays unstored until it is delivered or given up, and a crash
 * replays it: at-least-once with no second topic.
 *
 * [consume] is the only thread that touches the consumer and the window; it never
 * waits for a push, only (at max_inflight) for some job to finish. */
#include "task.h"
#include "im/err.h"
#include "im/log.h"
#include "im/names.h"

#include <string.h>

/* Stores the offsets of a list from task_window_finish() and frees its jobs. */
static void store(task_t *t, task_job_t *list)
{
    for (task_job_t *job = list, *next; job; job = next) {
        next = job->next_in_partition;
        im_kafka_consumer_done(t->consumer, &job->msg);
        task_job_free(job);
    }
}

static void finish_here(task_t *t, task_job_t *job)
{
    static const char *const outcome[] = {"delivered", "given_up", "abandoned"};
    im_span_tag(&job->span, "outcome", "%s", outcome[job->outcome]);
    im_span_tag(&job->span, "attempts", "%d", job->attempts);
    im_span_end(&job->span);
    store(t, task_window_finish(&t->window, job));
}

/* Jobs back from `done`: abandoned ones (shutdown) stay unfinished in the window. */
static void collect(task_t *t, im_queue_node_t *list)
{
    for (im_queue_node_t *n = list, *next; n; n = next) {
        next = n->next;
        task_job_t *job = IM_QUEUE_ENTRY(n, task_job_t, node);
        if (job->outcome != TASK_ABANDONED) finish_here(t, job);
    }
    im_metric_set(t->m_inflight, (int64_t)t->window.len);
}

/* One record: a job in the window, then to a push worker or finished at once. */
static void dispatch(task_t *t, const im_kafka_msg_t *m)
{
    task_job_t *job = im_calloc(1, sizeof *job);
    job->msg = *m;   /* the job owns the record now */
    im_metric_add(t->m_consumed, 1);
    im_span_from(&job->span, m->traceparent, "offline push", IM_SPAN_CONSUMER);
    im_trace_set(job->span.trace);
    task_window_add(&t->window, job);
    Im__Mq__V1__Task *task = im__mq__v1__task__unpack(NULL, m->len, m->payload);
    int rc = IM_EINVAL;
    if (task == NULL)
        im_warn("task.bad_record", "partition=%d offset=%lld", m->partition, (long long)m->offset);
    else if (strcmp(task->kind, "offline_push") == 0)
        rc = task_offline_push_prepare(t, task, job);
    else
        im_warn("task.unknown_kind", "kind=%s partition=%d offset=%lld", task->kind, m->partition,
                (long long)m->offset);
    if (task) im__mq__v1__task__free_unpacked(task, NULL);
    if (rc == IM_OK) {
        /* a push worker owns the node until the job comes back on `done`; todo closes
         * only after [consume] has stopped (a refused job would just stay unfinished) */
        (void)im_queue_push(&t->todo, &job->node);
    } else {   /* a record that can never be pushed is skipped, not retried forever */
        im_metric_add(t->m_failures, 1);
        job->outcome = TASK_GIVEN_UP;
        finish_here(t, job);
    }
    im_trace_set("");
}

static void *consume_main(void *arg)
{
    task_t *t = arg;
    im_log_set_thread("consume");
    while (!t->stopping) {
        collect(t, im_queue_take_all(&t->done));
        if (t->window.len >= (size_t)IM_CFG_GET(t->cfg.max_inflight)) {
            IM_LOG_RATELIMITED(10, IM_LOG_WARN, "task.window_full", "inflight=%zu", t->window.len);
            collect(t, im_queue_take_all_wait(&t->done, 200));
            continue;
        }
        im_kafka_msg_t m;
        if (im_kafka_consumer_poll(t->consumer, 200, &m) == IM_OK) dispatch(t, &m);
    }
    return NULL;
}

int task_consume_start(task_t *t)
{
    t->m_consumed = im_metric_new(IM_METRIC_COUNTER, "cim_task_consumed_total", "Records read from im-task-topic");
    t->m_tasks = im_metric_new(IM_METRIC_COUNTER, "cim_task_handled_total", "Tasks handled");
    t->m_failures = im_metric_new(IM_METRIC_COUNTER, "cim_task_failed_total", "Tasks that failed");
    t->m_inflight = im_metric_new(IM_METRIC_GAUGE, "cim_task_inflight",
                                  "Records read whose offsets are not stored yet");
    im_kafka_topic_ensure(t->cfg.kafka_brokers, IM_TOPIC_TASK, 4, 10000);
    const char *topics[] = {IM_TOPIC_TASK};
    t->consumer = im_kafka_consumer_new(t->cfg.kafka_brokers, IM_GROUP_TASK, topics, 1);
    if (t->consumer == NULL) return IM_EUNAVAIL;
    pthread_create(&t->consume_thread, NULL, consume_main, t);
    return IM_OK;
}

void task_consume_stop(task_t *t)
{
    t->stopping = 1;
    pthread_join(t->consume_thread, NULL);
}

void task_consume_close(task_t *t)
{
    collect(t, im_queue_take_all(&t->done));   /* the workers are gone: this is the last */
    size_t unfinished = 0;
    for (task_job_t *job = task_window_take_all(&t->window), *next; job; job = next) {
        next = job->next_in_partition;
        im_kafka_msg_release(&job->msg);   /* read again by whoever gets the partition */
        task_job_free(job);
        unfinished++;
    }
    if (unfinished) im_info("task.left_unfinished", "records=%zu", unfinished);
    task_window_fini(&t->window);
    im_queue_fini(&t->done);
    im_kafka_consumer_free(t->consumer);   /* commits stored offsets, leaves the group */
    t->consumer = NULL;
}
