/* etcd.h — etcd v3 through its JSON gateway (libcurl + jansson): keys, leases, a
 * session lease that keeps this process's keys alive, and prefix watches.
 *
 * Keys cim uses (and only these): */
#ifndef IM_ETCD_H
#define IM_ETCD_H

#include <stddef.h>
#include <stdint.h>

#include "im/snowflake.h"

#define IM_ETCD_SERVICES_PREFIX "/im/services/"   /* /im/services/{service}/{instance} = JSON */
#define IM_ETCD_CONFIG_PREFIX "/im/config/"       /* /im/config/{key} = value, watched */
#define IM_ETCD_SNOWFLAKE_PREFIX "/im/snowflake/" /* /im/snowflake/{worker_id} = instance */

typedef struct im_etcd_s im_etcd_t;
typedef struct {
    char *key;
    char *value;
    int64_t mod_revision;
} im_etcd_kv_t;

/* endpoints: "http://host:port[,http://...]"; a failed endpoint makes the next one current. */
im_etcd_t *im_etcd_new(const char *endpoints);
void im_etcd_free(im_etcd_t *e);   /* stops the keepalive thread, revokes the session lease; NULL ok */

int im_etcd_put(im_etcd_t *e, const char *key, const char *value, int64_t lease);
int im_etcd_get(im_etcd_t *e, const char *key, char **value);   /* IM_ENOTFOUND; im_free(*value) */
int im_etcd_get_prefix(im_etcd_t *e, const char *prefix, im_etcd_kv_t **kvs, size_t *n);
void im_etcd_kvs_free(im_etcd_kv_t *kvs, size_t n);
int im_etcd_delete(im_etcd_t *e, const char *key);
/* Put-if-absent (a txn on create_revision == 0): IM_EEXISTS if the key exists. */
int im_etcd_create(im_etcd_t *e, const char *key, const char *value, int64_t lease);

int im_etcd_lease_grant(im_etcd_t *e, int ttl_s, int64_t *lease);
int im_etcd_lease_keepalive(im_etcd_t *e, int64_t lease, int *ttl_left);   /* IM_ENOTFOUND if gone */
int im_etcd_lease_revoke(im_etcd_t *e, int64_t lease);

/* The session: one lease of ttl_s per im_etcd_t, refreshed every ttl_s/3 by a thread.
 * Keys put through it die with the process. If the lease is lost (etcd restarted, a long
 * pause) a new one is granted and every session key put again. */
/* /im/services/{service}/{instance} = value_json */
int im_etcd_register(im_etcd_t *e, const char *service, const char *instance,
                     const char *value_json, int ttl_s);
void im_etcd_deregister(im_etcd_t *e);   /* deletes the session keys, revokes the lease; idempotent */
/* Claims the first free /im/snowflake/{id}, id in 0..1023, for sf (initialized by the
 * caller; it must outlive the session). The session keeps sf's hold current: two thirds of
 * a TTL past each keepalive sent (the lease outlives that); a lost lease whose id another
 * instance took meanwhile claims a free one (etcd.worker_changed). While etcd cannot be
 * reached at all the hold is extended as well: nobody can claim the id then (the risk left
 * is a partition that cuts this process alone from a working etcd). */
int im_etcd_snowflake_worker(im_etcd_t *e, const char *instance, int ttl_s, im_snowflake_t *sf);

/* Watch a prefix: cb gets the FULL set under it, first at once, then after every change
 * (put, delete, lease expiry), on the watch's own thread. Reconnects by itself. */
typedef void (*im_etcd_watch_fn)(void *ud, const im_etcd_kv_t *kvs, size_t n);
typedef struct im_etcd_watch_s im_etcd_watch_t;
im_etcd_watch_t *im_etcd_watch_prefix(im_etcd_t *e, const char *prefix, im_etcd_watch_fn cb, void *ud);
void im_etcd_watch_free(im_etcd_watch_t *w);   /* stops and joins the thread; NULL ok */

#endif
