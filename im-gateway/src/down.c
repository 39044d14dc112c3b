/* down.c — [D]: this gateway's downstream topic into the [S] inbox.
 *
 * Push is best effort (sync is the guarantee): a record's offset is stored once [S]
 * has it in hand; a record for a connection that is gone is dropped there. */
#include "gateway.h"
#include "im/clock.h"
#include "im/log.h"
#include "im/names.h"

#include <stdio.h>

static void *down_main(void *arg)
{
    gw_t *g = arg;
    im_log_set_thread("down");
    while (!g->down_stop) {
        im_kafka_msg_t m;
        if (im_kafka_consumer_poll(g->down, 200, &m) != IM_OK) continue;
        Im__Mq__V1__Downstream *rec = im__mq__v1__downstream__unpack(NULL, m.len, m.payload);
        if (rec == NULL) {
            im_warn("down.bad_record", "offset=%lld", (long long)m.offset);
        } else {
            gw_push_t *p = im_calloc(1, sizeof *p);
            p->rec = rec;
            p->consumed_us = im_clock_wall_us();
            if (im_queue_push(&g->inbox, &p->node) != IM_OK) gw_push_free(p);
        }
        im_kafka_consumer_done(g->down, &m);
    }
    return NULL;
}

int gw_down_start(gw_t *g)
{
    char topic[160], group[160];
    snprintf(topic, sizeof topic, IM_TOPIC_DOWNSTREAM_FMT, g->gateway_id);
    snprintf(group, sizeof group, IM_GROUP_GATEWAY_FMT, g->gateway_id);
    im_queue_init(&g->inbox, gw_server_wake, g);
    if (im_kafka_topic_ensure(g->cfg.kafka_brokers, topic, 1, 15000) != IM_OK)
        im_warn("down.topic_unconfirmed", "topic=%s", topic);
    const char *topics[] = {topic};
    g->down = im_kafka_consumer_new(g->cfg.kafka_brokers, group, topics, 1);
    if (g->down == NULL) return IM_EUNAVAIL;
    pthread_create(&g->down_thread, NULL, down_main, g);
    im_info("down.consuming", "topic=%s", topic);
    return IM_OK;
}

void gw_down_stop(gw_t *g)
{
    if (g->down == NULL) return;
    g->down_stop = 1;
    pthread_join(g->down_thread, NULL);
    im_kafka_consumer_free(g->down);
    g->down = NULL;
    im_queue_close(&g->inbox);   /* no more wake-ups of lws */
}

void gw_push_free(gw_push_t *p)
{
    im__mq__v1__downstream__free_unpacked(p->rec, NULL);
    im_free(p);
}
