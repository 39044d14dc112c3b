/* test_logic_out.c — out.c's target merging: the same frame added again for a gateway
 * becomes one more Target of that gateway's last Delivery; another frame in between
 * starts a new one (order kept); a full delivery starts another; notify fields are set;
 * long frames are spread over records of at most LOGIC_OUT_RECORD_MAX, in order. */
#include "im_test.h"
#include "logic.h"

static Im__Mq__V1__Downstream *record(logic_out_t *o, const char *gw)
{
    for (size_t i = 0; i < o->ngws; i++) {
        const char *id;
        size_t len;
        size_t next = 0;
        uint8_t *buf = logic_out_pack(o, i, &next, 42, &id, &len);
        Im__Mq__V1__Downstream *d = strcmp(id, gw) == 0 ? im__mq__v1__downstream__unpack(NULL, len, buf) : NULL;
        im_free(buf);
        if (d) return d;
    }
    return NULL;
}

int main(void)
{
    logic_out_t o;
    logic_out_init(&o);
    const char *a = logic_out_keep(&o, im_strdup("{\"op\":\"msg\",\"n\":1}"));
    const char *b = logic_out_keep(&o, im_strdup("{\"op\":\"msg\",\"n\":2}"));
    logic_out_add(&o, "gw1", 1, 0, 0, a, "t1", 7);
    logic_out_add(&o, "gw2", 2, 0, 0, a, "t1", 7);
    logic_out_add(&o, "gw1", 3, 0, 99, a, "t1", 0);   /* merged into gw1's delivery of a */
    logic_out_add(&o, "gw1", 4, 0, 0, b, "t2", 0);    /* new delivery */
    logic_out_add(&o, "gw1", 5, 0, 0, a, "t1", 0);    /* a again, but b came between: new */
    logic_out_add(&o, "gw1", 6, 0, 0, b, "t2", 0);    /* b after a: new */
    logic_out_add_notify(&o, "gw2", 7, b, "g_9", 12);
    logic_out_add_notify(&o, "gw2", 8, b, "g_9", 12);

    Im__Mq__V1__Downstream *d1 = record(&o, "gw1");
    CHECK(d1 != NULL);
    if (d1) {
        CHECK_INT(d1->n_deliveries, 4);
        CHECK_INT(d1->deliveries[0]->n_targets, 2);
        CHECK_INT(d1->deliveries[0]->targets[0]->user_id, 1);
        CHECK_INT(d1->deliveries[0]->targets[1]->user_id, 3);
        CHECK_INT(d1->deliveries[0]->targets[1]->except_conn_id, 99);
        CHECK_INT(d1->deliveries[0]->received_us, 7);
        CHECK_INT(d1->deliveries[0]->produced_us, 42);
        CHECK_STR(d1->deliveries[0]->traceparent, "t1");
        CHECK_INT(d1->deliveries[1]->n_targets, 1);
        CHECK_INT(d1->deliveries[1]->targets[0]->user_id, 4);
        CHECK_INT(d1->deliveries[1]->frame.len, strlen(b));
        CHECK(memcmp(d1->deliveries[1]->frame.data, b, strlen(b)) == 0);
        CHECK_INT(d1->deliveries[2]->targets[0]->user_id, 5);
        CHECK_INT(d1->deliveries[3]->targets[0]->user_id, 6);
        CHECK_STR(d1->deliveries[0]->notify_cid, "");
        im__mq__v1__downstream__free_unpacked(d1, NULL);
    }
    Im__Mq__V1__Downstream *d2 = record(&o, "gw2");
    CHECK(d2 != NULL);
    if (d2) {
        CHECK_INT(d2->n_deliveries, 2);
        CHECK_INT(d2->deliveries[0]->n_targets, 1);
        CHECK_INT(d2->deliveries[1]->n_targets, 2);
        CHECK_STR(d2->deliveries[1]->notify_cid, "g_9");
        CHECK_INT(d2->deliveries[1]->notify_seq, 12);
        im__mq__v1__downstream__free_unpacked(d2, NULL);
    }
    logic_out_discard(&o);

    /* a full delivery: the next target of the same frame starts another */
    logic_out_t p;
    logic_out_init(&p);
    const char *c = logic_out_keep(&p, im_strdup("{}"));
    for (uint64_t u = 1; u <= LOGIC_OUT_TARGETS_MAX + 5; u++) logic_out_add(&p, "gw", u, 0, 0, c, "", 0);
    Im__Mq__V1__Downstream *d3 = record(&p, "gw");
    CHECK(d3 != NULL);
    if (d3) {
        CHECK_INT(d3->n_deliveries, 2);
        CHECK_INT(d3->deliveries[0]->n_targets, LOGIC_OUT_TARGETS_MAX);
        CHECK_INT(d3->deliveries[1]->n_targets, 5);
        CHECK_INT(d3->deliveries[1]->targets[4]->user_id, LOGIC_OUT_TARGETS_MAX + 5);
        im__mq__v1__downstream__free_unpacked(d3, NULL);
    }
    logic_out_discard(&p);

    /* long frames: as many records as it takes, each within LOGIC_OUT_RECORD_MAX, in order */
    logic_out_t q;
    logic_out_init(&q);
    size_t big = 60000, n = 40;   /* 2.4 MB in all */
    for (size_t k = 0; k < n; k++) {
        char *f = im_malloc(big + 1);
        memset(f, 'a' + (int)(k % 26), big);
        f[big] = '\0';
        logic_out_add(&q, "gw", k + 1, 0, 0, logic_out_keep(&q, f), "", 0);
    }
    size_t next = 0, records = 0, seen = 0;
    while (next < n) {
        const char *id;
        size_t len, before = next;
        uint8_t *buf = logic_out_pack(&q, 0, &next, 42, &id, &len);
        CHECK(next > before);
        CHECK(len <= LOGIC_OUT_RECORD_MAX);
        Im__Mq__V1__Downstream *d = im__mq__v1__downstream__unpack(NULL, len, buf);
        CHECK(d != NULL);
        for (size_t k = 0; d && k < d->n_deliveries; k++)
            CHECK_INT(d->deliveries[k]->targets[0]->user_id, ++seen);
        if (d) im__mq__v1__downstream__free_unpacked(d, NULL);
        im_free(buf);
        records++;
    }
    CHECK_INT(seen, n);
    CHECK(records >= 5);   /* 2.4 MB in records of at most 512 KiB */
    logic_out_discard(&q);
    IM_TEST_DONE();
}
