/* snowflake.c — time-ordered unique 64-bit ids. */
#include "im/snowflake.h"
#include "im/clock.h"
#include "im/err.h"

#include <time.h>

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - IM_SNOWFLAKE_EPOCH_MS;
}

int im_snowflake_init(im_snowflake_t *sf, int worker_id)
{
    if (worker_id < 0 || worker_id > 1023) return IM_EINVAL;
    pthread_mutex_init(&sf->lock, NULL);
    sf->worker_id = worker_id;
    sf->last_ms = 0;
    sf->seq = 0;
    sf->held_until = INT64_MAX;
    return IM_OK;
}

void im_snowflake_hold(im_snowflake_t *sf, int worker_id, int64_t until_mono_ms)
{
    pthread_mutex_lock(&sf->lock);
    sf->worker_id = worker_id;
    sf->held_until = until_mono_ms;
    pthread_mutex_unlock(&sf->lock);
}

void im_snowflake_fini(im_snowflake_t *sf)
{
    pthread_mutex_destroy(&sf->lock);
}

uint64_t im_snowflake_next(im_snowflake_t *sf)
{
    pthread_mutex_lock(&sf->lock);
    if (sf->held_until != INT64_MAX && im_clock_mono_ms() > sf->held_until) {
        pthread_mutex_unlock(&sf->lock);
        return 0;
    }
    int64_t ms = now_ms();
    if (ms <= sf->last_ms) {
        /* same ms, or the clock stepped back: stay on last_ms, borrow the next ms when full */
        ms = sf->last_ms;
        if (++sf->seq > 0xfff) {
            sf->seq = 0;
            ms = ++sf->last_ms;
        }
    } else {
        sf->seq = 0;
        sf->last_ms = ms;
    }
    uint64_t id = ((uint64_t)ms << 22) | ((uint64_t)sf->worker_id << 12) | sf->seq;
    pthread_mutex_unlock(&sf->lock);
    return id;
}

int64_t im_snowflake_time_ms(uint64_t id)
{
    return (int64_t)(id >> 22) + IM_SNOWFLAKE_EPOCH_MS;
}

int im_snowflake_worker(uint64_t id)
{
    return (int)((id >> 12) & 0x3ff);
}
