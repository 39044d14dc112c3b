/* handle_list_devices.c — Logic.ListDevices: the caller's own push tokens
 * (GET /api/devices), oldest first, copied out of im-repo's reply into the call's arena. */
#include "logic.h"

LOGIC_HANDLER(logic_handle_list_devices)
{
    logic_t *l = ud;
    const Im__Logic__V1__UserRequest *in = (const void *)req;
    Im__Logic__V1__DevicesReply *out = (void *)resp;
    Im__Repo__V1__ListDevicesRequest q = IM__REPO__V1__LIST_DEVICES_REQUEST__INIT;
    q.user_id = in->user_id;
    ProtobufCMessage *rr = NULL;
    if (logic_repo_call(l, "ListDevices", &q.base, &rr) != IM_OK) return GRPC_STATUS_UNAVAILABLE;
    const Im__Repo__V1__ListDevicesReply *r = (void *)rr;
    out->devices = im_rpc_alloc(call, (r->n_devices + 1) * sizeof *out->devices);
    for (size_t i = 0; i < r->n_devices; i++) {
        Im__Logic__V1__Device *d = im_rpc_alloc(call, sizeof *d);
        im__logic__v1__device__init(d);
        d->platform = im_rpc_strdup(call, r->devices[i]->platform);
        d->token = im_rpc_strdup(call, r->devices[i]->token);
        d->created_at = r->devices[i]->created_at;
        out->devices[out->n_devices++] = d;
    }
    protobuf_c_message_free_unpacked(rr, NULL);
    return GRPC_STATUS_OK;
}
