/* err.c — im_strerror() and the aborting allocator. */
#include "im/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *im_strerror(int err)
{
    switch (err) {
    case IM_OK: return "ok";
#define IM_ERR_CASE(name, code, msg) case IM_E##name: return msg;
    IM_ERRNO_MAP(IM_ERR_CASE)
#undef IM_ERR_CASE
    }
    return "unknown error";
}

static void oom(size_t n)
{
    fprintf(stderr, "fatal: out of memory allocating %zu bytes\n", n);
    abort();
}

void *im_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL) oom(n);
    return p;
}

void *im_calloc(size_t nmemb, size_t n)
{
    void *p = calloc(nmemb ? nmemb : 1, n ? n : 1);
    if (p == NULL) oom(nmemb * n);
    return p;
}

void *im_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL) oom(n);
    return q;
}

char *im_strndup(const char *s, size_t n)
{
    char *d = im_malloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *im_strdup(const char *s)
{
    return s ? im_strndup(s, strlen(s)) : NULL;
}

char *im_sprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = im_malloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

void im_free(void *p)
{
    free(p);
}
