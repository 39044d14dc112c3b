/* conv.h — conversation ids, built and parsed here only (DESIGN rule 5):
 * single chat `s_{min_uid}_{max_uid}`, group `g_{group_id}`; decimal, no leading zeros.
 *
 * The parser accepts the canonical form only, so one conversation has one id: a client
 * string that parses is exactly what the builder would make. */
#ifndef IM_CONV_H
#define IM_CONV_H

#include <stddef.h>
#include <stdint.h>

#define IM_CONV_ID_MAX 48   /* "s_" + two 20-digit ids + "_" + NUL fits */

typedef enum { IM_CONV_SINGLE = 1, IM_CONV_GROUP = 2 } im_conv_kind_t;

typedef struct {
    im_conv_kind_t kind;
    uint64_t a, b;   /* single: the two users, a < b; group: a = group id, b = 0 */
} im_conv_t;

/* The single chat of two distinct users (order does not matter). */
void im_conv_single(char out[IM_CONV_ID_MAX], uint64_t u1, uint64_t u2);
void im_conv_group(char out[IM_CONV_ID_MAX], uint64_t group_id);
/* IM_OK and *out if cid is a canonical id, IM_EINVAL otherwise. */
int im_conv_parse(const char *cid, im_conv_t *out);
/* For a single chat `cid` that `user` is in: the other user, else 0. */
uint64_t im_conv_peer(const char *cid, uint64_t user);

#endif
