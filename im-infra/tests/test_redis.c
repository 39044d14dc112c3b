/* test_redis.c — the Redis pool against a real redis-server: commands, pipelines,
 * concurrent use, and recovery after the server restarts. */
#include "im/err.h"
#include "im/log.h"
#include "im/metrics.h"
#include "im/redis.h"
#include "im_test.h"
#include "im_test_server.h"

#include <pthread.h>

static pid_t start_redis(int port, const char *dir)
{
    char p[16], log[128];
    snprintf(p, sizeof p, "%d", port);
    snprintf(log, sizeof log, "%s/redis.log", dir);
    char *argv[] = {"redis-server", "--port", p, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                    "--dir", (char *)dir, NULL};
    return im_test_spawn(argv, log, port, 10);
}

static void *incr_500(void *arg)
{
    for (int i = 0; i < 500; i++) {
        redisReply *r = im_redis_cmd(arg, "INCR counter");
        if (r) freeReplyObject(r);
    }
    return NULL;
}

int main(void)
{
    im_log_init("test", IM_LOG_ERROR);
    char *dir = im_test_tmpdir();
    int port = im_test_free_port();
    pid_t pid = start_redis(port, dir);
    CHECK(pid > 0);
    im_redis_pool_t *p = im_redis_pool_new("127.0.0.1", port, 4, 1000);

    redisReply *r = im_redis_cmd(p, "SET %s %b", "k", "v\0w", (size_t)3);
    CHECK(r && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
    r = im_redis_cmd(p, "GET k");
    CHECK(r && r->type == REDIS_REPLY_STRING && r->len == 3 && memcmp(r->str, "v\0w", 3) == 0);
    freeReplyObject(r);

    redisContext *c = im_redis_acquire(p);   /* a pipeline on one connection */
    CHECK(c != NULL);
    for (int i = 0; i < 10; i++) redisAppendCommand(c, "RPUSH list %d", i);
    long long last = 0;
    for (int i = 0; i < 10; i++) {
        redisGetReply(c, (void **)&r);
        last = r->integer;
        freeReplyObject(r);
    }
    im_redis_release(p, c, 0);
    CHECK_INT(last, 10);

    /* an error reply inside a pipeline is reported, and the replies after it still line up */
    c = im_redis_acquire(p);
    redisAppendCommand(c, "SET errk %d %d", 1, 2);   /* two values: a syntax error */
    redisAppendCommand(c, "GET k");
    CHECK_INT(im_redis_reply(c, &r, "test.set"), IM_EPROTO);
    CHECK(r == NULL);
    CHECK_INT(im_redis_reply(c, &r, "test.get"), IM_OK);
    CHECK(r && r->type == REDIS_REPLY_STRING && r->len == 3);
    freeReplyObject(r);
    im_redis_release(p, c, 0);
    CHECK(im_redis_cmd(p, "SET errk %d %d", 1, 2) == NULL);   /* one command: error -> NULL */
    /* timed: SET, GET, two pipelined replies read by im_redis_reply, the failed SET */
    CHECK_INT(im_metric_get(im_metric_find_l("cim_redis_seconds", NULL)), 5);
    CHECK_INT(im_metric_get(im_metric_find_l("cim_redis_errors_total", NULL)), 2);

    pthread_t th[8];   /* 8 threads share a pool of 4 */
    for (int i = 0; i < 8; i++) pthread_create(&th[i], NULL, incr_500, p);
    for (int i = 0; i < 8; i++) pthread_join(th[i], NULL);
    r = im_redis_cmd(p, "GET counter");
    CHECK(r && strcmp(r->str, "4000") == 0);
    freeReplyObject(r);

    im_test_kill(pid);                       /* restart: pooled connections are now dead */
    pid = start_redis(port, dir);
    int ok = 0;
    for (int i = 0; i < 10 && !ok; i++) {    /* broken connections are dropped and redialled */
        r = im_redis_cmd(p, "PING");
        ok = r && r->type == REDIS_REPLY_STATUS;
        if (r) freeReplyObject(r);
    }
    CHECK(ok);

    im_redis_pool_free(p);
    im_test_kill(pid);
    im_test_rmdir(dir);
    IM_TEST_DONE();
}
