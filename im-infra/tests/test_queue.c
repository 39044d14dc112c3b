/* test_queue.c — the closable queue: FIFO across producers, wake calls, close semantics. */
#include "im/err.h"
#include "im/queue.h"
#include "im_test.h"

#include <stdint.h>

#define PRODUCERS 4
#define PER 20000

typedef struct {
    im_queue_node_t node;
    int producer, i;
} item_t;

static im_queue_t q;
static int wakes;

static void wake(void *ud)
{
    (void)ud;
    __atomic_fetch_add(&wakes, 1, __ATOMIC_RELAXED);
}

static void *produce(void *arg)
{
    int p = (int)(intptr_t)arg;
    for (int i = 0; i < PER; i++) {
        item_t *it = im_malloc(sizeof *it);
        it->producer = p;
        it->i = i;
        if (im_queue_push(&q, &it->node) != IM_OK) im_free(it);
    }
    return NULL;
}

int main(void)
{
    /* blocking consumer: each producer's items arrive in its order, none lost */
    im_queue_init(&q, wake, NULL);
    pthread_t t[PRODUCERS];
    for (int p = 0; p < PRODUCERS; p++) pthread_create(&t[p], NULL, produce, (void *)(intptr_t)p);
    int next[PRODUCERS] = {0}, got = 0, order_ok = 1;
    while (got < PRODUCERS * PER) {
        item_t *it = IM_QUEUE_ENTRY(im_queue_pop_wait(&q), item_t, node);
        if (it->i != next[it->producer]) order_ok = 0;
        next[it->producer] = it->i + 1;
        got++;
        im_free(it);
    }
    for (int p = 0; p < PRODUCERS; p++) pthread_join(t[p], NULL);
    CHECK(order_ok);
    CHECK_INT(wakes, PRODUCERS * PER);
    CHECK_INT(im_queue_len(&q), 0);

    /* take_all: FIFO list; take_all_wait times out empty */
    item_t a = {.i = 1}, b = {.i = 2};
    CHECK_INT(im_queue_push(&q, &a.node), IM_OK);
    CHECK_INT(im_queue_push(&q, &b.node), IM_OK);
    im_queue_node_t *list = im_queue_take_all(&q);
    CHECK(list == &a.node && list->next == &b.node && b.node.next == NULL);
    CHECK(im_queue_take_all_wait(&q, 20) == NULL);

    /* close: pushes refused (the caller keeps the node), no wake, waiters drain then NULL */
    item_t c = {.i = 3}, d = {.i = 4};
    CHECK_INT(im_queue_push(&q, &c.node), IM_OK);
    int before = wakes;
    im_queue_close(&q);
    CHECK(im_queue_closed(&q));
    CHECK_INT(im_queue_push(&q, &d.node), IM_ECANCELLED);
    CHECK_INT(wakes, before);
    CHECK(im_queue_pop_wait(&q) == &c.node);
    CHECK(im_queue_pop_wait(&q) == NULL);
    CHECK(im_queue_take_all_wait(&q, 1000) == NULL);
    im_queue_fini(&q);
    IM_TEST_DONE();
}
