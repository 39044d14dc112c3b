/* scenario_group.c — `im-bench group`: one group of --members users, all online, one
 * sender; how long until the last member has each message, and was any lost or doubled.
 *
 * Setup: the members are registered and logged in (rest.c); member 0 creates the group
 * (POST /api/groups with up to 500 member ids, the rest invited 500 at a time), so it is
 * the owner and the only sender. Every member connects, round-robin over the gateways,
 * in one libuv loop; a 1 ms timer drives the phases:
 *   CONNECT  all N connections up (their `hello`)
 *   RUN      warmup + duration: member 0 sends its k-th message at k/rate s
 *            (content "t=<send ns> k=<k> r=<run>")
 *   DRAIN    until every member has every message, or --drain s
 * A member "has" message k when its `msg` arrives (write diffusion, groups up to the
 * server's large_group_threshold) or when a `notify` arrives whose max_seq reaches k's
 * seq (read diffusion above it; k's seq comes from the sender's `sent`); for the
 * --pull % of members that pull, when the `sync` it sends on a notify brings k back. System messages
 * (type 100: the create and invite notices) are not counted. With --ack, members ack
 * every --ack-th `msg` as a client does.
 * Per measured message: send -> `sent`, send -> its first delivery, send -> its last one
 * (over all N-1 members); and every single delivery. */
#include "bench.h"
#include "im/err.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INVITE_CHUNK 500
enum { G_CONNECT = 0, G_RUN, G_DRAIN, G_DONE };

typedef struct {
    uint64_t t_send;         /* ns */
    uint64_t seq;            /* from `sent`, 0 until then */
    uint64_t first, last;    /* delivery times, ns; 0 = none yet */
    uint32_t got;            /* members that have it */
    uint8_t sents;
} gmsg_t;

typedef struct {
    bench_ws_t ws;
    int idx;                 /* member index; 0 is the sender */
    int up;
    uint32_t next;           /* notify mode: messages below this are credited */
    uint64_t notified;       /* notify mode: the highest max_seq, and when it came */
    uint64_t t_notified;
    int pulls;               /* this member answers notifies with a sync (--pull) */
    uint64_t pulled;         /* synced up to this seq; a sync is in flight */
    int pulling;
    uint32_t since_ack;
    uint64_t max_seq;        /* highest seq of a `msg` */
} gconn_t;

typedef struct {
    const bench_opts_t *o;
    bench_group_result_t *r;
    uv_loop_t loop;
    uv_timer_t tick;
    char run[8];
    char cid[64];
    uint64_t gid;
    struct sockaddr_storage addr[BENCH_MAX_GW];
    gconn_t *c;              /* one per member */
    bench_user_t *users;
    int n;
    gmsg_t *m;
    uint32_t nm, cap;
    uint8_t *have;           /* [member * cap + k]: member has message k */
    uint64_t complete;       /* messages every member has */
    int phase, conns_up, conns_closed;
    uint64_t t_connect, t_start, t_warm, t_end, t_deadline, t_progress;
} group_t;

static group_t G;

static int in_window(const group_t *b, uint64_t t)
{
    return t >= b->t_warm && t < b->t_end;
}

/* ---- deliveries ---- */

static void deliver(group_t *b, gconn_t *c, uint32_t k, uint64_t now)
{
    gmsg_t *m = &b->m[k];
    uint8_t *h = &b->have[(size_t)c->idx * b->cap + k];
    if (*h) {
        b->r->duplicates++;
        return;
    }
    *h = 1;
    if (m->first == 0) m->first = now;
    m->last = now;
    if (in_window(b, m->t_send)) bench_hist_add(&b->r->lat[BENCH_GLAT_EACH].h, now - m->t_send);
    if (++m->got == (uint32_t)(b->n - 1)) b->complete++;
}

