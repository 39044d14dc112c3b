/* fuzz_jwt.c — im_jwt_verify on any bytes as a bearer token: it never crashes, and it
 * accepts nothing but an HS256 token signed with the secret, unexpired, with a positive
 * numeric sub and a jti (a forged or alg=none token must come back IM_EUNAUTH).
 *
 * An input that starts with '{' is instead a token's claims: it is signed here with the
 * secret (HS256, libjwt) and then verified, so the claim checks after the signature run
 * on mutated claims too (no mutated token passes the HMAC, so without this they would
 * only ever see the seeds). Accepted claims must be what the token says: exp in the
 * future, sub the decimal user id, jti 16 hex digits. */
#include "im/auth.h"
#include "im/err.h"

#include <jansson.h>
#include <jwt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SECRET "fuzz-secret-fuzz-secret-fuzz-sec"

/* Accepted claims against the JSON they were signed from. */
static void check_claims(const char *json, const im_jwt_claims_t *cl)
{
    json_t *o = json_loads(json, 0, NULL);
    const char *sub = json_string_value(json_object_get(o, "sub"));
    const char *jti = json_string_value(json_object_get(o, "jti"));
    json_t *exp = json_object_get(o, "exp");
    if (sub == NULL || strtoull(sub, NULL, 10) != cl->user_id) abort();
    if (jti == NULL || strlen(jti) != 16 || strtoull(jti, NULL, 16) != cl->jti) abort();
    if (!json_is_integer(exp) || json_integer_value(exp) != cl->exp || cl->exp <= (int64_t)time(NULL)) abort();
    json_decref(o);
}

static void verify_signed(const char *claims)
{
    jwt_t *jwt = NULL;
    char *token = NULL;
    if (jwt_new(&jwt) != 0) abort();
    if (jwt_add_grants_json(jwt, claims) == 0 &&
        jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)SECRET, (int)strlen(SECRET)) == 0)
        token = jwt_encode_str(jwt);
    jwt_free(jwt);
    if (token == NULL) return;
    im_jwt_claims_t cl;
    if (im_jwt_verify(SECRET, token, &cl) == IM_OK) {
        if (cl.user_id == 0 || cl.jti == 0) abort();
        check_claims(claims, &cl);
        if (im_jwt_verify("another-secret-another-secret-an", token, &cl) == IM_OK) abort();
    }
    free(token);   /* jwt_encode_str: the caller frees */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *token = malloc(size + 1);
    memcpy(token, data, size);
    token[size] = '\0';
    im_jwt_claims_t cl;
    if (size > 0 && token[0] == '{') {
        verify_signed(token);
    } else if (im_jwt_verify(SECRET, token, &cl) == IM_OK) {
        if (cl.user_id == 0 || cl.jti == 0) abort();   /* accepted without its claims */
        /* the same bytes with another secret: refused */
        if (im_jwt_verify("another-secret-another-secret-an", token, &cl) == IM_OK) abort();
    }
    free(token);
    return 0;
}
