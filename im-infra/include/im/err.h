/* err.h — one error table for all of cim, and the allocator that never returns NULL.
 *
 * Functions return IM_OK (0) or a negative IM_E* code; im_strerror() names it.
 * Out-parameters are set only on success. */
#ifndef IM_ERR_H
#define IM_ERR_H

#include <stddef.h>

#define IM_ERRNO_MAP(X)                                       \
    X(INVAL, -1, "invalid argument")                          \
    X(NOTFOUND, -2, "not found")                              \
    X(EXISTS, -3, "already exists")                           \
    X(IO, -4, "i/o error")                                    \
    X(TIMEOUT, -5, "timed out")                               \
    X(UNAVAIL, -6, "unavailable")                             \
    X(PROTO, -7, "protocol error")                            \
    X(CONFIG, -8, "bad configuration")                        \
    X(FORBIDDEN, -9, "forbidden")                             \
    X(UNAUTH, -10, "unauthorized")                            \
    X(TOOLARGE, -11, "too large")                             \
    X(RATELIMIT, -12, "rate limited")                         \
    X(INTERNAL, -13, "internal error")                        \
    X(CANCELLED, -14, "cancelled")

typedef enum {
    IM_OK = 0,
#define IM_ERR_ENUM(name, code, msg) IM_E##name = code,
    IM_ERRNO_MAP(IM_ERR_ENUM)
#undef IM_ERR_ENUM
} im_err_t;

const char *im_strerror(int err);

/* Allocation failure aborts the process: callers never check for NULL. */
void *im_malloc(size_t n);
void *im_calloc(size_t nmemb, size_t n);
void *im_realloc(void *p, size_t n);
char *im_strdup(const char *s);
char *im_strndup(const char *s, size_t n);
char *im_sprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void im_free(void *p);

#endif
