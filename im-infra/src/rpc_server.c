/* rpc_server.c — the gRPC server: workers, one completion queue each, and the life of
 * one call.
 *
 * A call is a small state machine driven by the tags of its batches, all completing on
 * the worker's own queue, so one call is only ever touched by one thread:
 *
 *   REQUEST  grpc_server_request_call matched a new call
 *            -> start CLOSE (RECV_CLOSE_ON_SERVER: tells us when the client is gone)
 *            -> start RECV  (RECV_MESSAGE)
 *   RECV     the request bytes arrived -> dispatch(): look up the method, unpack, run the
 *            handler, pack -> start SEND (initial metadata + message + status)
 *            -> request the next call for this worker
 *   SEND, CLOSE  done; the call is freed when no batch is left in flight.
 *
 * Each worker keeps exactly one request outstanding and renews it only after the
 * handler returned: a worker busy in a handler is never handed a call that an idle
 * worker could take (gRPC queues calls nobody has asked for yet).
 *
 * Every handler is timed per method (cim_rpc_server_seconds{method}) and runs under a
 * server span (im/trace.h), the child of the caller's `traceparent`: sampled if the
 * caller's was. */
#include "rpc_internal.h"
#include "im/err.h"
#include "im/log.h"
#include "im/metrics.h"
#include "im/trace.h"

#include <grpc/grpc_security.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RPC_DEFAULT_THREADS 4
#define RPC_SHUTDOWN_GRACE_MS 2000
#define RPC_ARENA_BLOCK 4096

/* One method the server knows: every method of every added service. */
typedef struct {
    char *path;                              /* "/im.logic.v1.Logic/Ping" */
    size_t path_len;
    const ProtobufCMethodDescriptor *md;     /* input / output types */
    im_rpc_handler_fn fn;                    /* NULL: answers UNIMPLEMENTED */
    void *ud;                                /* the service's user data */
    im_metric_t *m_seconds;                  /* cim_rpc_server_seconds of this method */
} rpc_method_t;

typedef struct {
    im_rpc_server_t *srv;
    int index;
    grpc_completion_queue *cq;               /* every batch of this worker's calls */
    pthread_t thread;
} rpc_worker_t;

struct im_rpc_server_s {
    char *addr;                              /* listen address as given */
    int port;                                /* bound port, 0 before start */
    int started;
    grpc_server *server;
    grpc_completion_queue *shutdown_cq;      /* only the shutdown notification */
    int nworkers;
    rpc_worker_t *workers;
    rpc_method_t *methods;                   /* all services, flattened */
    size_t n_methods;
    int live;                                /* atomic: call objects, requests included */
    pthread_mutex_t live_mu;                 /* with live_cv: free waits for live == 0 */
    pthread_cond_t live_cv;
};

typedef enum { TAG_REQUEST, TAG_RECV, TAG_CLOSE, TAG_SEND } rpc_tag_kind_t;

/* What a batch passes to the completion queue: which call, which step. */
typedef struct {
    rpc_tag_kind_t kind;
    im_rpc_call_t *call;
} rpc_tag_t;

typedef struct rpc_block_s {
    struct rpc_block_s *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} rpc_block_t;

struct im_rpc_call_s {
    rpc_worker_t *w;
    grpc_call *call;                         /* NULL until REQUEST completes */
    grpc_call_details details;               /* method path, deadline */
    grpc_metadata_array req_md;              /* client's initial metadata */
    grpc_byte_buffer *req_bb;                /* request bytes (RECV) */
    grpc_byte_buffer *resp_bb;               /* reply bytes (SEND), NULL unless OK */
    int cancelled;                           /* written by gRPC when the call ends */
    int pending;                             /* batches in flight; freed at 0 */
    grpc_status_code status;
    grpc_slice status_details;               /* lives until SEND completes */
    char *message;                           /* im_rpc_set_message, in the arena */
    gpr_timespec deadline;                   /* monotonic; inf_future if none */
    char trace[33];
    char traceparent[56];                    /* the caller's, "" if none */
    rpc_block_t *arena;                      /* request, reply, handler allocations */
    rpc_tag_t t_request, t_recv, t_close, t_send;
};

static void request_next(rpc_worker_t *w);

/* ---- the per-call arena ---- */

