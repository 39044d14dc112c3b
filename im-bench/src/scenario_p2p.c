/* scenario_p2p.c — `im-bench p2p`: sender/receiver pairs, throughput, latency, and a
 * check that nothing was lost or doubled.
 *
 * Pair i: sender on gateway i % G, receiver on gateway (i+1) % G. One libuv loop; a 1 ms
 * timer drives the phases:
 *   CONNECT  all 2N connections up (their `hello`)
 *   RUN      warmup + duration: each sender at --rate/N per second, its k-th new send due
 *            at (i + k*N)/rate s after the start (the pairs' phases staggered by 1/rate, so
 *            the cluster sees a steady stream, not N sends at one instant), never more
 *            than --window unacked; a sender behind its schedule catches up when it can
 *            (the lag is measured: schedule -> send). Receivers ack every --ack `msg`.
 *   DRAIN    no new sends; wait for the last `sent` and `msg` (at most --drain s)
 *   SETTLE   (with acks) each receiver acks what it has not acked yet, then pings; its
 *            pong means the gateway has answered those acks (an `error` carries no op, and
 *            one for an ack must not be taken for the sync's)
 *   SYNC     each receiver pulls its conversation from seq 0, 200 at a time
 * Latencies are of messages first sent inside the measured window, from the instant the
 * frame went to the socket (not the schedule: the pacer's own lag is its own row), to the
 * frame's arrival; percentiles by nearest rank (stats.c).
 * A message is recorded by (pair, per-sender sequence), which its cmid and its content
 * carry: content = "t=<send CLOCK_MONOTONIC ns> p=<pair> s=<sequence> r=<run>" + padding.
 * `error rate_limited|unavailable {cmid}` is retried with the same cmid after RETRY_MS,
 * doubling per refusal, as a client should; the latency then includes the retries. */
#include "bench.h"
#include "im/err.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RETRY_MS 100
#define SYNC_LIMIT 200
#define SYNC_TIMEOUT_S 30
#define SETTLE_TIMEOUT_S 5

enum { M_INFLIGHT = 0, M_ACKED, M_RETRY, M_FAILED };
enum { P_CONNECT = 0, P_RUN, P_DRAIN, P_SETTLE, P_SYNC, P_DONE };

/* One message a sender sent, by its per-sender sequence. */
typedef struct {
    uint64_t t_send;         /* first attempt, ns */
    uint64_t t_retry;        /* M_RETRY: resend at this time */
    uint64_t msg_id;         /* from `sent` or `msg`, whichever came first */
    uint8_t state;           /* M_* */
    uint8_t sents, recvs, stored;
    uint8_t tries;           /* refusals so far (the retry delay doubles with each) */
} pmsg_t;

typedef struct ppair_s ppair_t;

typedef struct {
    bench_ws_t ws;
    ppair_t *pair;
    int receiver;            /* 0 the sender's connection, 1 the receiver's */
    int up;                  /* `hello` received and not closed */
    uint32_t pings, pongs;   /* sent / received: pongs come back in order */
    uint32_t barrier;        /* P_SETTLE: settled once pongs reach this */
} pconn_t;

struct ppair_s {
    int idx;
    const bench_user_t *sender, *receiver;
    pconn_t s, r;
    char cid[64];            /* s_{min}_{max} */
    pmsg_t *m;               /* by sequence */
    uint32_t nm, cap;
    uint32_t unacked;        /* M_INFLIGHT */
    uint32_t retries;        /* M_RETRY */
    uint32_t retry_scan;     /* lowest sequence that may be M_RETRY */
    int sync_state;          /* 0 not started, 1 waiting, 2 done */
    uint64_t max_seq;        /* receiver: highest seq pushed to it */
    uint32_t since_ack;      /* receiver: `msg` frames since its last ack */
};

