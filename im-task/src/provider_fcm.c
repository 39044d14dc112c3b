/* provider_fcm.c — the `fcm` device provider: Firebase Cloud Messaging HTTP v1.
 *   POST {fcm_url}/v1/projects/{project}/messages:send
 *   Authorization: Bearer <OAuth2 access token (fcm_token.c)>
 *   {"message": {"token", "notification": {title, body}, "data": {kind, msg_id,
 *    conversation_id, seq, sender_id} (strings, as FCM requires)}}
 * Answers (https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode):
 *   200                               ok
 *   404 (UNREGISTERED)                unregistered: the token is removed
 *   400 INVALID_ARGUMENT on the token unregistered (a fieldViolation on message.token,
 *                                     or "registration token" in the message)
 *   400 otherwise, 403                rejected (our request or sender is wrong: logged)
 *   401                               retry with a fresh access token
 *   429, 503                          retry after Retry-After (else the backoff)
 *   other 5xx, no answer              retry with the backoff
 * One curl handle per push worker (handle i only on [push-i]), reused (keep-alive). */
#include "im/log.h"
#include "task.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    task_t *t;
    task_curls_t curls;
    char *url;               /* .../messages:send */
    task_fcm_token_t *auth;
} fcm_t;

static char *request_body(const task_note_t *n, const char *token)
{
    char id[24], seq[24], sender[24];
    snprintf(id, sizeof id, "%llu", (unsigned long long)n->msg_id);
    snprintf(seq, sizeof seq, "%llu", (unsigned long long)n->seq);
    snprintf(sender, sizeof sender, "%llu", (unsigned long long)n->sender_id);
    json_t *o = json_pack("{s:{s:s, s:{s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:s}}}", "message", "token", token,
                          "notification", "title", n->title, "body", n->text, "data", "kind", "offline_push",
                          "msg_id", id, "conversation_id", n->conversation_id, "seq", seq, "sender_id", sender);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

/* 1 if a 400's error is about the registration token itself. */
static int bad_token(const char *body)
{
    json_t *o = json_loads(body, 0, NULL);
    json_t *err = json_object_get(o, "error"), *d;
    size_t i;
    int bad = 0;
    const char *msg = json_string_value(json_object_get(err, "message"));
    if (msg && strstr(msg, "registration token")) bad = 1;
    json_array_foreach(json_object_get(err, "details"), i, d) {
        json_t *v;
        size_t k;
        json_array_foreach(json_object_get(d, "fieldViolations"), k, v) {
            const char *f = json_string_value(json_object_get(v, "field"));
            if (f && strcmp(f, "message.token") == 0) bad = 1;
        }
    }
    json_decref(o);
    return bad;
}

/* FCM's error status word ("INVALID_ARGUMENT"), kept to [A-Z_] for a log line. */
static void error_word(const char *body, char *out, size_t outlen)
{
    json_t *o = json_loads(body, 0, NULL);
    const char *w = json_string_value(json_object_get(json_object_get(o, "error"), "status"));
    size_t n = 0;
    for (; w && w[n] && n + 1 < outlen && ((w[n] >= 'A' && w[n] <= 'Z') || w[n] == '_'); n++) out[n] = w[n];
    out[n] = '\0';
    if (n == 0) snprintf(out, outlen, "-");
    json_decref(o);
}

static task_send_t classify(fcm_t *f, const task_http_reply_t *r, const char *access)
{
    long s = r->status;
    if (s >= 200 && s <= 299) return TASK_SEND_OK;
    if (s == 404) return TASK_SEND_UNREGISTERED;
    if (s == 400) return bad_token(r->body) ? TASK_SEND_UNREGISTERED : TASK_SEND_REJECTED;
    if (s == 401) {
        task_fcm_token_reset(f->auth, access);
        return TASK_SEND_RETRY;
    }
    if (s == 0 || s == 429 || s >= 500) return TASK_SEND_RETRY;
    return TASK_SEND_REJECTED;
}

/* @locality [push-worker] */
static task_send_t fcm_send(void *state, int worker, const task_note_t *note, const char *token,
                            int64_t *retry_after_ms, long *status)
{
    fcm_t *f = state;
    char access[2048];
    if (task_fcm_token_get(f->auth, access, sizeof access) != IM_OK) return TASK_SEND_RETRY;
    char *auth = im_sprintf("Authorization: Bearer %s", access);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json; charset=UTF-8");
    h = curl_slist_append(h, auth);
    char *body = request_body(note, token);
    task_http_reply_t r;
    task_http_post(f->curls.h[worker], f->url, h, body, IM_CFG_GET(f->t->cfg.provider_timeout_ms), &r);
    curl_slist_free_all(h);
    im_free(auth);
    free(body);   /* json_dumps: malloc */
    task_send_t out = classify(f, &r, access);
    *retry_after_ms = r.retry_after_ms;
    *status = r.status;
    if (out == TASK_SEND_REJECTED) {
        char word[64];
        error_word(r.body, word, sizeof word);
        IM_LOG_RATELIMITED(1, IM_LOG_WARN, "fcm.rejected", "status=%ld error=%s", r.status, word);
    }
    else if (out == TASK_SEND_RETRY && r.status == 0)
        IM_LOG_RATELIMITED(1, IM_LOG_WARN, "fcm.unreachable", "curl=\"%s\"", r.error);
    task_http_reply_fini(&r);
    return out;
}

int task_provider_fcm(task_t *t, task_device_provider_t *p)
{
    task_device_provider_init(p, "fcm", &t->cfg.fcm_rate, &t->cfg.fcm_burst);
    if (!t->cfg.fcm_url[0]) return IM_OK;   /* FCM off */
    task_fcm_token_t *auth = task_fcm_token_new(t->cfg.fcm_credentials, t->cfg.fcm_token_url,
                                                &t->cfg.provider_timeout_ms);
    if (auth == NULL) return IM_ECONFIG;
    const char *project = t->cfg.fcm_project[0] ? t->cfg.fcm_project : task_fcm_token_project(auth);
    if (!*project) {
        im_error("fcm.config", "msg=\"no fcm_project and none in the credentials\"");
        task_fcm_token_free(auth);
        return IM_ECONFIG;
    }
    fcm_t *f = im_calloc(1, sizeof *f);
    f->t = t;
    f->auth = auth;
    f->url = im_sprintf("%s/v1/projects/%s/messages:send", t->cfg.fcm_url, project);
    task_curls_init(&f->curls, t->cfg.push_workers);
    p->send = fcm_send;
    p->state = f;
    im_info("fcm.on", "url=\"%s\"", f->url);
    return IM_OK;
}

void task_provider_fcm_free(task_device_provider_t *p)
{
    fcm_t *f = p->state;
    if (f == NULL) return;
    task_curls_fini(&f->curls);
    im_free(f->url);
    task_fcm_token_free(f->auth);
    im_free(f);
    p->state = NULL;
}