void *im_rpc_alloc(im_rpc_call_t *c, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    rpc_block_t *b = c->arena;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > RPC_ARENA_BLOCK ? n : RPC_ARENA_BLOCK;
        b = im_calloc(1, sizeof *b + cap); /* zeroed once, never reused */
        b->cap = cap;
        b->next = c->arena;
        c->arena = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

char *im_rpc_strdup(im_rpc_call_t *c, const char *s)
{
    size_t n = strlen(s);
    char *d = im_rpc_alloc(c, n + 1);
    memcpy(d, s, n);
    return d;
}

static void *arena_alloc(void *ud, size_t n)
{
    return im_rpc_alloc(ud, n);
}

static void arena_free(void *ud, void *p)
{
    (void)ud, (void)p; /* freed with the call */
}

static void arena_release(im_rpc_call_t *c)
{
    while (c->arena) {
        rpc_block_t *next = c->arena->next;
        im_free(c->arena);
        c->arena = next;
    }
}

/* ---- what a handler may ask about its call ---- */

void im_rpc_set_message(im_rpc_call_t *c, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    c->message = im_rpc_alloc(c, (size_t)n + 1);
    if ((size_t)n < sizeof buf) {
        memcpy(c->message, buf, (size_t)n + 1);
        return;
    }
    va_start(ap, fmt);
    vsnprintf(c->message, (size_t)n + 1, fmt, ap);
    va_end(ap);
}

const char *im_rpc_trace(const im_rpc_call_t *c)
{
    return c->trace;
}

int64_t im_rpc_deadline_ms_left(const im_rpc_call_t *c)
{
    if (gpr_time_cmp(c->deadline, gpr_inf_future(GPR_CLOCK_MONOTONIC)) == 0) return INT64_MAX;
    return gpr_time_to_millis(gpr_time_sub(c->deadline, gpr_now(GPR_CLOCK_MONOTONIC)));
}

int im_rpc_cancelled(im_rpc_call_t *c)
{
    /* gRPC stores `cancelled` from its own thread when the stream ends, before it
     * queues the CLOSE event this worker can't look at while in the handler. */
    if (__atomic_load_n(&c->cancelled, __ATOMIC_RELAXED)) return 1;
    return im_rpc_deadline_ms_left(c) <= 0;
}

/* ---- one call ---- */

static int slice_is(grpc_slice s, const char *str)
{
    return grpc_slice_str_cmp(s, str) == 0;
}

/* A trace id goes into every log line: keep it to [0-9A-Za-z_-]. */
static void copy_trace(char out[33], const char *p, size_t n)
{
    size_t i = 0;
    for (; i < n && i < 32; i++) {
        char ch = p[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              ch == '-' || ch == '_'))
            break;
        out[i] = ch;
    }
    out[i] = '\0';
}

/* traceparent "00-<32 hex trace id>-<16 hex span>-<flags>" wins over x-trace-id. */
static void read_trace(im_rpc_call_t *c)
{
    c->trace[0] = '\0';
    c->traceparent[0] = '\0';
    for (size_t i = 0; i < c->req_md.count; i++) {
        const grpc_metadata *m = &c->req_md.metadata[i];
        const char *v = (const char *)GRPC_SLICE_START_PTR(m->value);
        size_t n = GRPC_SLICE_LENGTH(m->value);
        if (slice_is(m->key, "traceparent") && n >= 36 && v[2] == '-' && v[35] == '-') {
            copy_trace(c->trace, v + 3, 32);
            if (n < sizeof c->traceparent) {   /* im_span_from checks the rest */
                memcpy(c->traceparent, v, n);
                c->traceparent[n] = '\0';
            }
            return;
        }
        if (slice_is(m->key, "x-trace-id")) copy_trace(c->trace, v, n);
    }
}

static const rpc_method_t *find_method(const im_rpc_server_t *s, grpc_slice path)
{
    size_t n = GRPC_SLICE_LENGTH(path);
    for (size_t i = 0; i < s->n_methods; i++)
        if (s->methods[i].path_len == n &&
            memcmp(s->methods[i].path, GRPC_SLICE_START_PTR(path), n) == 0)
            return &s->methods[i];
    return NULL;
}

static void call_free(im_rpc_call_t *c)
{
    im_rpc_server_t *s = c->w->srv;
    if (c->call) grpc_call_unref(c->call);
    grpc_call_details_destroy(&c->details);
    grpc_metadata_array_destroy(&c->req_md);
    if (c->req_bb) grpc_byte_buffer_destroy(c->req_bb);
    if (c->resp_bb) grpc_byte_buffer_destroy(c->resp_bb);
    grpc_slice_unref(c->status_details);
    arena_release(c);
    im_free(c);
    if (__atomic_sub_fetch(&s->live, 1, __ATOMIC_ACQ_REL) == 0) {
        pthread_mutex_lock(&s->live_mu);
        pthread_cond_broadcast(&s->live_cv);
        pthread_mutex_unlock(&s->live_mu);
    }
}

