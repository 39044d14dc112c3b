/* snowflake.h — 64-bit ids: 41 bits of ms since 2025-01-01 UTC, a 10-bit worker id
 * (leased from etcd, see im_etcd_snowflake_worker), a 12-bit sequence per ms.
 * Thread-safe. If the clock steps back, ids keep coming from the last timestamp.
 * A leased worker id (im_snowflake_hold) gives ids only while the lease is known to be
 * held: past held_until the next id is 0, and the caller answers "unavailable" and tries
 * again, rather than risk an id of a worker id that another instance may have taken. */
#ifndef IM_SNOWFLAKE_H
#define IM_SNOWFLAKE_H

#include <pthread.h>
#include <stdint.h>

#define IM_SNOWFLAKE_EPOCH_MS 1735689600000LL /* 2025-01-01T00:00:00Z */

typedef struct {
    pthread_mutex_t lock;
    int worker_id;     /* 0..1023 */
    int64_t last_ms;   /* ms since the epoch of the last id */
    uint32_t seq;      /* sequence within last_ms */
    int64_t held_until; /* CLOCK_MONOTONIC ms: worker_id is ours until then (INT64_MAX unleased) */
} im_snowflake_t;

int im_snowflake_init(im_snowflake_t *sf, int worker_id);   /* IM_EINVAL outside 0..1023 */
void im_snowflake_fini(im_snowflake_t *sf);
uint64_t im_snowflake_next(im_snowflake_t *sf);   /* 0: the worker id's lease is not known to be held */
/* The worker id (claimed again, perhaps another) and how long it is surely held. */
void im_snowflake_hold(im_snowflake_t *sf, int worker_id, int64_t until_mono_ms);
/* The parts of an id, for logs and tests. */
int64_t im_snowflake_time_ms(uint64_t id);  /* unix ms */
int im_snowflake_worker(uint64_t id);

#endif
