/* auth.c — JWT issue/verify on libjwt, argon2id on libsodium with bounded concurrency. */
#include "im/auth.h"
#include "im/err.h"

#include <jwt.h>
#include <semaphore.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int im_jwt_issue(const char *secret, uint64_t user_id, int ttl_s, char **token,
                 int64_t *expires_at_ms)
{
    jwt_t *jwt = NULL;
    if (sodium_init() < 0 || jwt_new(&jwt) != 0) return IM_EINTERNAL;   /* sodium: the jti's random bits */
    time_t now = time(NULL);
    char sub[24], jti[17];
    snprintf(sub, sizeof sub, "%llu", (unsigned long long)user_id);
    uint64_t r;
    do randombytes_buf(&r, sizeof r);
    while (r == 0 || r == UINT64_MAX);   /* keys im_u64map cannot hold */
    snprintf(jti, sizeof jti, "%016llx", (unsigned long long)r);
    int rc = jwt_add_grant(jwt, "sub", sub) || jwt_add_grant(jwt, "jti", jti) || jwt_add_grant_int(jwt, "iat", (long)now) ||
             jwt_add_grant_int(jwt, "exp", (long)(now + ttl_s)) ||
             jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)secret, (int)strlen(secret));
    char *enc = rc ? NULL : jwt_encode_str(jwt);
    jwt_free(jwt);
    if (enc == NULL) return IM_EINTERNAL;
    *token = im_strdup(enc);
    free(enc);
    *expires_at_ms = (int64_t)(now + ttl_s) * 1000;
    return IM_OK;
}

/* 16 lower-case hex digits, not 0 and not all f. */
static uint64_t jti_of(const char *s)
{
    if (s == NULL || strlen(s) != 16 || strspn(s, "0123456789abcdef") != 16) return 0;
    uint64_t v = strtoull(s, NULL, 16);
    return v == UINT64_MAX ? 0 : v;
}

int im_jwt_verify(const char *secret, const char *token, im_jwt_claims_t *claims)
{
    jwt_t *jwt = NULL;
    if (secret == NULL || !*secret || token == NULL || strlen(token) > 4096) return IM_EUNAUTH;
    /* never decode with a NULL key: libjwt then accepts alg=none */
    if (jwt_decode(&jwt, token, (const unsigned char *)secret, (int)strlen(secret)) != 0)
        return IM_EUNAUTH;
    int rc = IM_EUNAUTH;
    const char *sub = jwt_get_grant(jwt, "sub");
    long exp = jwt_get_grant_int(jwt, "exp");
    long iat = jwt_get_grant_int(jwt, "iat");   /* 0 when absent */
    uint64_t jti = jti_of(jwt_get_grant(jwt, "jti"));
    char *end = NULL;
    unsigned long long uid = sub ? strtoull(sub, &end, 10) : 0;
    long now = (long)time(NULL);
    if (jwt_get_alg(jwt) == JWT_ALG_HS256 && exp > now && iat <= now + IM_JWT_CLOCK_SKEW_S && sub && *sub && end &&
        *end == '\0' && uid > 0 && jti != 0) {
        claims->user_id = uid;
        claims->jti = jti;
        claims->exp = exp;
        rc = IM_OK;
    }
    jwt_free(jwt);
    return rc;
}

int im_jwt_secret_check(const char *secret, char *why, size_t whylen)
{
    static const char *const shipped[] = {   /* examples in this repository's deploy files */
        "change-me-to-a-long-random-secret",
        "local-development-secret-not-for-production",
    };
    size_t n = secret ? strlen(secret) : 0;
    if (n < IM_JWT_SECRET_MIN) {
        snprintf(why, whylen, "jwt_secret has %zu bytes; use at least %d random ones", n, IM_JWT_SECRET_MIN);
        return IM_ECONFIG;
    }
    for (size_t i = 0; i < sizeof shipped / sizeof shipped[0]; i++)
        if (strcmp(secret, shipped[i]) == 0) {
            snprintf(why, whylen, "jwt_secret is the example shipped with cim; set your own random one");
            return IM_ECONFIG;
        }
    return IM_OK;
}

static sem_t g_hash_slots;
static unsigned long long g_hash_ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
static size_t g_hash_mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;

void im_password_init(int concurrency, int passes, int memory_kib)
{
    if (sodium_init() < 0) abort();
    g_hash_ops = (unsigned long long)passes;
    g_hash_mem = (size_t)memory_kib * 1024;
    sem_init(&g_hash_slots, 0, (unsigned)(concurrency > 0 ? concurrency : 1));
}

int im_password_hash(const char *password, char out[128])
{
    sem_wait(&g_hash_slots);
    int rc = crypto_pwhash_str(out, password, strlen(password), g_hash_ops, g_hash_mem);
    sem_post(&g_hash_slots);
    return rc == 0 ? IM_OK : IM_EINTERNAL;
}

int im_password_verify(const char *hash, const char *password)
{
    sem_wait(&g_hash_slots);
    int rc = crypto_pwhash_str_verify(hash, password, strlen(password));
    sem_post(&g_hash_slots);
    return rc == 0 ? IM_OK : IM_EUNAUTH;
}
