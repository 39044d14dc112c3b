/* breaker.h — a circuit breaker for one endpoint (the gRPC client keeps one per
 * endpoint, rpc_client.c): pure logic, the clock passed in, thread-safe by its mutex.
 *
 *   closed     calls go through; the outcomes of the last IM_BREAKER_WINDOW calls are
 *              kept. At least min_calls of them and failure_pct % failed -> open.
 *   open       calls are refused (the caller tries another endpoint, at once) for
 *              open_ms, then -> half-open.
 *   half-open  one call at a time goes through as a probe: success -> closed (window
 *              cleared), failure -> open again.
 * A failure is whatever the caller says: the gRPC client counts UNAVAILABLE,
 * DEADLINE_EXCEEDED and calls slower than slow_ms. Settings are read on every use, so
 * they may change at run time (IM_CFG_GET).
 *
 * Metrics: every transition counts in cim_breaker_transitions_total{endpoint,to}; a named
 * breaker (im_breaker_name) also shows its state in cim_breaker_state{endpoint}
 * (0 closed, 1 open, 2 half-open — the enum's values). */
#ifndef IM_BREAKER_H
#define IM_BREAKER_H

#include <pthread.h>
#include <stdint.h>

#define IM_BREAKER_WINDOW 20

typedef enum { IM_BREAKER_CLOSED = 0, IM_BREAKER_OPEN, IM_BREAKER_HALF_OPEN } im_breaker_state_t;

typedef struct im_breaker_cfg_s {
    int min_calls;      /* outcomes needed before the rate counts (1..IM_BREAKER_WINDOW) */
    int failure_pct;    /* open at this failure rate, percent; 0 = never */
    int open_ms;        /* how long open before a probe */
    int slow_ms;        /* a call slower than this is a failure; 0 = never */
} im_breaker_cfg_t;

struct im_metric_s;

typedef struct {
    pthread_mutex_t mu;
    char endpoint[64];                  /* "host:port" or "" (im_breaker_name) */
    struct im_metric_s *state_gauge;    /* cim_breaker_state{endpoint}; NULL if unnamed */
    im_breaker_state_t state;
    int64_t opened_ms;
    int probing;                        /* half-open: the probe is out */
    uint8_t ring[IM_BREAKER_WINDOW];    /* 1 = failed */
    int pos, n, fails;
} im_breaker_t;

void im_breaker_init(im_breaker_t *b);
void im_breaker_fini(im_breaker_t *b);   /* a named breaker's gauge goes back to 0 */
/* Names b's endpoint ("host:port") for its metrics and registers its state gauge; once,
 * before use. Breakers of one endpoint in one process share the gauge. */
void im_breaker_name(im_breaker_t *b, const char *endpoint);
/* 1 if a call may go now (in half-open it is the probe: its outcome must be recorded). */
int im_breaker_allow(im_breaker_t *b, const im_breaker_cfg_t *cfg, int64_t now_ms);
/* A finished call's outcome; returns the new state if it changed, else -1. */
int im_breaker_record(im_breaker_t *b, const im_breaker_cfg_t *cfg, int failed, int64_t now_ms);
const char *im_breaker_state_name(int state);

#endif
