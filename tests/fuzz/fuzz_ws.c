/* fuzz_ws.c — one WebSocket text message through gw_ws_dispatch (ws.c) exactly as [S]
 * runs it once the frame is reassembled: UTF-8, JSON, the op table, then each op's own
 * checks (send, ack, read, sync, typing, recall, ping) down to what the gateway makes
 * of it: an upstream record queued for [P] (`upq`: send, typing; ack and read through
 * the cursor flush), a job for a worker (`todo`: sync, recall), or a frame in the
 * connection's outbox (`error`, `pong`).
 *
 * Stand-ins, here only: no lws context or socket (lws_callback_on_writable below is a
 * no-op; the cursor timer is never armed, the flush is run after each message); no Kafka
 * producer ([P] is not started: the records are taken off `upq` and unpacked here); no
 * workers (the jobs are taken off `todo`). Limits are high enough that nothing is
 * rate-limited, so every message makes exactly one thing.
 *
 * Invariants: exactly one output per message (typing included); an outbox frame is a JSON
 * object, `pong` or `error invalid_argument` whose cmid, if any, is a valid cmid; a record
 * unpacks, from this user and connection, keyed by its conversation id (cursors: by the
 * gateway id); a send's cmid is valid, it has exactly one of to_user / group_id, its
 * conversation id is the one the ids make, type in 1..255, mentions only in a group; a
 * job's conversation id is canonical and its query in range. */
#include "gateway.h"
#include "im/conv.h"
#include "im/log.h"
#include "im/text.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ME 1000
#define CONN 0x42
#define GATEWAY "gw-fuzz"

static gw_t g;
static gw_user_t user;
static gw_conn_t conn;

/* The stand-in for lws: there is no socket to wake. */
int lws_callback_on_writable(struct lws *wsi)
{
    (void)wsi;
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    im_log_set_level(IM_LOG_ERROR);
    g.gateway_id = GATEWAY;
    g.cfg.max_outbox = 1000;
    g.cfg.send_rate = g.cfg.send_burst = 1000000000;
    g.cfg.cursor_rate = g.cfg.cursor_burst = 1000000000;
    g.cfg.up_queue_max = 1000;
    g.cfg.typing_enabled = 1;
    g.cursor_armed = 1;   /* no lws timer: the flush is called below */
    g.up_started = 1;     /* gw_up_send queues; nothing takes from upq but this file */
    im_queue_init(&g.upq, NULL, NULL);
    im_queue_init(&g.todo, NULL, NULL);
    im_metric_t *m = im_metric_new(IM_METRIC_GAUGE, "cim_fuzz_ws", "fuzz_ws.c: counts nothing");
    g.m_conns = g.m_sends = g.m_pushed = g.m_outbox = g.m_dropped = g.m_shed = m;
    user.id = ME;
    conn.id = CONN;
    conn.user = &user;
    user.conns = &conn;
    return 0;
}

static int canonical(const char *cid)
{
    im_conv_t conv;
    return cid && im_conv_parse(cid, &conv) == IM_OK;
}

static void check_frame(const char *text, size_t len)
{
    json_t *f = json_loadb(text, len, 0, NULL);
    const char *op = json_string_value(json_object_get(f, "op"));
    if (!json_is_object(f) || op == NULL) abort();
    if (strcmp(op, "error") == 0) {
        const char *code = json_string_value(json_object_get(f, "code"));
        json_t *cmid = json_object_get(f, "cmid");
        if (code == NULL || strcmp(code, "invalid_argument") != 0) abort();
        if (cmid && !im_cmid_valid(json_string_value(cmid))) abort();   /* only a valid cmid is echoed */
    } else if (strcmp(op, "pong") != 0) {
        abort();
    }
    json_decref(f);
}

static void check_send(const Im__Mq__V1__Upstream *u, const char *key)
{
    char cid[IM_CONV_ID_MAX];
    if (!im_cmid_valid(u->cmid) || (u->to_user != 0) == (u->group_id != 0) || u->content == NULL) abort();
    if (u->group_id) im_conv_group(cid, u->group_id);
    else im_conv_single(cid, ME, u->to_user);
    if (strcmp(cid, u->conversation_id) != 0 || strcmp(key, cid) != 0) abort();
    if (u->type < 1 || u->type > 255 || u->n_mentions > GW_MENTIONS_MAX) abort();
    if ((u->n_mentions || u->mention_all) && !u->group_id) abort();
    for (size_t i = 0; i < u->n_mentions; i++)
        if (u->mentions[i] == 0) abort();
}

static void check_record(const gw_upmsg_t *m)
{
    Im__Mq__V1__Upstream *u = im__mq__v1__upstream__unpack(NULL, m->len, m->payload);
    if (u == NULL || strcmp(u->gateway_id, GATEWAY) != 0) abort();
    if (strcmp(u->op, "cursors") == 0) {
        if (strcmp(m->key, GATEWAY) != 0 || u->n_cursors != 1 || u->cursors[0]->user_id != ME ||
            !canonical(u->cursors[0]->conversation_id))
            abort();
    } else {
        if (u->user_id != ME || u->conn_id != CONN) abort();
        if (strcmp(u->op, "send") == 0) check_send(u, m->key);
        else if (strcmp(u->op, "typing") != 0 || !canonical(u->conversation_id) || strcmp(m->key, u->conversation_id) != 0)
            abort();
    }
    im__mq__v1__upstream__free_unpacked(u, NULL);
}

static void check_job(const gw_job_t *job)
{
    uint64_t v = 0;
    if (job->conn_id != CONN || job->user_id != ME || !canonical(job->path)) abort();
    if (job->fn == gw_sync_run) {
        if (!gw_query_u64(job->query, "after_seq", &v)) abort();
        if (!gw_query_u64(job->query, "limit", &v) || v < 1 || v > 200) abort();
    } else if (job->fn == gw_recall_run) {
        if (!gw_query_u64(job->query, "seq", &v) || v == 0) abort();
    } else {
        abort();
    }
}

/* What one message made, checked and freed; how many things. */
static int drain(void)
{
    int n = 0;
    gw_cursors_flush(&g);
    for (gw_out_t *o = conn.out_head, *next; o; o = next, n++) {
        next = o->next;
        check_frame((const char *)o->frame->data + LWS_PRE, o->frame->len);
        gw_frame_unref(o->frame);
        im_free(o);
    }
    conn.out_head = conn.out_tail = NULL;
    conn.out_len = 0;
    for (im_queue_node_t *p = im_queue_take_all(&g.upq), *next; p; p = next, n++) {
        next = p->next;
        gw_upmsg_t *m = IM_QUEUE_ENTRY(p, gw_upmsg_t, node);
        check_record(m);
        im_free(m);
    }
    for (im_queue_node_t *p = im_queue_take_all(&g.todo), *next; p; p = next, n++) {
        next = p->next;
        gw_job_t *job = IM_QUEUE_ENTRY(p, gw_job_t, node);
        check_job(job);
        gw_job_free(job);
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gw_ws_dispatch(&g, &conn, (const char *)data, size);
    if (drain() != 1) abort();   /* one answer or one record per message, never none or two */
    return 0;
}
