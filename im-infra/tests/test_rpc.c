/* test_rpc.c — the gRPC layer over real sockets on 127.0.0.1: replies, trace, errors,
 * deadlines, round-robin, failover, graceful shutdown, concurrency. */
#include "im/err.h"
#include "im/log.h"
#include "im/rpc.h"
#include "im_test.h"
#include "logic.pb-c.h"

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc_security.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#define TRACE "0af7651916cd43dd8448eb211c80319c"

typedef Im__Common__V1__PingRequest ping_req_t;
typedef Im__Common__V1__PingReply ping_reply_t;

/* What one test server saw (handlers run on its workers: atomics). */
typedef struct {
    int calls;
    int cancel_seen;      /* the "sleep" handler saw im_rpc_cancelled */
    int sleep_done;
    int trace_mismatch;   /* im_trace_get() != im_rpc_trace() inside a handler */
    long long left_ms;    /* im_rpc_deadline_ms_left of the last call */
} stats_t;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Ping: path = [from], instance = the call's trace. from "sleep" sleeps 500 ms,
 * "slow" 300 ms, "stuck" until cancelled, "bad" answers INVALID_ARGUMENT. */
static grpc_status_code ping(im_rpc_call_t *call, const ProtobufCMessage *req,
                             ProtobufCMessage *resp, void *ud)
{
    stats_t *s = ud;
    const ping_req_t *in = (const ping_req_t *)req;
    ping_reply_t *out = (ping_reply_t *)resp;
    __atomic_add_fetch(&s->calls, 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&s->left_ms, (long long)im_rpc_deadline_ms_left(call), __ATOMIC_SEQ_CST);
    if (strcmp(im_trace_get(), im_rpc_trace(call)) != 0)
        __atomic_store_n(&s->trace_mismatch, 1, __ATOMIC_SEQ_CST);
    if (strcmp(in->from, "sleep") == 0) {
        for (int i = 0; i < 50; i++) {
            if (im_rpc_cancelled(call)) __atomic_store_n(&s->cancel_seen, 1, __ATOMIC_SEQ_CST);
            usleep(10000);
        }
        __atomic_store_n(&s->sleep_done, 1, __ATOMIC_SEQ_CST);
    }
    if (strcmp(in->from, "slow") == 0) usleep(300000);
    if (strcmp(in->from, "stuck") == 0) /* until shutdown cancels it (at most 5 s) */
        for (int i = 0; i < 500 && !im_rpc_cancelled(call); i++) usleep(10000);
    if (strcmp(in->from, "bad") == 0) {
        im_rpc_set_message(call, "bad from %s", in->from);
        return GRPC_STATUS_INVALID_ARGUMENT;
    }
    out->service = "im-logic";
    out->instance = im_rpc_strdup(call, im_rpc_trace(call));
    out->path = im_rpc_alloc(call, sizeof(char *));
    out->path[out->n_path++] = im_rpc_strdup(call, in->from);
    return GRPC_STATUS_OK;
}

static const im_rpc_method_t methods[] = {{"Ping", ping}, {NULL, NULL}};

static im_rpc_server_t *start_server(stats_t *s, char addr[32])
{
    im_rpc_server_t *srv = im_rpc_server_new("127.0.0.1:0", 4);
    CHECK_INT(im_rpc_server_add_service(srv, &im__logic__v1__logic__descriptor, methods, s), IM_OK);
    CHECK_INT(im_rpc_server_start(srv), IM_OK);
    snprintf(addr, 32, "127.0.0.1:%d", im_rpc_server_port(srv));
    return srv;
}

static int do_ping(im_rpc_client_t *c, const char *from, int timeout_ms, const char *trace,
                   ping_reply_t **out, im_rpc_status_t *st)
{
    ping_req_t req = IM__COMMON__V1__PING_REQUEST__INIT;
    req.from = (char *)from;
    ProtobufCMessage *resp = NULL;
    int rc = im_rpc_client_call(c, "Ping", &req.base, &resp, timeout_ms, trace, st);
    if (rc == IM_OK && out)
        *out = (ping_reply_t *)resp;
    else if (rc == IM_OK)
        protobuf_c_message_free_unpacked(resp, NULL);
    return rc;
}

