/* ws.c — a minimal WebSocket client (RFC 6455) on libuv: HTTP upgrade, client-side
 * masking, text messages (reassembled from fragments), pong to a ping, close.
 *
 * Not a general client: no TLS, no extensions, no subprotocol, and the server's
 * Sec-WebSocket-Accept is not checked (a 101 is enough for a load generator).
 *
 * Reads land in one buffer shared by all connections of the process (libuv calls read_cb
 * right after alloc_cb, and a process runs one loop); only a partial frame is copied
 * into the connection, so 20,000 idle connections cost a uv_tcp_t each. */
#include "bench.h"
#include "im/err.h"

#include <netdb.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24   /* Linux 4.2 */
#endif

#define MAX_HEADER 16384              /* of the HTTP upgrade answer */
#define MAX_MESSAGE (16u << 20)

enum { OP_CONT = 0x0, OP_TEXT = 0x1, OP_BINARY = 0x2, OP_CLOSE = 0x8, OP_PING = 0x9, OP_PONG = 0xA };

static char g_rbuf[256 * 1024];
static uint64_t g_rng;

/* xorshift64*: mask keys and handshake keys (masking needs no secrecy here). */
static uint64_t rnd(void)
{
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return g_rng * 2685821657736338717ull;
}

void bench_ws_global_init(void)
{
    g_rng = bench_now_ns() ^ ((uint64_t)getpid() << 40) ^ 0x9e3779b97f4a7c15ull;
    if (g_rng == 0) g_rng = 1;
}

/* A write that did not go out at once: its uv_write_t and bytes in one block. */
typedef struct {
    uv_write_t req;
    char data[];
} wbuf_t;

static void on_closed(uv_handle_t *h)
{
    bench_ws_t *ws = h->data;
    free(ws->rx);
    free(ws->msg);
    ws->rx = ws->msg = NULL;
    ws->rx_len = ws->rx_cap = ws->msg_len = ws->msg_cap = 0;
    ws->state = BENCH_WS_IDLE;
    ws->cb->on_close(ws, ws->reason);
}

/* Closes the handle once; on_close follows with reason. */
static void fail(bench_ws_t *ws, int reason)
{
    if (ws->state == BENCH_WS_CLOSING || ws->state == BENCH_WS_IDLE) return;
    ws->state = BENCH_WS_CLOSING;
    ws->reason = reason;
    uv_read_stop((uv_stream_t *)&ws->tcp);
    uv_close((uv_handle_t *)&ws->tcp, on_closed);
}

void bench_ws_close(bench_ws_t *ws)
{
    fail(ws, 0);
}

static void on_write(uv_write_t *req, int status)
{
    bench_ws_t *ws = req->handle->data;
    free(req);   /* the wbuf_t */
    if (status < 0 && status != UV_ECANCELED) fail(ws, status);
}

/* Writes n bytes: straight to the socket if it takes them, else queued (copied). */
static int write_bytes(bench_ws_t *ws, const char *p, size_t n)
{
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
    int w = uv_try_write((uv_stream_t *)&ws->tcp, &b, 1);
    if (w == UV_EAGAIN || w == UV_ENOSYS) w = 0;
    if (w < 0) {
        fail(ws, w);
        return w;
    }
    if ((size_t)w == n) return 0;
    wbuf_t *q = malloc(sizeof *q + n - (size_t)w);
    if (q == NULL) abort();
    memcpy(q->data, p + w, n - (size_t)w);
    b = uv_buf_init(q->data, (unsigned)(n - (size_t)w));
    int rc = uv_write(&q->req, (uv_stream_t *)&ws->tcp, &b, 1, on_write);
    if (rc < 0) {
        free(q);
        fail(ws, rc);
    }
    return rc;
}

static int send_frame(bench_ws_t *ws, int op, const char *p, size_t n)
{
    if (ws->state != BENCH_WS_OPEN) return UV_ENOTCONN;
    unsigned char stackbuf[4096], *f = stackbuf;
    size_t hl = 2 + (n >= 126 ? (n > 65535 ? 8 : 2) : 0) + 4;
    if (hl + n > sizeof stackbuf) f = im_malloc(hl + n);
    f[0] = (unsigned char)(0x80 | op);
    size_t i = 2;
    if (n < 126) {
        f[1] = (unsigned char)(0x80 | n);
    } else if (n <= 65535) {
        f[1] = 0x80 | 126;
        f[2] = (unsigned char)(n >> 8);
        f[3] = (unsigned char)n;
        i = 4;
    } else {
        f[1] = 0x80 | 127;
        for (int k = 0; k < 8; k++) f[2 + k] = (unsigned char)((uint64_t)n >> (56 - 8 * k));
        i = 10;
    }
    uint32_t key = (uint32_t)rnd();
    memcpy(f + i, &key, 4);
    const unsigned char *mask = f + i;
    for (size_t k = 0; k < n; k++) f[hl + k] = (unsigned char)p[k] ^ mask[k & 3];
    int rc = write_bytes(ws, (const char *)f, hl + n);
    if (f != stackbuf) im_free(f);
    return rc;
}

