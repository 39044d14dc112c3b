/* rate.c — each device provider's token bucket and metrics. The bucket (im/ratelimit.h)
 * is one per provider in this process, shared by the push workers under the provider's
 * lock; its rate and burst are live keys (fcm_rate, apns_rate, ...) read at every take.
 * A push held back by the bucket is not a failed attempt: it waits in [retry] until the
 * next token and does not use up push_attempts. */
#include "im/clock.h"
#include "task.h"

#include <stdio.h>

const char *const task_send_outcome[5] = {"ok", "retry", "unregistered", "rejected", "rate_limited"};

void task_device_provider_init(task_device_provider_t *p, const char *name, const int *rate,
                               const int *burst)
{
    p->name = name;
    p->rate = rate;
    p->burst = burst;
    pthread_mutex_init(&p->lock, NULL);
    char labels[96];
    for (int i = 0; i < 5; i++) {
        snprintf(labels, sizeof labels, "provider=\"%s\",outcome=\"%s\"", name, task_send_outcome[i]);
        p->m_outcome[i] = im_metric_new_l(IM_METRIC_COUNTER, "cim_task_provider_requests_total",
                                          "Device provider (FCM, APNs) requests by outcome; "
                                          "rate_limited: held back by the provider's bucket",
                                          labels);
    }
    snprintf(labels, sizeof labels, "provider=\"%s\"", name);
    p->m_seconds = im_metric_new_l(IM_METRIC_HISTOGRAM, "cim_task_push_seconds",
                                   "One push provider request (a webhook POST, an FCM or APNs push)", labels);
}

int task_device_provider_take(task_device_provider_t *p, int64_t *wait_ms)
{
    int rate = IM_CFG_GET(*p->rate), burst = IM_CFG_GET(*p->burst);
    if (rate <= 0) return 1;
    pthread_mutex_lock(&p->lock);
    int ok = im_bucket_take(&p->bucket, rate, burst, im_clock_mono_ms());
    pthread_mutex_unlock(&p->lock);
    if (!ok) {
        *wait_ms = (1000 + rate - 1) / rate;
        im_metric_add(p->m_outcome[4], 1);
    }
    return ok;
}
