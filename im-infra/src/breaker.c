/* breaker.c — see im/breaker.h. */
#include "im/breaker.h"
#include "im/config.h"
#include "im/metrics.h"

#include <stdio.h>
#include <string.h>

void im_breaker_init(im_breaker_t *b)
{
    memset(b, 0, sizeof *b);
    pthread_mutex_init(&b->mu, NULL);
}

void im_breaker_fini(im_breaker_t *b)
{
    if (b->state_gauge) im_metric_set(b->state_gauge, IM_BREAKER_CLOSED);   /* gone: not open */
    pthread_mutex_destroy(&b->mu);
}

void im_breaker_name(im_breaker_t *b, const char *endpoint)
{
    snprintf(b->endpoint, sizeof b->endpoint, "%s", endpoint);
    char labels[96];
    snprintf(labels, sizeof labels, "endpoint=\"%s\"", b->endpoint);
    b->state_gauge = im_metric_new_l(IM_METRIC_GAUGE, "cim_breaker_state",
                                     "gRPC client breaker state per endpoint: 0 closed, 1 open, 2 half-open",
                                     labels);
    im_metric_set(b->state_gauge, b->state);
}

/* b moved to state `to`: the gauge and the transition counter (rare: the registry lookup
 * is fine here). Called with b->mu held. */
static void moved(im_breaker_t *b, int to)
{
    if (b->state_gauge) im_metric_set(b->state_gauge, to);
    char labels[128];
    snprintf(labels, sizeof labels, "endpoint=\"%s\",to=\"%s\"", b->endpoint, im_breaker_state_name(to));
    im_metric_add(im_metric_new_l(IM_METRIC_COUNTER, "cim_breaker_transitions_total",
                                  "gRPC client breaker state changes, by endpoint and new state", labels), 1);
}

static void clear(im_breaker_t *b)
{
    memset(b->ring, 0, sizeof b->ring);
    b->pos = b->n = b->fails = 0;
}

int im_breaker_allow(im_breaker_t *b, const im_breaker_cfg_t *cfg, int64_t now_ms)
{
    pthread_mutex_lock(&b->mu);
    int ok = 1;
    if (b->state == IM_BREAKER_OPEN && now_ms - b->opened_ms >= IM_CFG_GET(cfg->open_ms)) {
        b->state = IM_BREAKER_HALF_OPEN;
        b->probing = 0;
        moved(b, IM_BREAKER_HALF_OPEN);
    }
    if (b->state == IM_BREAKER_OPEN) ok = 0;
    else if (b->state == IM_BREAKER_HALF_OPEN) ok = !b->probing, b->probing = 1;
    pthread_mutex_unlock(&b->mu);
    return ok;
}

int im_breaker_record(im_breaker_t *b, const im_breaker_cfg_t *cfg, int failed, int64_t now_ms)
{
    pthread_mutex_lock(&b->mu);
    int before = b->state;
    if (b->state == IM_BREAKER_HALF_OPEN) {
        b->probing = 0;
        if (failed) {
            b->state = IM_BREAKER_OPEN;
            b->opened_ms = now_ms;
        } else {
            b->state = IM_BREAKER_CLOSED;
            clear(b);
        }
    } else if (b->state == IM_BREAKER_CLOSED) {
        if (b->n == IM_BREAKER_WINDOW) b->fails -= b->ring[b->pos];
        else b->n++;
        b->ring[b->pos] = failed != 0;
        b->fails += failed != 0;
        b->pos = (b->pos + 1) % IM_BREAKER_WINDOW;
        int min = IM_CFG_GET(cfg->min_calls), pct = IM_CFG_GET(cfg->failure_pct);
        if (pct > 0 && b->n >= (min < 1 ? 1 : min) && b->fails * 100 >= pct * b->n) {
            b->state = IM_BREAKER_OPEN;
            b->opened_ms = now_ms;
            clear(b);
        }
    }   /* open: a call that went out before it opened; nothing to learn */
    int after = b->state;
    if (after != before) moved(b, after);
    pthread_mutex_unlock(&b->mu);
    return after != before ? after : -1;
}

const char *im_breaker_state_name(int state)
{
    return state == IM_BREAKER_OPEN ? "open" : state == IM_BREAKER_HALF_OPEN ? "half_open" : "closed";
}
