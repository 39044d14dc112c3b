/* queue.h — the one cross-thread handoff of cim: a closable FIFO of intrusive nodes.
 *
 * Producers push; a consumer either blocks (im_queue_pop_wait, a worker thread) or is
 * woken by the queue's wake function and takes everything at once (im_queue_take_all,
 * e.g. the gateway's lws thread through lws_cancel_service()).
 *
 * Close discipline (libuv's uv_async_send until uv_close): once im_queue_close() has
 * returned, every push is refused (IM_ECANCELLED, the caller keeps its node) and the wake
 * function is never called again, so whatever it wakes may then be destroyed. Blocked
 * consumers wake and drain what is left; pop_wait returns NULL when closed and empty.
 *
 * @locks: one mutex per queue; the wake function runs under it (it must be cheap and
 * must not touch the queue). */
#ifndef IM_QUEUE_H
#define IM_QUEUE_H

#include <pthread.h>
#include <stddef.h>

typedef struct im_queue_node_s {
    struct im_queue_node_s *next;
} im_queue_node_t;

typedef void (*im_queue_wake_fn)(void *ud);

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    im_queue_node_t *head, *tail;
    size_t len;
    int closed;
    im_queue_wake_fn wake;    /* NULL: consumers block in pop_wait instead */
    void *wake_ud;
} im_queue_t;

void im_queue_init(im_queue_t *q, im_queue_wake_fn wake, void *wake_ud);
void im_queue_fini(im_queue_t *q);   /* the queue must be empty (take_all it first) */
/* IM_OK, or IM_ECANCELLED once closed (n was not queued: the caller still owns it). */
int im_queue_push(im_queue_t *q, im_queue_node_t *n);
/* The whole queue in FIFO order (NULL if empty); never blocks. */
im_queue_node_t *im_queue_take_all(im_queue_t *q);
/* The oldest node, waiting for one; NULL once the queue is closed and empty. */
im_queue_node_t *im_queue_pop_wait(im_queue_t *q);
/* Like take_all, but waits up to timeout_ms for a first node (NULL on timeout or when
 * closed and empty). */
im_queue_node_t *im_queue_take_all_wait(im_queue_t *q, int timeout_ms);
size_t im_queue_len(im_queue_t *q);
int im_queue_closed(im_queue_t *q);
void im_queue_close(im_queue_t *q);

/* The struct that holds `member` as its node. */
#define IM_QUEUE_ENTRY(node, type, member) ((type *)((char *)(node) - offsetof(type, member)))

#endif
