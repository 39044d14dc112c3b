/* fcm_token.c — FCM's OAuth2 access token, from a Google service account (RFC 7523):
 * a JWT signed RS256 with the account's private key {iss: client_email, scope:
 * firebase.messaging, aud: token_uri, iat, exp: iat + 1 h} is POSTed form-encoded
 * (grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer, assertion=<jwt>) to the token
 * endpoint, which answers {access_token, expires_in}. The token is cached and shared by
 * the push workers until a minute before it expires, or until FCM answers 401 with it.
 * The endpoint is configurable (fcm_token_url) so tests can use a local fake; `aud`
 * stays the file's token_uri, as Google checks it.
 * Threads: any push worker; `lock` is held across a fetch, so one worker fetches while
 * the others wait for its result instead of fetching too. */
#include "im/clock.h"
#include "im/log.h"
#include "task.h"

#include <curl/curl.h>
#include <jansson.h>
#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SCOPE "https://www.googleapis.com/auth/firebase.messaging"
#define LIFETIME_S 3600
#define EARLY_MS 60000   /* refresh this long before it expires */

struct task_fcm_token_s {
    pthread_mutex_t lock;
    char *client_email, *private_key, *token_uri, *project_id;
    char *url;              /* where the JWT is exchanged */
    const int *timeout_ms;  /* &cfg.provider_timeout_ms (live) */
    CURL *curl;             /* lock */
    char token[2048];       /* lock: "" = none */
    int64_t expires_ms;     /* lock: im_clock_mono_ms() */
};

static char *field(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v && *v ? im_strdup(v) : NULL;
}

task_fcm_token_t *task_fcm_token_new(const char *path, const char *token_url, const int *timeout_ms)
{
    json_error_t err;
    json_t *o = json_load_file(path, 0, &err);
    task_fcm_token_t *f = im_calloc(1, sizeof *f);
    f->client_email = field(o, "client_email");
    f->private_key = field(o, "private_key");
    f->token_uri = field(o, "token_uri");
    f->project_id = field(o, "project_id");
    int parsed = o != NULL;
    json_decref(o);
    if (!f->client_email || !f->private_key || !f->token_uri) {
        im_error("fcm.credentials", "path=\"%s\" msg=\"needs client_email, private_key, token_uri\" "
                 "json=\"%s\"", path, parsed ? "ok" : err.text);
        task_fcm_token_free(f);
        return NULL;
    }
    f->url = im_strdup(token_url && *token_url ? token_url : f->token_uri);
    f->timeout_ms = timeout_ms;
    f->curl = curl_easy_init();
    pthread_mutex_init(&f->lock, NULL);
    return f;
}

const char *task_fcm_token_project(const task_fcm_token_t *f)
{
    return f->project_id ? f->project_id : "";
}

/* The signed assertion, or NULL. Caller frees (free). */
static char *assertion(task_fcm_token_t *f)
{
    jwt_t *j = NULL;
    char *out = NULL;
    time_t now = time(NULL);
    if (jwt_new(&j) != 0) return NULL;
    if (jwt_set_alg(j, JWT_ALG_RS256, (const unsigned char *)f->private_key, strlen(f->private_key)) == 0 &&
        jwt_add_grant(j, "iss", f->client_email) == 0 && jwt_add_grant(j, "scope", SCOPE) == 0 &&
        jwt_add_grant(j, "aud", f->token_uri) == 0 && jwt_add_grant_int(j, "iat", now) == 0 &&
        jwt_add_grant_int(j, "exp", now + LIFETIME_S) == 0)
        out = jwt_encode_str(j);
    jwt_free(j);
    return out;
}

/* @locks f->lock */
static int fetch(task_fcm_token_t *f)
{
    char *jwt = assertion(f);
    if (jwt == NULL) {
        IM_LOG_RATELIMITED(1, IM_LOG_ERROR, "fcm.sign_failed", "msg=\"private_key is not an RSA PEM key\"");
        return IM_ECONFIG;
    }
    char *form = im_sprintf("grant_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Agrant-type%%3Ajwt-bearer&assertion=%s", jwt);
    free(jwt);   /* jwt_encode_str: malloc */
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/x-www-form-urlencoded");
    task_http_reply_t r;
    task_http_post(f->curl, f->url, h, form, IM_CFG_GET(*f->timeout_ms), &r);
    curl_slist_free_all(h);
    im_free(form);
    json_t *o = r.status == 200 ? json_loads(r.body, 0, NULL) : NULL;
    const char *tok = json_string_value(json_object_get(o, "access_token"));
    json_int_t ttl = json_integer_value(json_object_get(o, "expires_in"));
    int rc = IM_EUNAVAIL;
    if (tok && strlen(tok) < sizeof f->token) {
        snprintf(f->token, sizeof f->token, "%s", tok);
        f->expires_ms = im_clock_mono_ms() + (ttl > 0 ? (int64_t)ttl * 1000 : LIFETIME_S * 1000) - EARLY_MS;
        im_info("fcm.token_fetched", "expires_in=%lld", (long long)ttl);
        rc = IM_OK;
    } else {
        IM_LOG_RATELIMITED(1, IM_LOG_WARN, "fcm.token_failed", "url=\"%s\" status=%ld curl=\"%s\"", f->url,
                           r.status, r.error);
    }
    json_decref(o);
    task_http_reply_fini(&r);
    return rc;
}

int task_fcm_token_get(task_fcm_token_t *f, char *out, size_t outlen)
{
    pthread_mutex_lock(&f->lock);
    int rc = IM_OK;
    if (!f->token[0] || im_clock_mono_ms() >= f->expires_ms) rc = fetch(f);
    if (rc == IM_OK) snprintf(out, outlen, "%s", f->token);
    pthread_mutex_unlock(&f->lock);
    return rc;
}

void task_fcm_token_reset(task_fcm_token_t *f, const char *stale)
{
    pthread_mutex_lock(&f->lock);
    if (strcmp(f->token, stale) == 0) f->token[0] = '\0';   /* not one another worker just got */
    pthread_mutex_unlock(&f->lock);
}

void task_fcm_token_free(task_fcm_token_t *f)
{
    if (f == NULL) return;
    if (f->curl) {
        curl_easy_cleanup(f->curl);
        pthread_mutex_destroy(&f->lock);
    }
    im_free(f->client_email);
    im_free(f->private_key);
    im_free(f->token_uri);
    im_free(f->project_id);
    im_free(f->url);
    im_free(f);
}