/* The index of a message object of this run, or -1 (a notice, another run's). */
static int index_of(const group_t *b, json_t *msg)
{
    char run[8];
    uint64_t t;
    unsigned k;
    if (json_integer_value(json_object_get(msg, "type")) == 100) return -1;   /* a notice */
    const char *content = json_string_value(json_object_get(msg, "content"));
    if (content == NULL || sscanf(content, "t=%" SCNu64 " k=%u r=%6s", &t, &k, run) != 3 ||
        strcmp(run, b->run) != 0 || k >= b->nm)
        return -1;
    return (int)k;
}

static void on_msg(group_t *b, gconn_t *c, json_t *f, uint64_t now)
{
    json_t *msg = json_object_get(f, "message");
    int k = index_of(b, msg);
    if (k < 0) return;
    deliver(b, c, (uint32_t)k, now);
    json_int_t seq = json_integer_value(json_object_get(msg, "seq"));
    if (seq > 0 && (uint64_t)seq > c->max_seq) c->max_seq = (uint64_t)seq;
    if (b->o->ack_every && ++c->since_ack >= (uint32_t)b->o->ack_every) {
        char frame[160];
        int n = snprintf(frame, sizeof frame, "{\"op\":\"ack\",\"conversation_id\":\"%s\",\"seq\":%" PRIu64 "}",
                         b->cid, c->max_seq);
        c->since_ack = 0;
        if (bench_ws_send_text(&c->ws, frame, (size_t)n) == 0) b->r->acks++;
    }
}

/* Read diffusion: the messages up to max_seq are there to pull. Messages go out in seq
 * order from the one sender, so each member credits a prefix; a message whose seq is
 * not known yet (its `sent` is still on the way) is credited when it is (on_sent), at
 * the time of the member's latest notify. */
static void credit(group_t *b, gconn_t *c, uint64_t when)
{
    while (c->next < b->nm && b->m[c->next].seq && b->m[c->next].seq <= c->notified) deliver(b, c, c->next++, when);
}

/* --pull: one `sync` in flight per member, from the last seq it pulled. */
static void pull(group_t *b, gconn_t *c)
{
    if (c->pulling || c->pulled >= c->notified) return;
    char frame[160];
    int n = snprintf(frame, sizeof frame,
                     "{\"op\":\"sync\",\"conversation_id\":\"%s\",\"after_seq\":%" PRIu64 ",\"limit\":100}", b->cid,
                     c->pulled);
    if (bench_ws_send_text(&c->ws, frame, (size_t)n) == 0) {
        c->pulling = 1;
        b->r->syncs++;
    }
}

static void on_sync(group_t *b, gconn_t *c, json_t *f, uint64_t now)
{
    json_t *msgs = json_object_get(f, "messages");
    size_t i;
    json_t *msg;
    json_array_foreach(msgs, i, msg) {
        uint64_t seq = (uint64_t)json_integer_value(json_object_get(msg, "seq"));
        if (seq > c->pulled) c->pulled = seq;
        int k = index_of(b, msg);
        if (k >= 0) deliver(b, c, (uint32_t)k, now);
    }
    c->pulling = 0;
    if (json_array_size(msgs) == 0 && c->pulled < c->notified) c->pulled = c->notified;   /* nothing there */
    pull(b, c);
}

static void on_notify(group_t *b, gconn_t *c, json_t *f, uint64_t now)
{
    uint64_t max_seq = (uint64_t)json_integer_value(json_object_get(f, "max_seq"));
    b->r->notifies++;
    if (max_seq > c->notified) {
        c->notified = max_seq;
        c->t_notified = now;
    }
    if (c->pulls) pull(b, c);
    else credit(b, c, now);
}

static void on_sent(group_t *b, json_t *f, uint64_t now)
{
    const char *cmid = json_string_value(json_object_get(f, "cmid"));
    char run[8];
    unsigned k;
    if (cmid == NULL || sscanf(cmid, "%7[^-]-%u", run, &k) != 2 || strcmp(run, b->run) != 0 || k >= b->nm) return;
    gmsg_t *m = &b->m[k];
    if (m->sents++) return;
    m->seq = (uint64_t)json_integer_value(json_object_get(f, "seq"));
    b->r->acked++;
    for (int i = 1; i < b->n; i++)
        if (!b->c[i].pulls && b->c[i].notified >= m->seq) credit(b, &b->c[i], b->c[i].t_notified);
    if (in_window(b, m->t_send)) bench_hist_add(&b->r->lat[BENCH_GLAT_SENT].h, now - m->t_send);
}

