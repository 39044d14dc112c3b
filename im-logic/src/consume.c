/* consume.c — the `consume` thread: im-upstream-topic in batches, offsets stored after.
 *
 * A batch is up to batch_max records that are already waiting (the first poll blocks,
 * the rest don't). Sends, and the `system` records of group events, go through send.c together; all `cursors` records (coalesced
 * acks and reads) in one UpdateCursors call (cursor.c); typing is relayed; hints that
 * waited past shed_lag_ms are dropped (load shedding, behind()). If the send
 * pipeline fails (im-repo or Redis down) the same batch is retried with backoff, never
 * skipped; offsets are stored only once it went through. */
#include "im/clock.h"
#include "im/log.h"
#include "im/names.h"
#include "logic.h"

#include <string.h>
#include <unistd.h>

/* Load shedding: a hint (typing, presence, a read's receipt) that waited longer than
 * shed_lag_ms (LIVE) in Kafka is no use to anyone and costs the pipeline; it is dropped.
 * Sends are never judged by this. */
static int behind(logic_t *l, const Im__Mq__V1__Upstream *up, int64_t consumed_us)
{
    int64_t lag_ms = IM_CFG_GET(l->cfg.shed_lag_ms);
    return lag_ms > 0 && up->received_us > 0 && consumed_us - up->received_us > lag_ms * 1000;
}

/* 1 if the batch went through, 0 if stopping cut it short. */
static int run_batch(logic_t *l, im_kafka_msg_t *recs, size_t n)
{
    int64_t consumed_us = im_clock_wall_us();
    logic_send_t *sends = im_calloc(n, sizeof *sends);
    Im__Mq__V1__Upstream **cursors = im_calloc(n, sizeof *cursors);
    size_t ns = 0, nc = 0;
    int shed_receipts = 0;
    for (size_t i = 0; i < n; i++) {
        Im__Mq__V1__Upstream *up = im__mq__v1__upstream__unpack(NULL, recs[i].len, recs[i].payload);
        if (up == NULL) {
            im_warn("upstream.bad_record", "partition=%d offset=%lld", recs[i].partition,
                    (long long)recs[i].offset);
            continue;
        }
        int system = strcmp(up->op, "system") == 0;   /* a group event: group_event.c */
        if (system || strcmp(up->op, "send") == 0) {
            if (up->received_us) im_metric_observe_us(l->m_hop_up, consumed_us - up->received_us);
            im__common__v1__message__init(&sends[ns].msg);
            sends[ns].up = up;
            sends[ns].system = system;
            sends[ns].partition = recs[i].partition;
            sends[ns].offset = recs[i].offset;
            im_span_from(&sends[ns].span, recs[i].traceparent, "logic send", IM_SPAN_CONSUMER);
            sends[ns].span.start_us = consumed_us;
            im_span_tag(&sends[ns].span, "kafka.partition", "%d", recs[i].partition);
            im_span_tag(&sends[ns].span, "kafka.offset", "%lld", (long long)recs[i].offset);
            im_span_traceparent(&sends[ns].span, sends[ns].tp);
            ns++;
            continue;
        }
        if (strcmp(up->op, "cursors") == 0) {   /* positions are stored however late; receipts are hints */
            shed_receipts |= behind(l, up, consumed_us);
            cursors[nc++] = up;
            continue;
        }
        char trace[33];   /* a hint's log lines (a send's come from its span) */
        im_traceparent_trace(recs[i].traceparent, trace);
        im_trace_set(trace);
        if (behind(l, up, consumed_us)) im_metric_add(l->m_shed, 1);   /* a stale hint: dropped */
        else if (strcmp(up->op, "typing") == 0) logic_typing_handle(l, up, recs[i].traceparent);
        else if (strcmp(up->op, "presence") == 0) logic_fanout_presence(l, up->user_id, up->online, up->last_seen);
        else im_warn("upstream.unknown_op", "op=%s", up->op);
        im_trace_set("");
        im__mq__v1__upstream__free_unpacked(up, NULL);
    }
    int done = 1;
    for (int backoff_ms = 50; ns && logic_send_batch(l, sends, ns) != IM_OK;) {
        IM_LOG_RATELIMITED(5, IM_LOG_WARN, "send.batch_retry", "size=%zu backoff_ms=%d", ns, backoff_ms);
        if (l->stopping) {   /* not stored: redelivered to whoever takes the partition */
            done = 0;
            break;
        }
        usleep((useconds_t)backoff_ms * 1000);
        if (backoff_ms < 2000) backoff_ms *= 2;
    }
    int64_t spent_us = im_clock_wall_us() - consumed_us;
    for (size_t i = 0; done && i < ns; i++) im_metric_observe_us(l->m_hop_logic, spent_us);
    for (size_t i = 0; done && i < ns; i++) {
        im_span_tag(&sends[i].span, "batch", "%zu", ns);
        im_span_end(&sends[i].span);
    }
    if (shed_receipts && nc) im_metric_add(l->m_shed, 1);
    if (done) logic_cursors_handle(l, cursors, nc, !shed_receipts && IM_CFG_GET(l->cfg.receipts_enabled));   /* after the sends: they may carry the acked seqs */
    for (size_t i = 0; i < nc; i++) im__mq__v1__upstream__free_unpacked(cursors[i], NULL);
    for (size_t i = 0; i < ns; i++) im__mq__v1__upstream__free_unpacked(sends[i].up, NULL);
    im_free(cursors);
    im_free(sends);
    return done;
}

