/* http.c — REST on [S]: parse, read the body, hand the job to a worker, write the reply.
 *
 * A request's job is owned by its connection's session data until submitted; from
 * gw_jobs_submit() until it comes back on the done list the worker owns it. If the
 * client leaves meanwhile, CLOSED_HTTP clears job->wsi and gw_http_deliver() frees it.
 *
 * An upload's body (routes marked upload) is written to a temp file of the store as it
 * arrives, never held in memory. Its Content-Length past max_upload is refused before a
 * byte is stored (libwebsockets closes a chunked request body, so every body has one);
 * should more arrive anyway, the file goes at once and the rest is dropped before the 413.
 * A file reply (job->serve) is streamed in chunks, one per WRITEABLE, so a large download
 * never holds [S] or the heap. */
#include "gateway.h"
#include "im/auth.h"
#include "im/err.h"
#include "im/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { JOB_NONE, JOB_READING, JOB_RUNNING, JOB_READY, JOB_STREAMING };

#define STREAM_CHUNK 65536

static gw_t *gw_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

static const char *method_of(struct lws *wsi, char *uri, int urilen)
{
    static const struct { enum lws_token_indexes tok; const char *name; } m[] = {
        {WSI_TOKEN_GET_URI, "GET"}, {WSI_TOKEN_POST_URI, "POST"},
        {WSI_TOKEN_DELETE_URI, "DELETE"}, {WSI_TOKEN_PUT_URI, "PUT"},
        {WSI_TOKEN_PATCH_URI, "PATCH"},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (lws_hdr_total_length(wsi, m[i].tok) > 0) {
            lws_hdr_copy(wsi, uri, urilen, m[i].tok);
            return m[i].name;
        }
    return NULL;
}

/* The query string back from lws's fragments (lws has already url-decoded them). */
static char *query_of(struct lws *wsi)
{
    char frag[512], *q = im_strdup("");
    for (int i = 0; lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i) > 0; i++) {
        char *n = im_sprintf("%s%s%s", q, *q ? "&" : "", frag);
        im_free(q);
        q = n;
    }
    return q;
}

/* The user of `Authorization: Bearer <jwt>` into the job (an HMAC check and a lookup
 * among revoked tokens: cheap enough for [S]). */
static int bearer_user(struct lws *wsi, gw_t *g, gw_job_t *job)
{
    char hdr[2048];
    im_jwt_claims_t cl;
    if (lws_hdr_copy(wsi, hdr, sizeof hdr, WSI_TOKEN_HTTP_AUTHORIZATION) <= 7 ||
        strncmp(hdr, "Bearer ", 7) != 0 || gw_token_check(g, hdr + 7, &cl) != IM_OK)
        return IM_EUNAUTH;
    job->user_id = cl.user_id;
    job->jti = cl.jti;
    job->exp = cl.exp;
    return IM_OK;
}

static void too_large(gw_http_t *h)
{
    h->too_large = 1;
    if (h->job->upload_fd >= 0) close(h->job->upload_fd);
    h->job->upload_fd = -1;
    if (h->job->upload_path) unlink(h->job->upload_path);   /* nothing kept */
    im_free(h->job->upload_path);
    h->job->upload_path = NULL;
}

/* An upload: its temp file, its name; a declared length past max_upload is refused
 * before a byte is stored. */
