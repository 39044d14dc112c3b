/* push_devices.c — one attempt at an offline push to the recipient's devices (FCM, APNs).
 *
 * The first attempt reads the user's devices from im-repo (ListDevices) and keeps those
 * whose platform has a configured provider; none: the default provider (log, webhook)
 * takes the push instead. Each attempt then sends to every device not yet served, each
 * behind its provider's bucket (rate.c):
 *   ok -> served; unregistered -> served, and the token deleted in im-repo (DeleteDevice,
 *   for this user only; if that call fails the next push finds the token, is told again
 *   and retries the delete); rejected -> served (logged: retrying cannot help);
 *   retry -> stays, and the job goes back to [retry] for max(backoff, Retry-After);
 *   held back by the bucket -> stays, and the job waits for the next token without using
 *   up an attempt.
 * A retry never pushes again to a device already served, so one failing device does not
 * repeat the notification on the others. Runs on a push worker ([push-N]). */
#include "im/clock.h"
#include "im/log.h"
#include "task.h"

#include <stdio.h>
#include <string.h>

static task_device_provider_t *provider_of(task_t *t, const char *platform)
{
    if (strcmp(platform, "fcm") == 0 && t->fcm.state) return &t->fcm;
    if (strcmp(platform, "apns") == 0 && t->apns.state) return &t->apns;
    return NULL;
}

/* Fills job->devices from im-repo. IM_OK, or the call's error (retried). */
static int read_devices(task_t *t, task_job_t *job)
{
    Im__Repo__V1__ListDevicesRequest q = IM__REPO__V1__LIST_DEVICES_REQUEST__INIT;
    q.user_id = job->user_id;
    ProtobufCMessage *rr = NULL;
    int rc = im_rpc_client_call(t->repo.client, "ListDevices", &q.base, &rr, IM_CFG_GET(t->cfg.repo_timeout_ms),
                                im_trace_get(), NULL);
    if (rc != IM_OK) {
        IM_LOG_RATELIMITED(1, IM_LOG_WARN, "push.devices_unavailable", "user=%llu err=\"%s\"",
                           (unsigned long long)job->user_id, im_strerror(rc));
        return rc;
    }
    const Im__Repo__V1__ListDevicesReply *r = (void *)rr;
    job->devices = im_calloc(r->n_devices + 1, sizeof *job->devices);
    for (size_t i = 0; i < r->n_devices; i++) {
        task_device_provider_t *p = provider_of(t, r->devices[i]->platform);
        if (p == NULL) continue;   /* a platform this deployment does not push to */
        job->devices[job->ndevices].provider = p;
        job->devices[job->ndevices++].token = im_strdup(r->devices[i]->token);
    }
    protobuf_c_message_free_unpacked(rr, NULL);
    job->devices_read = 1;
    return IM_OK;
}

static void forget_token(task_t *t, uint64_t user_id, const char *token)
{
    Im__Repo__V1__DeviceOpRequest q = IM__REPO__V1__DEVICE_OP_REQUEST__INIT;
    q.user_id = user_id;
    q.token = (char *)token;
    ProtobufCMessage *rr = NULL;
    int rc = im_rpc_client_call(t->repo.client, "DeleteDevice", &q.base, &rr, IM_CFG_GET(t->cfg.repo_timeout_ms),
                                im_trace_get(), NULL);
    im_info("push.token_removed", "user=%llu token=%.12s... removed=%s", (unsigned long long)user_id, token,
            rc == IM_OK ? "yes" : im_strerror(rc));
    if (rr) protobuf_c_message_free_unpacked(rr, NULL);
}

/* One request to one device; updates its state, *retry (1 if it is to be tried again)
 * and *wait_ms (the provider's Retry-After). */
static void push_one(task_t *t, task_job_t *job, task_device_t *d, int worker, int *retry, int64_t *wait_ms)
{
    task_device_provider_t *p = d->provider;
    im_span_t span;
    char name[32];
    snprintf(name, sizeof name, "%s push", p->name);
    im_span_child_of(&span, &job->span, name, IM_SPAN_CLIENT);
    int64_t after = 0, t0 = im_clock_mono_us();
    long status = 0;
    task_send_t r = p->send(p->state, worker, &job->note, d->token, &after, &status);
    im_metric_observe_us(p->m_seconds, im_clock_mono_us() - t0);
    im_metric_add(p->m_outcome[r], 1);
    im_span_tag(&span, "provider", "%s", p->name);
    im_span_tag(&span, "status", "%ld", status);
    im_span_tag(&span, "outcome", "%s", task_send_outcome[r]);
    im_span_end(&span);
    im_debug("push.device", "provider=%s user=%llu status=%ld outcome=%s retry_after_ms=%lld", p->name,
             (unsigned long long)job->user_id, status, task_send_outcome[r], (long long)after);
    if (r == TASK_SEND_RETRY) {
        *retry = 1;
        if (after > *wait_ms) *wait_ms = after;
        return;
    }
    d->state = TASK_DEV_DONE;
    if (r == TASK_SEND_OK)
        im_info("push.offline_delivered", "provider=%s user=%llu status=%ld", p->name,
                (unsigned long long)job->user_id, status);
    else if (r == TASK_SEND_UNREGISTERED)
        forget_token(t, job->user_id, d->token);
}

int task_devices_push(task_t *t, task_job_t *job, int worker, int64_t *wait_ms)
{
    *wait_ms = 0;
    if (!job->devices_read) {
        int rc = read_devices(t, job);
        if (rc != IM_OK) return rc;
    }
    if (job->ndevices == 0) return IM_ENOTFOUND;
    int retry = 0, limited = 0;
    int64_t limit_wait = 0;
    for (size_t i = 0; i < job->ndevices; i++) {
        task_device_t *d = &job->devices[i];
        if (d->state == TASK_DEV_DONE) continue;
        int64_t w = 0;
        if (!task_device_provider_take(d->provider, &w)) {
            limited = 1;
            if (w > limit_wait) limit_wait = w;
            continue;
        }
        push_one(t, job, d, worker, &retry, wait_ms);
    }
    if (retry) return IM_EUNAVAIL;
    if (limited) {
        *wait_ms = limit_wait;
        return IM_ERATELIMIT;
    }
    return IM_OK;
}

void task_devices_free(task_job_t *job)
{
    for (size_t i = 0; i < job->ndevices; i++) im_free(job->devices[i].token);
    im_free(job->devices);
    job->devices = NULL;
    job->ndevices = 0;
}
