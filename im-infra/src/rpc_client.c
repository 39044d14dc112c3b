/* rpc_client.c — unary calls round-robin over a changing set of endpoints.
 *
 * Each endpoint owns one grpc_channel and a reference count: the client's list holds
 * one reference, every call using it another, so set_endpoints can drop an endpoint
 * while calls still run on its channel (the last one out destroys it).
 * A call snapshots the list under the mutex, then tries endpoints starting at the
 * round-robin cursor, moving on after UNAVAILABLE, each one at most once.
 * With breakers set (im_rpc_client_set_breaker), each endpoint has one: an endpoint whose
 * breaker is open is skipped without a try, so a hung or sick instance costs callers a
 * deadline only until its breaker opens; transitions are logged (rpc.breaker) and
 * counted (cim_rpc_breaker_opened_total).
 * Every call is timed per method (cim_rpc_client_seconds{method}); made under the
 * thread's current span (im/trace.h) it carries a `traceparent` (a client span of its own
 * when sampled), else an `x-trace-id` for the log lines. */
#include "rpc_internal.h"
#include "im/breaker.h"
#include "im/clock.h"
#include "im/config.h"
#include "im/err.h"
#include "im/log.h"
#include "im/metrics.h"
#include "im/trace.h"

#include <grpc/grpc_security.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define RPC_SNAPSHOT_STACK 16

typedef struct {
    char addr[64];       /* "host:port" */
    grpc_channel *ch;
    int refs;            /* atomic: the endpoint list + calls in flight */
    im_breaker_t br;
} rpc_endpoint_t;

struct im_rpc_client_s {
    const ProtobufCServiceDescriptor *svc;
    char **paths;        /* "/svc/Method" per method index of svc */
    im_metric_t **m_seconds;   /* cim_rpc_client_seconds per method index */
    pthread_mutex_t mu;  /* guards eps, n_eps */
    rpc_endpoint_t **eps;
    size_t n_eps;
    unsigned rr;         /* atomic round-robin cursor */
    const im_breaker_cfg_t *breaker;   /* NULL: no breakers */
};

static pthread_once_t metric_once = PTHREAD_ONCE_INIT;
static im_metric_t *m_opened;

static void metric_init(void)
{
    m_opened = im_metric_new(IM_METRIC_COUNTER, "cim_rpc_breaker_opened_total",
                             "gRPC client circuit breakers that opened (an endpoint skipped)");
}

static rpc_endpoint_t *endpoint_new(const char *addr)
{
    rpc_endpoint_t *ep = im_calloc(1, sizeof *ep);
    snprintf(ep->addr, sizeof ep->addr, "%s", addr);
    /* A killed server must not leave calls waiting out a long reconnect backoff;
     * and an http_proxy in the environment must not capture internal traffic. */
    grpc_arg args[] = {
        {.type = GRPC_ARG_INTEGER,
         .key = (char *)GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
         .value.integer = 200},
        {.type = GRPC_ARG_INTEGER,
         .key = (char *)GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
         .value.integer = 1000},
        {.type = GRPC_ARG_INTEGER, .key = (char *)GRPC_ARG_ENABLE_HTTP_PROXY, .value.integer = 0},
        {.type = GRPC_ARG_INTEGER, .key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
         .value.integer = IM_RPC_MAX_MESSAGE},
    };
    grpc_channel_args ca = {sizeof args / sizeof args[0], args};
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    ep->ch = grpc_channel_create(addr, creds, &ca);
    grpc_channel_credentials_release(creds);
    ep->refs = 1;
    im_breaker_init(&ep->br);
    im_breaker_name(&ep->br, addr);   /* cim_breaker_state{endpoint} */
    return ep;
}

static void endpoint_ref(rpc_endpoint_t *ep)
{
    __atomic_add_fetch(&ep->refs, 1, __ATOMIC_RELAXED);
}

static void endpoint_unref(rpc_endpoint_t *ep)
{
    if (__atomic_sub_fetch(&ep->refs, 1, __ATOMIC_ACQ_REL) > 0) return;
    grpc_channel_destroy(ep->ch);
    im_breaker_fini(&ep->br);
    im_free(ep);
}

