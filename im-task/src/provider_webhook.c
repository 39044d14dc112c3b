/* provider_webhook.c — the `webhook` push provider: POST the push as JSON with libcurl.
 * A 2xx answer is success; anything else (or a timeout) is an error to retry.
 * The curl handle is reused across pushes (keep-alive); only [consume] uses it. */
#include "im/log.h"
#include "task.h"

#include <curl/curl.h>
#include <string.h>

typedef struct {
    CURL *curl;
    struct curl_slist *headers;
    char *url;
    int timeout_ms;
} webhook_t;

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    return size * n;
}

static int webhook_push(void *state, uint64_t user_id, const char *body)
{
    webhook_t *w = state;
    curl_easy_setopt(w->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(w->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    CURLcode cc = curl_easy_perform(w->curl);
    long status = 0;
    curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK || status < 200 || status > 299) {
        im_warn("push.webhook_failed", "user=%llu status=%ld curl=\"%s\"", (unsigned long long)user_id,
                status, curl_easy_strerror(cc));
        return IM_EUNAVAIL;
    }
    im_info("push.offline_delivered", "provider=webhook user=%llu status=%ld", (unsigned long long)user_id, status);
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
    w->curl = curl_easy_init();
    w->headers = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(w->curl, CURLOPT_URL, w->url);
    curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, w->headers);
    curl_easy_setopt(w->curl, CURLOPT_TIMEOUT_MS, (long)t->cfg.webhook_timeout_ms);
    curl_easy_setopt(w->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(w->curl, CURLOPT_WRITEFUNCTION, discard);
    p->name = "webhook";
    p->push = webhook_push;
    p->state = w;
    return IM_OK;
}

void task_provider_webhook_free(task_provider_t *p)
{
    webhook_t *w = p->state;
    if (w == NULL) return;
    curl_slist_free_all(w->headers);
    curl_easy_cleanup(w->curl);
    im_free(w->url);
    im_free(w);
    p->state = NULL;
}