static void *consume_main(void *arg)
{
    logic_t *l = arg;
    im_log_set_thread("consume");
    im_kafka_msg_t *recs = im_calloc((size_t)l->cfg.batch_max, sizeof *recs);
    while (!l->stopping) {
        size_t n = 0;
        if (im_kafka_consumer_poll(l->consumer, 100, &recs[0]) != IM_OK) continue;
        n = 1;
        while (n < (size_t)l->cfg.batch_max && im_kafka_consumer_poll(l->consumer, 0, &recs[n]) == IM_OK) n++;
        if (run_batch(l, recs, n)) {
            for (size_t i = 0; i < n; i++) im_kafka_consumer_done(l->consumer, &recs[i]);
        } else {
            for (size_t i = 0; i < n; i++) im_kafka_msg_release(&recs[i]);
        }
    }
    im_free(recs);
    return NULL;
}

int logic_consume_start(logic_t *l)
{
    l->m_sent = im_metric_new(IM_METRIC_COUNTER, "cim_logic_messages_stored_total", "Messages stored");
    l->m_dups = im_metric_new(IM_METRIC_COUNTER, "cim_logic_duplicates_total", "Sends answered from dedup");
    l->m_rejected = im_metric_new(IM_METRIC_COUNTER, "cim_logic_refused_total", "Sends refused");
    l->m_shed = im_metric_new(IM_METRIC_COUNTER, "cim_logic_shed_total",
                              "typing, presence and receipt batches dropped because the consumer was behind");
    l->m_pushed = im_metric_new(IM_METRIC_COUNTER, "cim_logic_downstream_total", "Downstream records produced");
    l->m_offline = im_metric_new(IM_METRIC_COUNTER, "cim_logic_offline_tasks_total", "Offline-push tasks produced");
    l->m_hop_up = im_metric_new(IM_METRIC_HISTOGRAM, "cim_hop_upstream_seconds",
                                "A gateway read a send -> logic consumed it (one Kafka hop)");
    l->m_hop_logic = im_metric_new(IM_METRIC_HISTOGRAM, "cim_hop_logic_seconds",
                                   "Logic consumed a send -> its frames produced (dedup, seq, commit, push)");
    im_u64map_init(&l->known_users);
    im_kafka_topic_ensure(l->cfg.kafka_brokers, IM_TOPIC_UPSTREAM, l->cfg.upstream_partitions, 10000);
    im_kafka_topic_ensure(l->cfg.kafka_brokers, IM_TOPIC_TASK, 4, 10000);
    const char *topics[] = {IM_TOPIC_UPSTREAM};
    l->consumer = im_kafka_consumer_new(l->cfg.kafka_brokers, IM_GROUP_LOGIC, topics, 1);
    if (l->consumer == NULL) return IM_EUNAVAIL;
    pthread_create(&l->consume_thread, NULL, consume_main, l);
    return IM_OK;
}

void logic_consume_stop(logic_t *l)
{
    l->stopping = 1;
    pthread_join(l->consume_thread, NULL);
    im_kafka_consumer_free(l->consumer);   /* commits stored offsets, leaves the group */
    l->consumer = NULL;
    im_u64map_fini(&l->known_users);
}
