/* provider_http.c — each provider's libcurl handles, one per push worker; one HTTP POST
 * for the device providers (FCM, its OAuth2 token endpoint, APNs): the status, the answer's body (at most 64 KiB) and its
 * Retry-After, which FCM sends with 429 and 503 (seconds, or an HTTP date). The handle
 * is the caller's (one per push worker), so its connection, HTTP/2 included, is reused. */
#include "im/clock.h"
#include "task.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define BODY_MAX (64 * 1024)

typedef struct {
    char *buf;
    size_t len;
    int64_t retry_after_ms;
} sink_t;

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    sink_t *s = ud;
    size_t len = size * n, take = s->len + len > BODY_MAX ? BODY_MAX - s->len : len;
    if (take) {
        s->buf = im_realloc(s->buf, s->len + take + 1);
        memcpy(s->buf + s->len, p, take);
        s->len += take;
        s->buf[s->len] = '\0';
    }
    return len;   /* the rest is read and dropped, not an error */
}

/* "Retry-After: 120" or "Retry-After: Wed, 21 Oct 2015 07:28:00 GMT" */
static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    sink_t *s = ud;
    size_t len = size * n;
    static const char name[] = "retry-after:";
    if (len > sizeof name - 1 && len < 200 && strncasecmp(p, name, sizeof name - 1) == 0) {
        char v[200];
        memcpy(v, p + sizeof name - 1, len - (sizeof name - 1));
        v[len - (sizeof name - 1)] = '\0';
        char *end;
        long secs = strtol(v, &end, 10);
        if (end != v && secs >= 0 && (*end == '\r' || *end == '\n' || *end == '\0' || *end == ' ')) {
            s->retry_after_ms = (int64_t)secs * 1000;
        } else {
            time_t at = curl_getdate(v, NULL);
            if (at > 0) s->retry_after_ms = at > time(NULL) ? (int64_t)(at - time(NULL)) * 1000 : 0;
        }
    }
    return len;
}

void task_http_post(void *curl, const char *url, void *headers, const char *body, long timeout_ms,
                    task_http_reply_t *out)
{
    CURL *c = curl;
    sink_t s = {0};
    char error[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, (struct curl_slist *)headers);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &s);
    CURLcode cc = curl_easy_perform(c);
    out->status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    out->curl = (int)cc;
    out->retry_after_ms = s.retry_after_ms;
    out->body = s.buf ? s.buf : im_strdup("");
    snprintf(out->error, sizeof out->error, "%s", cc == CURLE_OK ? "" : error[0] ? error : curl_easy_strerror(cc));
    /* the handle outlives this call: leave it no pointers into this frame */
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, NULL);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, NULL);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
}

void task_curls_init(task_curls_t *c, int n)
{
    c->n = n;
    c->h = im_calloc((size_t)n, sizeof *c->h);
    for (int i = 0; i < n; i++) c->h[i] = curl_easy_init();
}

void task_curls_fini(task_curls_t *c)
{
    for (int i = 0; i < c->n; i++) curl_easy_cleanup(c->h[i]);
    im_free(c->h);
    c->h = NULL;
    c->n = 0;
}

void task_http_reply_fini(task_http_reply_t *r)
{
    im_free(r->body);
    r->body = NULL;
}
