/* retry.c — the `retry` thread: a delay queue for failed pushes.
 *
 * Jobs arrive on `retry` with their due time; the thread keeps them in a min-heap by
 * due time (its own, no lock) and hands each back to the push workers through `todo`
 * when it is due. It makes no attempt itself, so a slow webhook never delays the
 * schedule. Stopping: once `retry` is closed every job it still holds goes to `done`
 * as TASK_ABANDONED. */
#include "task.h"
#include "im/clock.h"
#include "im/err.h"
#include "im/log.h"

#define IDLE_WAIT_MS 1000

int64_t task_backoff_ms(int64_t base_ms, int64_t max_ms, int attempts)
{
    int64_t d = base_ms;
    for (int i = 1; i < attempts && d < max_ms; i++) d *= 2;   /* d < max_ms: never overflows */
    return d < max_ms ? d : max_ms;
}

typedef struct {
    task_job_t **jobs;
    size_t len, cap;
} heap_t;

static void heap_push(heap_t *h, task_job_t *job)
{
    if (h->len == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 64;
        h->jobs = im_realloc(h->jobs, h->cap * sizeof *h->jobs);
    }
    size_t i = h->len++;
    while (i > 0 && h->jobs[(i - 1) / 2]->due_ms > job->due_ms) {
        h->jobs[i] = h->jobs[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->jobs[i] = job;
}

static task_job_t *heap_pop(heap_t *h)
{
    task_job_t *top = h->jobs[0], *last = h->jobs[--h->len];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->len) break;
        if (c + 1 < h->len && h->jobs[c + 1]->due_ms < h->jobs[c]->due_ms) c++;
        if (last->due_ms <= h->jobs[c]->due_ms) break;
        h->jobs[i] = h->jobs[c];
        i = c;
    }
    if (h->len > 0) h->jobs[i] = last;
    return top;
}

static int wait_ms(const heap_t *h)
{
    if (h->len == 0) return IDLE_WAIT_MS;
    int64_t left = h->jobs[0]->due_ms - im_clock_mono_ms();
    return left <= 0 ? 0 : left > IDLE_WAIT_MS ? IDLE_WAIT_MS : (int)left;
}

static void *retry_main(void *arg)
{
    task_t *t = arg;
    im_log_set_thread("retry");
    heap_t h = {0};
    for (;;) {
        /* read before taking: whatever was pushed before the close is in this take */
        int closed = im_queue_closed(&t->retry);
        for (im_queue_node_t *n = im_queue_take_all_wait(&t->retry, wait_ms(&h)), *next; n; n = next) {
            next = n->next;
            heap_push(&h, IM_QUEUE_ENTRY(n, task_job_t, node));
        }
        if (closed) break;
        for (int64_t now = im_clock_mono_ms(); h.len > 0 && h.jobs[0]->due_ms <= now;) {
            task_job_t *job = heap_pop(&h);
            if (im_queue_push(&t->todo, &job->node) != IM_OK) task_push_finish(t, job, TASK_ABANDONED);
        }
        im_metric_set(t->m_retry_waiting, (int64_t)h.len);
    }
    while (h.len > 0) task_push_finish(t, heap_pop(&h), TASK_ABANDONED);
    im_free(h.jobs);
    return NULL;
}

void task_retry_start(task_t *t)
{
    t->m_retry_waiting = im_metric_new(IM_METRIC_GAUGE, "cim_task_retry_waiting",
                                       "Failed pushes waiting for their next attempt");
    pthread_create(&t->retry_thread, NULL, retry_main, t);
}

void task_retry_join(task_t *t)
{
    pthread_join(t->retry_thread, NULL);
}