static void maybe_free(im_rpc_call_t *c)
{
    if (c->pending == 0) call_free(c);
}

static int start_batch(im_rpc_call_t *c, const grpc_op *ops, size_t n, rpc_tag_t *tag)
{
    grpc_call_error e = grpc_call_start_batch(c->call, ops, n, tag, NULL);
    if (e != GRPC_CALL_OK) {
        im_warn("rpc.batch_failed", "step=%d err=%d", (int)tag->kind, (int)e);
        return 0;
    }
    c->pending++;
    return 1;
}

static void send_reply(im_rpc_call_t *c)
{
    grpc_op ops[3];
    size_t n = 0;
    memset(ops, 0, sizeof ops);
    ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    if (c->resp_bb) {
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = c->resp_bb;
    }
    if (c->message) c->status_details = grpc_slice_from_copied_string(c->message);
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = c->status;
    ops[n++].data.send_status_from_server.status_details = c->message ? &c->status_details : NULL;
    start_batch(c, ops, n, &c->t_send);
}

/* Runs the handler of c's method over its request; sets c->status and c->resp_bb. */
static void run_handler(im_rpc_call_t *c, const rpc_method_t *m)
{
    ProtobufCAllocator alloc = {arena_alloc, arena_free, c};
    ProtobufCMessage *req = im_rpc_unpack(m->md->input, c->req_bb, &alloc);
    if (!req) {
        c->status = GRPC_STATUS_INVALID_ARGUMENT;
        im_rpc_set_message(c, "request does not parse as %s", m->md->input->name);
        return;
    }
    if (im_rpc_cancelled(c)) { /* deadline passed while queued: don't start the work */
        c->status = GRPC_STATUS_DEADLINE_EXCEEDED;
        return;
    }
    ProtobufCMessage *resp = im_rpc_alloc(c, m->md->output->sizeof_message);
    m->md->output->message_init(resp);
    im_span_t span;
    im_span_from(&span, c->traceparent, m->path, IM_SPAN_SERVER);
    if (!c->traceparent[0]) memcpy(span.trace, c->trace, sizeof span.trace);   /* x-trace-id: logs only */
    im_span_enter(&span);
    c->status = m->fn(c, req, resp, m->ud);
    if (c->status != GRPC_STATUS_OK) im_span_tag(&span, "error", "%d %s", (int)c->status, c->message ? c->message : "");
    im_span_leave(&span);
    im_span_end(&span);
    if (c->status == GRPC_STATUS_OK) c->resp_bb = im_rpc_pack(resp);
}

