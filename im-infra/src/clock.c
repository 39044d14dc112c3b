/* clock.c — see clock.h. */
#include "im/clock.h"

#include <time.h>

static int64_t now_us(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t im_clock_wall_ms(void) { return now_us(CLOCK_REALTIME) / 1000; }
int64_t im_clock_wall_us(void) { return now_us(CLOCK_REALTIME); }
int64_t im_clock_mono_ms(void) { return now_us(CLOCK_MONOTONIC) / 1000; }
int64_t im_clock_mono_us(void) { return now_us(CLOCK_MONOTONIC); }