static void on_text(bench_ws_t *ws, const char *data, size_t len)
{
    gconn_t *c = ws->data;
    group_t *b = &G;
    uint64_t now = bench_now_ns();
    json_t *f = json_loadb(data, len, 0, NULL);
    const char *op = json_string_value(json_object_get(f, "op"));
    if (op == NULL) {
    } else if (strcmp(op, "hello") == 0) {
        if (!c->up) b->conns_up++;
        c->up = 1;
    } else if (c->idx == 0 && strcmp(op, "sent") == 0) {
        on_sent(b, f, now);
    } else if (c->idx != 0 && strcmp(op, "msg") == 0) {
        on_msg(b, c, f, now);
    } else if (c->idx != 0 && strcmp(op, "notify") == 0) {
        on_notify(b, c, f, now);
    } else if (c->idx != 0 && strcmp(op, "sync") == 0) {
        on_sync(b, c, f, now);
    } else if (strcmp(op, "error") == 0) {
        c->pulling = 0;   /* a refused sync: the next notify pulls again */
        if (++b->r->errors <= 3)
            fprintf(stderr, "im-bench: member %d: error %s: %s\n", c->idx,
                    json_string_value(json_object_get(f, "code")) ?: "?",
                    json_string_value(json_object_get(f, "message")) ?: "");
    }
    json_decref(f);
}

static void on_open(bench_ws_t *ws)
{
}

static void on_close(bench_ws_t *ws, int reason)
{
    gconn_t *c = ws->data;
    group_t *b = &G;
    if (b->phase < G_DONE) {
        b->conns_closed++;
        if (c->up) b->r->conns_dropped++;
    }
    c->up = 0;
}

static const bench_ws_cb_t callbacks = {on_open, on_text, on_close};

/* ---- sending and phases ---- */

static void send_next(group_t *b, uint64_t now)
{
    if (b->nm == b->cap) return;   /* sized for the whole run */
    uint32_t k = b->nm++;
    gmsg_t *m = &b->m[k];
    m->t_send = now;
    char frame[256];
    int n = snprintf(frame, sizeof frame,
                     "{\"op\":\"send\",\"cmid\":\"%s-%u\",\"group\":%" PRIu64 ",\"type\":1,"
                     "\"content\":\"t=%" PRIu64 " k=%u r=%s\"}",
                     b->run, k, b->gid, now, k, b->run);
    b->r->sends++;
    if (in_window(b, now)) b->r->sends_measured++;
    bench_ws_send_text(&b->c[0].ws, frame, (size_t)n);
}

static void progress(group_t *b, uint64_t now)
{
    if (now - b->t_progress < 1000000000ull) return;
    b->t_progress = now;
    fprintf(stderr, "im-bench: %5.1f s  sent %u  acked %llu  fully delivered %llu%s\n",
            (double)(now - b->t_start) / 1e9, b->nm, (unsigned long long)b->r->acked,
            (unsigned long long)b->complete, b->phase == G_DRAIN ? "  (draining)" : now < b->t_warm ? "  (warmup)" : "");
}

