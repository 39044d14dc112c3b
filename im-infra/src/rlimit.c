/* rlimit.c — im_rlimit_take (im/ratelimit.h): a token bucket in Redis shared by every
 * process, with a local stand-in while Redis cannot answer. The bucket is a HASH
 * {t: tokens, ts: ms of t} expiring once it would be full again. */
#include "im/err.h"
#include "im/log.h"
#include "im/ratelimit.h"
#include "im/redis.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* KEYS[1] bucket; ARGV rate per s, burst, now ms -> {1, 0} taken, {0, ms until a token}. */
static const char TAKE_SCRIPT[] =
    "local b = redis.call('HMGET', KEYS[1], 't', 'ts') "
    "local rate, burst, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]) "
    "local t, ts = tonumber(b[1]) or burst, tonumber(b[2]) or now "
    "if now > ts then t = math.min(burst, t + (now - ts) * rate / 1000) else now = ts end "
    "local ok, wait = 0, 0 "
    "if t >= 1 then t = t - 1 ok = 1 else wait = math.ceil((1 - t) * 1000 / rate) end "
    "redis.call('HSET', KEYS[1], 't', tostring(t), 'ts', now) "
    "redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000) "
    "return {ok, wait}";

#define LOCAL_SLOTS 4096

static pthread_mutex_t local_mu = PTHREAD_MUTEX_INITIALIZER;
static im_bucket_t local[LOCAL_SLOTS];

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;   /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int take_local(const char *key, double rate, double burst, int64_t now_ms, int64_t *retry_ms)
{
    pthread_mutex_lock(&local_mu);
    im_bucket_t *b = &local[hash(key) % LOCAL_SLOTS];
    int ok = im_bucket_take(b, rate, burst, now_ms);
    double missing = 1.0 - b->tokens;
    pthread_mutex_unlock(&local_mu);
    *retry_ms = ok ? 0 : (int64_t)(missing * 1000.0 / rate) + 1;
    return ok ? IM_OK : IM_ERATELIMIT;
}

int im_rlimit_take(im_redis_pool_t *redis, const char *key, double rate, double burst, int64_t now_ms,
                   int64_t *retry_ms)
{
    char r[32], b[32], n[32];
    snprintf(r, sizeof r, "%.6f", rate);
    snprintf(b, sizeof b, "%.3f", burst);
    snprintf(n, sizeof n, "%lld", (long long)now_ms);
    redisReply *rep = im_redis_cmd(redis, "EVAL %s 1 %s %s %s %s", TAKE_SCRIPT, key, r, b, n);
    int ok = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
             rep->element[0]->type == REDIS_REPLY_INTEGER && rep->element[1]->type == REDIS_REPLY_INTEGER;
    if (!ok) {
        if (rep) freeReplyObject(rep);
        IM_LOG_RATELIMITED(5, IM_LOG_WARN, "rlimit.local", "reason=\"redis did not answer\"");   /* keys hold client bytes */
        return take_local(key, rate, burst, now_ms, retry_ms);
    }
    int taken = rep->element[0]->integer == 1;
    *retry_ms = taken ? 0 : rep->element[1]->integer;
    freeReplyObject(rep);
    return taken ? IM_OK : IM_ERATELIMIT;
}
