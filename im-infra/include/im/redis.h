/* redis.h — a small thread-safe pool of synchronous hiredis connections.
 *
 * A connection that broke is reset and reconnected on its next use, so a Redis restart
 * costs the calls in flight, not the process. Replies are hiredis's: free them with
 * freeReplyObject. */
#ifndef IM_REDIS_H
#define IM_REDIS_H

#include <hiredis/hiredis.h>

typedef struct im_redis_pool_s im_redis_pool_t;

im_redis_pool_t *im_redis_pool_new(const char *host, int port, int size, int timeout_ms);
void im_redis_pool_free(im_redis_pool_t *p);   /* NULL ok */

/* One command on any free connection; NULL on a connection error (logged, the
 * connection is reset so the next call reconnects). */
redisReply *im_redis_cmd(im_redis_pool_t *p, const char *fmt, ...);
redisReply *im_redis_cmdargv(im_redis_pool_t *p, int argc, const char **argv, const size_t *argvlen);

/* Pipelines and scripts on one connection: acquire, redisAppendCommand + redisGetReply,
 * release (broken = 1 if any call on it failed). acquire returns NULL if it cannot connect. */
redisContext *im_redis_acquire(im_redis_pool_t *p);
void im_redis_release(im_redis_pool_t *p, redisContext *c, int broken);

#endif
