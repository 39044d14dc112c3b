/* clock.h — the clocks of cim, in one place.
 *
 * im_clock_wall_ms: CLOCK_REALTIME, ms since the epoch — what is stored and shown
 * (created_at, snowflake ids, log timestamps).
 * im_clock_mono_ms / _us: CLOCK_MONOTONIC — durations, timeouts, rate limits, heartbeats;
 * never goes back when the wall clock is set. */
#ifndef IM_CLOCK_H
#define IM_CLOCK_H

#include <stdint.h>

int64_t im_clock_wall_ms(void);
int64_t im_clock_wall_us(void);   /* per-hop stamps between processes of one box */
int64_t im_clock_mono_ms(void);
int64_t im_clock_mono_us(void);

#endif
