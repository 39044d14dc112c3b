/* queue.c — see queue.h. */
#include "im/queue.h"
#include "im/err.h"

#include <errno.h>
#include <time.h>

void im_queue_init(im_queue_t *q, im_queue_wake_fn wake, void *wake_ud)
{
    pthread_mutex_init(&q->lock, NULL);
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cond, &a);
    pthread_condattr_destroy(&a);
    q->head = q->tail = NULL;
    q->len = 0;
    q->closed = 0;
    q->wake = wake;
    q->wake_ud = wake_ud;
}

void im_queue_fini(im_queue_t *q)
{
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->cond);
}

int im_queue_push(im_queue_t *q, im_queue_node_t *n)
{
    n->next = NULL;
    pthread_mutex_lock(&q->lock);
    if (q->closed) {
        pthread_mutex_unlock(&q->lock);
        return IM_ECANCELLED;
    }
    if (q->tail) q->tail->next = n;
    else q->head = n;
    q->tail = n;
    q->len++;
    pthread_cond_signal(&q->cond);
    /* under the lock: close() cannot complete between the check above and the wake */
    if (q->wake) q->wake(q->wake_ud);
    pthread_mutex_unlock(&q->lock);
    return IM_OK;
}

static im_queue_node_t *detach_all(im_queue_t *q)
{
    im_queue_node_t *list = q->head;
    q->head = q->tail = NULL;
    q->len = 0;
    return list;
}

im_queue_node_t *im_queue_take_all(im_queue_t *q)
{
    pthread_mutex_lock(&q->lock);
    im_queue_node_t *list = detach_all(q);
    pthread_mutex_unlock(&q->lock);
    return list;
}

im_queue_node_t *im_queue_pop_wait(im_queue_t *q)
{
    pthread_mutex_lock(&q->lock);
    while (q->head == NULL && !q->closed) pthread_cond_wait(&q->cond, &q->lock);
    im_queue_node_t *n = q->head;
    if (n) {
        q->head = n->next;
        if (q->head == NULL) q->tail = NULL;
        q->len--;
        n->next = NULL;
    }
    pthread_mutex_unlock(&q->lock);
    return n;
}

im_queue_node_t *im_queue_take_all_wait(im_queue_t *q, int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&q->lock);
    while (q->head == NULL && !q->closed)
        if (pthread_cond_timedwait(&q->cond, &q->lock, &until) == ETIMEDOUT) break;
    im_queue_node_t *list = detach_all(q);
    pthread_mutex_unlock(&q->lock);
    return list;
}

size_t im_queue_len(im_queue_t *q)
{
    pthread_mutex_lock(&q->lock);
    size_t n = q->len;
    pthread_mutex_unlock(&q->lock);
    return n;
}

int im_queue_closed(im_queue_t *q)
{
    pthread_mutex_lock(&q->lock);
    int c = q->closed;
    pthread_mutex_unlock(&q->lock);
    return c;
}

void im_queue_close(im_queue_t *q)
{
    pthread_mutex_lock(&q->lock);
    q->closed = 1;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
}
