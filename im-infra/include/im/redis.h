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
 * connection is reset so the next call reconnects) and on an error reply (logged). */
redisReply *im_redis_cmd(im_redis_pool_t *p, const char *fmt, ...);
redisReply *im_redis_cmdargv(im_redis_pool_t *p, int argc, const char **argv, const size_t *argvlen);

/* Pipelines and scripts on one connection: acquire, redisAppendCommand + redisGetReply,
 * release (broken = 1 if any call on it failed). acquire returns NULL if it cannot connect. */
redisContext *im_redis_acquire(im_redis_pool_t *p);
void im_redis_release(im_redis_pool_t *p, redisContext *c, int broken);

/* The next reply of a pipeline, checked: IM_OK and *r (the caller frees it); IM_EIO if the
 * connection failed (*r NULL: release it as broken, read no more); IM_EPROTO if Redis
 * answered an error (logged with `what`, rate-limited; *r NULL; the connection is fine and
 * the next reply can be read). Every pipeline reader in cim goes through this. */
int im_redis_reply(redisContext *c, redisReply **r, const char *what);

#endif
