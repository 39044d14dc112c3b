/* trace.h — spans of a message's hops, exported to a Zipkin v2 collector.
 *
 * A trace starts where a client's op enters cim (the gateway): im_span_root() decides
 * whether it is sampled (one in `trace_one_in`, live) and every later hop follows the
 * decision in the W3C traceparent "00-{trace 32 hex}-{span 16 hex}-{01 sampled | 00}"
 * carried by the Kafka header `traceparent` and the gRPC metadata of the same name.
 *
 * Each thread has a current span (im_span_enter/im_span_leave): log lines carry its trace
 * id, a gRPC call made under a sampled one gets a client span and passes it on, and
 * im_span_child() records a finished step (an SQL statement) under it.
 *
 * A sampled span, once ended, is copied to the exporter's queue (an im_queue_t); the
 * `trace-export` thread posts them in batches (JSON array, POST {tracing_url}/api/v2/spans,
 * libcurl) at least every 500 ms. Spans of a full queue, or of a collector that does not
 * answer, are dropped and counted (cim_trace_spans_dropped_total): tracing never slows a
 * message. Without im_tracing_start (tracing_url empty) nothing is sampled. */
#ifndef IM_TRACE_H
#define IM_TRACE_H

#include <stdint.h>

typedef enum {
    IM_SPAN_INTERNAL = 0,
    IM_SPAN_SERVER,     /* a gRPC call served; a WebSocket op received */
    IM_SPAN_CLIENT,     /* a gRPC call made */
    IM_SPAN_PRODUCER,   /* a Kafka record produced */
    IM_SPAN_CONSUMER,   /* a Kafka record consumed */
} im_span_kind_t;

#define IM_SPAN_TAGS 4

typedef struct im_span_s {
    char trace[33];           /* 32 hex; "" = no trace */
    char id[17];              /* 16 hex */
    char parent[17];          /* "" for a root */
    int sampled;
    const char *name;         /* a literal */
    im_span_kind_t kind;
    int64_t start_us, end_us; /* wall clock */
    int ntags;
    struct {
        const char *key;      /* a literal */
        char val[96];
    } tags[IM_SPAN_TAGS];
    const struct im_span_s *prev;   /* the thread's span before im_span_enter(this) */
} im_span_t;

/* Starts the exporter ("service" is the daemon's name in the collector; url like
 * "http://127.0.0.1:9411"); *one_in is read live on every im_span_root. Once per process;
 * stop drains what is queued (up to ~1 s) and joins. */
void im_tracing_start(const char *service, const char *url, const int *one_in);
void im_tracing_stop(void);   /* after every thread that ends spans has stopped */

/* A new trace, sampled or not by the live ratio. */
void im_span_root(im_span_t *s, const char *name, im_span_kind_t kind);
/* A child of `traceparent` (a header or metadata value); a malformed or empty one
 * starts a new, unsampled trace. */
void im_span_from(im_span_t *s, const char *traceparent, const char *name, im_span_kind_t kind);
/* A child of parent. */
void im_span_child_of(im_span_t *s, const im_span_t *parent, const char *name, im_span_kind_t kind);
void im_span_tag(im_span_t *s, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Ends s now (or keeps an end_us already set) and exports it if sampled. */
void im_span_end(im_span_t *s);
/* The traceparent naming s as the parent of what follows. */
void im_span_traceparent(const im_span_t *s, char out[56]);

/* The calling thread's current span (NULL if none): enter sets it and the log lines'
 * trace id, leave restores the previous one. */
void im_span_enter(im_span_t *s);
void im_span_leave(im_span_t *s);
const im_span_t *im_span_current(void);
/* Records a finished step [start_us, end_us] under the thread's current span if that is
 * sampled (a no-op otherwise: callers need not check). */
void im_span_child(const char *name, int64_t start_us, int64_t end_us, const char *key, const char *val);

#endif