typedef struct {
    const bench_opts_t *o;
    bench_p2p_result_t *r;
    uv_loop_t loop;
    uv_timer_t tick, heartbeat;
    ppair_t *p;
    int np;
    char run[8];
    struct sockaddr_storage addr[BENCH_MAX_GW];
    int phase;               /* P_* */
    int conns_up, conns_closed;
    uint64_t t_connect, t_start, t_warm, t_end, t_deadline, t_progress;
    uint64_t new_sends;      /* distinct messages so far */
    uint64_t n_acked;        /* messages with a `sent` */
    uint64_t n_recv;         /* messages pushed to their receiver */
    uint64_t n_unpushed;     /* acked, not pushed yet */
    int syncs_left;
    int settling;            /* P_SETTLE: receivers whose barrier pong is outstanding */
    int sampled;             /* admin samples started: 1 at the window's start, 2 at its end */
} p2p_t;

static p2p_t P;

/* ---- sending ---- */

static pmsg_t *new_msg(ppair_t *p, uint32_t *seq)
{
    if (p->nm == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 1024;
        p->m = im_realloc(p->m, p->cap * sizeof *p->m);
    }
    *seq = p->nm++;
    pmsg_t *m = &p->m[*seq];
    memset(m, 0, sizeof *m);
    return m;
}

static void send_msg(p2p_t *b, ppair_t *p, uint32_t seq)
{
    pmsg_t *m = &p->m[seq];
    char content[4100], frame[4300];
    int cl = snprintf(content, sizeof content, "t=%" PRIu64 " p=%d s=%u r=%s", m->t_send, p->idx, seq, b->run);
    if (b->o->size > cl + 1 && (size_t)b->o->size < sizeof content) {   /* pad to --size */
        content[cl] = ' ';
        memset(content + cl + 1, 'x', (size_t)(b->o->size - cl - 1));
        content[b->o->size] = '\0';
    }
    int n = snprintf(frame, sizeof frame,
                     "{\"op\":\"send\",\"cmid\":\"%s-%d-%u\",\"to\":%" PRIu64 ",\"type\":1,\"content\":\"%s\"}",
                     b->run, p->idx, seq, p->receiver->id, content);
    m->state = M_INFLIGHT;
    p->unacked++;
    b->r->attempts++;
    bench_ws_send_text(&p->s.ws, frame, (size_t)n);
}

/* Resends the due retries of p while its window has room. */
static void send_retries(p2p_t *b, ppair_t *p, uint64_t now)
{
    for (uint32_t i = p->retry_scan; p->retries && i < p->nm && p->unacked < (uint32_t)b->o->window; i++) {
        if (p->m[i].state != M_RETRY) {
            if (i == p->retry_scan) p->retry_scan++;
            continue;
        }
        if (p->m[i].t_retry > now) continue;
        p->retries--;
        send_msg(b, p, i);
    }
}

static int has_room(const p2p_t *b, const ppair_t *p)
{
    return p->s.up && p->unacked < (uint32_t)b->o->window;
}

/* A new message of p, scheduled at due (now for --rate 0), sent now. */
static void send_new(p2p_t *b, ppair_t *p, uint64_t now, uint64_t due)
{
    uint32_t seq;
    pmsg_t *m = new_msg(p, &seq);
    m->t_send = now;
    b->new_sends++;
    b->r->sends++;
    if (now >= b->t_warm && now < b->t_end) {
        b->r->sends_measured++;
        if (b->o->rate) bench_hist_add(&b->r->lat[BENCH_LAT_PACE].h, now - due);
    }
    send_msg(b, p, seq);
}

/* When p's next new send is due: its k-th (k = p->nm) at (idx + k*pairs)/rate s. */
static uint64_t due_of(const p2p_t *b, const ppair_t *p)
{
    double s = ((double)p->idx + (double)p->nm * (double)b->np) / (double)b->o->rate;
    return b->t_start + (uint64_t)(s * 1e9);
}

/* The pacer: due retries, then each pair's due new sends while its window has room (or
 * every free window slot for --rate 0). */
