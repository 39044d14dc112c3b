/* etcd_session.c — the session lease and the keys that live on it (registration,
 * snowflake worker id), kept alive by one `etcd-ka` thread. */
#include "etcd_internal.h"
#include "im/err.h"
#include "im/log.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

/* Puts every session key under e->lease. @locks e->lock held */
static int put_keys(im_etcd_t *e)
{
    for (session_key_t *k = e->keys; k; k = k->next) {
        int rc = k->create_only ? im_etcd_create(e, k->key, k->value, e->lease)
                                : im_etcd_put(e, k->key, k->value, e->lease);
        if (rc == IM_EEXISTS) im_error("etcd.key_taken", "key=%s", k->key);
        else if (rc != IM_OK) return rc;
    }
    return IM_OK;
}

static void *keepalive_main(void *arg)
{
    im_etcd_t *e = arg;
    im_log_set_thread("etcd-ka");
    pthread_mutex_lock(&e->lock);
    while (!e->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        long step_ms = e->ttl_s * 1000 / 3;
        until.tv_sec += step_ms / 1000;
        until.tv_nsec += (step_ms % 1000) * 1000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        while (!e->stopping && pthread_cond_timedwait(&e->cond, &e->lock, &until) != ETIMEDOUT) {}
        if (e->stopping) break;
        int rc = im_etcd_lease_keepalive(e, e->lease, NULL);
        if (rc == IM_ENOTFOUND) {   /* lost: a new lease, every key again */
            im_warn("etcd.lease_lost", "lease=%lld", (long long)e->lease);
            if (im_etcd_lease_grant(e, e->ttl_s, &e->lease) == IM_OK && put_keys(e) == IM_OK)
                im_info("etcd.lease_renewed", "lease=%lld", (long long)e->lease);
        }
    }
    pthread_mutex_unlock(&e->lock);
    return NULL;
}

/* Adds a key to the session (granting the lease and starting the thread first if needed). */
static int session_put(im_etcd_t *e, const char *key, const char *value, int create_only, int ttl_s)
{
    pthread_mutex_lock(&e->lock);
    int rc = IM_OK;
    if (e->lease == 0) {
        e->ttl_s = ttl_s;
        rc = im_etcd_lease_grant(e, ttl_s, &e->lease);
    }
    if (rc == IM_OK)
        rc = create_only ? im_etcd_create(e, key, value, e->lease) : im_etcd_put(e, key, value, e->lease);
    if (rc == IM_OK) {
        session_key_t *k = im_calloc(1, sizeof *k);
        k->key = im_strdup(key);
        k->value = im_strdup(value);
        k->create_only = create_only;
        k->next = e->keys;
        e->keys = k;
        if (!e->keepalive_running) {
            e->stopping = 0;
            e->keepalive_running = 1;
            pthread_create(&e->keepalive, NULL, keepalive_main, e);
        }
    }
    pthread_mutex_unlock(&e->lock);
    return rc;
}

int im_etcd_register(im_etcd_t *e, const char *service, const char *instance,
                     const char *value_json, int ttl_s)
{
    char key[256];
    snprintf(key, sizeof key, "%s%s/%s", IM_ETCD_SERVICES_PREFIX, service, instance);
    return session_put(e, key, value_json, 0, ttl_s);
}

int im_etcd_snowflake_worker(im_etcd_t *e, const char *instance, int ttl_s, int *worker_id)
{
    for (int id = 0; id < 1024; id++) {
        char key[64];
        snprintf(key, sizeof key, "%s%d", IM_ETCD_SNOWFLAKE_PREFIX, id);
        int rc = session_put(e, key, instance, 1, ttl_s);
        if (rc == IM_OK) {
            *worker_id = id;
            return IM_OK;
        }
        if (rc != IM_EEXISTS) return rc;
    }
    return IM_EUNAVAIL;
}

void im_etcd_deregister(im_etcd_t *e)
{
    pthread_mutex_lock(&e->lock);
    int running = e->keepalive_running;
    e->stopping = 1;
    e->keepalive_running = 0;
    pthread_cond_broadcast(&e->cond);
    pthread_mutex_unlock(&e->lock);
    if (running) pthread_join(e->keepalive, NULL);

    for (session_key_t *k = e->keys, *n; k; k = n) {
        n = k->next;
        im_etcd_delete(e, k->key);   /* gone now, not after the lease's TTL */
        im_free(k->key);
        im_free(k->value);
        im_free(k);
    }
    e->keys = NULL;
    if (e->lease) im_etcd_lease_revoke(e, e->lease);
    e->lease = 0;
}
