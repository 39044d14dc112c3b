/* fuzz_jwt.c — im_jwt_verify on any bytes as a bearer token: it never crashes, and it
 * accepts nothing but an HS256 token signed with the secret, unexpired, with a positive
 * numeric sub and a jti (a forged or alg=none token must come back IM_EUNAUTH). */
#include "im/auth.h"
#include "im/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SECRET "fuzz-secret-fuzz-secret-fuzz-sec"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *token = malloc(size + 1);
    memcpy(token, data, size);
    token[size] = '\0';
    im_jwt_claims_t cl;
    if (im_jwt_verify(SECRET, token, &cl) == IM_OK) {
        if (cl.user_id == 0 || cl.jti == 0) abort();   /* accepted without its claims */
        /* the same bytes with another secret: refused */
        if (im_jwt_verify("another-secret-another-secret-an", token, &cl) == IM_OK) abort();
    }
    free(token);
    return 0;
}