static void pace(p2p_t *b, uint64_t now)
{
    for (int i = 0; i < b->np; i++) {
        ppair_t *p = &b->p[i];
        send_retries(b, p, now);
        if (b->o->rate == 0) {
            while (has_room(b, p)) send_new(b, p, now, now);
            continue;
        }
        uint64_t due;
        while (has_room(b, p) && (due = due_of(b, p)) <= now) send_new(b, p, now, due);
    }
}

/* ---- frames ---- */

static int in_window(const p2p_t *b, uint64_t t)
{
    return t >= b->t_warm && t < b->t_end;
}

/* The message a cmid "<run>-<pair>-<seq>" names, or NULL. */
static pmsg_t *by_cmid(p2p_t *b, const char *cmid, ppair_t **pair)
{
    char run[8];
    int idx;
    unsigned seq;
    if (cmid == NULL || sscanf(cmid, "%7[^-]-%d-%u", run, &idx, &seq) != 3 || strcmp(run, b->run) != 0 ||
        idx < 0 || idx >= b->np || seq >= b->p[idx].nm)
        return NULL;
    *pair = &b->p[idx];
    return &b->p[idx].m[seq];
}

/* The message a content "t=.. p=.. s=.. r=.." names, or NULL; *t_send from the content. */
static pmsg_t *by_content(p2p_t *b, const char *content, ppair_t *pair, uint64_t *t_send)
{
    char run[8];
    int idx;
    unsigned seq;
    if (content == NULL ||
        sscanf(content, "t=%" SCNu64 " p=%d s=%u r=%6s", t_send, &idx, &seq, run) != 4 ||
        strcmp(run, b->run) != 0 || idx != pair->idx || seq >= pair->nm)
        return NULL;
    return &pair->m[seq];
}

static void on_sent(p2p_t *b, json_t *f, uint64_t now)
{
    ppair_t *p;
    pmsg_t *m = by_cmid(b, json_string_value(json_object_get(f, "cmid")), &p);
    if (m == NULL) return;
    uint64_t id = strtoull(json_string_value(json_object_get(f, "msg_id")) ?: "0", NULL, 10);
    if (++m->sents > 1) {   /* a redelivered send is answered again: fine if it is the same message */
        if (id == m->msg_id) b->r->sent_repeat++;
        else b->r->sent_dup++;
        return;
    }
    if (m->state == M_INFLIGHT) p->unacked--;
    else if (m->state == M_RETRY) p->retries--;
    m->state = M_ACKED;
    b->n_acked++;
    if (m->recvs == 0) b->n_unpushed++;
    if (m->msg_id && m->msg_id != id) b->r->recv_mismatch++;
    m->msg_id = id;
    if (in_window(b, m->t_send)) bench_hist_add(&b->r->lat[BENCH_LAT_SENT].h, now - m->t_send);
    if (in_window(b, now)) b->r->acked_measured++;
}

static void on_error(p2p_t *b, json_t *f, uint64_t now)
{
    const char *code = json_string_value(json_object_get(f, "code")) ?: "?";
    ppair_t *p;
    pmsg_t *m = by_cmid(b, json_string_value(json_object_get(f, "cmid")), &p);
    int retry = strcmp(code, "rate_limited") == 0 || strcmp(code, "unavailable") == 0;
    if (strcmp(code, "rate_limited") == 0) b->r->errors_rate_limited++;
    else if (strcmp(code, "unavailable") == 0) b->r->errors_unavailable++;
    else {
        b->r->errors_other++;
        if (b->r->errors_other <= 3)
            fprintf(stderr, "im-bench: error %s: %s\n", code, json_string_value(json_object_get(f, "message")) ?: "");
    }
    if (m == NULL || m->state != M_INFLIGHT) return;
    p->unacked--;
    if (retry) {
        m->state = M_RETRY;
        unsigned shift = m->tries < 4 ? m->tries : 4;   /* 100 ms doubling up to 1.6 s */
        m->tries++;
        m->t_retry = now + ((uint64_t)RETRY_MS << shift) * 1000000ull;
        p->retries++;
        if ((uint32_t)(m - p->m) < p->retry_scan) p->retry_scan = (uint32_t)(m - p->m);
    } else {
        m->state = M_FAILED;
    }
}

