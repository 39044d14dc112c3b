/* handle_delete_device.c — Logic.DeleteDevice: the caller removes one of their own push
 * tokens (DELETE /api/devices). A token that is not the caller's — someone else's or
 * none at all — is not_found either way, so the answer tells nothing about other users'
 * tokens. */
#include "logic.h"

#include <string.h>

LOGIC_HANDLER(logic_handle_delete_device)
{
    logic_t *l = ud;
    const Im__Logic__V1__DeviceRequest *in = (const void *)req;
    Im__Logic__V1__DevicesReply *out = (void *)resp;
    size_t n = strlen(in->token);
    if (n == 0 || n > 512) {
        out->error = "invalid_argument";
        out->message = "token must be 1..512 characters";
        return GRPC_STATUS_OK;
    }
    Im__Repo__V1__DeviceOpRequest q = IM__REPO__V1__DEVICE_OP_REQUEST__INIT;
    q.user_id = in->user_id;
    q.token = in->token;
    ProtobufCMessage *rr = NULL;
    if (logic_repo_call(l, "DeleteDevice", &q.base, &rr) != IM_OK) return GRPC_STATUS_UNAVAILABLE;
    if (!((Im__Repo__V1__DeviceOpReply *)rr)->changed) {
        out->error = "not_found";
        out->message = "no such device token of yours";
    }
    protobuf_c_message_free_unpacked(rr, NULL);
    return GRPC_STATUS_OK;
}
