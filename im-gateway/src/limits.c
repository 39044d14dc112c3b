/* limits.c — rate limits every gateway shares, in Redis (im_rlimit_take, one Lua token
 * bucket per key; a local bucket stands in while Redis cannot answer), checked on [W]:
 *   rl:rest:{uid}       every authenticated REST call (jobs.c): rest_rate/s, rest_burst
 *   rl:login:u:{name}   POST /api/login per username: login_user_per_min (brute force)
 *   rl:login:a:{addr}   POST /api/login per client address: login_addr_per_min
 * Over a limit: 429 rate_limited with Retry-After (seconds, rounded up); nothing runs.
 * The WebSocket `send` keeps its per-gateway bucket on [S] (no Redis call there). */
#include "gateway.h"
#include "im/clock.h"
#include "im/err.h"
#include "im/log.h"
#include "im/ratelimit.h"

#include <stdio.h>

int gw_limit(gw_t *g, gw_job_t *job, const char *kind, const char *who, double rate, double burst)
{
    char key[160];
    snprintf(key, sizeof key, "rl:%s:%.120s", kind, who);
    int64_t retry_ms = 0;
    if (im_rlimit_take(g->redis, key, rate, burst, im_clock_wall_ms(), &retry_ms) == IM_OK) return IM_OK;
    job->retry_after_s = (int)((retry_ms + 999) / 1000);
    if (job->retry_after_s < 1) job->retry_after_s = 1;
    IM_LOG_RATELIMITED(2, IM_LOG_INFO, "rate_limited", "kind=%s user=%llu retry_after_s=%d", kind,
                       (unsigned long long)job->user_id, job->retry_after_s);
    gw_job_error(job, 429, "rate_limited", "too many requests, retry later");
    return IM_ERATELIMIT;
}