static int send_ping(pconn_t *c)
{
    if (!c->up || bench_ws_send_text(&c->ws, "{\"op\":\"ping\"}", 13) != 0) return -1;
    c->pings++;
    return 0;
}

/* The receiver of p acks (and with --read reads) up to the highest seq pushed to it. */
static void send_ack(p2p_t *b, ppair_t *p, uint64_t now)
{
    char frame[160];
    p->since_ack = 0;
    int n = snprintf(frame, sizeof frame, "{\"op\":\"ack\",\"conversation_id\":\"%s\",\"seq\":%" PRIu64 "}",
                     p->cid, p->max_seq);
    if (bench_ws_send_text(&p->r.ws, frame, (size_t)n) != 0) return;
    b->r->acks_sent++;
    if (in_window(b, now)) b->r->acks_measured++;
    if (!b->o->read) return;
    n = snprintf(frame, sizeof frame, "{\"op\":\"read\",\"conversation_id\":\"%s\",\"seq\":%" PRIu64 "}",
                 p->cid, p->max_seq);
    if (bench_ws_send_text(&p->r.ws, frame, (size_t)n) == 0) b->r->reads_sent++;
}

/* An `error` on a receiver outside its sync answers an ack or a read. */
static void on_cursor_error(p2p_t *b, json_t *f)
{
    const char *code = json_string_value(json_object_get(f, "code")) ?: "?";
    if (strcmp(code, "rate_limited") == 0) {
        b->r->ack_errors_rate_limited++;
        return;
    }
    if (++b->r->ack_errors_other <= 3)
        fprintf(stderr, "im-bench: ack/read refused: %s: %s\n", code,
                json_string_value(json_object_get(f, "message")) ?: "");
}

static void on_msg(p2p_t *b, ppair_t *p, json_t *f, uint64_t now)
{
    json_t *msg = json_object_get(f, "message");
    uint64_t t_send = 0;
    pmsg_t *m = by_content(b, json_string_value(json_object_get(msg, "content")), p, &t_send);
    if (m == NULL) return;
    uint64_t id = strtoull(json_string_value(json_object_get(msg, "msg_id")) ?: "0", NULL, 10);
    if (m->msg_id && m->msg_id != id) b->r->recv_mismatch++;
    if (!m->msg_id) m->msg_id = id;
    if (++m->recvs > 1) {
        b->r->recv_dup++;
        return;
    }
    b->n_recv++;
    if (m->sents > 0) b->n_unpushed--;
    if (in_window(b, t_send)) bench_hist_add(&b->r->lat[BENCH_LAT_MSG].h, now - t_send);
    if (in_window(b, now)) b->r->recv_measured++;
    json_int_t seq = json_integer_value(json_object_get(msg, "seq"));
    if (seq > 0 && (uint64_t)seq > p->max_seq) p->max_seq = (uint64_t)seq;
    /* not once the syncs run: an error answering an ack would pass for the sync's */
    if (b->o->ack_every && b->phase < P_SETTLE && ++p->since_ack >= (uint32_t)b->o->ack_every) send_ack(b, p, now);
}

static void sync_request(p2p_t *b, ppair_t *p, uint64_t after)
{
    char frame[160];
    int n = snprintf(frame, sizeof frame,
                     "{\"op\":\"sync\",\"conversation_id\":\"%s\",\"after_seq\":%" PRIu64 ",\"limit\":%d}",
                     p->cid, after, SYNC_LIMIT);
    p->sync_state = 1;
    b->r->sync_pages++;
    if (bench_ws_send_text(&p->r.ws, frame, (size_t)n) != 0) {
        p->sync_state = 2;
        b->syncs_left--;
    }
}

