/* task.h — im-task: slow, retryable work taken off the message path.
 *
 * DESIGN
 *   Threads: main (config, start, wait for SIGTERM, stop); `consume` reading the
 *   consumer group im-task on im-task-topic; `push-N` workers making push attempts;
 *   `retry` holding failed pushes until they are due; `admin`; etcd keepalive.
 *   [consume] never waits for a push: one slow or failing webhook call stalls one worker,
 *   a failing push waits in the retry heap, and every other task keeps flowing.
 *
 *   im-logic -produce-> im-task-topic -> [consume] consume.c -> handle_offline_push.c
 *     -todo-> [push-N] push.c, then either
 *       devices (FCM or APNs configured): push_devices.c -grpc-> im-repo ListDevices (the
 *             recipient's tokens, read at push time) -> per device, the provider of its
 *             platform, each behind its own token bucket (rate.c):
 *             provider_fcm.c (HTTP v1 POST; OAuth2 access token from fcm_token.c: an
 *             RS256 service-account JWT exchanged at the token URI) and provider_apns.c
 *             (HTTP/2 POST; ES256 provider JWT), both through provider_http.c (libcurl);
 *             a token the provider calls unregistered -grpc-> im-repo DeleteDevice
 *       or the default provider (a user without such devices, or none configured):
 *             provider_log.c writes a line; provider_webhook.c POSTs JSON (self-hosting)
 *     failed -retry-> [retry] retry.c (min-heap by due time, capped exponential backoff,
 *             or the provider's Retry-After if longer)
 *             -todo-> [push-N] again, until delivered or given up after push_attempts;
 *             devices already served are not pushed again
 *     delivered / given up -done-> [consume] window.c -> im_kafka_consumer_done()
 *
 *   Why im-task asks im-repo for the tokens instead of im-logic putting them in the task
 *   record: the send path stays free of a per-recipient lookup, a token registered or
 *   removed while a push waits (in Kafka or the retry heap) is honoured, and im-task
 *   needs an im-repo client anyway to delete tokens its providers report dead.
 *
 *   Metrics (cim_task_*): consume.c counts records and outcomes, push.c provider
 *   attempts and their latency, push_devices.c the same per device provider (fcm, apns)
 *   with outcomes ok/retry/unregistered/rejected/rate_limited, retry.c the jobs
 *   waiting; registered by the *_start functions before their threads run.
 *   Spans: "offline push" per record (child of logic's, through the Kafka traceparent),
 *   "provider push" per attempt, "fcm push" / "apns push" per device request.
 *
 *   Offsets (at-least-once): a record's offset is stored only once it and every record
 *   before it in its partition are finished (window.c). A crash replays the unfinished
 *   tail, so every task handler is idempotent (a push carries msg_id; receivers drop
 *   repeats). At max_inflight unfinished records [consume] waits for `done` instead of
 *   polling; that wait is bounded by one push's retry budget
 *   (push_attempts x (one attempt + push_backoff_max_ms), an attempt being a webhook
 *   POST (webhook_timeout_ms) or, per device, provider_timeout_ms plus im-repo calls;
 *   a provider's Retry-After is capped at push_backoff_max_ms). Pushes held back by a
 *   provider's rate limit (rate.c) wait without using up attempts.
 */
#ifndef IM_TASK_H
#define IM_TASK_H

#include <pthread.h>
#include <stdint.h>

#include "im/daemon.h"
#include "im/metrics.h"
#include "im/ratelimit.h"
#include "im/kafka.h"
#include "im/queue.h"
#include "im/trace.h"
#include "mq.pb-c.h"
#include "repo.pb-c.h"

