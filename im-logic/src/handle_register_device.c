/* handle_register_device.c — Logic.RegisterDevice: the caller registers a push token
 * their app got from FCM or APNs (POST /api/devices). Checked here: platform is "fcm" or
 * "apns", the token is 1..512 characters of [A-Za-z0-9:_.-] (FCM tokens use ':' '-' '_',
 * APNs tokens are hex). im-repo upserts it by token for the caller (user_id comes from
 * the gateway's verified JWT, never from the body). */
#include "logic.h"

#include <string.h>

#define TOKEN_MAX 512

static int token_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > TOKEN_MAX) return 0;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:_.-") == n;
}

LOGIC_HANDLER(logic_handle_register_device)
{
    logic_t *l = ud;
    const Im__Logic__V1__DeviceRequest *in = (const void *)req;
    Im__Logic__V1__DevicesReply *out = (void *)resp;
    if (strcmp(in->platform, "fcm") != 0 && strcmp(in->platform, "apns") != 0) {
        out->error = "invalid_argument";
        out->message = "platform must be \"fcm\" or \"apns\"";
        return GRPC_STATUS_OK;
    }
    if (!token_ok(in->token)) {
        out->error = "invalid_argument";
        out->message = "token must be 1..512 characters of [A-Za-z0-9:_.-]";
        return GRPC_STATUS_OK;
    }
    Im__Repo__V1__DeviceOpRequest q = IM__REPO__V1__DEVICE_OP_REQUEST__INIT;
    q.user_id = in->user_id;
    q.platform = in->platform;
    q.token = in->token;
    ProtobufCMessage *rr = NULL;
    if (logic_repo_call(l, "RegisterDevice", &q.base, &rr) != IM_OK) return GRPC_STATUS_UNAVAILABLE;
    protobuf_c_message_free_unpacked(rr, NULL);
    Im__Logic__V1__Device *d = im_rpc_alloc(call, sizeof *d);
    im__logic__v1__device__init(d);
    d->platform = im_rpc_strdup(call, in->platform);
    d->token = im_rpc_strdup(call, in->token);
    out->devices = im_rpc_alloc(call, sizeof *out->devices);
    out->devices[0] = d;
    out->n_devices = 1;
    return GRPC_STATUS_OK;
}