static void dispatch(im_rpc_call_t *c)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    const rpc_method_t *m = find_method(c->w->srv, c->details.method);
    int plen = (int)GRPC_SLICE_LENGTH(c->details.method);
    const char *path = (const char *)GRPC_SLICE_START_PTR(c->details.method);
    if (!m || !m->fn) {
        c->status = GRPC_STATUS_UNIMPLEMENTED;
        im_rpc_set_message(c, "%s %.*s", m ? "not implemented:" : "unknown method", plen, path);
        IM_LOG_RATELIMITED(10, IM_LOG_WARN, "rpc.unimplemented", "method=%.*s", plen, path);
    } else {
        run_handler(c, m);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long us = (long)((t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000);
    if (m) im_metric_observe_us(m->m_seconds, us);
    im_trace_set(c->trace);
    im_debug("rpc.served", "method=%.*s status=%d us=%ld", plen, path, (int)c->status, us);
    im_trace_set("");
    send_reply(c);
}

/* REQUEST completed: a client started a call. */
static void on_request(im_rpc_call_t *c)
{
    c->deadline = gpr_convert_clock_type(c->details.deadline, GPR_CLOCK_MONOTONIC);
    read_trace(c);

    grpc_op close_op, recv_op;
    memset(&close_op, 0, sizeof close_op);
    memset(&recv_op, 0, sizeof recv_op);
    close_op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    close_op.data.recv_close_on_server.cancelled = &c->cancelled;
    start_batch(c, &close_op, 1, &c->t_close);
    recv_op.op = GRPC_OP_RECV_MESSAGE;
    recv_op.data.recv_message.recv_message = &c->req_bb;
    if (!start_batch(c, &recv_op, 1, &c->t_recv))
        request_next(c->w); /* no RECV will come to renew the request */
}

/* RECV completed: run the call, then this worker is free for the next one. */
static void on_recv(im_rpc_call_t *c, int ok)
{
    if (ok && c->req_bb) {
        dispatch(c);
    } else if (ok) { /* the client half-closed without a message */
        c->status = GRPC_STATUS_INVALID_ARGUMENT;
        im_rpc_set_message(c, "no request message");
        send_reply(c);
    } /* else the call is already dead: nothing to send */
    request_next(c->w);
}

static void on_event(rpc_tag_t *t, int ok)
{
    im_rpc_call_t *c = t->call;
    switch (t->kind) {
    case TAG_REQUEST:
        if (!ok) { /* server shutting down: no call was created */
            call_free(c);
            return;
        }
        on_request(c);
        break;
    case TAG_RECV:
        c->pending--;
        on_recv(c, ok);
        break;
    case TAG_CLOSE:
    case TAG_SEND:
        c->pending--;
        break;
    }
    maybe_free(c);
}

/* Asks gRPC for the next call on w's queue. After shutdown began, gRPC fails the
 * request at once (REQUEST with ok=0); the queue is only shut down after that. */
static void request_next(rpc_worker_t *w)
{
    im_rpc_call_t *c = im_calloc(1, sizeof *c);
    __atomic_add_fetch(&w->srv->live, 1, __ATOMIC_ACQ_REL);
    c->w = w;
    c->status_details = grpc_empty_slice();
    grpc_call_details_init(&c->details);
    grpc_metadata_array_init(&c->req_md);
    c->t_request = (rpc_tag_t){TAG_REQUEST, c};
    c->t_recv = (rpc_tag_t){TAG_RECV, c};
    c->t_close = (rpc_tag_t){TAG_CLOSE, c};
    c->t_send = (rpc_tag_t){TAG_SEND, c};
    grpc_call_error e = grpc_server_request_call(w->srv->server, &c->call, &c->details,
                                                 &c->req_md, w->cq, w->cq, &c->t_request);
    if (e != GRPC_CALL_OK) {
        im_warn("rpc.request_call_failed", "worker=%d err=%d", w->index, (int)e);
        call_free(c);
    }
}

/* @locality: thread rpc-N, until its queue is shut down by im_rpc_server_free. */
static void *worker_main(void *arg)
{
    rpc_worker_t *w = arg;
    char name[16];
    snprintf(name, sizeof name, "rpc-%d", w->index);
    im_log_set_thread(name);
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(w->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN) break;
        if (ev.type == GRPC_OP_COMPLETE) on_event(ev.tag, ev.success);
    }
    return NULL;
}

/* ---- server lifecycle ---- */

im_rpc_server_t *im_rpc_server_new(const char *listen_addr, int threads)
{
    im_rpc_server_t *s = im_calloc(1, sizeof *s);
    s->addr = im_strdup(listen_addr);
    s->nworkers = threads > 0 ? threads : RPC_DEFAULT_THREADS;
    /* gRPC sets SO_REUSEPORT by default: a second server would share a taken port. */
    grpc_arg arg[] = {
        {.type = GRPC_ARG_INTEGER, .key = (char *)GRPC_ARG_ALLOW_REUSEPORT, .value.integer = 0},
        {.type = GRPC_ARG_INTEGER, .key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
         .value.integer = IM_RPC_MAX_MESSAGE},
    };
    grpc_channel_args args = {sizeof arg / sizeof arg[0], arg};
    s->server = grpc_server_create(&args, NULL);
    s->shutdown_cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(s->server, s->shutdown_cq, NULL);
    pthread_mutex_init(&s->live_mu, NULL);
    pthread_cond_init(&s->live_cv, NULL);
    s->workers = im_calloc((size_t)s->nworkers, sizeof *s->workers);
    for (int i = 0; i < s->nworkers; i++) {
        s->workers[i].srv = s;
        s->workers[i].index = i;
        s->workers[i].cq = grpc_completion_queue_create_for_next(NULL);
        grpc_server_register_completion_queue(s->server, s->workers[i].cq, NULL);
    }
    return s;
}