im_rpc_client_t *im_rpc_client_new(const ProtobufCServiceDescriptor *svc)
{
    im_rpc_client_t *c = im_calloc(1, sizeof *c);
    c->svc = svc;
    c->paths = im_calloc(svc->n_methods ? svc->n_methods : 1, sizeof *c->paths);
    c->m_seconds = im_calloc(svc->n_methods ? svc->n_methods : 1, sizeof *c->m_seconds);
    for (unsigned i = 0; i < svc->n_methods; i++) {
        c->paths[i] = im_rpc_method_path(svc, svc->methods[i].name);
        char labels[192];
        snprintf(labels, sizeof labels, "method=\"%s\"", c->paths[i]);
        c->m_seconds[i] = im_metric_new_l(IM_METRIC_HISTOGRAM, "cim_rpc_client_seconds",
                                          "gRPC calls made, by method (retries on other endpoints included)", labels);
    }
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

void im_rpc_client_set_endpoints(im_rpc_client_t *c, const char *const *addrs, size_t n)
{
    rpc_endpoint_t **next = im_calloc(n ? n : 1, sizeof *next);
    size_t m = 0;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < n; i++) {
        if (!addrs[i] || !*addrs[i] || strlen(addrs[i]) >= sizeof next[0]->addr) {
            im_warn("rpc.bad_endpoint", "service=%s addr=\"%s\"", c->svc->name,
                    addrs[i] ? addrs[i] : "");
            continue;
        }
        int dup = 0;
        for (size_t j = 0; j < m && !dup; j++) dup = strcmp(next[j]->addr, addrs[i]) == 0;
        if (dup) continue;
        rpc_endpoint_t *ep = NULL;
        for (size_t j = 0; j < c->n_eps && !ep; j++)
            if (c->eps[j] && strcmp(c->eps[j]->addr, addrs[i]) == 0) {
                ep = c->eps[j]; /* the list's reference moves to the new list */
                c->eps[j] = NULL;
            }
        next[m++] = ep ? ep : endpoint_new(addrs[i]);
    }
    rpc_endpoint_t **old = c->eps;
    size_t n_old = c->n_eps;
    c->eps = next;
    c->n_eps = m;
    pthread_mutex_unlock(&c->mu);
    for (size_t j = 0; j < n_old; j++)
        if (old[j]) endpoint_unref(old[j]); /* dropped: destroyed when its last call ends */
    im_free(old);
}

void im_rpc_client_set_breaker(im_rpc_client_t *c, const im_breaker_cfg_t *cfg)
{
    pthread_once(&metric_once, metric_init);
    c->breaker = cfg;
}

/* The outcome of one attempt into ep's breaker; logs a transition. */
static void judge(im_rpc_client_t *c, rpc_endpoint_t *ep, grpc_status_code code, int64_t took_ms)
{
    int slow = IM_CFG_GET(c->breaker->slow_ms);
    int failed = code == GRPC_STATUS_UNAVAILABLE || code == GRPC_STATUS_DEADLINE_EXCEEDED ||
                 (slow > 0 && took_ms > slow);
    int to = im_breaker_record(&ep->br, c->breaker, failed, im_clock_mono_ms());
    if (to < 0) return;
    if (to == IM_BREAKER_OPEN) im_metric_add(m_opened, 1);
    im_info("rpc.breaker", "service=%s peer=%s state=%s", c->svc->name, ep->addr, im_breaker_state_name(to));
}

size_t im_rpc_client_endpoint_count(im_rpc_client_t *c)
{
    pthread_mutex_lock(&c->mu);
    size_t n = c->n_eps;
    pthread_mutex_unlock(&c->mu);
    return n;
}

/* Header values must be printable ASCII or gRPC rejects the whole batch. */
static int header_value_ok(const char *s)
{
    for (; *s; s++)
        if (*s < 0x20 || *s > 0x7e) return 0;
    return 1;
}

