/* test_auth_text.c — JWT checks (forged, expired, alg=none), passwords, UTF-8, token bucket. */
#include "im/auth.h"
#include "im/err.h"
#include "im/ratelimit.h"
#include "im/text.h"
#include "im_test.h"

#include <jwt.h>
#include <sodium.h>
#include <time.h>

static char *b64url(const char *s)
{
    static char out[4][512];
    static int k;
    char *o = out[k++ % 4];
    sodium_bin2base64(o, 512, (const unsigned char *)s, strlen(s), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return o;
}

static void test_jwt(void)
{
    char *tok;
    int64_t exp;
    im_jwt_claims_t uid = {0}, again = {0};
    CHECK_INT(im_jwt_issue("s3cret", 42, 60, &tok, &exp), IM_OK);
    CHECK(exp > (int64_t)time(NULL) * 1000);
    CHECK_INT(im_jwt_verify("s3cret", tok, &uid), IM_OK);
    CHECK_INT(uid.user_id, 42);
    CHECK_INT(uid.exp, exp / 1000);
    CHECK(uid.jti != 0);
    char *tok2;
    CHECK_INT(im_jwt_issue("s3cret", 42, 60, &tok2, &exp), IM_OK);   /* each login its own jti */
    CHECK_INT(im_jwt_verify("s3cret", tok2, &again), IM_OK);
    CHECK(again.jti != uid.jti);
    im_free(tok2);
    CHECK_INT(im_jwt_verify("other", tok, &uid), IM_EUNAUTH);     /* forged: wrong key */
    tok[strlen(tok) - 2] ^= 1;                                     /* tampered signature */
    CHECK_INT(im_jwt_verify("s3cret", tok, &uid), IM_EUNAUTH);
    im_free(tok);

    CHECK_INT(im_jwt_issue("s3cret", 42, -10, &tok, &exp), IM_OK); /* already expired */
    CHECK_INT(im_jwt_verify("s3cret", tok, &uid), IM_EUNAUTH);
    im_free(tok);

    /* alg=none with the same claims and an empty signature */
    char claims[128];
    snprintf(claims, sizeof claims, "{\"sub\":\"42\",\"exp\":%ld}", (long)time(NULL) + 600);
    char none[1024];
    snprintf(none, sizeof none, "%s.%s.", b64url("{\"alg\":\"none\",\"typ\":\"JWT\"}"), b64url(claims));
    CHECK_INT(im_jwt_verify("s3cret", none, &uid), IM_EUNAUTH);

    /* HS512 signed with the right key is still refused: only HS256 is accepted */
    jwt_t *j;
    jwt_new(&j);
    jwt_add_grant(j, "sub", "42");
    jwt_add_grant_int(j, "exp", (long)time(NULL) + 600);
    jwt_set_alg(j, JWT_ALG_HS512, (const unsigned char *)"s3cret", 6);
    char *hs512 = jwt_encode_str(j);
    CHECK_INT(im_jwt_verify("s3cret", hs512, &uid), IM_EUNAUTH);
    free(hs512);
    jwt_free(j);

    CHECK_INT(im_jwt_verify("s3cret", "garbage", &uid), IM_EUNAUTH);
    CHECK_INT(im_jwt_verify("s3cret", "", &uid), IM_EUNAUTH);

    /* a right signature without a jti (a token that could not be revoked) is refused */
    jwt_new(&j);
    jwt_add_grant(j, "sub", "42");
    jwt_add_grant_int(j, "exp", (long)time(NULL) + 600);
    jwt_set_alg(j, JWT_ALG_HS256, (const unsigned char *)"s3cret", 6);
    char *nojti = jwt_encode_str(j);
    CHECK_INT(im_jwt_verify("s3cret", nojti, &uid), IM_EUNAUTH);
    free(nojti);
    jwt_free(j);
}

static void test_password(void)
{
    char hash[128];
    im_password_init(2, 2, 65536);
    CHECK_INT(im_password_hash("correct horse", hash), IM_OK);
    CHECK(strncmp(hash, "$argon2id$v=19$m=65536,t=2,", 27) == 0);
    CHECK_INT(im_password_verify(hash, "correct horse"), IM_OK);
    CHECK_INT(im_password_verify(hash, "wrong horse"), IM_EUNAUTH);
    /* a cheaper cost for new hashes; the old hash still verifies at its own cost */
    char cheap[128];
    im_password_init(2, 1, 8);
    CHECK_INT(im_password_hash("correct horse", cheap), IM_OK);
    CHECK(strncmp(cheap, "$argon2id$v=19$m=8,t=1,", 23) == 0);
    CHECK_INT(im_password_verify(cheap, "correct horse"), IM_OK);
    CHECK_INT(im_password_verify(hash, "correct horse"), IM_OK);
}

static void test_text(void)
{
    CHECK(im_utf8_valid("hello", 5));
    CHECK(im_utf8_valid("\xe4\xbd\xa0\xe5\xa5\xbd", 6));     /* 你好 */
    CHECK(im_utf8_valid("\xf0\x9f\x98\x80", 4));             /* emoji */
    CHECK(!im_utf8_valid("\xff", 1));
    CHECK(!im_utf8_valid("\xc0\xaf", 2));                    /* overlong '/' */
    CHECK(!im_utf8_valid("\xed\xa0\x80", 3));                /* surrogate */
    CHECK(!im_utf8_valid("\xe4\xbd", 2));                    /* truncated */
    CHECK(!im_utf8_valid("\xf4\x90\x80\x80", 4));            /* > U+10FFFF */
    CHECK_INT(im_utf8_chars("a\xe4\xbd\xa0\xf0\x9f\x98\x80", 8), 3);
    CHECK(im_username_valid("alice_01"));
    CHECK(!im_username_valid("al"));
    CHECK(!im_username_valid("bob'; DROP TABLE users; --"));
    CHECK(!im_username_valid("a very long name that goes past the limit"));
}

static void test_bucket(void)
{
    im_bucket_t b = {0};
    int taken = 0;
    for (int i = 0; i < 20; i++) taken += im_bucket_take(&b, 5, 10, 1000);
    CHECK_INT(taken, 10);                                    /* the burst */
    CHECK_INT(im_bucket_take(&b, 5, 10, 1100), 0);           /* 0.5 token after 100 ms */
    CHECK_INT(im_bucket_take(&b, 5, 10, 1200), 1);           /* 1 token after 200 ms */
    taken = 0;
    for (int i = 0; i < 100; i++) taken += im_bucket_take(&b, 5, 10, 100000);
    CHECK_INT(taken, 10);                                    /* refill capped at burst */
}

int main(void)
{
    test_jwt();
    test_password();
    test_text();
    test_bucket();
    CHECK(im_cmid_valid("a"));
    CHECK(im_cmid_valid("2f1c-9e.x_y:z"));
    CHECK(!im_cmid_valid(""));
    CHECK(!im_cmid_valid(NULL));
    CHECK(!im_cmid_valid("a b"));
    CHECK(!im_cmid_valid("a\nb"));
    CHECK(!im_cmid_valid("a=b"));
    CHECK(im_cmid_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));    /* 64 */
    CHECK(!im_cmid_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));   /* 65 */
    IM_TEST_DONE();
}