/* A call with hand-made bytes and metadata, as a foreign client would send. */
static grpc_status_code raw_call(const char *addr, const char *path, const void *bytes,
                                 size_t len, const char *traceparent, ping_reply_t **reply)
{
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    grpc_channel *ch = grpc_channel_create(addr, creds, NULL);
    grpc_channel_credentials_release(creds);
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                         gpr_time_from_millis(2000, GPR_TIMESPAN));
    grpc_call *call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
                                               grpc_slice_from_static_string(path), NULL,
                                               deadline, NULL);
    grpc_metadata md;
    memset(&md, 0, sizeof md);
    md.key = grpc_slice_from_static_string("traceparent");
    md.value = grpc_slice_from_static_string(traceparent ? traceparent : "");
    grpc_slice s = grpc_slice_from_copied_buffer(bytes, len);
    grpc_byte_buffer *send = grpc_raw_byte_buffer_create(&s, 1), *recv = NULL;
    grpc_slice_unref(s);
    grpc_metadata_array im, tm;
    grpc_metadata_array_init(&im);
    grpc_metadata_array_init(&tm);
    grpc_status_code code = GRPC_STATUS_UNKNOWN;
    grpc_slice details;
    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = traceparent ? 1 : 0;
    ops[0].data.send_initial_metadata.metadata = &md;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &im;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &tm;
    ops[5].data.recv_status_on_client.status = &code;
    ops[5].data.recv_status_on_client.status_details = &details;
    CHECK_INT(grpc_call_start_batch(call, ops, 6, ops, NULL), GRPC_CALL_OK);
    grpc_completion_queue_pluck(cq, ops, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    if (reply && recv) {
        grpc_byte_buffer_reader r;
        grpc_byte_buffer_reader_init(&r, recv);
        grpc_slice all = grpc_byte_buffer_reader_readall(&r);
        grpc_byte_buffer_reader_destroy(&r);
        *reply = im__common__v1__ping_reply__unpack(NULL, GRPC_SLICE_LENGTH(all),
                                                     GRPC_SLICE_START_PTR(all));
        grpc_slice_unref(all);
    }
    if (recv) grpc_byte_buffer_destroy(recv);
    grpc_byte_buffer_destroy(send);
    grpc_slice_unref(details);
    grpc_metadata_array_destroy(&im);
    grpc_metadata_array_destroy(&tm);
    grpc_call_unref(call);
    grpc_completion_queue_destroy(cq);
    grpc_channel_destroy(ch);
    return code;
}

static void test_reply_and_errors(const char *addr, stats_t *s)
{
    im_rpc_client_t *c = im_rpc_client_new(&im__logic__v1__logic__descriptor);
    im_rpc_client_set_endpoints(c, (const char *[]){addr}, 1);
    CHECK_INT(im_rpc_client_endpoint_count(c), 1);

    ping_reply_t *r = NULL;
    im_rpc_status_t st;
    CHECK_INT(do_ping(c, "hello", 2000, TRACE, &r, &st), IM_OK);
    CHECK_INT(st.code, GRPC_STATUS_OK);
    CHECK_STR(st.peer, addr);
    if (r) {
        CHECK_STR(r->service, "im-logic");
        CHECK_STR(r->instance, TRACE); /* x-trace-id arrived */
        CHECK_INT(r->n_path, 1);
        if (r->n_path == 1) CHECK_STR(r->path[0], "hello");
        protobuf_c_message_free_unpacked(&r->base, NULL);
    }
    long long left = __atomic_load_n(&s->left_ms, __ATOMIC_SEQ_CST);
    CHECK(left > 1000 && left <= 2050); /* grpc-timeout is rounded up on the wire */
    CHECK_INT(__atomic_load_n(&s->trace_mismatch, __ATOMIC_SEQ_CST), 0);

    r = NULL; /* no trace, no deadline */
    CHECK_INT(do_ping(c, "x", 0, NULL, &r, NULL), IM_OK);
    if (r) {
        CHECK_STR(r->instance, "");
        protobuf_c_message_free_unpacked(&r->base, NULL);
    }
    CHECK(__atomic_load_n(&s->left_ms, __ATOMIC_SEQ_CST) == INT64_MAX);

    /* a handler's error status and message */
    CHECK_INT(do_ping(c, "bad", 2000, NULL, NULL, &st), IM_EINVAL);   /* INVALID_ARGUMENT: retrying cannot help */
    CHECK_INT(st.code, GRPC_STATUS_INVALID_ARGUMENT);
    CHECK_STR(st.message, "bad from bad");

    /* a method of the descriptor without a handler */
    Im__Logic__V1__RegisterRequest reg = IM__LOGIC__V1__REGISTER_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;
    CHECK_INT(im_rpc_client_call(c, "RegisterUser", &reg.base, &resp, 2000, NULL, &st), IM_EIO);
    CHECK_INT(st.code, GRPC_STATUS_UNIMPLEMENTED);
    CHECK(resp == NULL);
    /* not a method of the descriptor at all: refused locally */
    CHECK_INT(im_rpc_client_call(c, "Nope", &reg.base, &resp, 2000, NULL, &st), IM_EINVAL);
    im_rpc_client_free(c);

    /* what other clients can send: unknown paths, bytes that don't parse, traceparent */
    CHECK_INT(raw_call(addr, "/no.Such/Thing", "", 0, NULL, NULL), GRPC_STATUS_UNIMPLEMENTED);
    static const unsigned char truncated[] = {0x0a, 0x05, 'a'}; /* from: 5 bytes, 1 sent */
    CHECK_INT(raw_call(addr, "/im.logic.v1.Logic/Ping", truncated, sizeof truncated, NULL, NULL),
              GRPC_STATUS_INVALID_ARGUMENT);
    r = NULL;
    CHECK_INT(raw_call(addr, "/im.logic.v1.Logic/Ping", "", 0,
                       "00-" TRACE "-b7ad6b7169203331-01", &r),
              GRPC_STATUS_OK);
    CHECK(r != NULL);
    if (r) {
        CHECK_STR(r->instance, TRACE);
        protobuf_c_message_free_unpacked(&r->base, NULL);
    }
}