static void on_tick(uv_timer_t *t)
{
    group_t *b = &G;
    uint64_t now = bench_now_ns();
    switch (b->phase) {
    case G_CONNECT:
        if (b->conns_up + b->conns_closed < b->n && now < b->t_deadline) return;
        if (b->conns_up < b->n) {
            fprintf(stderr, "im-bench: only %d of %d connections came up\n", b->conns_up, b->n);
            b->phase = G_DONE;
            uv_stop(&b->loop);
            return;
        }
        fprintf(stderr, "im-bench: %d members connected in %.2f s; sending\n", b->n,
                (double)(now - b->t_connect) / 1e9);
        b->phase = G_RUN;
        /* a second for the creation notices to reach everyone before the first send */
        b->t_start = b->t_progress = now + 1000000000ull;
        b->t_warm = b->t_start + (uint64_t)b->o->warmup_s * 1000000000ull;
        b->t_end = b->t_warm + (uint64_t)b->o->duration_s * 1000000000ull;
        return;
    case G_RUN:
        if (now < b->t_start) return;
        while (now < b->t_end && b->t_start + (uint64_t)((double)b->nm * 1e9 / b->o->rate) <= now) send_next(b, now);
        progress(b, now);
        if (now < b->t_end) return;
        b->phase = G_DRAIN;
        b->t_deadline = now + (uint64_t)b->o->drain_s * 1000000000ull;
        return;
    case G_DRAIN:
        progress(b, now);
        if (b->complete < b->nm && now < b->t_deadline) return;
        b->phase = G_DONE;
        uv_stop(&b->loop);
        return;
    }
}

static void tally(group_t *b)
{
    bench_group_result_t *r = b->r;
    for (uint32_t k = 0; k < b->nm; k++) {
        const gmsg_t *m = &b->m[k];
        r->missing += (uint64_t)(b->n - 1) - m->got;
        r->unacked += m->sents == 0;
        if (!in_window(b, m->t_send)) continue;
        if (m->first) bench_hist_add(&r->lat[BENCH_GLAT_FIRST].h, m->first - m->t_send);
        if (m->got == (uint32_t)(b->n - 1)) bench_hist_add(&r->lat[BENCH_GLAT_LAST].h, m->last - m->t_send);
        if (m->got == (uint32_t)(b->n - 1) && m->last < b->t_end + 1000000000ull) r->complete_measured++;
    }
    r->send_rate = (double)r->sends_measured / b->o->duration_s;
    r->failed = r->missing || r->duplicates || r->unacked || r->conns_dropped || r->sends == 0;
}

/* ---- setup ---- */

/* POST path {key: [ids of users[from, to)], extra}; the parsed answer or NULL. */
static json_t *post_ids(group_t *b, const char *path, const char *key, int from, int to, const char *extra,
                        int want)
{
    json_t *ids = json_array();
    for (int i = from; i < to; i++) json_array_append_new(ids, json_integer((json_int_t)b->users[i].id));
    json_t *body = json_pack("{s:o}", key, ids);
    if (extra) json_object_set_new(body, "name", json_string(extra));
    char *text = json_dumps(body, JSON_COMPACT), *resp = NULL;
    json_decref(body);
    int status = 0;
    int rc = bench_http(&b->o->gw[0], "POST", path, b->users[0].token, text, 60, &status, &resp);
    free(text);
    json_t *out = rc == IM_OK && status == want ? json_loads(resp, 0, NULL) : NULL;
    if (out == NULL) fprintf(stderr, "im-bench: POST %s: %d %s\n", path, status, resp ? resp : "");
    free(resp);
    return out;
}

static int make_group(group_t *b)
{
    int first = b->n < INVITE_CHUNK + 1 ? b->n : INVITE_CHUNK + 1;
    json_t *made = post_ids(b, "/api/groups", "member_ids", 1, first, "bench", 201);
    if (made == NULL) return IM_EIO;
    b->gid = (uint64_t)json_integer_value(json_object_get(made, "group_id"));
    snprintf(b->cid, sizeof b->cid, "%s", json_string_value(json_object_get(made, "conversation_id")) ?: "");
    json_decref(made);
    char path[96];
    snprintf(path, sizeof path, "/api/groups/%" PRIu64 "/members", b->gid);
    for (int i = first; i < b->n; i += INVITE_CHUNK) {
        json_t *added = post_ids(b, path, "user_ids", i, i + INVITE_CHUNK < b->n ? i + INVITE_CHUNK : b->n, NULL, 200);
        if (added == NULL) return IM_EIO;
        json_decref(added);
    }
    return b->gid ? IM_OK : IM_EIO;
}