static int begin_upload(struct lws *wsi, gw_t *g, gw_http_t *h)
{
    gw_job_t *job = h->job;
    char len[24], name[3 * sizeof job->name];
    if (lws_hdr_copy(wsi, len, sizeof len, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 &&
        strtoull(len, NULL, 10) > (unsigned long long)IM_CFG_GET(g->cfg.max_upload)) {
        too_large(h);
        return IM_OK;
    }
    if (lws_hdr_custom_copy(wsi, name, sizeof name, "x-file-name:", 12) > 0)
        gw_percent_decode(name, job->name, sizeof job->name);
    job->upload_fd = gw_store_tmp(g, &job->upload_path);
    return job->upload_fd >= 0 ? IM_OK : IM_EIO;
}

static void ready(struct lws *wsi, gw_http_t *h)
{
    h->state = JOB_READY;
    lws_callback_on_writable(wsi);
}

static int begin(struct lws *wsi, gw_http_t *h)
{
    gw_t *g = gw_of(wsi);
    if (h->job) return -1;   /* a pipelined request before our reply: not supported, close */
    gw_job_t *job = gw_job_new();
    job->wsi = wsi;
    h->job = job;
    char uri[256];
    const char *method = method_of(wsi, uri, sizeof uri);
    if (method == NULL) {
        gw_job_error(job, 405, "invalid_argument", "method not allowed");
        ready(wsi, h);
        return 0;
    }
    snprintf(job->method, sizeof job->method, "%s", method);
    snprintf(job->path, sizeof job->path, "%s", uri);
    job->query = query_of(wsi);
    gw_client_addr(g, wsi, job->addr);
    int auth = 0, upload = 0;
    job->fn = gw_route(method, job->path, &auth, &upload, job->params);
    if (job->fn == NULL) {
        gw_job_error(job, 404, "not_found", "no such endpoint");
        ready(wsi, h);
    } else if (auth && bearer_user(wsi, g, job) != IM_OK) {
        gw_job_error(job, 401, "unauthorized", "missing, invalid or expired token");
        ready(wsi, h);
    } else if (upload && begin_upload(wsi, g, h) != IM_OK) {
        gw_job_error(job, 503, "unavailable", "cannot store files right now");
        ready(wsi, h);
    } else if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0) {
        h->state = JOB_READING;
    } else {
        lws_hdr_copy(wsi, job->range, sizeof job->range, WSI_TOKEN_HTTP_RANGE);
        h->state = JOB_RUNNING;
        gw_jobs_submit(g, job);
    }
    return 0;
}

static void body(struct lws *wsi, gw_http_t *h, const void *in, size_t len)
{
    gw_job_t *job = h->job;
    if (h->state != JOB_READING || h->too_large) return;
    if (job->upload_path) {   /* page-cache writes: short enough for [S] */
        job->body_len += len;
        if (job->body_len > (size_t)IM_CFG_GET(gw_of(wsi)->cfg.max_upload) ||
            write(job->upload_fd, in, len) != (ssize_t)len)   /* a full disk: refused as too large */
            too_large(h);
        return;
    }
    if (job->body_len + len > (size_t)gw_of(wsi)->cfg.max_body) {
        h->too_large = 1;
        return;
    }
    job->body = im_realloc(job->body, job->body_len + len + 1);
    memcpy(job->body + job->body_len, in, len);
    job->body_len += len;
    job->body[job->body_len] = '\0';
}

static void body_done(struct lws *wsi, gw_http_t *h)
{
    if (h->state != JOB_READING) return;
    if (h->too_large) {
        gw_job_error(h->job, 413, "too_large", "request body too large");
        ready(wsi, h);
        return;
    }
    if (h->job->upload_fd >= 0) close(h->job->upload_fd);   /* complete: the worker reads it by path */
    h->job->upload_fd = -1;
    h->state = JOB_RUNNING;
    gw_jobs_submit(gw_of(wsi), h->job);
}

static void finish(gw_http_t *h)
{
    gw_job_free(h->job);
    h->job = NULL;
    h->state = JOB_NONE;
}

/* The head of a file reply; the body follows in stream_chunk(). */
static int write_file_head(struct lws *wsi, gw_http_t *h)
{
    gw_job_t *job = h->job;
    const gw_serve_t *sv = job->serve;
    unsigned char head[LWS_PRE + 1024], *start = head + LWS_PRE, *p = start, *end = head + sizeof head - 1;
    char range[80];
    int nrange = snprintf(range, sizeof range, "bytes %llu-%llu/%llu", (unsigned long long)sv->off,
                          (unsigned long long)(sv->off + sv->len - 1), (unsigned long long)sv->total);
    static const char csp[] = "sandbox; default-src 'none'";
    if (lws_add_http_common_headers(wsi, (unsigned)job->status, sv->content_type, sv->len, &p, end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"accept-ranges:", (const unsigned char *)"bytes", 5,
                                    &p, end) ||
        (job->status == 206 && lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_RANGE,
                                                            (unsigned char *)range, nrange, &p, end)) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"content-disposition:",
                                    (const unsigned char *)sv->disposition, (int)strlen(sv->disposition), &p, end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"x-content-type-options:",
                                    (const unsigned char *)"nosniff", 7, &p, end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"content-security-policy:",
                                    (const unsigned char *)csp, (int)strlen(csp), &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL, (unsigned char *)"private, max-age=86400", 22,
                                     &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    h->state = JOB_STREAMING;
    lws_callback_on_writable(wsi);
    return 0;
}

