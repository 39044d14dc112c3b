/* rlimit.c — im_rlimit_take (im/ratelimit.h): one key of im_rlimit_take_many (ratelimit.c
 * holds the bucket script and the local stand-ins). */
#include "im/err.h"
#include "im/ratelimit.h"

int im_rlimit_take(struct im_redis_pool_s *redis, const char *key, double rate, double burst, int64_t now_ms,
                   int64_t *retry_ms)
{
    im_rlimit_take_many(redis, &key, 1, rate, burst, now_ms, retry_ms);
    return *retry_ms == 0 ? IM_OK : IM_ERATELIMIT;
}
