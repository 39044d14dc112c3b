/* api_devices.c — the caller's push devices (tokens from FCM or APNs), for im-task's
 * offline pushes:
 *   POST /api/devices {platform: "fcm"|"apns", token} -> 201 {platform, token}
 *   GET /api/devices -> {devices: [{platform, token, created_at}]}
 *   DELETE /api/devices?token=<token> -> 200 {}; not_found if it is not the caller's
 * The token to delete travels in the query, not the path (FCM tokens are longer than a
 * path segment may be here, routes.c) nor a body (the gateway reads none for DELETE);
 * tokens are URL-safe ([A-Za-z0-9:_.-], checked by im-logic). Authz: user_id is the
 * JWT's, so a user only registers, lists and removes their own. */
#include "gateway.h"

#include <jansson.h>

/* created_at (ms) only where im-repo read it: a list, not a registration's echo. */
static json_t *device_json(const Im__Logic__V1__Device *d)
{
    json_t *o = json_pack("{s:s, s:s}", "platform", d->platform, "token", d->token);
    if (d->created_at) json_object_set_new(o, "created_at", json_integer((json_int_t)d->created_at));
    return o;
}

/* Calls `method` with {user_id, platform, token}; on success answers status with the
 * device (or {}). */
static void device_call(gw_t *g, gw_job_t *job, const char *method, char *platform, char *token, int status)
{
    Im__Logic__V1__DeviceRequest req = IM__LOGIC__V1__DEVICE_REQUEST__INIT;
    req.user_id = job->user_id;
    req.platform = platform;
    req.token = token;
    ProtobufCMessage *resp = NULL;
    if (gw_logic_call(g, job, method, &req.base, &resp) != IM_OK) return;
    Im__Logic__V1__DevicesReply *r = (void *)resp;
    if (!gw_reply_logic_error(job, r->error, r->message))
        gw_reply_json(job, status, r->n_devices ? device_json(r->devices[0]) : json_object());
    protobuf_c_message_free_unpacked(resp, NULL);
}

void gw_api_device_register(gw_t *g, gw_job_t *job)
{
    json_t *body = json_loadb(job->body ? job->body : "", job->body_len, 0, NULL);
    json_t *platform = json_object_get(body, "platform"), *token = json_object_get(body, "token");
    if (!json_is_object(body) || !json_is_string(token) || !json_is_string(platform))
        gw_job_error(job, 400, "invalid_argument", "expected {platform: \"fcm\"|\"apns\", token: string}");
    else
        device_call(g, job, "RegisterDevice", (char *)json_string_value(platform),
                    (char *)json_string_value(token), 201);
    json_decref(body);
}

void gw_api_device_delete(gw_t *g, gw_job_t *job)
{
    char token[520];   /* longer than any token im-logic accepts */
    if (!gw_query_str(job->query, "token", token, sizeof token) || !token[0])
        return gw_job_error(job, 400, "invalid_argument", "expected ?token=<device token>");
    device_call(g, job, "DeleteDevice", "", token, 200);
}

void gw_api_devices(gw_t *g, gw_job_t *job)
{
    Im__Logic__V1__UserRequest req = IM__LOGIC__V1__USER_REQUEST__INIT;
    req.user_id = job->user_id;
    ProtobufCMessage *resp = NULL;
    if (gw_logic_call(g, job, "ListDevices", &req.base, &resp) != IM_OK) return;
    Im__Logic__V1__DevicesReply *r = (void *)resp;
    if (!gw_reply_logic_error(job, r->error, r->message)) {
        json_t *list = json_array();
        for (size_t i = 0; i < r->n_devices; i++) json_array_append_new(list, device_json(r->devices[i]));
        gw_reply_json(job, 200, json_pack("{s:o}", "devices", list));
    }
    protobuf_c_message_free_unpacked(resp, NULL);
}