typedef struct {
    im_common_cfg_t common;
    char *kafka_brokers;      /* host:port[,...] */
    char *push_provider;      /* log | webhook */
    char *webhook_url;        /* webhook provider: where offline pushes are POSTed */
    int webhook_timeout_ms;   /* live: one POST */
    int push_workers;         /* start-only: push-N threads (one webhook connection each) */
    int push_attempts;        /* live: tries per push before it is given up (logged) */
    int push_backoff_ms;      /* live: wait before the first retry; doubles per attempt */
    int push_backoff_max_ms;  /* live: cap of that wait */
    int max_inflight;         /* live: records read but not yet stored, all partitions */
    int repo_timeout_ms;      /* live: one im-repo call (ListDevices, DeleteDevice) */
    int provider_timeout_ms;  /* live: one FCM / APNs / OAuth request */
    int push_preview;         /* live: put a text message's first characters in the alert */
    char *fcm_url;            /* FCM: base URL ("" = FCM off) */
    char *fcm_credentials;    /* FCM: service-account JSON file (client_email, private_key, ...) */
    char *fcm_project;        /* FCM: project id ("" = the file's project_id) */
    char *fcm_token_url;      /* FCM: OAuth2 token endpoint ("" = the file's token_uri) */
    int fcm_rate, fcm_burst;  /* live: FCM requests per second (0 = unlimited), bucket size */
    char *apns_url;           /* APNs: base URL ("" = APNs off) */
    char *apns_key_file;      /* APNs: the .p8 (PEM) signing key */
    char *apns_key_id;        /* APNs: the key's id (JWT kid) */
    char *apns_team_id;       /* APNs: the team id (JWT iss) */
    char *apns_topic;         /* APNs: the app's bundle id (apns-topic) */
    int apns_priority;        /* live: apns-priority, 10 now or 5 power-saving */
    int apns_expiration_s;    /* live: apns-expiration = now + this; 0 = try once only */
    int apns_rate, apns_burst;  /* live: APNs requests per second (0 = unlimited), bucket size */
} task_config_t;

/* An offline-push provider. push() runs on push worker `worker` (0..push_workers-1), so a
 * provider may keep one connection per worker; IM_OK when the provider took the push,
 * anything else is retried up to push_attempts times. */
typedef struct {
    const char *name;
    int (*push)(void *state, int worker, uint64_t user_id, const char *json_body);
    void *state;
} task_provider_t;

/* One request to a device provider, as it ended. */
typedef enum {
    TASK_SEND_OK,            /* accepted by the provider */
    TASK_SEND_RETRY,         /* try again later: 429, 5xx, network, expired credentials */
    TASK_SEND_UNREGISTERED,  /* the token is dead: removed from im-repo, never retried */
    TASK_SEND_REJECTED,      /* refused for good (a bad request, a topic mismatch): logged */
} task_send_t;
/* Each task_send_t's name, then "rate_limited" (held back by the provider's bucket): the
 * outcome label of metrics, spans and log lines (rate.c). */
extern const char *const task_send_outcome[5];

/* What a device provider is told to push (built by handle_offline_push.c). */
typedef struct {
    char *title, *text;          /* the alert */
    char *conversation_id;
    uint64_t msg_id, seq, sender_id;
} task_note_t;

/* A device provider (FCM, APNs). send() runs on push worker `worker`; *retry_after_ms
 * is set (>0) when the provider said how long to wait; *status is the HTTP status (0 if
 * none came). */
typedef struct {
    const char *name;   /* "fcm" | "apns": the devices.platform it serves */
    task_send_t (*send)(void *state, int worker, const task_note_t *note, const char *token,
                        int64_t *retry_after_ms, long *status);
    void *state;        /* NULL: this provider is not configured */
    pthread_mutex_t lock;        /* guards bucket (any push worker) */
    im_bucket_t bucket;
    const int *rate, *burst;     /* live config keys */
    im_metric_t *m_outcome[5];   /* task_send_t, then rate_limited */
    im_metric_t *m_seconds;      /* one request */
} task_device_provider_t;

/* A recipient's device as one job sees it. */
typedef enum { TASK_DEV_PENDING, TASK_DEV_DONE } task_dev_state_t;
typedef struct {
    task_device_provider_t *provider;
    char *token;
    task_dev_state_t state;
} task_device_t;

typedef enum {
    TASK_DELIVERED,   /* the provider took it */
    TASK_GIVEN_UP,    /* failed push_attempts times, or a record that can never be pushed */
    TASK_ABANDONED,   /* still unfinished at shutdown: its offset is not stored */
} task_outcome_t;

/* One record of im-task-topic from poll to stored offset. It sits in exactly one of the
 * queues todo, retry, done at a time (node) and, all along, in its partition's list of
 * window.c (next_in_partition, [consume] only). */
