/* provider_apns.c — the `apns` device provider: Apple Push Notification service over
 * HTTP/2 with token-based auth.
 *   POST {apns_url}/3/device/{token}
 *   authorization: bearer <ES256 JWT {kid: apns_key_id} {iss: apns_team_id, iat}>
 *   apns-topic: apns_topic, apns-push-type: alert, apns-priority, apns-expiration
 *   {"aps": {"alert": {title, body}}, "msg_id", "conversation_id", "seq"}
 * The provider JWT is made once and reused by every worker for PROVIDER_TOKEN_S (Apple
 * refuses one older than an hour and throttles refreshing more than every 20 minutes).
 * HTTP/2: https:// URLs negotiate it with ALPN (TLS); http:// URLs use h2c with prior
 * knowledge, which is what a local fake (the integration test's) serves. Debian's
 * libcurl 7.88.1 cannot reuse a prior-knowledge connection (curl issue #10634, fixed in
 * 7.89: the second request fails with "Error in the HTTP2 framing layer"), so an
 * http:// URL gets a new connection per request; https:// connections are kept.
 * Answers (Apple's "Handling notification responses from APNs"):
 *   200                                   ok
 *   410 Unregistered, 400 BadDeviceToken  unregistered: the token is removed
 *   403 ExpiredProviderToken / InvalidProviderToken   retry with a new provider JWT
 *   429 TooManyProviderRequests, 5xx, no answer       retry (Retry-After if given, else backoff)
 *   other 4xx (e.g. DeviceTokenNotForTopic)           rejected: logged
 * One curl handle per push worker (handle i only on [push-i]): one HTTP/2 connection each. */
#include "im/clock.h"
#include "im/log.h"
#include "task.h"

#include <ctype.h>
#include <curl/curl.h>
#include <jansson.h>
#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PROVIDER_TOKEN_S 3000   /* 50 min: under Apple's hour, over its 20 min floor */

typedef struct {
    task_t *t;
    task_curls_t curls;
    char *key;                 /* PEM */
    pthread_mutex_t lock;      /* guards jwt, made_ms */
    char jwt[1024];            /* "" = none */
    int64_t made_ms;           /* im_clock_mono_ms() */
} apns_t;

/* Copies a provider JWT (made anew if older than PROVIDER_TOKEN_S) into out. */
static int provider_token(apns_t *a, char *out, size_t outlen)
{
    pthread_mutex_lock(&a->lock);
    if (!a->jwt[0] || im_clock_mono_ms() - a->made_ms >= PROVIDER_TOKEN_S * 1000LL) {
        jwt_t *j = NULL;
        char *s = NULL;
        if (jwt_new(&j) == 0 &&
            jwt_set_alg(j, JWT_ALG_ES256, (const unsigned char *)a->key, strlen(a->key)) == 0 &&
            jwt_add_header(j, "kid", a->t->cfg.apns_key_id) == 0 &&
            jwt_add_grant(j, "iss", a->t->cfg.apns_team_id) == 0 && jwt_add_grant_int(j, "iat", time(NULL)) == 0)
            s = jwt_encode_str(j);
        jwt_free(j);
        if (s && strlen(s) < sizeof a->jwt) {
            snprintf(a->jwt, sizeof a->jwt, "%s", s);
            a->made_ms = im_clock_mono_ms();
        }
        free(s);   /* jwt_encode_str: malloc */
    }
    int rc = a->jwt[0] ? IM_OK : IM_ECONFIG;
    snprintf(out, outlen, "%s", a->jwt);
    pthread_mutex_unlock(&a->lock);
    return rc;
}

static void provider_token_reset(apns_t *a, const char *stale)
{
    pthread_mutex_lock(&a->lock);
    if (strcmp(a->jwt, stale) == 0) a->jwt[0] = '\0';
    pthread_mutex_unlock(&a->lock);
}

static task_send_t classify(apns_t *a, const task_http_reply_t *r, const char *jwt)
{
    long s = r->status;
    json_t *o = json_loads(r->body, 0, NULL);
    const char *reason = json_string_value(json_object_get(o, "reason"));
    task_send_t out = TASK_SEND_REJECTED;
    if (s >= 200 && s <= 299)
        out = TASK_SEND_OK;
    else if (s == 410 || (s == 400 && reason && strcmp(reason, "BadDeviceToken") == 0))
        out = TASK_SEND_UNREGISTERED;
    else if (s == 403 && reason && (strcmp(reason, "ExpiredProviderToken") == 0 ||
                                    strcmp(reason, "InvalidProviderToken") == 0)) {
        provider_token_reset(a, jwt);
        out = TASK_SEND_RETRY;
    } else if (s == 0 || s == 429 || s >= 500)
        out = TASK_SEND_RETRY;
    if (out == TASK_SEND_REJECTED) {   /* Apple's reason is one word: keep it to [A-Za-z] for the log */
        char word[64];
        size_t n = 0;
        for (; reason && reason[n] && n + 1 < sizeof word && isalpha((unsigned char)reason[n]); n++) word[n] = reason[n];
        word[n] = '\0';
        IM_LOG_RATELIMITED(1, IM_LOG_WARN, "apns.rejected", "status=%ld reason=%s", s, n ? word : "-");
    }
    json_decref(o);
    return out;
}

