/* conv.c — see conv.h. */
#include "im/conv.h"
#include "im/err.h"

#include <stdio.h>

void im_conv_single(char out[IM_CONV_ID_MAX], uint64_t u1, uint64_t u2)
{
    snprintf(out, IM_CONV_ID_MAX, "s_%llu_%llu", (unsigned long long)(u1 < u2 ? u1 : u2),
             (unsigned long long)(u1 < u2 ? u2 : u1));
}

void im_conv_group(char out[IM_CONV_ID_MAX], uint64_t group_id)
{
    snprintf(out, IM_CONV_ID_MAX, "g_%llu", (unsigned long long)group_id);
}

/* A canonical positive decimal at *p (no sign, no leading zero, no overflow). */
static const char *number(const char *p, uint64_t *v)
{
    if (*p < '1' || *p > '9') return NULL;
    uint64_t x = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (x > (UINT64_MAX - d) / 10) return NULL;
        x = x * 10 + d;
    }
    *v = x;
    return p;
}

int im_conv_parse(const char *cid, im_conv_t *out)
{
    uint64_t a = 0, b = 0;
    const char *p;
    if (cid == NULL || cid[0] == '\0' || cid[1] != '_') return IM_EINVAL;
    if (cid[0] == 's') {
        if ((p = number(cid + 2, &a)) == NULL || *p != '_' || (p = number(p + 1, &b)) == NULL || *p ||
            a >= b)
            return IM_EINVAL;
        *out = (im_conv_t){IM_CONV_SINGLE, a, b};
        return IM_OK;
    }
    if (cid[0] == 'g') {
        if ((p = number(cid + 2, &a)) == NULL || *p) return IM_EINVAL;
        *out = (im_conv_t){IM_CONV_GROUP, a, 0};
        return IM_OK;
    }
    return IM_EINVAL;
}

uint64_t im_conv_peer(const char *cid, uint64_t user)
{
    im_conv_t c;
    if (im_conv_parse(cid, &c) != IM_OK || c.kind != IM_CONV_SINGLE) return 0;
    return c.a == user ? c.b : c.b == user ? c.a : 0;
}
