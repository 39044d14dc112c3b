/* test_etcd.c — the etcd client against a real etcd: keys, put-if-absent, the session
 * lease (registration and snowflake ids), lease expiry, and prefix watches. */
#include "../src/etcd_internal.h"   /* white box: the session's lease, to lose it on purpose */
#include "im/clock.h"
#include "im/err.h"
#include "im/etcd.h"
#include "im/log.h"
#include "im_test.h"
#include "im_test_server.h"

#include <pthread.h>

typedef struct {
    pthread_mutex_t lock;
    size_t n;          /* keys in the last snapshot */
    int calls;
    char first[128];
} seen_t;

static void on_change(void *ud, const im_etcd_kv_t *kvs, size_t n)
{
    seen_t *s = ud;
    pthread_mutex_lock(&s->lock);
    s->n = n;
    s->calls++;
    snprintf(s->first, sizeof s->first, "%s", n ? kvs[0].key : "");
    pthread_mutex_unlock(&s->lock);
}

static int wait_n(seen_t *s, size_t want, int ms)
{
    for (int i = 0; i < ms / 20; i++) {
        pthread_mutex_lock(&s->lock);
        size_t n = s->n;
        int calls = s->calls;
        pthread_mutex_unlock(&s->lock);
        if (calls > 0 && n == want) return 1;
        usleep(20000);
    }
    return 0;
}

int main(void)
{
    im_log_init("test", IM_LOG_ERROR);
    char *dir = im_test_tmpdir();
    int port = im_test_free_port(), peer = im_test_free_port();
    char client[64], peerurl[64], cluster[96], data[96], log[96];
    snprintf(client, sizeof client, "http://127.0.0.1:%d", port);
    snprintf(peerurl, sizeof peerurl, "http://127.0.0.1:%d", peer);
    snprintf(cluster, sizeof cluster, "default=%s", peerurl);
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(log, sizeof log, "%s/etcd.log", dir);
    char *argv[] = {"etcd", "--data-dir", data, "--listen-client-urls", client, "--advertise-client-urls", client,
                    "--listen-peer-urls", peerurl, "--initial-advertise-peer-urls", peerurl,
                    "--initial-cluster", cluster, NULL};
    pid_t pid = im_test_spawn(argv, log, port, 20);
    CHECK(pid > 0);
    char endpoints[160];   /* a dead endpoint first: the client must move on */
    snprintf(endpoints, sizeof endpoints, "http://127.0.0.1:%d,%s", im_test_free_port(), client);
    im_etcd_t *e = im_etcd_new(endpoints);

    char *v = NULL;
    CHECK_INT(im_etcd_put(e, "/t/a/b", "{\"x\": \"y/z\"}", 0), IM_OK);
    CHECK_INT(im_etcd_get(e, "/t/a/b", &v), IM_OK);
    CHECK_STR(v, "{\"x\": \"y/z\"}");
    im_free(v);
    CHECK_INT(im_etcd_get(e, "/t/missing", &v), IM_ENOTFOUND);
    CHECK_INT(im_etcd_create(e, "/t/once", "1", 0), IM_OK);
    CHECK_INT(im_etcd_create(e, "/t/once", "2", 0), IM_EEXISTS);
    im_etcd_kv_t *kvs;
    size_t n;
    CHECK_INT(im_etcd_get_prefix(e, "/t/", &kvs, &n), IM_OK);
    CHECK_INT(n, 2);
    im_etcd_kvs_free(kvs, n);
    CHECK_INT(im_etcd_delete(e, "/t/a/b"), IM_OK);
    CHECK_INT(im_etcd_get(e, "/t/a/b", &v), IM_ENOTFOUND);

    /* a watch sees instances come and go */
    seen_t seen = {PTHREAD_MUTEX_INITIALIZER, 0, 0, ""};
    im_etcd_watch_t *w = im_etcd_watch_prefix(e, "/im/services/im-logic/", on_change, &seen);
    CHECK(wait_n(&seen, 0, 2000));
    CHECK_INT(im_etcd_register(e, "im-logic", "l1", "{\"addr\":\"127.0.0.1:1\"}", 2), IM_OK);
    CHECK(wait_n(&seen, 1, 2000));
    CHECK_STR(seen.first, "/im/services/im-logic/l1");

    im_etcd_t *other = im_etcd_new(client);
    CHECK_INT(im_etcd_register(other, "im-logic", "l2", "{}", 2), IM_OK);
    CHECK(wait_n(&seen, 2, 2000));
    im_etcd_deregister(other);                  /* deregistration is seen at once */
    CHECK(wait_n(&seen, 1, 2000));

    int64_t lease;                              /* a lease nobody keeps alive expires */
    CHECK_INT(im_etcd_lease_grant(e, 2, &lease), IM_OK);
    CHECK_INT(im_etcd_put(e, "/im/services/im-logic/l3", "{}", lease), IM_OK);
    CHECK(wait_n(&seen, 2, 2000));
    CHECK(wait_n(&seen, 1, 5000));
    CHECK_INT(im_etcd_lease_keepalive(e, lease, NULL), IM_ENOTFOUND);

    sleep(5);                                   /* > 2 x TTL: the session keeps l1 alive */
    CHECK_INT(im_etcd_get(e, "/im/services/im-logic/l1", &v), IM_OK);
    im_free(v);

    im_snowflake_t s1, s2;                      /* distinct snowflake workers */
    im_snowflake_init(&s1, 0);
    im_snowflake_init(&s2, 0);
    CHECK_INT(im_etcd_snowflake_worker(e, "l1", 2, &s1), IM_OK);
    CHECK_INT(im_etcd_snowflake_worker(other, "l2", 2, &s2), IM_OK);
    CHECK(s1.worker_id != s2.worker_id);
    CHECK(im_snowflake_next(&s1) != 0);         /* the lease is held: ids come */

    /* A lease lost while its worker id was taken by another instance: after the next
     * keepalive the session has a free worker id, and until then no id comes from the old. */
    char key[64], *holder = NULL;
    snprintf(key, sizeof key, "%s%d", IM_ETCD_SNOWFLAKE_PREFIX, s1.worker_id);
    int taken = s1.worker_id;
    pthread_mutex_lock(&e->lock);               /* the keepalive thread waits meanwhile */
    CHECK_INT(im_etcd_lease_revoke(e, e->lease), IM_OK);
    CHECK_INT(im_etcd_create(other, key, "thief", 0), IM_OK);
    s1.held_until = im_clock_mono_ms() - 1;     /* as after a pause longer than the lease */
    pthread_mutex_unlock(&e->lock);
    CHECK(im_snowflake_next(&s1) == 0);
    for (int i = 0; i < 50 && im_snowflake_next(&s1) == 0; i++) usleep(100000);
    CHECK(s1.worker_id != taken && s1.worker_id != s2.worker_id);
    CHECK(im_snowflake_worker(im_snowflake_next(&s1)) == s1.worker_id);
    CHECK_INT(im_etcd_get(e, key, &holder), IM_OK);
    CHECK(strcmp(holder, "thief") == 0);        /* the thief's key is left alone */
    im_free(holder);
    im_etcd_delete(other, key);

    im_etcd_watch_free(w);
    im_etcd_free(other);
    im_etcd_free(e);                            /* revokes: l1 is gone */
    e = im_etcd_new(client);
    CHECK_INT(im_etcd_get(e, "/im/services/im-logic/l1", &v), IM_ENOTFOUND);
    im_etcd_free(e);
    im_test_kill(pid);
    im_test_rmdir(dir);
    IM_TEST_DONE();
}
