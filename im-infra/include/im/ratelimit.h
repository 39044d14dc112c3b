/* ratelimit.h — a token bucket: `rate` tokens per second, at most `burst` saved up.
 * Not thread-safe: each bucket belongs to one thread (the gateway's [S] for users). */
#ifndef IM_RATELIMIT_H
#define IM_RATELIMIT_H

#include <stdint.h>

typedef struct {
    double tokens;
    int64_t last_ms;   /* when tokens was last brought up to date; 0 = never */
} im_bucket_t;

/* 1 if a token was taken at now_ms, 0 if the caller is over the limit. */
int im_bucket_take(im_bucket_t *b, double rate, double burst, int64_t now_ms);

#endif
