/* log.c — key=value log lines with daemon, thread and trace id. */
#include "im/log.h"

#include <stdarg.h>
#include <sys/types.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

static char g_daemon[32] = "cim";
static im_log_level_t g_min = IM_LOG_INFO;
static __thread char t_thread[24] = "main";
static __thread char t_trace[33];

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void im_log_init(const char *daemon, im_log_level_t min_level)
{
    snprintf(g_daemon, sizeof g_daemon, "%s", daemon);
    g_min = min_level;
}

void im_log_set_level(im_log_level_t min_level)
{
    __atomic_store_n(&g_min, min_level, __ATOMIC_RELAXED);
}

int im_log_level_parse(const char *s, im_log_level_t *out)
{
    for (int i = 0; i < 4; i++)
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (im_log_level_t)i;
            return 0;
        }
    return -1;
}

void im_log_set_thread(const char *name)
{
    snprintf(t_thread, sizeof t_thread, "%s", name);
}

void im_trace_set(const char *trace_id)
{
    snprintf(t_trace, sizeof t_trace, "%s", trace_id ? trace_id : "");
}

const char *im_trace_get(void)
{
    return t_trace;
}

void im_trace_new(char out[33])
{
    unsigned char b[16];
    randombytes_buf(b, sizeof b);
    sodium_bin2hex(out, 33, b, sizeof b);
}

void im_traceparent_format(char out[56], const char *trace_id)
{
    unsigned char span[8];
    char hex[17];
    randombytes_buf(span, sizeof span);
    sodium_bin2hex(hex, sizeof hex, span, sizeof span);
    snprintf(out, 56, "00-%.32s-%s-00", trace_id, hex);   /* not sampled: spans come from im/trace.h */
}

void im_traceparent_trace(const char *tp, char trace_id[33])
{
    trace_id[0] = '\0';
    if (tp && strlen(tp) >= 35 && tp[2] == '-' && tp[35] == '-') {
        memcpy(trace_id, tp + 3, 32);
        trace_id[32] = '\0';
    }
}

/* Appends s to out[*n..cap) with the bytes that could forge or split a log line escaped:
 * control characters, backslash and quote always; space and '=' too when the value is
 * not inside quotes in the format (`cmid=%s` vs `err="%s"`). */
static void put_escaped(char *out, size_t cap, size_t *n, const char *s, int quoted)
{
    static const char hex[] = "0123456789abcdef";
    for (; *s && *n + 4 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '\\' || ch == '"') {
            out[(*n)++] = '\\';
            out[(*n)++] = (char)ch;
        } else if (ch < 0x20 || ch == 0x7f || (!quoted && (ch == ' ' || ch == '='))) {
            out[(*n)++] = '\\';
            out[(*n)++] = 'x';
            out[(*n)++] = hex[ch >> 4];
            out[(*n)++] = hex[ch & 15];
        } else {
            out[(*n)++] = (char)ch;
        }
    }
}

/* vsnprintf for log fields, conversion by conversion, with every %s argument escaped
 * (put_escaped): whatever a client sent, one event stays one line of key=value fields. */
static size_t format_fields(char *out, size_t cap, const char *fmt, va_list ap)
{
    size_t n = 0;
    char spec[32], tmp[1024];
    for (const char *p = fmt; *p && n + 1 < cap;) {
        if (*p != '%') {
            out[n++] = *p++;
            continue;
        }
        const char *start = p++;
        if (*p == '%') {
            out[n++] = '%';
            p++;
            continue;
        }
        int stars[2], nstars = 0;
        while (*p && strchr("-+ #0", *p)) p++;
        if (*p == '*') stars[nstars++] = va_arg(ap, int), p++;
        while (*p >= '0' && *p <= '9') p++;
        if (*p == '.') {
            p++;
            if (*p == '*') stars[nstars++] = va_arg(ap, int), p++;
            while (*p >= '0' && *p <= '9') p++;
        }
        int longs = 0, size = 0;
        for (;; p++) {
            if (*p == 'l') longs++;
            else if (*p == 'h') ;
            else if (*p == 'z' || *p == 't' || *p == 'j') size = 1;
            else break;
        }
        char conv = *p ? *p++ : '\0';
        size_t slen = (size_t)(p - start);
        if (conv == '\0' || slen >= sizeof spec) break;   /* malformed: stop, never guess */
        memcpy(spec, start, slen);
        spec[slen] = '\0';
        int w;
#define FMT1(v) (nstars == 2 ? snprintf(tmp, sizeof tmp, spec, stars[0], stars[1], v) \
                 : nstars == 1 ? snprintf(tmp, sizeof tmp, spec, stars[0], v) : snprintf(tmp, sizeof tmp, spec, v))
        switch (conv) {
        case 'd': case 'i':
            w = size ? FMT1(va_arg(ap, ssize_t)) : longs >= 2 ? FMT1(va_arg(ap, long long))
                : longs ? FMT1(va_arg(ap, long)) : FMT1(va_arg(ap, int));
            break;
        case 'u': case 'x': case 'X': case 'o':
            w = size ? FMT1(va_arg(ap, size_t)) : longs >= 2 ? FMT1(va_arg(ap, unsigned long long))
                : longs ? FMT1(va_arg(ap, unsigned long)) : FMT1(va_arg(ap, unsigned));
            break;
        case 'c': w = FMT1(va_arg(ap, int)); break;
        case 'p': w = FMT1(va_arg(ap, void *)); break;
        case 'f': case 'F': case 'e': case 'E': case 'g': case 'G': case 'a': case 'A':
            w = FMT1(va_arg(ap, double));
            break;
        case 's': {
            const char *v = va_arg(ap, const char *);
            w = FMT1(v ? v : "(null)");
            if (w >= 0) {
                out[n] = '\0';
                put_escaped(out, cap, &n, tmp, start > fmt && start[-1] == '"');
            }
            continue;
        }
        default:
            w = -1;
        }
#undef FMT1
        if (w < 0) break;
        size_t len = strlen(tmp);
        if (len > cap - 1 - n) len = cap - 1 - n;
        memcpy(out + n, tmp, len);
        n += len;
    }
    out[n] = '\0';
    return n;
}

void im_log(im_log_level_t level, const char *event, const char *fmt, ...)
{
    if (level < __atomic_load_n(&g_min, __ATOMIC_RELAXED)) return;
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line,
                     "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s daemon=%s thread=%s event=%s",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, level_names[level], g_daemon, t_thread,
                     event);
    if (fmt && *fmt && n < (int)sizeof line - 1) {
        line[n++] = ' ';
        va_list ap;
        va_start(ap, fmt);
        n += (int)format_fields(line + n, sizeof line - (size_t)n, fmt, ap);
        va_end(ap);
    }
    if (t_trace[0] && n < (int)sizeof line)
        n += snprintf(line + n, sizeof line - (size_t)n, " trace=%s", t_trace);
    if (n > (int)sizeof line - 2) n = (int)sizeof line - 2;
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}

int im_log_ratelimit_pass(long *last, long *dropped, int interval_s)
{
    long now = (long)time(NULL);
    if (now - *last >= interval_s) {
        if (*dropped > 0) im_warn("log.suppressed", "count=%ld", *dropped);
        *last = now;
        *dropped = 0;
        return 1;
    }
    ++*dropped;
    return 0;
}
