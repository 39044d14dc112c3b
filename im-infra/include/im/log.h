/* log.h — one line per event: `ts=… level=… daemon=… thread=… event=… k=v… trace=…`.
 *
 * Thread names and the current trace id are thread-local: a thread that works on a
 * message calls im_trace_set() and every line it logs carries `trace=`.
 * Lines go to stderr with one write(2) each, so threads never interleave. */
#ifndef IM_LOG_H
#define IM_LOG_H

typedef enum { IM_LOG_DEBUG = 0, IM_LOG_INFO, IM_LOG_WARN, IM_LOG_ERROR } im_log_level_t;

void im_log_init(const char *daemon, im_log_level_t min_level);
int im_log_level_parse(const char *s, im_log_level_t *out);
void im_log_set_level(im_log_level_t min_level);
void im_log_set_thread(const char *name); /* copies name; call at the start of each thread */

/* fmt carries the key=value fields after the event name, e.g. "port=%d". */
void im_log(im_log_level_t level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like im_log, but at most one line per `interval_s` for the same call site;
 * the next line says how many were suppressed. */
#define IM_LOG_RATELIMITED(interval_s, level, event, ...)                         \
    do {                                                                          \
        static long im__last_, im__dropped_;                                      \
        if (im_log_ratelimit_pass(&im__last_, &im__dropped_, (interval_s)))       \
            im_log((level), (event), __VA_ARGS__);                                \
    } while (0)
int im_log_ratelimit_pass(long *last, long *dropped, int interval_s);

#define im_debug(ev, ...) im_log(IM_LOG_DEBUG, ev, __VA_ARGS__)
#define im_info(ev, ...) im_log(IM_LOG_INFO, ev, __VA_ARGS__)
#define im_warn(ev, ...) im_log(IM_LOG_WARN, ev, __VA_ARGS__)
#define im_error(ev, ...) im_log(IM_LOG_ERROR, ev, __VA_ARGS__)

/* Trace context of the calling thread (W3C-style 32-hex trace id), "" if none. */
void im_trace_set(const char *trace_id);
const char *im_trace_get(void);
void im_trace_new(char out[33]); /* random 128-bit id as 32 hex chars */
/* W3C traceparent "00-{trace}-{span}-00" (not sampled) for a trace id that has no span
 * (im/trace.h makes the sampled ones), and the trace id back out
 * of one ("" if malformed). */
void im_traceparent_format(char out[56], const char *trace_id);
void im_traceparent_trace(const char *traceparent, char trace_id[33]);

#endif
