/* etcd_internal.h — what etcd.c shares with etcd_session.c and etcd_watch.c. */
#ifndef IM_ETCD_INTERNAL_H
#define IM_ETCD_INTERNAL_H

#include <jansson.h>
#include <pthread.h>

#include "im/etcd.h"

typedef struct session_key_s {
    struct session_key_s *next;
    char *key, *value;
    int create_only;          /* snowflake ids: put-if-absent when re-put */
} session_key_t;

struct im_etcd_s {
    char **endpoints;
    int nendpoints;
    int current;              /* index of the endpoint that answered last (atomic) */
    pthread_mutex_t lock;     /* guards the session below */
    pthread_cond_t cond;
    int64_t lease;            /* session lease, 0 = none */
    int ttl_s;
    session_key_t *keys;      /* put under the session lease */
    session_key_t *sf_key;    /* the snowflake worker id's key, one of keys, or NULL */
    im_snowflake_t *sf;       /* its ids (not owned) */
    int sf_id;
    pthread_t keepalive;
    int keepalive_running;
    int stopping;
};

/* POST body to {endpoint}/v3{path}; the parsed reply or NULL (logged). */
json_t *etcd_post(im_etcd_t *e, const char *path, json_t *body, int timeout_ms);
char *etcd_b64(const char *s);                      /* im_free */
char *etcd_unb64(const char *s);                    /* NULL if s is not base64; im_free */
char *etcd_range_end(const char *prefix);           /* prefix with its last byte + 1 */
int64_t etcd_int(json_t *o, const char *field);     /* int64 fields come back as strings */
/* Appends n bytes to a NUL-terminated growing buffer. */
void etcd_buf_append(char **buf, size_t *len, const char *p, size_t n);
/* A curl handle POSTing body to url, as every etcd call does (no proxy, no signals). */
void *etcd_curl(const char *url, const char *body);
/* The "kvs" of a range reply, decoded; free with im_etcd_kvs_free. */
void etcd_kvs(json_t *reply, im_etcd_kv_t **kvs, size_t *n);

#endif