static void on_sync(p2p_t *b, ppair_t *p, json_t *f)
{
    json_t *msgs = json_object_get(f, "messages"), *msg;
    size_t i;
    uint64_t last = 0, t;
    json_array_foreach(msgs, i, msg) {
        pmsg_t *m = by_content(b, json_string_value(json_object_get(msg, "content")), p, &t);
        if (m && ++m->stored > 1) b->r->stored_dup++;
        last = (uint64_t)json_integer_value(json_object_get(msg, "seq"));
    }
    uint64_t max_seq = (uint64_t)json_integer_value(json_object_get(f, "max_seq"));
    if (json_array_size(msgs) > 0 && last < max_seq) {
        sync_request(b, p, last);
        return;
    }
    p->sync_state = 2;
    b->syncs_left--;
}

static void on_open(bench_ws_t *ws)
{
}

static void on_heartbeat(uv_timer_t *t);

static void on_text(bench_ws_t *ws, const char *data, size_t len)
{
    pconn_t *c = ws->data;
    p2p_t *b = &P;
    uint64_t now = bench_now_ns();
    json_t *f = json_loadb(data, len, 0, NULL);
    const char *op = json_string_value(json_object_get(f, "op"));
    if (op == NULL) {
        json_decref(f);
        return;
    }
    if (strcmp(op, "hello") == 0) {
        if (!c->up) b->conns_up++;
        c->up = 1;
        int hb = (int)json_integer_value(json_object_get(f, "heartbeat_s"));
        if (!b->o->heartbeat_s && hb > 0 && !uv_is_active((uv_handle_t *)&b->heartbeat))
            uv_timer_start(&b->heartbeat, on_heartbeat, (uint64_t)hb * 1000, (uint64_t)hb * 1000);
    } else if (!c->receiver && strcmp(op, "sent") == 0) {
        on_sent(b, f, now);
    } else if (strcmp(op, "pong") == 0) {
        c->pongs++;
        if (b->phase == P_SETTLE && c->barrier && c->pongs >= c->barrier) {
            c->barrier = 0;
            b->settling--;
        }
    } else if (strcmp(op, "error") == 0) {
        if (c->receiver && c->pair->sync_state == 1) {   /* the sync was refused */
            fprintf(stderr, "im-bench: sync of %s: %s\n", c->pair->cid,
                    json_string_value(json_object_get(f, "code")) ?: "?");
            c->pair->sync_state = 2;
            b->syncs_left--;
            b->r->sync_ok = 0;
        } else if (c->receiver) {   /* receivers send only ack, read, sync and ping */
            on_cursor_error(b, f);
        } else {
            on_error(b, f, now);
        }
    } else if (!c->receiver && strcmp(op, "receipt") == 0) {
        b->r->receipts++;
    } else if (c->receiver && strcmp(op, "msg") == 0) {
        on_msg(b, c->pair, f, now);
    } else if (c->receiver && strcmp(op, "sync") == 0 && c->pair->sync_state == 1) {
        on_sync(b, c->pair, f);
    }
    json_decref(f);
}

static void on_close(bench_ws_t *ws, int reason)
{
    pconn_t *c = ws->data;
    p2p_t *b = &P;
    if (b->phase < P_DONE) {
        b->conns_closed++;
        if (c->up) b->r->conns_dropped++;
        fprintf(stderr, "im-bench: %s connection of pair %d closed (%s)\n", c->receiver ? "receiver" : "sender",
                c->pair->idx, reason < 0 ? uv_strerror(reason) : reason > 1 ? "HTTP refused" : "by server");
    }
    c->up = 0;
}

static const bench_ws_cb_t callbacks = {on_open, on_text, on_close};

/* ---- phases ---- */

/* A /metrics scrape of every gateway on the libuv thread pool (it blocks). */
typedef struct {
    uv_work_t req;
    const bench_opts_t *o;
    bench_sample_t *out;
} sample_job_t;

static void sample_work(uv_work_t *req)
{
    sample_job_t *j = req->data;
    bench_admin_sample(j->o, j->out);
}

static void sample_done(uv_work_t *req, int status)
{
    im_free(req->data);
}