int bench_ws_send_text(bench_ws_t *ws, const char *text, size_t len)
{
    return send_frame(ws, OP_TEXT, text, len);
}

/* One whole frame (payload unmasked). */
static void on_frame(bench_ws_t *ws, int fin, int op, char *p, size_t n)
{
    switch (op) {
    case OP_TEXT:
    case OP_BINARY:
        if (ws->msg) { fail(ws, UV_EPROTO); return; }   /* a new message inside a fragmented one */
        if (fin) { ws->cb->on_text(ws, p, n); return; }
        ws->msg = malloc(n + 1);
        if (ws->msg == NULL) abort();
        memcpy(ws->msg, p, n);
        ws->msg_len = ws->msg_cap = n;
        return;
    case OP_CONT:
        if (ws->msg == NULL) { fail(ws, UV_EPROTO); return; }
        if (ws->msg_len + n > MAX_MESSAGE) { fail(ws, UV_E2BIG); return; }
        if (ws->msg_len + n > ws->msg_cap) {
            ws->msg_cap = (ws->msg_len + n) * 2;
            ws->msg = realloc(ws->msg, ws->msg_cap);
            if (ws->msg == NULL) abort();
        }
        memcpy(ws->msg + ws->msg_len, p, n);
        ws->msg_len += n;
        if (fin) {
            char *m = ws->msg;
            size_t len = ws->msg_len;
            ws->msg = NULL;
            ws->msg_len = ws->msg_cap = 0;
            ws->cb->on_text(ws, m, len);
            free(m);
        }
        return;
    case OP_PING:
        send_frame(ws, OP_PONG, p, n);
        return;
    case OP_PONG:
        return;
    case OP_CLOSE:
        fail(ws, BENCH_WS_ECLOSED);
        return;
    default:
        fail(ws, UV_EPROTO);
        return;
    }
}

/* The HTTP answer to the upgrade: how many bytes it took, 0 if incomplete. */
static size_t parse_upgrade(bench_ws_t *ws, char *p, size_t n)
{
    char *end = memmem(p, n, "\r\n\r\n", 4);
    if (end == NULL) {
        if (n > MAX_HEADER) fail(ws, UV_EPROTO);
        return 0;
    }
    int status = 0;
    *end = '\0';   /* sscanf stays inside the header */
    if (sscanf(p, "HTTP/1.%*d %d", &status) != 1) status = UV_EPROTO;
    if (status != 101) {
        fail(ws, status);
        return n;
    }
    ws->state = BENCH_WS_OPEN;
    ws->cb->on_open(ws);
    return (size_t)(end + 4 - p);
}

