/* etcd_session.c — the session lease and the keys that live on it (registration,
 * snowflake worker id), kept alive by one `etcd-ka` thread. */
#include "etcd_internal.h"
#include "im/clock.h"
#include "im/err.h"
#include "im/log.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

/* Claims the first free /im/snowflake/{id} under e->lease into *key (im_free). */
static int claim_worker(im_etcd_t *e, const char *instance, int *id, char **key)
{
    for (int i = 0; i < 1024; i++) {
        char k[64];
        snprintf(k, sizeof k, "%s%d", IM_ETCD_SNOWFLAKE_PREFIX, i);
        int rc = im_etcd_create(e, k, instance, e->lease);
        if (rc == IM_OK) {
            *id = i;
            *key = im_strdup(k);
            return IM_OK;
        }
        if (rc != IM_EEXISTS) return rc;
    }
    return IM_EUNAVAIL;
}

/* sf's ids are good until two thirds of a TTL after sent_ms (when the lease was last
 * refreshed from). @locks e->lock held */
static void hold_worker(im_etcd_t *e, int64_t sent_ms)
{
    if (e->sf) im_snowflake_hold(e->sf, e->sf_id, sent_ms + e->ttl_s * 2000 / 3);
}

/* Puts every session key under e->lease. The worker id's key, taken by another instance
 * while the lease was lost, is given up for a free one. @locks e->lock held */
static int put_keys(im_etcd_t *e)
{
    for (session_key_t *k = e->keys; k; k = k->next) {
        int rc = k->create_only ? im_etcd_create(e, k->key, k->value, e->lease)
                                : im_etcd_put(e, k->key, k->value, e->lease);
        if (rc == IM_EEXISTS && k == e->sf_key) {
            int old = e->sf_id;
            char *key;
            if ((rc = claim_worker(e, k->value, &e->sf_id, &key)) != IM_OK) return rc;
            im_free(k->key);
            k->key = key;
            im_warn("etcd.worker_changed", "old=%d new=%d", old, e->sf_id);
        } else if (rc == IM_EEXISTS) {
            im_error("etcd.key_taken", "key=%s", k->key);
        } else if (rc != IM_OK) {
            return rc;
        }
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
        int64_t sent = im_clock_mono_ms();
        int rc = im_etcd_lease_keepalive(e, e->lease, NULL);
        if (rc == IM_ENOTFOUND) {   /* lost: a new lease, every key again */
            im_warn("etcd.lease_lost", "lease=%lld", (long long)e->lease);
            sent = im_clock_mono_ms();
            if (im_etcd_lease_grant(e, e->ttl_s, &e->lease) == IM_OK && put_keys(e) == IM_OK) {
                im_info("etcd.lease_renewed", "lease=%lld", (long long)e->lease);
                hold_worker(e, sent);
            }
        } else {                    /* refreshed, or etcd unreachable (nobody can claim it) */
            hold_worker(e, sent);
        }
    }
    pthread_mutex_unlock(&e->lock);
    return NULL;
}

/* Grants the session lease if there is none yet. @locks e->lock held */
static int need_lease(im_etcd_t *e, int ttl_s)
{
    if (e->lease) return IM_OK;
    e->ttl_s = ttl_s;
    return im_etcd_lease_grant(e, ttl_s, &e->lease);
}

/* Keeps a key just put under the lease (key is taken) and starts the keepalive thread
 * if needed. @locks e->lock held */
static session_key_t *remember(im_etcd_t *e, char *key, const char *value, int create_only)
{
    session_key_t *k = im_calloc(1, sizeof *k);
    k->key = key;
    k->value = im_strdup(value);
    k->create_only = create_only;
    k->next = e->keys;
    e->keys = k;
    if (!e->keepalive_running) {
        e->stopping = 0;
        e->keepalive_running = 1;
        pthread_create(&e->keepalive, NULL, keepalive_main, e);
    }
    return k;
}

int im_etcd_register(im_etcd_t *e, const char *service, const char *instance,
                     const char *value_json, int ttl_s)
{
    char key[256];
    snprintf(key, sizeof key, "%s%s/%s", IM_ETCD_SERVICES_PREFIX, service, instance);
    pthread_mutex_lock(&e->lock);
    int rc = need_lease(e, ttl_s);
    if (rc == IM_OK) rc = im_etcd_put(e, key, value_json, e->lease);
    if (rc == IM_OK) remember(e, im_strdup(key), value_json, 0);
    pthread_mutex_unlock(&e->lock);
    return rc;
}

int im_etcd_snowflake_worker(im_etcd_t *e, const char *instance, int ttl_s, im_snowflake_t *sf)
{
    pthread_mutex_lock(&e->lock);
    int64_t sent = im_clock_mono_ms();
    char *key;
    int rc = need_lease(e, ttl_s);
    if (rc == IM_OK) rc = claim_worker(e, instance, &e->sf_id, &key);
    if (rc == IM_OK) {
        e->sf_key = remember(e, key, instance, 1);
        e->sf = sf;
        hold_worker(e, sent);
    }
    pthread_mutex_unlock(&e->lock);
    return rc;
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
    e->sf_key = NULL;
    e->sf = NULL;
    if (e->lease) im_etcd_lease_revoke(e, e->lease);
    e->lease = 0;
}