static void sample_start(p2p_t *b, bench_sample_t *out)
{
    if (b->o->nadmin == 0) return;
    sample_job_t *j = im_calloc(1, sizeof *j);
    j->req.data = j;
    j->o = b->o;
    j->out = out;
    if (uv_queue_work(&b->loop, &j->req, sample_work, sample_done) != 0) im_free(j);
}

static void on_heartbeat(uv_timer_t *t)
{
    p2p_t *b = &P;
    for (int i = 0; i < b->np; i++) {
        send_ping(&b->p[i].s);
        send_ping(&b->p[i].r);
    }
}

/* Connection c of user u to gateway g; k numbers the connections (2i: pair i's sender,
 * 2i+1: its receiver) for the choice of a source address. */
static void connect_one(p2p_t *b, pconn_t *c, const bench_user_t *u, int g, uint64_t k)
{
    char hostport[96], *path = im_sprintf("/ws?token=%s", u->token);
    snprintf(hostport, sizeof hostport, "%s:%d", b->o->gw[g].host, b->o->gw[g].port);
    c->ws.data = c;
    const struct sockaddr *src = bench_src_of(b->o, k * (uint64_t)b->o->ngw + (uint64_t)g);   /* of gateway g */
    if (bench_ws_connect(&b->loop, &c->ws, src, (const struct sockaddr *)&b->addr[g], hostport, path, &callbacks) < 0)
        b->conns_closed++;
    im_free(path);
}

static uint64_t in_flight(const p2p_t *b)
{
    uint64_t n = 0;
    for (int i = 0; i < b->np; i++) n += b->p[i].unacked + b->p[i].retries;
    return n;
}

/* Every acked message pushed, nothing in flight or waiting for a retry. */
static int drained(const p2p_t *b)
{
    return b->n_unpushed == 0 && in_flight(b) == 0;
}

static void progress(p2p_t *b, uint64_t now)
{
    if (now - b->t_progress < 1000000000ull) return;
    b->t_progress = now;
    fprintf(stderr, "im-bench: %5.1f s  sent %llu  acked %llu  received %llu  acks %llu  in flight %llu%s\n",
            (double)(now - b->t_start) / 1e9, (unsigned long long)b->new_sends,
            (unsigned long long)b->n_acked, (unsigned long long)b->n_recv, (unsigned long long)b->r->acks_sent,
            (unsigned long long)in_flight(b),
            b->phase == P_DRAIN ? "  (draining)" : now < b->t_warm ? "  (warmup)" : "");
}

static void start_sync(p2p_t *b, uint64_t now)
{
    b->phase = P_SYNC;
    b->t_deadline = now + SYNC_TIMEOUT_S * 1000000000ull;
    b->r->sync_ok = 1;
    b->syncs_left = b->np;
    for (int i = 0; i < b->np; i++) {
        if (b->p[i].r.up) {
            sync_request(b, &b->p[i], 0);
        } else {
            b->p[i].sync_state = 2;
            b->syncs_left--;
            b->r->sync_ok = 0;
        }
    }
}

/* The receivers' last acks, each followed by a ping whose pong settles it. */
static void start_settle(p2p_t *b, uint64_t now)
{
    b->phase = P_SETTLE;
    b->t_deadline = now + SETTLE_TIMEOUT_S * 1000000000ull;
    b->settling = 0;
    for (int i = 0; i < b->np; i++) {
        ppair_t *p = &b->p[i];
        if (!p->r.up) continue;
        if (p->since_ack) send_ack(b, p, now);
        if (send_ping(&p->r) == 0) {
            p->r.barrier = p->r.pings;
            b->settling++;
        }
    }
}

