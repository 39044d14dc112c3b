/* group_event.c — a group change as a system message (type 100) in g_{gid} ([rpc-N]).
 *
 * After im-repo committed a change, the Logic call produces an Upstream op "system" keyed
 * g_{gid} to im-upstream-topic and waits for Kafka's ack before it answers; the consume
 * thread that owns the group's partition then gives it a seq, stores and pushes it like
 * a message (send.c). So g_{gid} keeps one writer, and a retried record is deduplicated
 * by its cmid "sys.<snowflake>". If logic dies between the commit and the produce, the
 * change stands without its notice (the cost of not writing the message in the change's
 * own transaction; docs/GROUPS.md).
 *
 * Events run on their own producer, whose delivery reports wake the waiting call: a
 * waiter is shared by the call and the report, and freed by whichever finishes last, so
 * a call that gave up waiting leaves nothing dangling. */
#include "im/clock.h"
#include "im/conv.h"
#include "im/log.h"
#include "im/names.h"
#include "im/wire.h"
#include "logic.h"

#include <errno.h>
#include <stdio.h>
#include <sodium.h>
#include <string.h>
#include <time.h>

#define TYPE_SYSTEM 100
#define ACK_WAIT_MS 10000   /* message.timeout.ms is 30 s; a call should not hang that long */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, err;
    int refs;                       /* the call and the delivery report */
} waiter_t;

static void waiter_unref(waiter_t *w)
{
    pthread_mutex_lock(&w->mu);
    int last = --w->refs == 0;
    pthread_mutex_unlock(&w->mu);
    if (!last) return;
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    im_free(w);
}

/* @locality: the sys_producer's delivery-report thread */
static void on_delivery(void *opaque, int err)
{
    waiter_t *w = opaque;
    pthread_mutex_lock(&w->mu);
    w->done = 1;
    w->err = err;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    waiter_unref(w);
}

int logic_group_events_start(logic_t *l)
{
    char id[160];
    snprintf(id, sizeof id, "%s-events", l->daemon.instance);
    l->sys_producer = im_kafka_producer_new(l->cfg.kafka_brokers, id, on_delivery, NULL);
    l->m_events = im_metric_new(IM_METRIC_COUNTER, "cim_logic_group_events_total", "Group system messages produced");
    return l->sys_producer ? IM_OK : IM_EUNAVAIL;
}

void logic_group_events_stop(logic_t *l)
{
    im_kafka_producer_free(l->sys_producer);   /* flushes: every waiter gets its report */
    l->sys_producer = NULL;
}

static int wait_ack(waiter_t *w)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ACK_WAIT_MS / 1000;
    pthread_mutex_lock(&w->mu);
    int rc = 0;
    while (!w->done && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&w->cv, &w->mu, &until);
    int out = !w->done ? IM_ETIMEOUT : w->err;
    pthread_mutex_unlock(&w->mu);
    return out;
}

static char *content_of(uint64_t actor, const char *event, const uint64_t *targets, size_t ntargets,
                        json_t *extra)
{
    json_t *t = json_array();
    for (size_t i = 0; i < ntargets; i++) json_array_append_new(t, json_integer((json_int_t)targets[i]));
    json_t *o = json_pack("{s:s, s:I, s:o}", "event", event, "actor", (json_int_t)actor, "targets", t);
    if (extra) json_object_update(o, extra);
    return im_wire_dump(o);
}

int logic_group_event(logic_t *l, uint64_t gid, uint64_t actor, const char *event, const uint64_t *targets,
                      size_t ntargets, json_t *extra, const uint64_t *also_to, size_t nalso)
{
    char cmid[32], cid[IM_CONV_ID_MAX], tp[56];
    uint64_t nonce;   /* unique per event, so dedup never takes one event for another */
    randombytes_buf(&nonce, sizeof nonce);
    snprintf(cmid, sizeof cmid, "sys.%016llx", (unsigned long long)nonce);
    im_conv_group(cid, gid);
    char *content = content_of(actor, event, targets, ntargets, extra);
    Im__Mq__V1__Upstream up = IM__MQ__V1__UPSTREAM__INIT;
    up.op = "system";
    up.user_id = actor;
    up.group_id = gid;
    up.type = TYPE_SYSTEM;
    up.content = content;
    up.cmid = cmid;
    up.conversation_id = cid;
    up.gateway_id = "";
    up.also_to = (uint64_t *)also_to;
    up.n_also_to = nalso;
    up.received_us = im_clock_wall_us();
    size_t len = im__mq__v1__upstream__get_packed_size(&up);
    uint8_t *buf = im_malloc(len ? len : 1);
    im__mq__v1__upstream__pack(&up, buf);
    im_free(content);
    const im_span_t *cur = im_span_current();   /* the group call's: the event joins its trace */
    if (cur) {
        im_span_traceparent(cur, tp);
    } else {
        char trace[33];
        im_trace_new(trace);
        im_traceparent_format(tp, trace);
    }

    waiter_t *w = im_calloc(1, sizeof *w);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->refs = 2;
    int rc = im_kafka_producer_send(l->sys_producer, IM_TOPIC_UPSTREAM, cid, strlen(cid), buf, len, tp, w);
    im_free(buf);
    if (rc != IM_OK) w->refs = 1;   /* no report will come */
    else rc = wait_ack(w);
    waiter_unref(w);
    if (rc == IM_OK) {
        im_metric_add(l->m_events, 1);
        im_info("group.event", "group=%llu event=%s actor=%llu cmid=%s", (unsigned long long)gid, event,
                (unsigned long long)actor, cmid);
    } else {
        im_error("group.event_lost", "group=%llu event=%s actor=%llu err=\"%s\"", (unsigned long long)gid, event,
                 (unsigned long long)actor, im_strerror(rc));
    }
    return rc;
}

int logic_group_outcome(Im__Repo__V1__GroupOutcome outcome, const char **code, const char **message)
{
    switch (outcome) {
    case IM__REPO__V1__GROUP_OUTCOME__GROUP_OK: return 0;
    case IM__REPO__V1__GROUP_OUTCOME__GROUP_NOT_FOUND: *code = "not_found", *message = "no such group"; break;
    case IM__REPO__V1__GROUP_OUTCOME__ACTOR_NOT_MEMBER:
        *code = "forbidden", *message = "not a member of this group";
        break;
    case IM__REPO__V1__GROUP_OUTCOME__ACTOR_ROLE: *code = "forbidden", *message = "your role does not allow this"; break;
    case IM__REPO__V1__GROUP_OUTCOME__TARGET_NOT_MEMBER:
        *code = "not_member", *message = "that user is not a member of this group";
        break;
    case IM__REPO__V1__GROUP_OUTCOME__TARGET_ROLE:
        *code = "forbidden", *message = "not allowed on that member (the owner must transfer ownership first)";
        break;
    case IM__REPO__V1__GROUP_OUTCOME__GROUP_FULL: *code = "too_large", *message = "the group is full"; break;
    case IM__REPO__V1__GROUP_OUTCOME__NOT_OPEN: *code = "forbidden", *message = "the group is not open"; break;
    case IM__REPO__V1__GROUP_OUTCOME__USER_NOT_FOUND: *code = "not_found", *message = "no such user"; break;
    default: *code = "internal", *message = "unknown group outcome"; break;
    }
    return 1;
}

const char *logic_role_name(int role)
{
    switch (role) {
    case 1: return "member";
    case 2: return "admin";
    case 3: return "owner";
    default: return "";
    }
}