static int stream_chunk(struct lws *wsi, gw_http_t *h)
{
    gw_serve_t *sv = h->job->serve;
    uint64_t left = sv->len - sv->sent;
    size_t n = left < STREAM_CHUNK ? (size_t)left : STREAM_CHUNK;
    unsigned char *buf = im_malloc(LWS_PRE + STREAM_CHUNK);
    ssize_t got = pread(sv->fd, buf + LWS_PRE, n, (off_t)(sv->off + sv->sent));
    int last = got == (ssize_t)left;
    int w = got > 0 ? lws_write(wsi, buf + LWS_PRE, (size_t)got, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) : -1;
    im_free(buf);
    if (w < (int)got || got <= 0) return -1;   /* the file shrank or the client left: close */
    sv->sent += (uint64_t)got;
    if (!last) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    finish(h);
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int write_reply(struct lws *wsi, gw_http_t *h)
{
    gw_job_t *job = h->job;
    if (job->serve) return write_file_head(wsi, h);
    size_t blen = job->resp ? strlen(job->resp) : 0;
    unsigned char head[LWS_PRE + 512], *start = head + LWS_PRE, *p = start, *end = head + sizeof head - 1;
    char retry[16];
    int nretry = job->retry_after_s > 0 ? snprintf(retry, sizeof retry, "%d", job->retry_after_s) : 0;
    if (lws_add_http_common_headers(wsi, (unsigned)job->status, "application/json", blen, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL, (unsigned char *)"no-store", 8, &p, end) ||
        (nretry && lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_RETRY_AFTER, (unsigned char *)retry, nretry,
                                                &p, end)) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    unsigned char *buf = im_malloc(LWS_PRE + blen + 1);
    memcpy(buf + LWS_PRE, job->resp ? job->resp : "", blen);
    int w = lws_write(wsi, buf + LWS_PRE, blen, LWS_WRITE_HTTP_FINAL);
    im_free(buf);
    im_debug("http.reply", "method=%s path=%s status=%d", job->method, job->path, job->status);
    finish(h);
    if (w < (int)blen) return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static void closed(gw_http_t *h)
{
    if (h->job == NULL) return;
    if (h->state == JOB_RUNNING) {   /* a worker still has it: it comes back to be freed */
        h->job->wsi = NULL;
        __atomic_store_n(&h->job->gone, 1, __ATOMIC_RELEASE);
    }
    else gw_job_free(h->job);   /* also an upload's temp file, a download's fd */
    h->job = NULL;
    h->state = JOB_NONE;
}

void gw_http_deliver(gw_t *g, gw_job_t *job)
{
    gw_pss_t *pss = job->wsi ? lws_wsi_user(job->wsi) : NULL;
    if (pss == NULL || pss->http.job != job) {   /* the client left while the worker ran */
        gw_job_free(job);
        return;
    }
    ready(job->wsi, &pss->http);
}

int gw_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len)
{
    /* lws passes user == NULL for a connection that never became an HTTP transaction
     * (closed at once, half a request line, an oversized header, TLS on the plain port):
     * there is no REST state to act on, only lws's own bookkeeping. */
    if (user == NULL) return lws_callback_http_dummy(wsi, reason, user, in, len);
    gw_http_t *h = &((gw_pss_t *)user)->http;
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return begin(wsi, h);
    case LWS_CALLBACK_HTTP_BODY:
        body(wsi, h, in, len);
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        body_done(wsi, h);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (h->state == JOB_STREAMING) return stream_chunk(wsi, h);
        return h->state == JOB_READY ? write_reply(wsi, h) : 0;
    case LWS_CALLBACK_CLOSED_HTTP:
        closed(h);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}