static void on_tick(uv_timer_t *t)
{
    p2p_t *b = &P;
    uint64_t now = bench_now_ns();
    switch (b->phase) {
    case P_CONNECT:
        if (b->conns_up + b->conns_closed < 2 * b->np && now < b->t_deadline) return;
        if (b->conns_up < 2 * b->np) {
            fprintf(stderr, "im-bench: only %d of %d connections came up\n", b->conns_up, 2 * b->np);
            b->phase = P_DONE;
            uv_stop(&b->loop);
            return;
        }
        fprintf(stderr, "im-bench: %d connections up in %.2f s; sending\n", b->conns_up,
                (double)(now - b->t_connect) / 1e9);
        b->phase = P_RUN;
        b->t_start = b->t_progress = now;
        b->t_warm = now + (uint64_t)b->o->warmup_s * 1000000000ull;
        b->t_end = b->t_warm + (uint64_t)b->o->duration_s * 1000000000ull;
        return;
    case P_RUN:
        if (now >= b->t_warm && b->sampled == 0) {
            b->sampled = 1;
            sample_start(b, b->r->gw_start);
        }
        if (now < b->t_end) {
            pace(b, now);
            progress(b, now);
            return;
        }
        b->phase = P_DRAIN;
        sample_start(b, b->r->gw_end);
        b->t_deadline = now + (uint64_t)b->o->drain_s * 1000000000ull;
        return;
    case P_DRAIN:
        for (int i = 0; i < b->np; i++) send_retries(b, &b->p[i], now);
        progress(b, now);
        if (!drained(b) && now < b->t_deadline) return;
        if (b->o->ack_every) start_settle(b, now);
        else start_sync(b, now);
        return;
    case P_SETTLE:
        if (b->settling > 0 && now < b->t_deadline) return;
        start_sync(b, now);
        return;
    case P_SYNC:
        if (b->syncs_left > 0 && now < b->t_deadline) return;
        if (b->syncs_left > 0) {
            fprintf(stderr, "im-bench: %d syncs unanswered\n", b->syncs_left);
            b->r->sync_ok = 0;
        }
        b->phase = P_DONE;
        uv_stop(&b->loop);
        return;
    }
}

/* ---- verdict ---- */

static void tally(p2p_t *b)
{
    bench_p2p_result_t *r = b->r;
    for (int i = 0; i < b->np; i++) {
        for (uint32_t k = 0; k < b->p[i].nm; k++) {
            const pmsg_t *m = &b->p[i].m[k];
            int acked = m->sents > 0;
            r->acked += acked;
            r->unacked += !acked;
            r->received += m->recvs > 0;
            r->recv_missing += acked && m->recvs == 0;
            r->stored += m->stored > 0;
            r->lost += acked && m->stored == 0;
            r->stored_unacked += !acked && m->stored > 0;
        }
    }
    double d = (double)b->o->duration_s;
    r->measured_s = d;
    r->send_rate = (double)r->sends_measured / d;
    r->ack_rate = (double)r->acked_measured / d;
    r->recv_rate = (double)r->recv_measured / d;
    r->delivery_ack_rate = (double)r->acks_measured / d;
    r->failed = r->sent_dup || r->recv_dup || r->recv_mismatch || r->unacked || r->recv_missing || r->lost ||
                r->stored_dup || !r->sync_ok || r->conns_dropped || r->sends == 0;
}

static int setup(p2p_t *b, bench_user_t **users_out)
{
    const bench_opts_t *o = b->o;
    for (int g = 0; g < o->ngw; g++)
        if (bench_ws_resolve(&o->gw[g], &b->addr[g]) != IM_OK) {
            fprintf(stderr, "im-bench: cannot resolve %s\n", o->gw[g].text);
            return IM_ENOTFOUND;
        }
    bench_run_id(b->run);
    int nu = 2 * o->pairs;
    bench_user_t *users = im_calloc((size_t)nu, sizeof *users);
    /* users[2i] sends, users[2i+1] receives: register both on gateway i's side. */
    for (int i = 0; i < o->pairs; i++) {
        snprintf(users[2 * i].name, sizeof users[0].name, "b%s_s%d", b->run, i);
        snprintf(users[2 * i + 1].name, sizeof users[0].name, "b%s_r%d", b->run, i);
    }
    *users_out = users;
    fprintf(stderr, "im-bench: run %s: registering %d users\n", b->run, nu);
    uint64_t t0 = bench_now_ns();
    int rc = bench_users_setup(o, users, nu);
    b->r->setup_s = (double)(bench_now_ns() - t0) / 1e9;
    if (rc != IM_OK) return rc;
    b->np = o->pairs;
    b->p = im_calloc((size_t)b->np, sizeof *b->p);
    for (int i = 0; i < b->np; i++) {
        ppair_t *p = &b->p[i];
        p->idx = i;
        p->sender = &users[2 * i];
        p->receiver = &users[2 * i + 1];
        uint64_t a = p->sender->id, c = p->receiver->id;
        snprintf(p->cid, sizeof p->cid, "s_%" PRIu64 "_%" PRIu64, a < c ? a : c, a < c ? c : a);
        p->s.pair = p->r.pair = p;
        p->r.receiver = 1;
    }
    return IM_OK;
}

