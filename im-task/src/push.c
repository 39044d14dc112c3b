/* push.c — the push-N workers: one provider attempt per job taken from `todo`: to the
 * recipient's devices (push_devices.c) when FCM or APNs is configured, else (or when the
 * user has no such device) to the default provider (log, webhook).
 *
 * Delivered or failed for the last time: the job goes to `done` for [consume] to store
 * its offset. Failed before that: it goes to [retry] with its due time, and the worker
 * takes the next job at once, so a webhook failing for one user delays nobody else.
 * Stopping: once `todo` is closed the workers finish the attempt in hand and hand the
 * rest back unattempted (TASK_ABANDONED: their offsets stay unstored). */
#include "task.h"
#include "im/clock.h"
#include "im/err.h"
#include "im/log.h"

#include <stdio.h>

void task_push_finish(task_t *t, task_job_t *job, task_outcome_t outcome)
{
    job->outcome = outcome;
    im_queue_push(&t->done, &job->node);   /* `done` outlives every thread that pushes to it */
}

void task_job_free(task_job_t *job)
{
    if (job == NULL) return;
    im_free(job->body);
    im_free(job->note.title);
    im_free(job->note.text);
    im_free(job->note.conversation_id);
    task_devices_free(job);
    im_free(job);
}

/* [push-N]: one request to the default provider (log, webhook). */
static int default_push(task_t *t, task_job_t *job, int worker)
{
    im_span_t span;   /* one per attempt, under the job's */
    im_span_child_of(&span, &job->span, "provider push", IM_SPAN_CLIENT);
    int64_t t0 = im_clock_mono_us();
    int rc = t->provider.push(t->provider.state, worker, job->user_id, job->body);
    im_metric_observe_us(t->m_push_seconds, im_clock_mono_us() - t0);
    im_span_tag(&span, "provider", "%s", t->provider.name);
    im_span_tag(&span, "result", "%s", rc == IM_OK ? "ok" : im_strerror(rc));
    im_span_end(&span);
    im_metric_add(rc == IM_OK ? t->m_push_ok : t->m_push_failed, 1);
    return rc;
}

/* [push-N]: `job` waits in [retry] for delay_ms. */
static void schedule(task_t *t, task_job_t *job, int64_t delay)
{
    job->due_ms = im_clock_mono_ms() + delay;
    im_debug("push.retry_scheduled", "user=%llu msg_id=%llu attempt=%d delay_ms=%lld",
             (unsigned long long)job->user_id, (unsigned long long)job->msg_id, job->attempts,
             (long long)delay);
    if (im_queue_push(&t->retry, &job->node) != IM_OK) task_push_finish(t, job, TASK_ABANDONED);
}

/* [push-N]: one attempt, then delivered, retried later, or given up. */
static void attempt(task_t *t, task_job_t *job, int worker)
{
    job->attempts++;
    int64_t wait_ms = 0;   /* the provider's Retry-After, or a bucket's next token */
    int rc = t->fcm.state || t->apns.state ? task_devices_push(t, job, worker, &wait_ms) : IM_ENOTFOUND;
    if (rc == IM_ENOTFOUND) rc = default_push(t, job, worker);
    if (rc == IM_ERATELIMIT) {   /* held back, not failed: no attempt used */
        job->attempts--;
        schedule(t, job, wait_ms);
        return;
    }
    if (rc == IM_OK) {
        im_metric_add(t->m_tasks, 1);
        task_push_finish(t, job, TASK_DELIVERED);
        return;
    }
    int max_attempts = IM_CFG_GET(t->cfg.push_attempts);
    if (job->attempts >= max_attempts) {   /* no wait after the last attempt */
        im_error("push.given_up", "user=%llu msg_id=%llu attempts=%d", (unsigned long long)job->user_id,
                 (unsigned long long)job->msg_id, job->attempts);
        im_metric_add(t->m_failures, 1);
        task_push_finish(t, job, TASK_GIVEN_UP);
        return;
    }
    int64_t delay = task_backoff_ms(IM_CFG_GET(t->cfg.push_backoff_ms),
                                    IM_CFG_GET(t->cfg.push_backoff_max_ms), job->attempts);
    im_metric_add(t->m_retries, 1);
    /* a provider's Retry-After wins over the backoff, up to push_backoff_max_ms, so the
     * bound on a push's retry budget (task.h) holds */
    int64_t cap = IM_CFG_GET(t->cfg.push_backoff_max_ms);
    schedule(t, job, wait_ms > delay ? (wait_ms < cap ? wait_ms : cap) : delay);
}

static void *push_main(void *arg)
{
    task_worker_t *a = arg;
    task_t *t = a->t;
    char name[16];
    snprintf(name, sizeof name, "push-%d", a->worker);
    im_log_set_thread(name);
    im_queue_node_t *n;
    while ((n = im_queue_pop_wait(&t->todo)) != NULL) {
        task_job_t *job = IM_QUEUE_ENTRY(n, task_job_t, node);
        if (im_queue_closed(&t->todo)) {
            task_push_finish(t, job, TASK_ABANDONED);
            continue;
        }
        im_trace_set(job->span.trace);
        attempt(t, job, a->worker);
        im_trace_set("");
    }
    return NULL;
}

int task_push_start(task_t *t)
{
    t->m_retries = im_metric_new(IM_METRIC_COUNTER, "cim_task_push_retries_total",
                                 "Push attempts that failed and were scheduled again");
    const char *attempts = "Push provider attempts by result (a failed one is retried or given up)";
    t->m_push_ok =
        im_metric_new_l(IM_METRIC_COUNTER, "cim_task_push_attempts_total", attempts, "result=\"ok\"");
    t->m_push_failed =
        im_metric_new_l(IM_METRIC_COUNTER, "cim_task_push_attempts_total", attempts, "result=\"failed\"");
    char labels[64];
    snprintf(labels, sizeof labels, "provider=\"%s\"", t->provider.name);
    t->m_push_seconds = im_metric_new_l(IM_METRIC_HISTOGRAM, "cim_task_push_seconds",
                                        "One push provider request (a webhook POST, an FCM or APNs push)", labels);
    im_queue_init(&t->todo, NULL, NULL);
    im_queue_init(&t->retry, NULL, NULL);
    im_queue_init(&t->done, NULL, NULL);
    int n = t->cfg.push_workers;
    t->workers = im_calloc((size_t)n, sizeof *t->workers);
    for (int i = 0; i < n; i++) {
        t->workers[i].t = t;
        t->workers[i].worker = i;
        pthread_create(&t->workers[i].thread, NULL, push_main, &t->workers[i]);
    }
    task_retry_start(t);
    return IM_OK;
}

void task_push_stop(task_t *t)
{
    im_queue_close(&t->todo);
    im_queue_close(&t->retry);
    for (int i = 0; i < t->cfg.push_workers; i++) pthread_join(t->workers[i].thread, NULL);
    task_retry_join(t);
    im_free(t->workers);
    t->workers = NULL;
    im_queue_fini(&t->todo);
    im_queue_fini(&t->retry);
}