/* Parses what it can of p[0..n); returns the bytes consumed. */
static size_t parse(bench_ws_t *ws, char *p, size_t n)
{
    size_t off = 0;
    if (ws->state == BENCH_WS_UPGRADING && (off = parse_upgrade(ws, p, n)) == 0) return 0;
    while (ws->state == BENCH_WS_OPEN) {
        unsigned char *h = (unsigned char *)p + off;
        size_t avail = n - off, hl = 2;
        if (avail < 2) break;
        int fin = h[0] & 0x80, op = h[0] & 0x0f, masked = h[1] & 0x80;
        uint64_t len = h[1] & 0x7f;
        if (len == 126) {
            if (avail < 4) break;
            len = (uint64_t)h[2] << 8 | h[3];
            hl = 4;
        } else if (len == 127) {
            if (avail < 10) break;
            len = 0;
            for (int k = 0; k < 8; k++) len = len << 8 | h[2 + k];
            hl = 10;
        }
        if (len > MAX_MESSAGE) {
            fail(ws, UV_E2BIG);
            break;
        }
        if (masked) hl += 4;
        if (avail < hl + len) break;
        if (masked)
            for (uint64_t k = 0; k < len; k++) h[hl + k] ^= h[hl - 4 + (k & 3)];
        off += hl + (size_t)len;
        on_frame(ws, fin, op, (char *)h + hl, (size_t)len);
    }
    return off;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    *buf = uv_buf_init(g_rbuf, sizeof g_rbuf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    bench_ws_t *ws = s->data;
    if (nread < 0) { fail(ws, nread == UV_EOF ? BENCH_WS_ECLOSED : (int)nread); return; }
    if (nread == 0) return;
    char *p = buf->base;
    size_t n = (size_t)nread;
    if (ws->rx_len) {   /* a partial frame is waiting: append and parse from there */
        if (ws->rx_len + n > ws->rx_cap) {
            ws->rx_cap = (ws->rx_len + n) * 2;
            ws->rx = realloc(ws->rx, ws->rx_cap);
            if (ws->rx == NULL) abort();
        }
        memcpy(ws->rx + ws->rx_len, p, n);
        ws->rx_len += n;
        p = ws->rx;
        n = ws->rx_len;
    }
    size_t used = parse(ws, p, n);
    if (ws->state == BENCH_WS_CLOSING || ws->state == BENCH_WS_IDLE) return;
    size_t left = n - used;
    if (left == 0) {
        free(ws->rx);
        ws->rx = NULL;
        ws->rx_len = ws->rx_cap = 0;
    } else if (p == ws->rx) {
        memmove(ws->rx, ws->rx + used, left);
        ws->rx_len = left;
    } else {
        ws->rx_cap = left < 512 ? 512 : left;
        ws->rx = malloc(ws->rx_cap);
        if (ws->rx == NULL) abort();
        memcpy(ws->rx, p + used, left);
        ws->rx_len = left;
    }
}

static void on_connect(uv_connect_t *req, int status)
{
    bench_ws_t *ws = req->handle->data;
    if (ws->state != BENCH_WS_CONNECTING) return;   /* closed meanwhile */
    if (status < 0) { fail(ws, status); return; }
    uv_tcp_nodelay(&ws->tcp, 1);
    ws->state = BENCH_WS_UPGRADING;
    int rc = uv_read_start((uv_stream_t *)&ws->tcp, on_alloc, on_read);
    if (rc < 0) fail(ws, rc);
}

/* Binds a new socket to src. A plain bind() to port 0 would take a port from src's pool
 * at once, shared by every destination (~28,000 connections per source address in all);
 * with IP_BIND_ADDRESS_NO_PORT the port is picked at connect, per destination. */
static int bind_source(bench_ws_t *ws, const struct sockaddr *src)
{
    uv_os_fd_t fd;
    int one = 1;
    if (uv_fileno((uv_handle_t *)&ws->tcp, &fd) == 0)
        (void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);   /* best effort */
    return uv_tcp_bind(&ws->tcp, src, 0);
}

int bench_ws_connect(uv_loop_t *loop, bench_ws_t *ws, const struct sockaddr *src, const struct sockaddr *addr,
                     const char *hostport, const char *path, const bench_ws_cb_t *cb)
{
    ws->cb = cb;
    ws->rx = ws->msg = NULL;
    ws->rx_len = ws->rx_cap = ws->msg_len = ws->msg_cap = 0;
    ws->reason = 0;
    /* with a source the socket must exist before the bind: made now, of src's family */
    int rc = src ? uv_tcp_init_ex(loop, &ws->tcp, src->sa_family) : uv_tcp_init(loop, &ws->tcp);
    if (rc < 0) return rc;
    ws->tcp.data = ws;
    ws->state = BENCH_WS_CONNECTING;
    if ((src && (rc = bind_source(ws, src)) < 0) ||
        (rc = uv_tcp_connect(&ws->creq, &ws->tcp, addr, on_connect)) < 0) {
        fail(ws, rc);   /* on_close will report it */
        return 0;
    }
    /* libuv queues a write on a connecting stream until the connect completes. */
    unsigned char raw[16];
    uint64_t a = rnd(), b = rnd();
    memcpy(raw, &a, 8);
    memcpy(raw + 8, &b, 8);
    char key[32];
    sodium_bin2base64(key, sizeof key, raw, sizeof raw, sodium_base64_VARIANT_ORIGINAL);
    char *req = im_sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n",
                           path, hostport, key);
    size_t n = strlen(req);
    wbuf_t *q = malloc(sizeof *q + n);
    if (q == NULL) abort();
    memcpy(q->data, req, n);
    im_free(req);
    uv_buf_t buf = uv_buf_init(q->data, (unsigned)n);
    if ((rc = uv_write(&q->req, (uv_stream_t *)&ws->tcp, &buf, 1, on_write)) < 0) {
        free(q);
        fail(ws, rc);
    }
    return 0;
}

int bench_ws_resolve(const bench_url_t *u, struct sockaddr_storage *out)
{
    char port[8];
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    snprintf(port, sizeof port, "%d", u->port);
    if (getaddrinfo(u->host, port, &hints, &ai) != 0 || ai == NULL) return IM_ENOTFOUND;
    memset(out, 0, sizeof *out);
    memcpy(out, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    return IM_OK;
}