int bench_p2p_run(const bench_opts_t *o, bench_p2p_result_t *r)
{
    p2p_t *b = &P;
    memset(b, 0, sizeof *b);
    memset(r, 0, sizeof *r);
    b->o = o;
    b->r = r;
    r->pairs = o->pairs;
    r->rate = o->rate;
    r->window = o->window;
    r->duration_s = o->duration_s;
    r->warmup_s = o->warmup_s;
    r->size = o->size;
    r->ack_every = o->ack_every;
    r->read = o->read;
    static const char *const names[BENCH_LAT_N][2] = {
        [BENCH_LAT_SENT] = {"send -> sent", "send_sent"},
        [BENCH_LAT_MSG] = {"send -> msg (receiver)", "send_msg"},
        [BENCH_LAT_PACE] = {"schedule -> send (pacer)", "pacer_lag"},
    };
    for (int i = 0; i < BENCH_LAT_N; i++) {
        r->lat[i].label = names[i][0];
        r->lat[i].key = names[i][1];
        bench_hist_init(&r->lat[i].h);
    }
    signal(SIGPIPE, SIG_IGN);
    bench_user_t *users = NULL;
    int rc = setup(b, &users);
    if (rc == IM_OK) {
        bench_ws_global_init();
        uv_loop_init(&b->loop);
        uv_timer_init(&b->loop, &b->tick);
        uv_timer_init(&b->loop, &b->heartbeat);
        /* the heartbeat timer starts here with --heartbeat, else on the first hello */
        if (o->heartbeat_s)
            uv_timer_start(&b->heartbeat, on_heartbeat, (uint64_t)o->heartbeat_s * 1000, (uint64_t)o->heartbeat_s * 1000);
        b->t_connect = bench_now_ns();
        b->t_deadline = b->t_connect + (uint64_t)o->timeout_s * 1000000000ull;
        for (int i = 0; i < b->np; i++) {
            connect_one(b, &b->p[i].s, b->p[i].sender, i % o->ngw, 2 * (uint64_t)i);
            connect_one(b, &b->p[i].r, b->p[i].receiver, (i + 1) % o->ngw, 2 * (uint64_t)i + 1);
        }
        uv_timer_start(&b->tick, on_tick, 1, 1);
        uv_run(&b->loop, UV_RUN_DEFAULT);
        if (b->t_start == 0) rc = IM_EUNAVAIL;   /* never got all connections up */
        else tally(b);
        /* Close everything and let the loop finish the closes. */
        b->phase = P_DONE;
        uv_timer_stop(&b->tick);
        uv_timer_stop(&b->heartbeat);
        uv_close((uv_handle_t *)&b->tick, NULL);
        uv_close((uv_handle_t *)&b->heartbeat, NULL);
        for (int i = 0; i < b->np; i++) {
            bench_ws_close(&b->p[i].s.ws);
            bench_ws_close(&b->p[i].r.ws);
        }
        uv_run(&b->loop, UV_RUN_DEFAULT);
        uv_loop_close(&b->loop);
    }
    for (int i = 0; b->p && i < b->np; i++) im_free(b->p[i].m);
    im_free(b->p);
    bench_users_free(users, 2 * o->pairs);
    return rc;
}
