/* rest.c — setup over REST: one blocking HTTP/1.1 request per connection (Connection:
 * close), and the threads that register and log in a run's users. */
#include "bench.h"
#include "im/err.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define PASSWORD "bench-password-1"

static int dial(const bench_url_t *u, int timeout_s)
{
    char port[8];
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    snprintf(port, sizeof port, "%d", u->port);
    if (getaddrinfo(u->host, port, &hints, &ai) != 0) return -1;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        struct timeval tv = {.tv_sec = timeout_s};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads the whole response: until EOF, or until Content-Length bytes of body arrived. */
static char *read_response(int fd, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = im_malloc(cap);
    long want = -1;   /* total length once the headers are in */
    for (;;) {
        if (n + 1 >= cap) buf = im_realloc(buf, cap *= 2);
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        n += (size_t)r;
        buf[n] = '\0';
        char *end = want < 0 ? strstr(buf, "\r\n\r\n") : NULL;
        if (end) {
            const char *cl = strcasestr(buf, "\r\ncontent-length:");
            if (cl && cl < end) want = (end + 4 - buf) + strtol(cl + 17, NULL, 10);
        }
        if (want >= 0 && (long)n >= want) break;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

int bench_http(const bench_url_t *u, const char *method, const char *path, const char *token,
               const char *body, int timeout_s, int *status, char **resp)
{
    int fd = dial(u, timeout_s);
    if (fd < 0) return IM_EUNAVAIL;
    char auth[1200] = "";
    if (token) snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", token);
    char *req = im_sprintf("%s %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n%s"
                           "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                           method, path, u->host, u->port, auth, body ? strlen(body) : 0,
                           body ? body : "");
    int rc = write_all(fd, req, strlen(req));
    im_free(req);
    if (rc != 0) {
        close(fd);
        return IM_EIO;
    }
    size_t len;
    char *raw = read_response(fd, &len);
    close(fd);
    int st = 0;
    char *sep = strstr(raw, "\r\n\r\n");
    if (sscanf(raw, "HTTP/1.%*d %d", &st) != 1 || sep == NULL) {
        im_free(raw);
        return IM_EPROTO;
    }
    *status = st;
    *resp = im_strdup(sep + 4);
    im_free(raw);
    return IM_OK;
}

void bench_run_id(char out[8])
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char b[6];
    FILE *f = fopen("/dev/urandom", "rb");
    if (f == NULL || fread(b, 1, sizeof b, f) != sizeof b) {
        uint64_t x = bench_now_ns() ^ ((uint64_t)getpid() << 32);
        for (int i = 0; i < 6; i++) b[i] = (unsigned char)(x >> (i * 8));
    }
    if (f) fclose(f);
    for (int i = 0; i < 6; i++) out[i] = alphabet[b[i] % 36];
    out[6] = '\0';
}

/* POST a JSON body, parse the JSON answer; IM_OK with *status and *out on any status. */
static int post_json(const bench_url_t *u, const char *path, json_t *body, int *status, json_t **out)
{
    char *text = json_dumps(body, JSON_COMPACT), *resp = NULL;
    json_decref(body);
    int rc = bench_http(u, "POST", path, NULL, text, 60, status, &resp);
    free(text);
    if (rc != IM_OK) return rc;
    *out = json_loads(resp, 0, NULL);
    im_free(resp);
    return *out ? IM_OK : IM_EPROTO;
}

static int user_setup(const bench_url_t *u, bench_user_t *user)
{
    int st;
    json_t *r;
    int rc = post_json(u, "/api/register", json_pack("{s:s, s:s}", "username", user->name, "password", PASSWORD),
                       &st, &r);
    if (rc != IM_OK) return rc;
    if (st != 201) {
        fprintf(stderr, "im-bench: register %s: HTTP %d %s\n", user->name, st,
                json_string_value(json_object_get(r, "error")) ?: "");
        json_decref(r);
        return IM_EINTERNAL;
    }
    json_decref(r);
    rc = post_json(u, "/api/login", json_pack("{s:s, s:s}", "username", user->name, "password", PASSWORD),
                   &st, &r);
    if (rc != IM_OK) return rc;
    const char *token = json_string_value(json_object_get(r, "token"));
    json_t *id = json_object_get(r, "user_id");
    if (st != 200 || token == NULL || !json_is_integer(id)) {
        fprintf(stderr, "im-bench: login %s: HTTP %d\n", user->name, st);
        json_decref(r);
        return IM_EINTERNAL;
    }
    user->token = im_strdup(token);
    user->id = (uint64_t)json_integer_value(id);
    json_decref(r);
    return IM_OK;
}

typedef struct {
    const bench_opts_t *o;
    bench_user_t *users;
    int n;
    pthread_mutex_t lock;
    int next, done, failed;
} setup_t;

static void *setup_thread(void *arg)
{
    setup_t *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->lock);
        int i = s->failed ? s->n : s->next++;
        pthread_mutex_unlock(&s->lock);
        if (i >= s->n) return NULL;
        int rc = user_setup(&s->o->gw[i % s->o->ngw], &s->users[i]);
        pthread_mutex_lock(&s->lock);
        if (rc == IM_OK) s->done++;
        else {
            if (!s->failed)
                fprintf(stderr, "im-bench: setup of %s on %s failed: %s\n", s->users[i].name,
                        s->o->gw[i % s->o->ngw].text, im_strerror(rc));
            s->failed++;
        }
        pthread_mutex_unlock(&s->lock);
    }
}

int bench_users_setup(const bench_opts_t *o, bench_user_t *users, int n)
{
    setup_t s = {.o = o, .users = users, .n = n};
    pthread_mutex_init(&s.lock, NULL);
    int nt = o->setup_threads < n ? o->setup_threads : n;
    pthread_t *t = im_calloc((size_t)nt, sizeof *t);
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < nt; i++) pthread_create(&t[i], NULL, setup_thread, &s);
    for (;;) {   /* progress every 10 s while the threads work */
        usleep(200 * 1000);
        pthread_mutex_lock(&s.lock);
        int done = s.done, failed = s.failed;
        pthread_mutex_unlock(&s.lock);
        if (failed || done >= n) break;   /* on a failure the threads stop taking work */
        static uint64_t last;
        if (last == 0) last = t0;
        uint64_t now = bench_now_ns();
        if (now - last > 10000000000ull) {
            fprintf(stderr, "im-bench: users %d/%d (%.0f/s)\n", done, n, done / ((now - t0) / 1e9));
            last = now;
        }
    }
    for (int i = 0; i < nt; i++) pthread_join(t[i], NULL);
    im_free(t);
    pthread_mutex_destroy(&s.lock);
    return s.failed ? IM_EUNAVAIL : IM_OK;
}

void bench_users_free(bench_user_t *users, int n)
{
    for (int i = 0; users && i < n; i++) im_free(users[i].token);
    im_free(users);
}
