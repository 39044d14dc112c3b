/* session.c — [R]: user_session:{uid} in Redis, one field per connection
 * (conn_id -> gateway_id), written off the service thread. Posts are applied in order
 * and pipelined; stopping drains the queue so every HSET gets its HDEL. */
#include "gateway.h"
#include "im/log.h"
#include "im/names.h"

static void *session_main(void *arg)
{
    gw_t *g = arg;
    im_log_set_thread("session");
    for (;;) {
        pthread_mutex_lock(&g->sess_lock);
        while (g->sess_head == NULL && !g->sess_stop) pthread_cond_wait(&g->sess_cond, &g->sess_lock);
        gw_sess_t *list = g->sess_head;
        g->sess_head = g->sess_tail = NULL;
        pthread_mutex_unlock(&g->sess_lock);
        if (list == NULL) return NULL;   /* stopping and drained */

        redisContext *c = im_redis_acquire(g->redis);
        size_t asked = 0;
        for (gw_sess_t *s = list; s && c; s = s->next, asked++) {
            if (s->open)
                redisAppendCommand(c, "HSET " IM_KEY_USER_SESSION " %llx %s", (unsigned long long)s->user_id,
                                   (unsigned long long)s->conn_id, g->gateway_id);
            else
                redisAppendCommand(c, "HDEL " IM_KEY_USER_SESSION " %llx", (unsigned long long)s->user_id,
                                   (unsigned long long)s->conn_id);
        }
        int broken = c == NULL;
        for (size_t i = 0; i < asked && !broken; i++) {
            redisReply *r = NULL;
            if (redisGetReply(c, (void **)&r) != REDIS_OK) broken = 1;
            else freeReplyObject(r);
        }
        if (c) im_redis_release(g->redis, c, broken);
        if (broken) IM_LOG_RATELIMITED(5, IM_LOG_WARN, "session.redis_failed", "ops=%zu", asked);
        for (gw_sess_t *s = list, *n; s; s = n) {
            n = s->next;
            im_free(s);
        }
    }
}

int gw_session_start(gw_t *g)
{
    pthread_mutex_init(&g->sess_lock, NULL);
    pthread_cond_init(&g->sess_cond, NULL);
    g->redis = im_redis_pool_new(g->cfg.redis_host, g->cfg.redis_port, 1, 2000);
    pthread_create(&g->sess_thread, NULL, session_main, g);
    return IM_OK;
}

void gw_session_stop(gw_t *g)
{
    pthread_mutex_lock(&g->sess_lock);
    g->sess_stop = 1;
    pthread_cond_broadcast(&g->sess_cond);
    pthread_mutex_unlock(&g->sess_lock);
    pthread_join(g->sess_thread, NULL);
    im_redis_pool_free(g->redis);
}

void gw_session_post(gw_t *g, int open, uint64_t user_id, uint64_t conn_id)
{
    gw_sess_t *s = im_malloc(sizeof *s);
    s->next = NULL;
    s->open = open;
    s->user_id = user_id;
    s->conn_id = conn_id;
    pthread_mutex_lock(&g->sess_lock);
    if (g->sess_tail) g->sess_tail->next = s;
    else g->sess_head = s;
    g->sess_tail = s;
    pthread_cond_signal(&g->sess_cond);
    pthread_mutex_unlock(&g->sess_lock);
}
