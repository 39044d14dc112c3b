/* auth.h — HS256 JWTs (issue in im-logic, verify in im-gateway) and argon2id passwords.
 *
 * Verification checks the signature AND that the header says HS256 AND that `exp` is
 * in the future AND that `sub` is a user id: libjwt alone checks only the signature. */
#ifndef IM_AUTH_H
#define IM_AUTH_H

#include <stddef.h>
#include <stdint.h>

/* What a verified token says. */
typedef struct {
    uint64_t user_id;   /* sub */
    uint64_t jti;       /* 64 random bits, 16 hex digits in the token: what a logout revokes */
    int64_t exp;        /* seconds since the epoch */
} im_jwt_claims_t;

/* Writes a token for user_id valid for ttl_s seconds, with a fresh jti, into a new string
 * (caller frees with im_free); *expires_at_ms gets its expiry. */
int im_jwt_issue(const char *secret, uint64_t user_id, int ttl_s, char **token,
                 int64_t *expires_at_ms);
/* IM_OK and *claims, or IM_EUNAUTH for a bad signature, another alg, an expired or
 * malformed token, one without a jti, or one issued (iat) more than IM_JWT_CLOCK_SKEW_S in
 * the future. Other header fields (kid, typ) are not used. */
#define IM_JWT_CLOCK_SKEW_S 60
int im_jwt_verify(const char *secret, const char *token, im_jwt_claims_t *claims);

/* A daemon's jwt_secret at start: IM_OK, or IM_ECONFIG with why (for the log) when it is
 * shorter than IM_JWT_SECRET_MIN bytes or a value this project ships as an example. */
#define IM_JWT_SECRET_MIN 32
int im_jwt_secret_check(const char *secret, char *why, size_t whylen);

/* argon2id. New hashes take `passes` passes over `memory_kib` KiB (libsodium's
 * interactive limits, 2 and 65536: ~70 ms per call, are the defaults of every caller);
 * a verify uses the cost written in the stored hash. At most `concurrency` hashes or
 * verifies run at once in this process; the rest wait. */
void im_password_init(int concurrency, int passes, int memory_kib);
int im_password_hash(const char *password, char out[128]);
int im_password_verify(const char *hash, const char *password);   /* IM_OK or IM_EUNAUTH */

#endif
