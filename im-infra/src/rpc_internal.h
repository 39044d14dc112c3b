/* rpc_internal.h — what rpc_server.c and rpc_client.c share (not public API). */
#ifndef IM_RPC_INTERNAL_H
#define IM_RPC_INTERNAL_H

/* The largest message either side takes (gRPC's default is 4 MiB): a batch of 64 sends of
 * 64 KiB each, or a history page of long messages, is more than that. */
#define IM_RPC_MAX_MESSAGE (64 << 20)

#include "im/rpc.h"

/* Packs m into a new byte buffer; the caller destroys it (grpc_byte_buffer_destroy). */
grpc_byte_buffer *im_rpc_pack(const ProtobufCMessage *m);
/* Unpacks bb as a `d`; NULL if the bytes don't parse. alloc NULL = malloc (free with
 * protobuf_c_message_free_unpacked(m, NULL)). */
ProtobufCMessage *im_rpc_unpack(const ProtobufCMessageDescriptor *d, grpc_byte_buffer *bb,
                                ProtobufCAllocator *alloc);
/* "/" + svc->name + "/" + method, heap (im_free). */
char *im_rpc_method_path(const ProtobufCServiceDescriptor *svc, const char *method);

#endif
