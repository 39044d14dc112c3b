/* test_task_core.c — im-task's own logic without Kafka or HTTP: offsets leave the window
 * in order per partition, the backoff is capped without overflow, and the retry thread
 * hands jobs back in due order, never early, and gives them up on close; a device
 * provider's bucket holds requests back past its rate, follows a live change, and 0
 * means unlimited. */
#include "im/clock.h"
#include "im/err.h"
#include "im_test.h"
#include "task.h"

#include <stdint.h>

static task_job_t *job_at(int32_t partition, int64_t offset)
{
    task_job_t *j = im_calloc(1, sizeof *j);
    j->msg.partition = partition;
    j->msg.offset = offset;
    return j;
}

/* Offsets of a finished list, -1 terminated; frees the jobs. */
static int take(task_job_t *list, int64_t *out, int max)
{
    int n = 0;
    for (task_job_t *j = list, *next; j; j = next) {
        next = j->next_in_partition;
        if (n < max) out[n++] = j->msg.offset;
        task_job_free(j);
    }
    return n;
}

static void test_window(void)
{
    task_window_t w = {0};
    task_job_t *a[5], *b0 = job_at(1, 7);
    for (int i = 0; i < 5; i++) task_window_add(&w, a[i] = job_at(0, 10 + i));
    task_window_add(&w, b0);
    CHECK_INT(w.len, 6);
    int64_t got[8];
    /* 11 and 12 finish before 10: nothing may be stored yet */
    CHECK(task_window_finish(&w, a[1]) == NULL);
    CHECK(task_window_finish(&w, a[2]) == NULL);
    /* another partition is not held back by partition 0 */
    CHECK_INT(take(task_window_finish(&w, b0), got, 8), 1);
    CHECK_INT(got[0], 7);
    /* 10 finishes: 10, 11, 12 leave in order; 13 (unfinished) holds 14 */
    CHECK_INT(take(task_window_finish(&w, a[0]), got, 8), 3);
    CHECK_INT(got[0], 10);
    CHECK_INT(got[1], 11);
    CHECK_INT(got[2], 12);
    CHECK(task_window_finish(&w, a[4]) == NULL);
    CHECK_INT(w.len, 2);
    CHECK_INT(take(task_window_finish(&w, a[3]), got, 8), 2);
    CHECK_INT(got[0], 13);
    CHECK_INT(got[1], 14);
    CHECK_INT(w.len, 0);
    /* shutdown: whatever is left comes out, finished or not */
    task_window_add(&w, job_at(2, 1));
    task_window_add(&w, job_at(3, 1));
    CHECK_INT(take(task_window_take_all(&w), got, 8), 2);
    CHECK_INT(w.len, 0);
    task_window_fini(&w);
}

static void test_backoff(void)
{
    CHECK_INT(task_backoff_ms(100, 10000, 1), 100);
    CHECK_INT(task_backoff_ms(100, 10000, 2), 200);
    CHECK_INT(task_backoff_ms(100, 10000, 7), 6400);
    CHECK_INT(task_backoff_ms(100, 10000, 8), 10000);
    /* `100000 << (attempt-1)` in int overflowed past attempt 15 */
    for (int a = 15; a <= 1000; a++) CHECK_INT(task_backoff_ms(100000, 600000, a), 600000);
    CHECK_INT(task_backoff_ms(600000, 600000, 20), 600000);
    CHECK_INT(task_backoff_ms(500, 100, 1), 100);
}

static void test_retry_thread(void)
{
    task_t t = {0};
    im_queue_init(&t.todo, NULL, NULL);
    im_queue_init(&t.retry, NULL, NULL);
    im_queue_init(&t.done, NULL, NULL);
    task_retry_start(&t);
    enum { N = 40 };
    int64_t now = im_clock_mono_ms();
    for (int i = 0; i < N; i++) {
        task_job_t *j = job_at(0, i);
        j->due_ms = now + (i * 37) % 300;   /* out of order */
        CHECK_INT(im_queue_push(&t.retry, &j->node), IM_OK);
    }
    int64_t last = 0;
    for (int i = 0; i < N; i++) {
        task_job_t *j = IM_QUEUE_ENTRY(im_queue_pop_wait(&t.todo), task_job_t, node);
        CHECK(im_clock_mono_ms() >= j->due_ms);   /* never early */
        CHECK(j->due_ms >= last);                 /* in due order */
        last = j->due_ms;
        task_job_free(j);
    }
    /* close: a job not yet due goes to `done`, abandoned */
    task_job_t *later = job_at(0, 99);
    later->due_ms = im_clock_mono_ms() + 60000;
    im_queue_push(&t.retry, &later->node);
    im_queue_close(&t.retry);
    task_retry_join(&t);
    im_queue_node_t *n = im_queue_take_all(&t.done);
    CHECK(n != NULL && n->next == NULL);
    if (n) {
        task_job_t *j = IM_QUEUE_ENTRY(n, task_job_t, node);
        CHECK_INT(j->msg.offset, 99);
        CHECK_INT(j->outcome, TASK_ABANDONED);
        task_job_free(j);
    }
    im_queue_fini(&t.todo);
    im_queue_fini(&t.retry);
    im_queue_fini(&t.done);
}

static void test_provider_bucket(void)
{
    int rate = 2, burst = 1;
    task_device_provider_t p = {0};
    task_device_provider_init(&p, "fcm", &rate, &burst);
    int64_t wait = 0;
    CHECK_INT(task_device_provider_take(&p, &wait), 1);
    CHECK_INT(task_device_provider_take(&p, &wait), 0);   /* the bucket of 1 is empty */
    CHECK_INT(wait, 500);                                 /* the next token at 2/s */
    CHECK(im_metric_get(p.m_outcome[4]) >= 1);            /* counted as rate_limited */
    __atomic_store_n(&rate, 0, __ATOMIC_RELAXED);         /* live: 0 = unlimited */
    for (int i = 0; i < 100; i++) CHECK_INT(task_device_provider_take(&p, &wait), 1);
}

int main(void)
{
    test_window();
    test_backoff();
    test_retry_thread();
    test_provider_bucket();
    IM_TEST_DONE();
}
