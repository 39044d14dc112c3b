/* admin.c — the admin port: `GET /healthz` and `GET /metrics` on one thread.
 *
 * Requests are tiny and rare (a probe, a scrape), so one thread serves them one at a
 * time with a short receive timeout; a slow client cannot hold it longer than that. */
#include "im/err.h"
#include "im/log.h"
#include "im/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct im_admin_s {
    int fd;                 /* listening socket */
    int port;               /* bound port */
    int stop_pipe[2];       /* written by im_admin_stop to wake the thread */
    pthread_t thread;
    im_admin_health_fn health;
    void *ud;
};

static void reply(int fd, int status, const char *ctype, const char *body)
{
    char head[256];
    size_t blen = strlen(body);
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, status == 200 ? "OK" : status == 404 ? "Not Found" : "Service Unavailable",
                     ctype, blen);
    if (write(fd, head, (size_t)n) < 0 || write(fd, body, blen) < 0)
        im_debug("admin.write_failed", "errno=%d", errno);
}

static void serve_one(im_admin_t *a, int fd)
{
    struct timeval tv = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char req[1024];
    ssize_t n = recv(fd, req, sizeof req - 1, 0);
    if (n <= 0) return;
    req[n] = '\0';
    if (strncmp(req, "GET /healthz", 12) == 0) {
        char text[256] = "ok";
        int bad = a->health ? a->health(a->ud, text, sizeof text) : 0;
        strncat(text, "\n", sizeof text - strlen(text) - 1);
        reply(fd, bad ? 503 : 200, "text/plain", text);
    } else if (strncmp(req, "GET /metrics", 12) == 0) {
        char *body = im_metrics_render();
        reply(fd, 200, "text/plain; version=0.0.4", body);
        im_free(body);
    } else {
        reply(fd, 404, "text/plain", "not found\n");
    }
}

static void *admin_main(void *arg)
{
    im_admin_t *a = arg;
    im_log_set_thread("admin");
    for (;;) {
        struct pollfd p[2] = {{a->fd, POLLIN, 0}, {a->stop_pipe[0], POLLIN, 0}};
        if (poll(p, 2, -1) < 0 && errno != EINTR) break;
        if (p[1].revents) break;
        if (!(p[0].revents & POLLIN)) continue;
        int fd = accept(a->fd, NULL, NULL);
        if (fd < 0) continue;
        serve_one(a, fd);
        close(fd);
    }
    return NULL;
}

im_admin_t *im_admin_start(const char *host, int port, im_admin_health_fn health, void *ud)
{
    im_admin_t *a = im_calloc(1, sizeof *a);
    a->health = health;
    a->ud = ud;
    a->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(a->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1 ||
        bind(a->fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(a->fd, 64) < 0) {
        im_error("admin.listen_failed", "host=%s port=%d errno=%d", host, port, errno);
        close(a->fd);
        im_free(a);
        return NULL;
    }
    socklen_t sl = sizeof sa;
    getsockname(a->fd, (struct sockaddr *)&sa, &sl);
    a->port = ntohs(sa.sin_port);
    if (pipe2(a->stop_pipe, O_CLOEXEC) < 0) abort();
    pthread_create(&a->thread, NULL, admin_main, a);
    im_info("admin.listening", "addr=%s:%d", host, a->port);
    return a;
}

int im_admin_port(const im_admin_t *a)
{
    return a->port;
}

void im_admin_stop(im_admin_t *a)
{
    if (a == NULL) return;
    if (write(a->stop_pipe[1], "x", 1) < 0) abort();
    pthread_join(a->thread, NULL);
    close(a->fd);
    close(a->stop_pipe[0]);
    close(a->stop_pipe[1]);
    im_free(a);
}
