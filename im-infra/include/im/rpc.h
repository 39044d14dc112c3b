/* rpc.h — unary gRPC on the gRPC C core, bound from protoc-c service descriptors.
 *
 * A service is served by giving its ProtobufCServiceDescriptor and a table of
 * {method name, handler}; the wire path is "/" + descriptor->name + "/" + method
 * ("/im.logic.v1.Logic/Ping"). No generated stubs: the descriptors carry the
 * input and output message types.
 *
 * Server threads: `rpc-N`, one completion queue each. A worker asks gRPC for a new
 * call only while it is free (one outstanding request per worker), so a slow handler
 * never holds up a call that another worker could take. The handler runs on the
 * worker with the call's trace id set (im_trace_set).
 *
 * Client: round-robin over a set of "host:port" endpoints, one channel each; a call
 * that meets UNAVAILABLE (connection refused, server shutting down, or a handler
 * saying so) moves on to the next endpoint within the same deadline. By gRPC's
 * convention UNAVAILABLE means "not done, safe to retry": a handler that has
 * applied a change must not return it.
 *
 * Call im_rpc_global_init() once before anything else gRPC, im_rpc_global_shutdown()
 * at exit. */
#ifndef IM_RPC_H
#define IM_RPC_H

#include <stddef.h>
#include <stdint.h>
#include <grpc/grpc.h>

#include "im/breaker.h"
#include <protobuf-c/protobuf-c.h>

/* ---- server ---- */

typedef struct im_rpc_server_s im_rpc_server_t;
typedef struct im_rpc_call_s im_rpc_call_t; /* one in-flight server call */

/* Handler: runs on one of the server's worker threads. `req` is the unpacked request
 * (freed with the call). `resp` was allocated and initialised by the server
 * (descriptor->message_init); fill it. Memory for strings / repeated fields /
 * sub-messages of resp must come from im_rpc_alloc/im_rpc_strdup (per-call arena
 * freed after the reply is sent) or be static: the server never frees resp's fields.
 * Return a grpc_status_code (GRPC_STATUS_OK, or e.g. GRPC_STATUS_INVALID_ARGUMENT with
 * im_rpc_set_message()); on a non-OK status resp is not sent. */
typedef grpc_status_code (*im_rpc_handler_fn)(im_rpc_call_t *call, const ProtobufCMessage *req,
                                              ProtobufCMessage *resp, void *ud);
typedef struct {
    const char *method; /* method name as in the .proto ("Ping") */
    im_rpc_handler_fn fn;
} im_rpc_method_t; /* arrays end with {NULL, NULL} */

/* listen_addr "host:port"; "127.0.0.1:0" picks a free port. threads <= 0 means 4. */
im_rpc_server_t *im_rpc_server_new(const char *listen_addr, int threads);
/* Before im_rpc_server_start. The method array must outlive the server; `ud` is passed
 * to every handler of this service. Methods of the descriptor without a handler answer
 * UNIMPLEMENTED. IM_EINVAL if a name is not a method of `svc` or the server started. */
int im_rpc_server_add_service(im_rpc_server_t *s, const ProtobufCServiceDescriptor *svc,
                              const im_rpc_method_t *methods, void *ud);
/* Binds and starts the workers. IM_EIO if the address can't be bound (port taken). */
int im_rpc_server_start(im_rpc_server_t *s);
int im_rpc_server_port(const im_rpc_server_t *s); /* the bound port (useful with :0); 0 before start */
/* Graceful: stops taking calls, lets in-flight ones finish for up to ~2 s, then cancels
 * them (handlers see im_rpc_cancelled), joins the workers. NULL ok. */
void im_rpc_server_free(im_rpc_server_t *s);

/* For the handler only (@locality: the worker running the call). */
void *im_rpc_alloc(im_rpc_call_t *c, size_t n); /* zeroed, freed with the call */
char *im_rpc_strdup(im_rpc_call_t *c, const char *s);
void im_rpc_set_message(im_rpc_call_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3))); /* status details */
/* Trace id from metadata "traceparent" (W3C, the 32-hex trace id) or "x-trace-id";
 * "" if none. */
const char *im_rpc_trace(const im_rpc_call_t *c);
int im_rpc_cancelled(im_rpc_call_t *c); /* 1 if the client is gone or the deadline passed */
/* Milliseconds until the client's deadline (<= 0 once passed); INT64_MAX if none. */
int64_t im_rpc_deadline_ms_left(const im_rpc_call_t *c);

/* ---- client ---- */

typedef struct im_rpc_client_s im_rpc_client_t;
typedef struct {
    grpc_status_code code;
    char message[256]; /* status details */
    char peer[64];     /* the endpoint "host:port" of the last attempt, "" if none */
} im_rpc_status_t;

/* A client of one service; starts with no endpoints. svc must outlive the client. */
im_rpc_client_t *im_rpc_client_new(const ProtobufCServiceDescriptor *svc);
/* Replace the endpoint set ("host:port" strings, copied). Channels of endpoints still
 * listed are kept, new ones created, missing ones dropped (calls already running on a
 * dropped channel finish). Thread-safe: called from a discovery thread while other
 * threads call. */
void im_rpc_client_set_endpoints(im_rpc_client_t *c, const char *const *addrs, size_t n);
/* Per-endpoint circuit breakers (im/breaker.h) with these settings, read on every call;
 * NULL (the default): none. An open endpoint is skipped at once; all open: IM_EUNAVAIL. */
void im_rpc_client_set_breaker(im_rpc_client_t *c, const im_breaker_cfg_t *cfg);
size_t im_rpc_client_endpoint_count(im_rpc_client_t *c);
/* Unary call of `method` ("Ping"), round-robin over endpoints. Blocks the caller (any
 * thread; many threads concurrently). timeout_ms <= 0 means no deadline.
 * On success *resp is the unpacked reply: the caller frees it with
 * protobuf_c_message_free_unpacked(resp, NULL).
 * Sends metadata "x-trace-id: <trace>" when trace is non-empty. An endpoint answering
 * UNAVAILABLE is skipped for the next one, each endpoint tried at most once, all within
 * the one deadline.
 * Returns IM_OK, IM_EUNAVAIL (no endpoints / all unavailable), IM_ETIMEOUT (deadline),
 * IM_EPROTO (reply does not unpack), IM_EINVAL (no such method), or IM_EIO for other
 * non-OK statuses; *st (optional, set on every return) gets code, message and peer. */
int im_rpc_client_call(im_rpc_client_t *c, const char *method, const ProtobufCMessage *req,
                       ProtobufCMessage **resp, int timeout_ms, const char *trace,
                       im_rpc_status_t *st);
/* No call may be running on c. NULL ok. */
void im_rpc_client_free(im_rpc_client_t *c);

/* ---- process ---- */

/* Call once per process before anything else gRPC (grpc_init; routes gRPC's own log
 * lines to im_log), and im_rpc_global_shutdown at exit. */
void im_rpc_global_init(void);
void im_rpc_global_shutdown(void);

#endif