static void connect_one(group_t *b, int i)
{
    gconn_t *c = &b->c[i];
    int g = i % b->o->ngw;
    char hostport[96], *path = im_sprintf("/ws?token=%s", b->users[i].token);
    snprintf(hostport, sizeof hostport, "%s:%d", b->o->gw[g].host, b->o->gw[g].port);
    c->idx = i;
    c->pulls = i > 0 && i % 100 < b->o->pull;
    c->ws.data = c;
    const struct sockaddr *src = bench_src_of(b->o, (uint64_t)i);
    if (bench_ws_connect(&b->loop, &c->ws, src, (const struct sockaddr *)&b->addr[g], hostport, path, &callbacks) < 0)
        b->conns_closed++;
    im_free(path);
}

int bench_group_run(const bench_opts_t *o, bench_group_result_t *r)
{
    group_t *b = &G;
    memset(b, 0, sizeof *b);
    memset(r, 0, sizeof *r);
    b->o = o;
    b->r = r;
    b->n = o->members;
    r->members = o->members;
    r->rate = o->rate;
    r->duration_s = o->duration_s;
    static const char *const names[BENCH_GLAT_N][2] = {
        [BENCH_GLAT_SENT] = {"send -> sent", "send_sent"},
        [BENCH_GLAT_FIRST] = {"send -> first member", "send_first"},
        [BENCH_GLAT_LAST] = {"send -> last member", "send_last"},
        [BENCH_GLAT_EACH] = {"send -> each member", "send_each"},
    };
    for (int i = 0; i < BENCH_GLAT_N; i++) {
        r->lat[i].label = names[i][0];
        r->lat[i].key = names[i][1];
        bench_hist_init(&r->lat[i].h);
    }
    signal(SIGPIPE, SIG_IGN);
    for (int g = 0; g < o->ngw; g++)
        if (bench_ws_resolve(&o->gw[g], &b->addr[g]) != IM_OK) return IM_ENOTFOUND;
    bench_run_id(b->run);
    b->users = im_calloc((size_t)b->n, sizeof *b->users);
    for (int i = 0; i < b->n; i++) snprintf(b->users[i].name, sizeof b->users[i].name, "b%.7s_g%d", b->run, i);
    fprintf(stderr, "im-bench: run %s: registering %d members\n", b->run, b->n);
    uint64_t t0 = bench_now_ns();
    int rc = bench_users_setup(o, b->users, b->n);
    if (rc == IM_OK) rc = make_group(b);
    r->setup_s = (double)(bench_now_ns() - t0) / 1e9;
    if (rc == IM_OK) {
        b->cap = (uint32_t)((uint64_t)o->rate * (uint64_t)(o->warmup_s + o->duration_s) + 1);
        b->m = im_calloc(b->cap, sizeof *b->m);
        b->have = im_calloc((size_t)b->n * b->cap, 1);
        b->c = im_calloc((size_t)b->n, sizeof *b->c);
        bench_ws_global_init();
        uv_loop_init(&b->loop);
        uv_timer_init(&b->loop, &b->tick);
        b->t_connect = bench_now_ns();
        b->t_deadline = b->t_connect + (uint64_t)o->timeout_s * 1000000000ull;
        for (int i = 0; i < b->n; i++) connect_one(b, i);
        uv_timer_start(&b->tick, on_tick, 1, 1);
        uv_run(&b->loop, UV_RUN_DEFAULT);
        if (b->t_start == 0) rc = IM_EUNAVAIL;
        else tally(b);
        b->phase = G_DONE;
        uv_timer_stop(&b->tick);
        uv_close((uv_handle_t *)&b->tick, NULL);
        for (int i = 0; i < b->n; i++) bench_ws_close(&b->c[i].ws);
        uv_run(&b->loop, UV_RUN_DEFAULT);
        uv_loop_close(&b->loop);
    }
    im_free(b->m);
    im_free(b->have);
    im_free(b->c);
    bench_users_free(b->users, b->n);
    return rc;
}