static void test_deadline(const char *addr, stats_t *s)
{
    im_rpc_client_t *c = im_rpc_client_new(&im__logic__v1__logic__descriptor);
    im_rpc_client_set_endpoints(c, (const char *[]){addr}, 1);
    im_rpc_status_t st;
    long long t0 = now_ms();
    CHECK_INT(do_ping(c, "sleep", 100, NULL, NULL, &st), IM_ETIMEOUT);
    long long took = now_ms() - t0;
    CHECK_INT(st.code, GRPC_STATUS_DEADLINE_EXCEEDED);
    CHECK(took >= 90 && took < 400);
    /* the handler keeps running and can tell its client is gone */
    for (int i = 0; i < 100 && !__atomic_load_n(&s->sleep_done, __ATOMIC_SEQ_CST); i++)
        usleep(10000);
    CHECK_INT(__atomic_load_n(&s->cancel_seen, __ATOMIC_SEQ_CST), 1);
    im_rpc_client_free(c);
}

static void test_port_taken(const char *addr)
{
    im_rpc_server_t *srv = im_rpc_server_new(addr, 1);
    CHECK_INT(im_rpc_server_add_service(srv, &im__logic__v1__logic__descriptor, methods, NULL),
              IM_OK);
    CHECK_INT(im_rpc_server_start(srv), IM_EIO);
    im_rpc_server_free(srv);
    /* unknown handler names are refused */
    srv = im_rpc_server_new("127.0.0.1:0", 1);
    static const im_rpc_method_t wrong[] = {{"Pong", ping}, {NULL, NULL}};
    CHECK_INT(im_rpc_server_add_service(srv, &im__logic__v1__logic__descriptor, wrong, NULL),
              IM_EINVAL);
    im_rpc_server_free(srv);
    im_rpc_server_free(NULL);
}

static int calls(stats_t *s)
{
    return __atomic_load_n(&s->calls, __ATOMIC_SEQ_CST);
}

typedef struct {
    im_rpc_client_t *c;
    const char *from;
    int n, ok;
} caller_t;

static void *caller_main(void *arg)
{
    caller_t *k = arg;
    for (int i = 0; i < k->n; i++)
        if (do_ping(k->c, k->from, 5000, TRACE, NULL, NULL) == IM_OK) k->ok++;
    return NULL;
}

/* Round-robin over A and B; B shut down with a call in flight (it finishes); later
 * calls skip B's dead channel; an empty endpoint set fails fast. */
static void test_balance_and_failover(const char *addr_a, stats_t *sa, im_rpc_server_t *b,
                                      const char *addr_b, stats_t *sb)
{
    im_rpc_client_t *c = im_rpc_client_new(&im__logic__v1__logic__descriptor);
    im_rpc_client_set_endpoints(c, (const char *[]){addr_a, addr_b}, 2);
    CHECK_INT(im_rpc_client_endpoint_count(c), 2);
    int a0 = calls(sa), b0 = calls(sb);
    int ok = 0;
    for (int i = 0; i < 100; i++) ok += do_ping(c, "rr", 2000, NULL, NULL, NULL) == IM_OK;
    int na = calls(sa) - a0, nb = calls(sb) - b0;
    CHECK_INT(ok, 100);
    CHECK_INT(na + nb, 100);
    CHECK(na >= 40 && na <= 60);
    fprintf(stderr, "round-robin: a=%d b=%d\n", na, nb);

    im_rpc_client_t *only_b = im_rpc_client_new(&im__logic__v1__logic__descriptor);
    im_rpc_client_set_endpoints(only_b, (const char *[]){addr_b}, 1);
    caller_t slow = {only_b, "slow", 1, 0};
    pthread_t t;
    pthread_create(&t, NULL, caller_main, &slow);
    usleep(100000);
    long long t0 = now_ms();
    im_rpc_server_free(b);
    long long took = now_ms() - t0;
    pthread_join(t, NULL);
    CHECK_INT(slow.ok, 1);           /* the in-flight call finished */
    CHECK(took >= 100 && took < 1500);
    fprintf(stderr, "graceful shutdown with a call in flight: %lld ms\n", took);

    im_rpc_status_t st;
    ok = 0;
    int on_a = 0;
    for (int i = 0; i < 20; i++) {
        ok += do_ping(c, "after", 2000, NULL, NULL, &st) == IM_OK;
        on_a += strcmp(st.peer, addr_a) == 0;
    }
    CHECK_INT(ok, 20);
    CHECK_INT(on_a, 20);
    CHECK_INT(do_ping(only_b, "x", 1000, NULL, NULL, &st), IM_EUNAVAIL);
    CHECK_INT(st.code, GRPC_STATUS_UNAVAILABLE);

    im_rpc_client_set_endpoints(c, NULL, 0);
    CHECK_INT(im_rpc_client_endpoint_count(c), 0);
    t0 = now_ms();
    CHECK_INT(do_ping(c, "x", 1000, NULL, NULL, &st), IM_EUNAVAIL);
    CHECK(now_ms() - t0 < 50);
    im_rpc_client_free(only_b);
    im_rpc_client_free(c);
}

