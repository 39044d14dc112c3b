/* consume.c — the `consume` thread: read im-task-topic, dispatch by kind, store the offset. */
#include "task.h"
#include "im/err.h"
#include "im/log.h"
#include "im/names.h"

#include <string.h>

static void handle(task_t *t, const im_kafka_msg_t *m)
{
    Im__Mq__V1__Task *task = im__mq__v1__task__unpack(NULL, m->len, m->payload);
    if (task == NULL) {
        im_warn("task.bad_record", "partition=%d offset=%lld", m->partition, (long long)m->offset);
        im_metric_add(t->m_failures, 1);
        return;   /* a record that can never parse is skipped, not retried forever */
    }
    int rc = IM_EINVAL;
    if (strcmp(task->kind, "offline_push") == 0) rc = task_handle_offline_push(t, task);
    else im_warn("task.unknown_kind", "kind=%s", task->kind);
    im_metric_add(rc == IM_OK ? t->m_tasks : t->m_failures, 1);
    im__mq__v1__task__free_unpacked(task, NULL);
}

static void *consume_main(void *arg)
{
    task_t *t = arg;
    im_log_set_thread("consume");
    while (!t->stopping) {
        im_kafka_msg_t m;
        if (im_kafka_consumer_poll(t->consumer, 200, &m) != IM_OK) continue;
        im_trace_set(m.traceparent);
        handle(t, &m);
        im_trace_set("");
        im_kafka_consumer_done(t->consumer, &m);
    }
    return NULL;
}

int task_consume_start(task_t *t)
{
    t->m_tasks = im_metric_new(IM_METRIC_COUNTER, "cim_task_handled_total", "Tasks handled");
    t->m_failures = im_metric_new(IM_METRIC_COUNTER, "cim_task_failed_total", "Tasks that failed");
    im_kafka_topic_ensure(t->cfg.kafka_brokers, IM_TOPIC_TASK, 4, 10000);
    const char *topics[] = {IM_TOPIC_TASK};
    t->consumer = im_kafka_consumer_new(t->cfg.kafka_brokers, IM_GROUP_TASK, topics, 1);
    if (t->consumer == NULL) return IM_EUNAVAIL;
    pthread_create(&t->consume_thread, NULL, consume_main, t);
    return IM_OK;
}

void task_consume_stop(task_t *t)
{
    t->stopping = 1;
    pthread_join(t->consume_thread, NULL);
    im_kafka_consumer_free(t->consumer);   /* commits stored offsets, leaves the group */
    t->consumer = NULL;
}