typedef struct task_job_s {
    im_queue_node_t node;
    struct task_job_s *next_in_partition;
    im_kafka_msg_t msg;         /* the record; stored or released by [consume] only */
    int finished;               /* [consume] only: may its offset be stored */
    task_outcome_t outcome;     /* set by whoever pushes the job to `done` */
    im_span_t span;             /* "offline push", child of logic's span (span.trace: logs) */
    uint64_t user_id, msg_id;   /* offline_push: who is told about which message */
    char *body;                 /* offline_push: the JSON the default provider gets */
    task_note_t note;           /* offline_push: what a device provider gets */
    int devices_read;           /* push_devices.c: devices below came from im-repo */
    task_device_t *devices;     /* the recipient's devices of a configured platform */
    size_t ndevices;
    int attempts;               /* push attempts made */
    int64_t due_ms;             /* im_clock_mono_ms() of the next attempt (retry heap) */
} task_job_t;

/* A partition's unfinished records in the order they were read ([consume] only). */
typedef struct {
    int32_t partition;
    task_job_t *head, *tail;
} task_partition_t;

typedef struct {
    task_partition_t *parts;   /* one per partition seen (im-task reads one topic) */
    size_t nparts;
    size_t len;                /* jobs held, all partitions */
} task_window_t;

struct task_s;

/* A push-N thread; `worker` picks its connection in the provider. */
typedef struct {
    pthread_t thread;
    struct task_s *t;
    int worker;   /* 0..push_workers-1 */
} task_worker_t;

typedef struct task_s {
    task_config_t cfg;
    im_daemon_t daemon;            /* identity, etcd, admin port */
    im_kafka_consumer_t *consumer; /* group im-task on im-task-topic; [consume] only */
    pthread_t consume_thread;
    volatile int stopping;
    task_window_t window;          /* [consume] only: read records not yet stored */
    im_queue_t todo;               /* [consume], [retry] -> [push-N]: attempts due now */
    im_queue_t retry;              /* [push-N] -> [retry]: failed attempts to try again */
    im_queue_t done;               /* [push-N], [retry] -> [consume]: finished jobs */
    task_worker_t *workers;        /* cfg.push_workers of them */
    pthread_t retry_thread;
    im_metric_t *m_consumed;       /* records read from im-task-topic */
    im_metric_t *m_tasks;          /* tasks handled (pushes delivered) */
    im_metric_t *m_failures;       /* tasks that failed (given up, unreadable) */
    im_metric_t *m_retries;        /* push attempts scheduled again */
    im_metric_t *m_inflight;       /* gauge: window.len */
    im_metric_t *m_push_ok, *m_push_failed;   /* provider attempts by result */
    im_metric_t *m_push_seconds;   /* one provider attempt, {provider} */
    im_metric_t *m_retry_waiting;  /* gauge: jobs in [retry]'s heap */
    task_provider_t provider;      /* offline pushes of users without a usable device */
    task_device_provider_t fcm, apns;   /* .state NULL: not configured */
    im_discovery_t repo;           /* im-repo client (devices), when fcm or apns is on */
} task_t;

/* ---- config.c ---- */
extern const im_cfg_field_t task_config_table[];

/* ---- provider_log.c, provider_webhook.c ---- */
int task_provider_log(task_t *t, task_provider_t *p);
int task_provider_webhook(task_t *t, task_provider_t *p);
void task_provider_webhook_free(task_provider_t *p);

/* ---- provider_fcm.c, provider_apns.c: device providers (start: main) ---- */
int task_provider_fcm(task_t *t, task_device_provider_t *p);
int task_provider_apns(task_t *t, task_device_provider_t *p);
void task_provider_fcm_free(task_device_provider_t *p);
void task_provider_apns_free(task_device_provider_t *p);

/* ---- fcm_token.c: FCM's OAuth2 access token (any push worker) ---- */
typedef struct task_fcm_token_s task_fcm_token_t;
/* Reads the service-account file; token_url "" = its token_uri. NULL (logged) if unusable. */
task_fcm_token_t *task_fcm_token_new(const char *credentials_path, const char *token_url,
                                     const int *timeout_ms);
