/* snowflake.h — 64-bit ids: 41 bits of ms since 2025-01-01 UTC, a 10-bit worker id
 * (leased from etcd, see im_etcd_snowflake_worker), a 12-bit sequence per ms.
 * Thread-safe. If the clock steps back, ids keep coming from the last timestamp. */
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
} im_snowflake_t;

int im_snowflake_init(im_snowflake_t *sf, int worker_id);   /* IM_EINVAL outside 0..1023 */
void im_snowflake_fini(im_snowflake_t *sf);
uint64_t im_snowflake_next(im_snowflake_t *sf);
/* The parts of an id, for logs and tests. */
int64_t im_snowflake_time_ms(uint64_t id);  /* unix ms */
int im_snowflake_worker(uint64_t id);

#endif