/* One attempt on one endpoint. On OK, *reply holds the reply bytes (caller destroys). */
static grpc_status_code attempt(rpc_endpoint_t *ep, const char *path, const ProtobufCMessage *req,
                                gpr_timespec deadline, const char *md_key, const char *md_val,
                                grpc_byte_buffer **reply, char *msg, size_t msg_size)
{
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    grpc_call *call = grpc_channel_create_call(ep->ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
                                               grpc_slice_from_static_string(path), NULL,
                                               deadline, NULL);
    grpc_metadata md;
    memset(&md, 0, sizeof md);
    size_t n_md = 0;
    if (md_val && *md_val && header_value_ok(md_val)) {
        md.key = grpc_slice_from_static_string(md_key);
        md.value = grpc_slice_from_static_string(md_val); /* outlives the batch */
        n_md = 1;
    }
    grpc_byte_buffer *send = im_rpc_pack(req), *recv = NULL;
    grpc_metadata_array initial_md, trailing_md;
    grpc_metadata_array_init(&initial_md);
    grpc_metadata_array_init(&trailing_md);
    grpc_status_code code = GRPC_STATUS_UNKNOWN;
    grpc_slice details = grpc_empty_slice();

    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = n_md;
    ops[0].data.send_initial_metadata.metadata = n_md ? &md : NULL;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &initial_md;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &trailing_md;
    ops[5].data.recv_status_on_client.status = &code;
    ops[5].data.recv_status_on_client.status_details = &details;

    grpc_call_error e = grpc_call_start_batch(call, ops, 6, ops, NULL);
    if (e == GRPC_CALL_OK) {
        /* RECV_STATUS always completes, at the latest at the deadline. */
        grpc_completion_queue_pluck(cq, ops, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        snprintf(msg, msg_size, "%.*s", (int)GRPC_SLICE_LENGTH(details),
                 (const char *)GRPC_SLICE_START_PTR(details));
    } else {
        code = GRPC_STATUS_INTERNAL;
        snprintf(msg, msg_size, "grpc_call_start_batch: error %d", (int)e);
    }
    if (code == GRPC_STATUS_OK) {
        *reply = recv;
        recv = NULL;
    }
    if (recv) grpc_byte_buffer_destroy(recv);
    grpc_byte_buffer_destroy(send);
    grpc_slice_unref(details);
    grpc_metadata_array_destroy(&initial_md);
    grpc_metadata_array_destroy(&trailing_md);
    grpc_call_unref(call);
    grpc_completion_queue_destroy(cq); /* shuts down; our only event was plucked */
    return code;
}

static int status_to_err(grpc_status_code code)
{
    switch (code) {
    case GRPC_STATUS_OK: return IM_OK;
    case GRPC_STATUS_DEADLINE_EXCEEDED: return IM_ETIMEOUT;
    case GRPC_STATUS_UNAVAILABLE: return IM_EUNAVAIL;
    case GRPC_STATUS_INVALID_ARGUMENT: return IM_EINVAL;   /* retrying it cannot help */
    default: return IM_EIO;
    }
}

/* Takes a reference on every current endpoint; returns how many, 0 if none.
 * *start is where round-robin begins. */
static size_t snapshot(im_rpc_client_t *c, rpc_endpoint_t ***eps, rpc_endpoint_t **stack,
                       unsigned *start)
{
    pthread_mutex_lock(&c->mu);
    size_t n = c->n_eps;
    *eps = n <= RPC_SNAPSHOT_STACK ? stack : im_malloc(n * sizeof **eps);
    for (size_t i = 0; i < n; i++) {
        (*eps)[i] = c->eps[i];
        endpoint_ref(c->eps[i]);
    }
    pthread_mutex_unlock(&c->mu);
    *start = __atomic_fetch_add(&c->rr, 1, __ATOMIC_RELAXED);
    return n;
}

int im_rpc_client_call(im_rpc_client_t *c, const char *method, const ProtobufCMessage *req,
                       ProtobufCMessage **resp, int timeout_ms, const char *trace,
                       im_rpc_status_t *st)
{
    im_rpc_status_t local;
    if (!st) st = &local;
    memset(st, 0, sizeof *st);
    const ProtobufCMethodDescriptor *md =
        protobuf_c_service_descriptor_get_method_by_name(c->svc, method);
    if (!md) {
        st->code = GRPC_STATUS_UNIMPLEMENTED;
        snprintf(st->message, sizeof st->message, "no method %s in %s", method, c->svc->name);
        return IM_EINVAL;
    }
    const char *path = c->paths[md - c->svc->methods];
    int64_t started_us = im_clock_mono_us();
    const im_span_t *cur = im_span_current();
    im_span_t span;
    char tp[56];
    if (cur) {   /* the callee's spans hang under ours (sampled) or under the caller's */
        im_span_child_of(&span, cur, path, IM_SPAN_CLIENT);
        im_span_traceparent(span.sampled ? &span : cur, tp);
    }
    const char *md_key = cur ? "traceparent" : "x-trace-id", *md_val = cur ? tp : trace;

    rpc_endpoint_t *stack[RPC_SNAPSHOT_STACK], **eps;
    unsigned start;
    size_t n = snapshot(c, &eps, stack, &start);
    if (n == 0) {
        st->code = GRPC_STATUS_UNAVAILABLE;
        snprintf(st->message, sizeof st->message, "no endpoints for %s", c->svc->name);
        return IM_EUNAVAIL;
    }
    gpr_timespec deadline =
        timeout_ms > 0 ? gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                      gpr_time_from_millis(timeout_ms, GPR_TIMESPAN))
                       : gpr_inf_future(GPR_CLOCK_MONOTONIC);
    grpc_byte_buffer *reply = NULL;
    size_t tried = 0;
    for (size_t i = 0; i < n; i++) {
        rpc_endpoint_t *ep = eps[(start + i) % n];
        int64_t t0 = im_clock_mono_ms();
        if (c->breaker && !im_breaker_allow(&ep->br, c->breaker, t0)) continue;   /* open: skipped */
        tried++;
        snprintf(st->peer, sizeof st->peer, "%s", ep->addr);
        st->code = attempt(ep, path, req, deadline, md_key, md_val, &reply, st->message, sizeof st->message);
        if (c->breaker) judge(c, ep, st->code, im_clock_mono_ms() - t0);
        if (st->code != GRPC_STATUS_UNAVAILABLE) break;
        if (gpr_time_cmp(gpr_now(GPR_CLOCK_MONOTONIC), deadline) >= 0) break;
        if (i + 1 < n)
            IM_LOG_RATELIMITED(5, IM_LOG_INFO, "rpc.retry_next", "method=%s peer=%s detail=\"%s\"",
                               path, ep->addr, st->message);
    }
    for (size_t i = 0; i < n; i++) endpoint_unref(eps[i]);
    if (eps != stack) im_free(eps);
    if (tried == 0) {
        st->code = GRPC_STATUS_UNAVAILABLE;
        snprintf(st->message, sizeof st->message, "circuit open for every endpoint of %s", c->svc->name);
    }

    im_metric_observe_us(c->m_seconds[md - c->svc->methods], im_clock_mono_us() - started_us);
    if (cur) {
        im_span_tag(&span, "peer", "%s", st->peer);
        if (st->code != GRPC_STATUS_OK) im_span_tag(&span, "error", "%d %s", (int)st->code, st->message);
        im_span_end(&span);
    }
    int rc = status_to_err(st->code);
    if (rc != IM_OK) return rc;
    ProtobufCMessage *m = reply ? im_rpc_unpack(md->output, reply, NULL) : NULL;
    if (reply) grpc_byte_buffer_destroy(reply);
    if (!m) {
        snprintf(st->message, sizeof st->message, "reply does not parse as %s", md->output->name);
        return IM_EPROTO;
    }
    *resp = m;
    return IM_OK;
}

void im_rpc_client_free(im_rpc_client_t *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->n_eps; i++) endpoint_unref(c->eps[i]);
    im_free(c->eps);
    for (unsigned i = 0; i < c->svc->n_methods; i++) im_free(c->paths[i]);
    im_free(c->paths);
    im_free(c->m_seconds);   /* the metrics stay registered */
    pthread_mutex_destroy(&c->mu);
    im_free(c);
}
