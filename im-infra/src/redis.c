/* redis.c — the pool: `size` slots, each NULL or a live context; a free-slot stack
 * guarded by one mutex; callers wait on a condition when every slot is in use.
 *
 * Every command and every pipelined reply read is timed into cim_redis_seconds (the wait
 * for a free slot not included); no reply or an error reply counts in
 * cim_redis_errors_total. */
#include "im/redis.h"
#include "im/clock.h"
#include "im/err.h"
#include "im/log.h"
#include "im/metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <string.h>

struct im_redis_pool_s {
    char *host;
    int port;
    struct timeval timeout;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    redisContext **free_ctx;  /* stack of idle slots; NULL entries mean "connect on use" */
    int nfree;
    int size;
};

static im_metric_t *g_seconds, *g_errors;   /* set once by register_metrics */
static pthread_once_t g_metrics_once = PTHREAD_ONCE_INIT;

static void register_metrics(void)
{
    g_seconds = im_metric_new(IM_METRIC_HISTOGRAM, "cim_redis_seconds",
                              "Redis round trips (a command or a pipelined reply)");
    g_errors = im_metric_new(IM_METRIC_COUNTER, "cim_redis_errors_total",
                             "Redis commands without a reply or with an error reply");
}

im_redis_pool_t *im_redis_pool_new(const char *host, int port, int size, int timeout_ms)
{
    pthread_once(&g_metrics_once, register_metrics);
    im_redis_pool_t *p = im_calloc(1, sizeof *p);
    p->host = im_strdup(host);
    p->port = port;
    p->timeout.tv_sec = timeout_ms / 1000;
    p->timeout.tv_usec = (timeout_ms % 1000) * 1000;
    p->size = size > 0 ? size : 1;
    p->free_ctx = im_calloc((size_t)p->size, sizeof *p->free_ctx);
    p->nfree = p->size;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    return p;
}

void im_redis_pool_free(im_redis_pool_t *p)
{
    if (p == NULL) return;
    for (int i = 0; i < p->nfree; i++)
        if (p->free_ctx[i]) redisFree(p->free_ctx[i]);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    im_free(p->free_ctx);
    im_free(p->host);
    im_free(p);
}

redisContext *im_redis_acquire(im_redis_pool_t *p)
{
    pthread_mutex_lock(&p->lock);
    while (p->nfree == 0) pthread_cond_wait(&p->cond, &p->lock);
    redisContext *c = p->free_ctx[--p->nfree];
    pthread_mutex_unlock(&p->lock);
    if (c == NULL) {
        c = redisConnectWithTimeout(p->host, p->port, p->timeout);
        if (c == NULL || c->err) {
            IM_LOG_RATELIMITED(5, IM_LOG_WARN, "redis.connect_failed", "host=%s port=%d err=\"%s\"",
                               p->host, p->port, c ? c->errstr : "alloc");
            if (c) redisFree(c);
            im_redis_release(p, NULL, 0);
            return NULL;
        }
        redisSetTimeout(c, p->timeout);
    }
    return c;
}

void im_redis_release(im_redis_pool_t *p, redisContext *c, int broken)
{
    if (c && (broken || c->err)) {
        redisFree(c);
        c = NULL;
    }
    pthread_mutex_lock(&p->lock);
    p->free_ctx[p->nfree++] = c;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

int im_redis_reply(redisContext *c, redisReply **r, const char *what)
{
    redisReply *rep = NULL;
    *r = NULL;
    pthread_once(&g_metrics_once, register_metrics);   /* c may come from outside a pool */
    int64_t t0 = im_clock_mono_us();
    int got = redisGetReply(c, (void **)&rep);
    im_metric_observe_us(g_seconds, im_clock_mono_us() - t0);
    if (got != REDIS_OK || rep == NULL || rep->type == REDIS_REPLY_ERROR) im_metric_add(g_errors, 1);
    if (got != REDIS_OK || rep == NULL) {
        IM_LOG_RATELIMITED(5, IM_LOG_WARN, "redis.command_failed", "what=%s err=\"%s\"", what, c->errstr);
        return IM_EIO;
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        IM_LOG_RATELIMITED(5, IM_LOG_WARN, "redis.error_reply", "what=%s err=\"%.*s\"", what,
                           (int)rep->len, rep->str);
        freeReplyObject(rep);
        return IM_EPROTO;
    }
    *r = rep;
    return IM_OK;
}

/* Releases c after a command that started at t0 (monotonic µs); r or NULL. */
static redisReply *finish(im_redis_pool_t *p, redisContext *c, redisReply *r, int64_t t0)
{
    im_metric_observe_us(g_seconds, im_clock_mono_us() - t0);
    if (r == NULL || r->type == REDIS_REPLY_ERROR) im_metric_add(g_errors, 1);
    if (r == NULL) {
        IM_LOG_RATELIMITED(5, IM_LOG_WARN, "redis.command_failed", "err=\"%s\"", c->errstr);
    } else if (r->type == REDIS_REPLY_ERROR) {
        IM_LOG_RATELIMITED(5, IM_LOG_WARN, "redis.error_reply", "err=\"%.*s\"", (int)r->len, r->str);
        freeReplyObject(r);
        im_redis_release(p, c, 0);
        return NULL;
    }
    im_redis_release(p, c, r == NULL);
    return r;
}

redisReply *im_redis_cmd(im_redis_pool_t *p, const char *fmt, ...)
{
    redisContext *c = im_redis_acquire(p);
    if (c == NULL) return NULL;
    int64_t t0 = im_clock_mono_us();
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    return finish(p, c, r, t0);
}

redisReply *im_redis_cmdargv(im_redis_pool_t *p, int argc, const char **argv, const size_t *argvlen)
{
    redisContext *c = im_redis_acquire(p);
    if (c == NULL) return NULL;
    int64_t t0 = im_clock_mono_us();
    return finish(p, c, redisCommandArgv(c, argc, argv, argvlen), t0);
}
