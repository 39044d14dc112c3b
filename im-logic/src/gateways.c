/* gateways.c — which gateways are alive, from their registrations in etcd.
 *
 * A gateway killed without a clean stop leaves its connections in user_session:{uid};
 * they point at a topic nobody reads. Push skips gateways that are not registered, so a
 * user whose only sessions are on a dead gateway counts as offline (and gets an offline
 * push). Until the first snapshot arrives every gateway counts as alive. */
#include "im/log.h"
#include "logic.h"

#include <string.h>

/* @locality: the etcd watch thread */
static void on_change(void *ud, const im_etcd_kv_t *kvs, size_t n)
{
    logic_t *l = ud;
    size_t plen = strlen(IM_ETCD_SERVICES_PREFIX "im-gateway/");
    char **live = im_calloc(n ? n : 1, sizeof *live);
    for (size_t i = 0; i < n; i++) live[i] = im_strdup(kvs[i].key + plen);
    pthread_mutex_lock(&l->gw_lock);
    char **old = l->gw_live;
    size_t nold = l->gw_nlive;
    l->gw_live = live;
    l->gw_nlive = n;
    l->gw_known = 1;
    pthread_mutex_unlock(&l->gw_lock);
    for (size_t i = 0; i < nold; i++) im_free(old[i]);
    im_free(old);
    im_info("gateways.live", "count=%zu", n);
}

void logic_gateways_start(logic_t *l)
{
    pthread_mutex_init(&l->gw_lock, NULL);
    l->gw_watch = im_etcd_watch_prefix(l->daemon.etcd, IM_ETCD_SERVICES_PREFIX "im-gateway/", on_change, l);
}

void logic_gateways_stop(logic_t *l)
{
    im_etcd_watch_free(l->gw_watch);
    l->gw_watch = NULL;
    for (size_t i = 0; i < l->gw_nlive; i++) im_free(l->gw_live[i]);
    im_free(l->gw_live);
    l->gw_live = NULL;
    l->gw_nlive = 0;
}

int logic_gateway_alive(logic_t *l, const char *gateway_id)
{
    pthread_mutex_lock(&l->gw_lock);
    int alive = !l->gw_known;
    for (size_t i = 0; !alive && i < l->gw_nlive; i++) alive = strcmp(l->gw_live[i], gateway_id) == 0;
    pthread_mutex_unlock(&l->gw_lock);
    return alive;
}
