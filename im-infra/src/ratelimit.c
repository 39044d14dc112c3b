/* ratelimit.c — token bucket refilled lazily on each take; and im_rlimit_take_many, the
 * Redis buckets of rlimit.c (a HASH {t: tokens, ts: ms of t} per key, expiring once it
 * would be full again) taken for many keys in one round trip. */
#include "im/err.h"
#include "im/log.h"
#include "im/ratelimit.h"
#include "im/redis.h"

#include <pthread.h>
#include <stdio.h>

int im_bucket_take(im_bucket_t *b, double rate, double burst, int64_t now_ms)
{
    if (b->last_ms == 0) {
        b->tokens = burst;
    } else if (now_ms > b->last_ms) {
        b->tokens += (double)(now_ms - b->last_ms) * rate / 1000.0;
        if (b->tokens > burst) b->tokens = burst;
    }
    b->last_ms = now_ms > b->last_ms ? now_ms : b->last_ms;
    if (b->tokens < 1.0) return 0;
    b->tokens -= 1.0;
    return 1;
}

/* KEYS buckets, in order; ARGV rate per s, burst, now ms -> per key 0 taken, or ms until
 * its next token (never 0). */
static const char TAKE_MANY_SCRIPT[] =
    "local rate, burst, now0 = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]) "
    "local ttl = math.ceil(burst * 1000 / rate) + 1000 "
    "local out = {} "
    "for i, k in ipairs(KEYS) do "
    "  local b = redis.call('HMGET', k, 't', 'ts') "
    "  local now = now0 "
    "  local t, ts = tonumber(b[1]) or burst, tonumber(b[2]) or now "
    "  if now > ts then t = math.min(burst, t + (now - ts) * rate / 1000) else now = ts end "
    "  local wait = 0 "
    "  if t >= 1 then t = t - 1 else wait = math.max(1, math.ceil((1 - t) * 1000 / rate)) end "
    "  redis.call('HSET', k, 't', tostring(t), 'ts', now) "
    "  redis.call('PEXPIRE', k, ttl) "
    "  out[i] = wait "
    "end "
    "return out";

#define LOCAL_SLOTS 4096

static pthread_mutex_t local_mu = PTHREAD_MUTEX_INITIALIZER;
static im_bucket_t local[LOCAL_SLOTS];   /* the stand-ins while Redis cannot answer */

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;   /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void take_local(const char *const *keys, size_t n, double rate, double burst, int64_t now_ms,
                       int64_t *retry_ms)
{
    pthread_mutex_lock(&local_mu);
    for (size_t i = 0; i < n; i++) {
        im_bucket_t *b = &local[hash(keys[i]) % LOCAL_SLOTS];
        retry_ms[i] = im_bucket_take(b, rate, burst, now_ms) ? 0 : (int64_t)((1.0 - b->tokens) * 1000.0 / rate) + 1;
    }
    pthread_mutex_unlock(&local_mu);
}

/* 1 if rep is the script's answer for n keys: n integers, none negative. */
static int reply_ok(const redisReply *rep, size_t n)
{
    if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (rep->element[i]->type != REDIS_REPLY_INTEGER || rep->element[i]->integer < 0) return 0;
    return 1;
}

/* EVAL of the script over keys; the reply or NULL (no connection, an error reply). */
static redisReply *eval_many(im_redis_pool_t *redis, const char *const *keys, size_t n, double rate, double burst,
                             int64_t now_ms)
{
    char nkeys[24], r[32], b[32], now[32];
    snprintf(nkeys, sizeof nkeys, "%zu", n);
    snprintf(r, sizeof r, "%.6f", rate);
    snprintf(b, sizeof b, "%.3f", burst);
    snprintf(now, sizeof now, "%lld", (long long)now_ms);
    size_t argc = n + 6;
    const char **argv = im_malloc(argc * sizeof *argv);
    argv[0] = "EVAL";
    argv[1] = TAKE_MANY_SCRIPT;
    argv[2] = nkeys;
    for (size_t i = 0; i < n; i++) argv[3 + i] = keys[i];
    argv[n + 3] = r;
    argv[n + 4] = b;
    argv[n + 5] = now;
    redisReply *rep = im_redis_cmdargv(redis, (int)argc, argv, NULL);   /* NULL also for an error reply */
    im_free(argv);
    return rep;
}

int im_rlimit_take_many(im_redis_pool_t *redis, const char *const *keys, size_t n, double rate, double burst,
                        int64_t now_ms, int64_t *retry_ms)
{
    if (n == 0) return IM_OK;
    redisReply *rep = redis ? eval_many(redis, keys, n, rate, burst, now_ms) : NULL;
    int ok = reply_ok(rep, n);
    for (size_t i = 0; ok && i < n; i++) retry_ms[i] = rep->element[i]->integer;
    if (rep) freeReplyObject(rep);
    if (ok) return IM_OK;
    if (redis)   /* keys hold client bytes: not logged */
        IM_LOG_RATELIMITED(5, IM_LOG_WARN, "rlimit.local", "keys=%zu reason=\"redis did not answer\"", n);
    take_local(keys, n, rate, burst, now_ms, retry_ms);
    return IM_EUNAVAIL;
}