/* A handler that outlives the shutdown grace is cancelled: free takes ~2 s, not 5. */
static void test_shutdown_bounded(void)
{
    stats_t s = {0};
    char addr[32];
    im_rpc_server_t *srv = start_server(&s, addr);
    im_rpc_client_t *c = im_rpc_client_new(&im__logic__v1__logic__descriptor);
    im_rpc_client_set_endpoints(c, (const char *[]){addr}, 1);
    caller_t stuck = {c, "stuck", 1, 0};
    pthread_t t;
    pthread_create(&t, NULL, caller_main, &stuck);
    while (calls(&s) == 0) usleep(1000);
    long long t0 = now_ms();
    im_rpc_server_free(srv);
    long long took = now_ms() - t0;
    pthread_join(t, NULL);
    CHECK_INT(stuck.ok, 0);
    CHECK(took >= 1900 && took < 3000);
    fprintf(stderr, "shutdown with a stuck handler: %lld ms\n", took);
    im_rpc_client_free(c);
}

typedef struct {
    im_rpc_client_t *c;
    const char *a, *a_alias;
    int stop, flips;
} flipper_t;

/* Like a discovery thread: keeps replacing the endpoint set while calls run. */
static void *flipper_main(void *arg)
{
    flipper_t *f = arg;
    while (!__atomic_load_n(&f->stop, __ATOMIC_SEQ_CST)) {
        if (f->flips++ % 2)
            im_rpc_client_set_endpoints(f->c, (const char *[]){f->a}, 1);
        else
            im_rpc_client_set_endpoints(f->c, (const char *[]){f->a_alias, f->a}, 2);
        usleep(2000);
    }
    return NULL;
}

static void test_concurrency(const char *addr)
{
    im_rpc_client_t *c = im_rpc_client_new(&im__logic__v1__logic__descriptor);
    im_rpc_client_set_endpoints(c, (const char *[]){addr}, 1);
    char alias[48]; /* same server, another channel */
    snprintf(alias, sizeof alias, "ipv4:%s", addr);
    flipper_t f = {c, addr, alias, 0, 0};
    pthread_t ft, t[4];
    caller_t k[4];
    long long t0 = now_ms();
    pthread_create(&ft, NULL, flipper_main, &f);
    for (int i = 0; i < 4; i++) {
        k[i] = (caller_t){c, "conc", 200, 0};
        pthread_create(&t[i], NULL, caller_main, &k[i]);
    }
    int ok = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        ok += k[i].ok;
    }
    __atomic_store_n(&f.stop, 1, __ATOMIC_SEQ_CST);
    pthread_join(ft, NULL);
    CHECK_INT(ok, 800);
    fprintf(stderr, "4 threads x 200 calls: %lld ms, %d endpoint swaps\n", now_ms() - t0, f.flips);
    im_rpc_client_free(c);
}

int main(void)
{
    im_log_init("test_rpc", IM_LOG_WARN);
    im_rpc_global_init();
    stats_t sa = {0}, sb = {0};
    char addr_a[32], addr_b[32];
    im_rpc_server_t *a = start_server(&sa, addr_a);
    im_rpc_server_t *b = start_server(&sb, addr_b);

    test_reply_and_errors(addr_a, &sa);
    test_deadline(addr_a, &sa);
    test_port_taken(addr_a);
    test_balance_and_failover(addr_a, &sa, b, addr_b, &sb);
    test_concurrency(addr_a);
    test_shutdown_bounded();

    long long t0 = now_ms();
    im_rpc_server_free(a);
    CHECK(now_ms() - t0 < 500); /* nothing in flight: no grace wait */
    im_rpc_global_shutdown();
    IM_TEST_DONE();
}
