/* ratelimit.h — a token bucket: `rate` tokens per second, at most `burst` saved up.
 * Not thread-safe: each bucket belongs to one thread (the gateway's [S] for users). */
#ifndef IM_RATELIMIT_H
#define IM_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    double tokens;
    int64_t last_ms;   /* when tokens was last brought up to date; 0 = never */
} im_bucket_t;

/* 1 if a token was taken at now_ms, 0 if the caller is over the limit. */
int im_bucket_take(im_bucket_t *b, double rate, double burst, int64_t now_ms);

/* A token bucket shared by every process, in Redis (one Lua script, atomic): the key's
 * bucket holds `burst` tokens refilled at `rate` per second. IM_OK if a token was taken;
 * IM_ERATELIMIT with *retry_ms (when the next token comes) if not. If Redis cannot
 * answer, a bucket of this process stands in for it (the same key, 4,096 slots shared by
 * hash: a limit per process instead of per cluster until Redis is back). Thread-safe. */
struct im_redis_pool_s;
int im_rlimit_take(struct im_redis_pool_s *redis, const char *key, double rate, double burst, int64_t now_ms,
                   int64_t *retry_ms);

/* The same buckets (same Redis layout), one token from each of keys[0..n) in one round
 * trip: one script over every key in order, so a key named k times gives k takes.
 * retry_ms[i] is 0 if keys[i] got its token, else the ms until its next one. Every key
 * shares rate and burst. IM_OK if Redis answered; IM_EUNAVAIL if it could not (or redis
 * is NULL) and local buckets of this process decided instead (as for im_rlimit_take,
 * keyed by hash). Thread-safe. */
int im_rlimit_take_many(struct im_redis_pool_s *redis, const char *const *keys, size_t n, double rate,
                        double burst, int64_t now_ms, int64_t *retry_ms);

#endif