const char *task_fcm_token_project(const task_fcm_token_t *f);   /* the file's project_id */
/* Copies a valid access token into out (cached until a minute before it expires; one
 * worker fetches, the others wait). IM_OK, or IM_EUNAVAIL if the token endpoint failed. */
int task_fcm_token_get(task_fcm_token_t *f, char *out, size_t outlen);
void task_fcm_token_reset(task_fcm_token_t *f, const char *stale);   /* after a 401 */
void task_fcm_token_free(task_fcm_token_t *f);

/* ---- provider_http.c: libcurl for the providers ---- */
/* One handle per push worker (handle i only on [push-i]), kept across requests so their
 * connections are reused (keep-alive, HTTP/2). */
typedef struct {
    void **h;   /* CURL * */
    int n;
} task_curls_t;
void task_curls_init(task_curls_t *c, int n);   /* n handles from curl_easy_init */
void task_curls_fini(task_curls_t *c);
typedef struct {
    long status;              /* 0: no answer (see curl) */
    int curl;                 /* CURLcode */
    char error[256];          /* curl's own words for a failure, "" if none */
    int64_t retry_after_ms;   /* Retry-After (seconds or an HTTP date), 0 if none */
    char *body;               /* the answer, NUL-terminated, at most 64 KiB; caller frees */
} task_http_reply_t;
/* POSTs body on the handle (which keeps its connection); headers are the caller's. */
void task_http_post(void *curl, const char *url, void *headers, const char *body, long timeout_ms,
                    task_http_reply_t *out);
void task_http_reply_fini(task_http_reply_t *r);

/* ---- rate.c: the device providers' token buckets and metrics ---- */
void task_device_provider_init(task_device_provider_t *p, const char *name, const int *rate,
                               const int *burst);
/* 1 if a request may go now; else 0 and *wait_ms until the next token. Any thread. */
int task_device_provider_take(task_device_provider_t *p, int64_t *wait_ms);

/* ---- push_devices.c ([push-N]) ---- */
/* One attempt at job's devices. IM_ENOTFOUND: the user has no device of a configured
 * platform (the default provider takes the push); IM_OK: every device is served;
 * IM_ERATELIMIT: only a provider's bucket held some back (*wait_ms); else a device
 * failed and is to be retried (*wait_ms: the provider's Retry-After, or 0). */
int task_devices_push(task_t *t, task_job_t *job, int worker, int64_t *wait_ms);
void task_devices_free(task_job_t *job);

/* ---- handle_offline_push.c ([consume]) ---- */
/* Fills job's user_id, msg_id, body and note from an offline_push task. */
int task_offline_push_prepare(task_t *t, const Im__Mq__V1__Task *task, task_job_t *job);

/* ---- push.c: the push-N workers ---- */
int task_push_start(task_t *t);
/* Closes todo and retry, joins the workers and [retry]; unfinished jobs end in `done`
 * as TASK_ABANDONED. After task_consume_stop. */
void task_push_stop(task_t *t);
/* Hands a finished job to [consume] (any thread). */
void task_push_finish(task_t *t, task_job_t *job, task_outcome_t outcome);
void task_job_free(task_job_t *job);

/* ---- retry.c: the `retry` thread ---- */
/* Wait before attempt `attempts`+1: base << (attempts-1), capped at max, no overflow. */
int64_t task_backoff_ms(int64_t base_ms, int64_t max_ms, int attempts);
void task_retry_start(task_t *t);
void task_retry_join(task_t *t);   /* after closing t->retry */

/* ---- window.c ([consume] only): offsets stored in order per partition ---- */
void task_window_add(task_window_t *w, task_job_t *job);
/* Marks job finished; returns the jobs whose offsets may now be stored, oldest first,
 * linked by next_in_partition and removed from the window (the caller owns them). */
task_job_t *task_window_finish(task_window_t *w, task_job_t *job);
/* Removes every job (shutdown), linked by next_in_partition; the caller owns them. */
task_job_t *task_window_take_all(task_window_t *w);
void task_window_fini(task_window_t *w);

/* ---- consume.c: the `consume` thread ---- */
int task_consume_start(task_t *t);
void task_consume_stop(task_t *t);    /* joins [consume]: no more records are read */
/* After task_push_stop: stores the offsets of what finished, releases the rest, leaves
 * the group. */
void task_consume_close(task_t *t);

#endif
