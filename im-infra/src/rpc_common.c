/* rpc_common.c — process-wide gRPC setup and the protobuf <-> byte buffer bridge. */
#include "rpc_internal.h"
#include "im/err.h"
#include "im/log.h"

#include <grpc/byte_buffer_reader.h>
#include <grpc/support/log.h>
#include <stdio.h>
#include <string.h>

/* gRPC's own log lines (gpr_log) become one key=value line each. @locality: any
 * thread, including gRPC's internal ones. */
static void log_bridge(gpr_log_func_args *a)
{
    char msg[512];
    size_t i = 0;
    for (const char *p = a->message; *p && i < sizeof msg - 1; p++, i++)
        msg[i] = (*p == '"' || *p == '\n' || *p == '\r') ? '\'' : *p;
    msg[i] = '\0';
    const char *file = strrchr(a->file, '/');
    file = file ? file + 1 : a->file;
    im_log(a->severity == GPR_LOG_SEVERITY_ERROR ? IM_LOG_WARN : IM_LOG_DEBUG, "grpc.log",
           "src=%s:%d msg=\"%s\"", file, a->line, msg);
}

void im_rpc_global_init(void)
{
    gpr_set_log_function(log_bridge);
    grpc_init();
}

void im_rpc_global_shutdown(void)
{
    grpc_shutdown();
}

grpc_byte_buffer *im_rpc_pack(const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    grpc_slice s = grpc_slice_malloc(n);
    protobuf_c_message_pack(m, GRPC_SLICE_START_PTR(s));
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1); /* takes its own ref */
    grpc_slice_unref(s);
    return bb;
}

ProtobufCMessage *im_rpc_unpack(const ProtobufCMessageDescriptor *d, grpc_byte_buffer *bb,
                                ProtobufCAllocator *alloc)
{
    grpc_byte_buffer_reader r;
    if (!grpc_byte_buffer_reader_init(&r, bb)) return NULL; /* undecompressable */
    grpc_slice s = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    ProtobufCMessage *m =
        protobuf_c_message_unpack(d, alloc, GRPC_SLICE_LENGTH(s), GRPC_SLICE_START_PTR(s));
    grpc_slice_unref(s);
    return m;
}

char *im_rpc_method_path(const ProtobufCServiceDescriptor *svc, const char *method)
{
    return im_sprintf("/%s/%s", svc->name, method);
}
