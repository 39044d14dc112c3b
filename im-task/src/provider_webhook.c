/* provider_webhook.c — the `webhook` push provider: POST the push as JSON with libcurl.
 * A 2xx answer is success; anything else (or a timeout) is an error to retry.
 * One curl handle per push worker, reused across pushes (keep-alive): handle i is used
 * only by [push-i]. webhook_timeout_ms is read at each push (a live key). */
#include "im/log.h"
#include "task.h"

#include <curl/curl.h>
#include <string.h>

typedef struct {
    task_curls_t curls;
    struct curl_slist *headers;
    char *url;
    const int *timeout_ms;     /* &cfg.webhook_timeout_ms (live) */
} webhook_t;

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    return size * n;
}

/* @locality [push-worker] */
static int webhook_push(void *state, int worker, uint64_t user_id, const char *body)
{
    webhook_t *w = state;
    CURL *curl = w->curls.h[worker];
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)IM_CFG_GET(*w->timeout_ms));
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    CURLcode cc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK || status < 200 || status > 299) {
        /* one line per failure would flood while the webhook is down */
        IM_LOG_RATELIMITED(1, IM_LOG_WARN, "push.webhook_failed", "user=%llu status=%ld curl=\"%s\"",
                           (unsigned long long)user_id, status, curl_easy_strerror(cc));
        return IM_EUNAVAIL;
    }
    im_info("push.offline_delivered", "provider=webhook user=%llu status=%ld",
            (unsigned long long)user_id, status);
    return IM_OK;
}

int task_provider_webhook(task_t *t, task_provider_t *p)
{
    if (!t->cfg.webhook_url[0]) {
        im_error("push.config", "msg=\"push_provider=webhook needs webhook_url\"");
        return IM_ECONFIG;
    }
    webhook_t *w = im_calloc(1, sizeof *w);
    w->url = im_strdup(t->cfg.webhook_url);
    w->timeout_ms = &t->cfg.webhook_timeout_ms;
    w->headers = curl_slist_append(NULL, "Content-Type: application/json");
    task_curls_init(&w->curls, t->cfg.push_workers);
    for (int i = 0; i < w->curls.n; i++) {
        CURL *c = w->curls.h[i];
        curl_easy_setopt(c, CURLOPT_URL, w->url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, w->headers);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    }
    p->name = "webhook";
    p->push = webhook_push;
    p->state = w;
    return IM_OK;
}

void task_provider_webhook_free(task_provider_t *p)
{
    webhook_t *w = p->state;
    if (w == NULL) return;
    task_curls_fini(&w->curls);
    curl_slist_free_all(w->headers);
    im_free(w->url);
    im_free(w);
    p->state = NULL;
}