int im_rpc_server_add_service(im_rpc_server_t *s, const ProtobufCServiceDescriptor *svc,
                              const im_rpc_method_t *methods, void *ud)
{
    if (s->started) return IM_EINVAL;
    for (const im_rpc_method_t *h = methods; h && h->method; h++)
        if (!protobuf_c_service_descriptor_get_method_by_name(svc, h->method)) {
            im_warn("rpc.no_such_method", "service=%s method=%s", svc->name, h->method);
            return IM_EINVAL;
        }
    s->methods = im_realloc(s->methods, (s->n_methods + svc->n_methods) * sizeof *s->methods);
    for (unsigned i = 0; i < svc->n_methods; i++) {
        rpc_method_t *m = &s->methods[s->n_methods++];
        m->md = &svc->methods[i];
        m->path = im_rpc_method_path(svc, m->md->name);
        m->path_len = strlen(m->path);
        char labels[192];
        snprintf(labels, sizeof labels, "method=\"%s\"", m->path);
        m->m_seconds = im_metric_new_l(IM_METRIC_HISTOGRAM, "cim_rpc_server_seconds",
                                       "gRPC calls served, by method (the handler's time)", labels);
        m->fn = NULL;
        m->ud = ud;
        for (const im_rpc_method_t *h = methods; h && h->method; h++)
            if (strcmp(h->method, m->md->name) == 0) m->fn = h->fn;
    }
    return IM_OK;
}

int im_rpc_server_start(im_rpc_server_t *s)
{
    if (s->started) return IM_EINVAL;
    grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
    s->port = grpc_server_add_http2_port(s->server, s->addr, creds);
    grpc_server_credentials_release(creds);
    if (s->port <= 0) {
        s->port = 0;
        im_warn("rpc.bind_failed", "addr=%s", s->addr);
        return IM_EIO;
    }
    grpc_server_start(s->server);
    s->started = 1;
    for (int i = 0; i < s->nworkers; i++) request_next(&s->workers[i]);
    for (int i = 0; i < s->nworkers; i++)
        pthread_create(&s->workers[i].thread, NULL, worker_main, &s->workers[i]);
    return IM_OK;
}

int im_rpc_server_port(const im_rpc_server_t *s)
{
    return s->port;
}

static void drain_and_destroy(grpc_completion_queue *cq)
{
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);
}

/* Stop listening, wait for in-flight calls (bounded), then stop the workers. */
static void shutdown_started(im_rpc_server_t *s)
{
    static int shutdown_tag;
    grpc_server_shutdown_and_notify(s->server, s->shutdown_cq, &shutdown_tag);
    gpr_timespec grace = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                      gpr_time_from_millis(RPC_SHUTDOWN_GRACE_MS, GPR_TIMESPAN));
    grpc_event ev = grpc_completion_queue_next(s->shutdown_cq, grace, NULL);
    if (ev.type == GRPC_QUEUE_TIMEOUT) {
        im_warn("rpc.shutdown_cancel", "port=%d grace_ms=%d", s->port, RPC_SHUTDOWN_GRACE_MS);
        grpc_server_cancel_all_calls(s->server);
        grpc_completion_queue_next(s->shutdown_cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    }
    /* The notification can come while a cancelled call's handler still runs; its
     * batches need the worker's queue. Every request has failed by now, so once the
     * last call object is freed nothing new can reach the queues. */
    pthread_mutex_lock(&s->live_mu);
    while (__atomic_load_n(&s->live, __ATOMIC_ACQUIRE) > 0)
        pthread_cond_wait(&s->live_cv, &s->live_mu);
    pthread_mutex_unlock(&s->live_mu);
    for (int i = 0; i < s->nworkers; i++) grpc_completion_queue_shutdown(s->workers[i].cq);
    for (int i = 0; i < s->nworkers; i++) pthread_join(s->workers[i].thread, NULL);
}

void im_rpc_server_free(im_rpc_server_t *s)
{
    if (!s) return;
    if (s->started) shutdown_started(s);
    grpc_server_destroy(s->server);
    drain_and_destroy(s->shutdown_cq);
    for (int i = 0; i < s->nworkers; i++) {
        if (s->started)
            grpc_completion_queue_destroy(s->workers[i].cq);
        else
            drain_and_destroy(s->workers[i].cq);
    }
    if (s->started) im_info("rpc.stopped", "port=%d", s->port);
    for (size_t i = 0; i < s->n_methods; i++) im_free(s->methods[i].path);
    im_free(s->methods);
    im_free(s->workers);
    pthread_mutex_destroy(&s->live_mu);
    pthread_cond_destroy(&s->live_cv);
    im_free(s->addr);
    im_free(s);
}