static char *request_body(const task_note_t *n)
{
    char id[24];
    snprintf(id, sizeof id, "%llu", (unsigned long long)n->msg_id);
    json_t *o = json_pack("{s:{s:{s:s, s:s}}, s:s, s:s, s:I}", "aps", "alert", "title", n->title, "body", n->text,
                          "msg_id", id, "conversation_id", n->conversation_id, "seq", (json_int_t)n->seq);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

/* @locality [push-worker] */
static task_send_t apns_send(void *state, int worker, const task_note_t *note, const char *token,
                             int64_t *retry_after_ms, long *status)
{
    apns_t *a = state;
    const task_config_t *cfg = &a->t->cfg;
    char jwt[1024];
    if (provider_token(a, jwt, sizeof jwt) != IM_OK) {
        IM_LOG_RATELIMITED(1, IM_LOG_ERROR, "apns.sign_failed", "msg=\"apns_key_file is not a P-256 PEM key\"");
        return TASK_SEND_RETRY;
    }
    int exp_s = IM_CFG_GET(cfg->apns_expiration_s);
    char *url = im_sprintf("%s/3/device/%s", cfg->apns_url, token);
    char *hdr[] = {
        im_sprintf("authorization: bearer %s", jwt),
        im_sprintf("apns-topic: %s", cfg->apns_topic),
        im_sprintf("apns-push-type: alert"),
        im_sprintf("apns-priority: %d", IM_CFG_GET(cfg->apns_priority)),
        im_sprintf("apns-expiration: %lld", exp_s ? (long long)time(NULL) + exp_s : 0LL),
        im_sprintf("content-type: application/json"),
    };
    struct curl_slist *h = NULL;
    for (size_t i = 0; i < sizeof hdr / sizeof hdr[0]; i++) h = curl_slist_append(h, hdr[i]);
    char *body = request_body(note);
    task_http_reply_t r;
    task_http_post(a->curls.h[worker], url, h, body, IM_CFG_GET(cfg->provider_timeout_ms), &r);
    curl_slist_free_all(h);
    for (size_t i = 0; i < sizeof hdr / sizeof hdr[0]; i++) im_free(hdr[i]);
    im_free(url);
    free(body);   /* json_dumps: malloc */
    task_send_t out = classify(a, &r, jwt);
    if (out == TASK_SEND_RETRY && r.status == 0)
        IM_LOG_RATELIMITED(1, IM_LOG_WARN, "apns.unreachable", "curl=\"%s\"", r.error);
    *retry_after_ms = r.retry_after_ms;
    *status = r.status;
    task_http_reply_fini(&r);
    return out;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    char *buf = im_calloc(1, 16384);
    size_t n = fread(buf, 1, 16383, f);
    fclose(f);
    if (n == 0) {
        im_free(buf);
        return NULL;
    }
    return buf;
}

int task_provider_apns(task_t *t, task_device_provider_t *p)
{
    task_device_provider_init(p, "apns", &t->cfg.apns_rate, &t->cfg.apns_burst);
    const task_config_t *cfg = &t->cfg;
    if (!cfg->apns_url[0]) return IM_OK;   /* APNs off */
    char *key = read_file(cfg->apns_key_file);
    if (key == NULL || !cfg->apns_key_id[0] || !cfg->apns_team_id[0] || !cfg->apns_topic[0]) {
        im_error("apns.config", "key_file=\"%s\" msg=\"apns_url needs a readable apns_key_file, "
                 "apns_key_id, apns_team_id and apns_topic\"", cfg->apns_key_file);
        im_free(key);
        return IM_ECONFIG;
    }
    apns_t *a = im_calloc(1, sizeof *a);
    a->t = t;
    a->key = key;
    pthread_mutex_init(&a->lock, NULL);
    char probe[1024];
    if (provider_token(a, probe, sizeof probe) != IM_OK) {
        im_error("apns.config", "key_file=\"%s\" msg=\"not a P-256 private key (PEM)\"", cfg->apns_key_file);
        im_free(a->key);
        im_free(a);
        return IM_ECONFIG;
    }
    int h2c = strncmp(cfg->apns_url, "http://", 7) == 0;
    task_curls_init(&a->curls, t->cfg.push_workers);
    for (int i = 0; i < a->curls.n; i++) {
        curl_easy_setopt(a->curls.h[i], CURLOPT_HTTP_VERSION,
                         h2c ? (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE : (long)CURL_HTTP_VERSION_2TLS);
        if (h2c) curl_easy_setopt(a->curls.h[i], CURLOPT_FORBID_REUSE, 1L);   /* curl #10634 */
    }
    p->send = apns_send;
    p->state = a;
    im_info("apns.on", "url=\"%s\" h2c=%d topic=%s", cfg->apns_url, h2c, cfg->apns_topic);
    return IM_OK;
}

void task_provider_apns_free(task_device_provider_t *p)
{
    apns_t *a = p->state;
    if (a == NULL) return;
    task_curls_fini(&a->curls);
    im_free(a->key);
    pthread_mutex_destroy(&a->lock);
    im_free(a);
    p->state = NULL;
}
