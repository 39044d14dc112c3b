/* bench.h — im-bench: the load generator of cim, and the map of its files.
 *
 * DESIGN
 *   im-bench is a client of the public protocol (docs/PROTOCOL.md) only: REST to make and
 *   log in users, WebSocket JSON frames for everything else. It never reads the daemons'
 *   internals, except each gateway's admin /metrics for memory and CPU.
 *
 *   Processes and threads:
 *     main        parses options (opts.c), makes users (rest.c, a few blocking threads),
 *                 runs a scenario, prints the report (report.c).
 *     conns       forks --procs workers (scenario_conns.c); each runs one libuv loop with
 *                 its share of the connections and reports back over a pipe.
 *     p2p         one libuv loop in the main process (scenario_p2p.c).
 *
 *   A connection: [uv_tcp_bind to a --source-addrs address] -> uv_tcp connect -> ws.c
 *   HTTP upgrade with ?token= -> `hello` -> frames.
 *   A p2p message:
 *     pacer timer (pair i's k-th send due at (i + k*pairs)/rate s: every pair at the same
 *     pace, the pairs' phases staggered) -> sender `send {cmid, to, content="t=<ns> ..."}`
 *       -> gateway A ... -> `sent {cmid}` on the sender   (send->sent latency)
 *       ... -> `msg {message}` on the receiver on gateway B   (send->msg latency)
 *       -> receiver `ack {conversation_id, seq}` [+ `read`] every --ack messages
 *     after the run: last acks, a ping/pong barrier per receiver, then `sync` per
 *     conversation, paged by after_seq, counts what is stored.
 *   Latencies go into log-linear histograms (stats.c), mergeable across processes; a p2p
 *   run keeps them in a table of named latencies (bench_lat_t), one row and one JSON
 *   object each, so a new one (a per-hop stamp the server may add) is one more entry.
 *
 *   Files:
 *     main.c            table of contents: options, setup, scenario, report
 *     opts.c            command line
 *     rest.c            blocking HTTP/1.1: register, login, GET of admin /metrics and etcd
 *     admin.c           gateway admin endpoints: discovery in etcd, /metrics samples
 *     ws.c              minimal WebSocket client on libuv (upgrade, masking, text frames)
 *     scenario_conns.c  many idle authenticated connections: connect rate, RSS, idle CPU
 *     scenario_p2p.c    sender/receiver pairs: throughput, latencies, loss and duplicates
 *     scenario_group.c  one group, all members online, one sender: first/last delivery
 *     stats.c           histograms and percentiles
 *     report.c          the table on stdout and the --json file
 */
#ifndef IM_BENCH_H
#define IM_BENCH_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <uv.h>

#define BENCH_MAX_GW 16      /* gateways one run may spread over */
#define BENCH_MAX_SRC 256    /* --source-addrs addresses */

/* ---- opts.c ---- */

/* A parsed http://host:port base URL. */
typedef struct {
    char host[64];
    int port;
    char text[128];          /* as given, without a trailing '/' */
} bench_url_t;

typedef enum { BENCH_CONNS = 1, BENCH_P2P, BENCH_GROUP } bench_scenario_t;

typedef struct {
    bench_scenario_t scenario;
    bench_url_t gw[BENCH_MAX_GW];     /* --gateways */
    int ngw;
    bench_url_t admin[BENCH_MAX_GW];  /* --admin, or found in etcd: admin[i] is gw[i]'s */
    int nadmin;                       /* 0: no resource sampling */
    char etcd[128];                   /* --etcd base URL for admin discovery, "" if none */
    const char *json_path;            /* --json FILE, NULL if none */
    int timeout_s;                    /* connect + upgrade + hello deadline per connection */
    int setup_threads;                /* parallel register/login calls */
    /* --source-addrs: local addresses the connections bind round-robin (per gateway), to
     * get past the ~28,000 ephemeral ports of one (source, gateway) address pair */
    struct sockaddr_storage src[BENCH_MAX_SRC];
    int nsrc;                         /* 0: the kernel picks the source address */
    /* conns */
    int n;                            /* connections */
    int procs;                        /* worker processes */
    int hold_s;                       /* idle hold after all are connected */
    int heartbeat_s;                  /* ping period; 0 = the gateway's heartbeat_s */
    int users;                        /* accounts the connections share */
    int inflight;                     /* handshakes in progress at once, per worker */
    /* p2p */
    int pairs;
    int rate;                         /* aggregate sends per second; 0 = as fast as possible */
    int duration_s;                   /* measured window */
    int warmup_s;                     /* sent and verified, but not measured */
    int window;                       /* unacked sends per sender at most */
    int size;                         /* content length in bytes (at least the header) */
    int drain_s;                      /* after the run, wait this long for acks and pushes */
    int ack_every;                    /* receivers ack every Nth `msg` (1); 0 = never */
    int read;                         /* receivers also send `read` with each ack */
    /* group */
    int members;                      /* group size, the sender included */
    int pull;                         /* % of members that `sync` on each notify (delivered = pulled) */
} bench_opts_t;

int bench_opts_parse(bench_opts_t *o, int argc, char **argv);
void bench_usage(FILE *f);
int bench_url_parse(const char *s, bench_url_t *out);
/* Parses "A[,B-C,...]" (IPv4 ranges, IPv6 single addresses) into o->src; -1 on error. */
int bench_src_parse(bench_opts_t *o, const char *s);
/* The source address of connection idx, which goes to gateway idx % ngw: round-robin
 * over each gateway's connections, so every (source, gateway) pair gets its share. NULL
 * without --source-addrs. */
const struct sockaddr *bench_src_of(const bench_opts_t *o, uint64_t idx);

/* ---- stats.c ---- */

/* Log-linear histogram of nanosecond values: exact below 64 ns, then 32 sub-buckets per
 * power of two (error under 3.2%). Plain data: merged across processes by adding. */
#define BENCH_HIST_BUCKETS 1920
typedef struct {
    uint64_t count;
    uint64_t min, max;       /* exact */
    double sum;
    uint64_t b[BENCH_HIST_BUCKETS];
} bench_hist_t;

void bench_hist_init(bench_hist_t *h);
void bench_hist_add(bench_hist_t *h, uint64_t ns);
void bench_hist_merge(bench_hist_t *into, const bench_hist_t *from);
uint64_t bench_hist_quantile(const bench_hist_t *h, double q);   /* ns; 0 if empty */
double bench_hist_mean(const bench_hist_t *h);
/* {count, mean_ms, min_ms, p50_ms, p90_ms, p99_ms, p999_ms, max_ms}; new
 * reference. */
json_t *bench_hist_json(const bench_hist_t *h);
/* The summary plus p75/p95/p99.99 and "buckets": [[lo_ms, hi_ms, count], ...] for every
 * non-empty bucket (enough to rebuild the histogram); new reference. */
json_t *bench_hist_json_full(const bench_hist_t *h);

uint64_t bench_now_ns(void);   /* CLOCK_MONOTONIC */

/* ---- rest.c ---- */

typedef struct {
    char name[40];
    uint64_t id;
    char *token;             /* owned */
} bench_user_t;

/* One blocking HTTP/1.1 request; *resp (NUL-terminated, caller frees) on any status. */
int bench_http(const bench_url_t *u, const char *method, const char *path, const char *token,
               const char *body, int timeout_s, int *status, char **resp);
/* Registers and logs in users[i] (names already set) at gateway i % ngw, with
 * setup_threads threads. Prints progress to stderr. */
int bench_users_setup(const bench_opts_t *o, bench_user_t *users, int n);
void bench_users_free(bench_user_t *users, int n);
/* A random 6-character run id: usernames and cmids of this run carry it. */
void bench_run_id(char out[8]);

/* ---- admin.c ---- */

/* One scrape of a gateway's admin /metrics. */
typedef struct {
    int ok;
    uint64_t t_ns;
    double rss_bytes;        /* process_resident_memory_bytes */
    double cpu_s;            /* process_cpu_seconds_total */
    double conns;            /* cim_gateway_connections */
    double open_fds;         /* process_open_fds */
} bench_sample_t;

/* Fills o->admin from --etcd (matching each gateway's registered addr) or, for the
 * default local gateways, the admin ports of deploy/local/up.sh. */
void bench_admin_resolve(bench_opts_t *o);
void bench_admin_sample(const bench_opts_t *o, bench_sample_t out[BENCH_MAX_GW]);

/* ---- ws.c ---- */

typedef struct bench_ws_s bench_ws_t;

typedef struct {
    void (*on_open)(bench_ws_t *ws);                                  /* 101 received */
    void (*on_text)(bench_ws_t *ws, const char *data, size_t len);    /* one whole message */
    /* Called once, after the handle is closed; ws may be reused or freed from here.
     * reason: 0 by us, BENCH_WS_ECLOSED for a close frame or EOF from the server,
     * an HTTP status (e.g. 401) for a refused upgrade, or a negative libuv error. */
    void (*on_close)(bench_ws_t *ws, int reason);
} bench_ws_cb_t;

#define BENCH_WS_ECLOSED 1

enum { BENCH_WS_IDLE = 0, BENCH_WS_CONNECTING, BENCH_WS_UPGRADING, BENCH_WS_OPEN, BENCH_WS_CLOSING };

struct bench_ws_s {
    uv_tcp_t tcp;
    uv_connect_t creq;
    const bench_ws_cb_t *cb;
    void *data;              /* the scenario's */
    int state;               /* BENCH_WS_* */
    int reason;              /* handed to on_close */
    char *rx;                /* bytes received but not parsed yet (partial frame), or NULL */
    size_t rx_len, rx_cap;
    char *msg;               /* a fragmented message being reassembled, or NULL */
    size_t msg_len, msg_cap;
};

/* Starts connect + upgrade of GET path (with ?token=...) to addr, from local address src
 * (its port picked at connect, per destination; NULL: the kernel's choice); the Host
 * header is host:port. 0 or a negative libuv error (then on_close is not called). */
int bench_ws_connect(uv_loop_t *loop, bench_ws_t *ws, const struct sockaddr *src, const struct sockaddr *addr,
                     const char *hostport, const char *path, const bench_ws_cb_t *cb);
int bench_ws_send_text(bench_ws_t *ws, const char *text, size_t len);
void bench_ws_close(bench_ws_t *ws);   /* no-op unless connecting or open */
/* The address of a gateway, looked up once (blocking). */
int bench_ws_resolve(const bench_url_t *u, struct sockaddr_storage *out);
/* Seeds the mask generator; call once per process (after fork). */
void bench_ws_global_init(void);

/* ---- scenario_conns.c ---- */

typedef struct {
    int gateways;
    uint64_t target, established, failed, refused, timed_out;
    uint64_t dropped;                 /* closed by the server during the hold */
    uint64_t per_gw[BENCH_MAX_GW];    /* established per gateway */
    double setup_s;                   /* register + login of the users */
    int users;
    double connect_s;                 /* first connect to last hello */
    double connect_rate;              /* established / connect_s */
    bench_hist_t connect_lat;         /* connect -> hello */
    uint64_t pings, pongs;
    bench_hist_t ping_lat;            /* ping -> pong during the hold */
    int hold_s, heartbeat_s, procs;
    int nsrc;                         /* --source-addrs given */
    uint64_t per_proc_max;            /* connections of the largest worker */
    uint64_t fd_limit;                /* open files one process may hold */
    /* before: users made, no connections; idle: 5 s later (baseline CPU); loaded: all
     * connected (+1 s); hold_end; after: 2 s after the workers closed everything */
    bench_sample_t before[BENCH_MAX_GW], idle[BENCH_MAX_GW], loaded[BENCH_MAX_GW],
        hold_end[BENCH_MAX_GW], after[BENCH_MAX_GW];
    int incomplete;                   /* a connection failed or was dropped: exit non-zero */
} bench_conns_result_t;

int bench_conns_run(const bench_opts_t *o, bench_conns_result_t *r);

/* ---- scenario_p2p.c ---- */

/* One latency a p2p run measures: the report prints a row and writes a JSON object
 * (summary and buckets) per entry. */
typedef struct {
    const char *label;       /* the table's row */
    const char *key;         /* the JSON key */
    bench_hist_t h;
} bench_lat_t;

enum {
    BENCH_LAT_SENT = 0,      /* send -> `sent` on the sender */
    BENCH_LAT_MSG,           /* send -> `msg` on the receiver */
    BENCH_LAT_PACE,          /* a send's scheduled time -> sent (how well the pacer kept time) */
    BENCH_LAT_N
};

typedef struct {
    int pairs, rate, window, duration_s, warmup_s, size, ack_every, read;
    double setup_s, measured_s;
    uint64_t sends;                   /* distinct messages sent (cmids) */
    uint64_t sends_measured;          /* of them, sent inside the measured window */
    uint64_t attempts;                /* send frames, with retries */
    uint64_t acked;                   /* cmids with a `sent` */
    uint64_t acked_measured;          /* `sent` frames that arrived inside the window */
    uint64_t sent_dup;                /* extra `sent` frames for a cmid naming another message */
    uint64_t sent_repeat;             /* extra identical `sent` frames (redelivery, allowed) */
    uint64_t unacked;                 /* cmids without `sent` after the drain */
    uint64_t received;                /* distinct messages pushed to receivers */
    uint64_t recv_dup;                /* the same msg_id pushed again */
    uint64_t recv_missing;            /* acked but never pushed */
    uint64_t recv_mismatch;           /* pushed msg_id differs from the `sent` one */
    uint64_t recv_measured;           /* received inside the measured window */
    uint64_t stored, stored_dup, stored_unacked;   /* from the final sync */
    uint64_t lost;                    /* acked but not stored */
    uint64_t sync_pages;
    int sync_ok;                      /* every conversation answered its sync */
    uint64_t errors_rate_limited, errors_unavailable, errors_other;
    uint64_t conns_dropped;           /* connections the server closed during the run */
    uint64_t acks_sent, reads_sent;   /* receivers' `ack` / `read` frames */
    uint64_t acks_measured;           /* `ack` frames sent inside the window */
    uint64_t ack_errors_rate_limited, ack_errors_other;   /* `error` answering an ack/read */
    uint64_t receipts;                /* `receipt` frames on the senders (with --read) */
    double send_rate, ack_rate, recv_rate, delivery_ack_rate;   /* per second, measured window */
    bench_lat_t lat[BENCH_LAT_N];     /* messages sent inside the window */
    bench_sample_t gw_start[BENCH_MAX_GW], gw_end[BENCH_MAX_GW];   /* measured window */
    int failed;                       /* loss or duplicates: exit non-zero */
} bench_p2p_result_t;

int bench_p2p_run(const bench_opts_t *o, bench_p2p_result_t *r);

/* ---- scenario_group.c ---- */

enum {
    BENCH_GLAT_SENT = 0,     /* send -> `sent` on the sender */
    BENCH_GLAT_FIRST,        /* send -> the first member has it */
    BENCH_GLAT_LAST,         /* send -> the last member has it */
    BENCH_GLAT_EACH,         /* send -> each member's delivery */
    BENCH_GLAT_N
};

typedef struct {
    int members, rate, duration_s;
    double setup_s;                   /* register, log in, create the group */
    uint64_t sends, sends_measured, acked, unacked;
    uint64_t missing;                 /* (member, message) pairs never delivered */
    uint64_t duplicates;              /* a member got a message twice */
    uint64_t complete_measured;       /* measured messages every member had within 1 s of the window */
    uint64_t notifies, syncs, acks, errors, conns_dropped;
    double send_rate;
    bench_lat_t lat[BENCH_GLAT_N];    /* messages sent inside the window */
    int failed;
} bench_group_result_t;

int bench_group_run(const bench_opts_t *o, bench_group_result_t *r);

/* ---- report.c ---- */

void bench_report_conns(const bench_opts_t *o, const bench_conns_result_t *r);
void bench_report_p2p(const bench_opts_t *o, const bench_p2p_result_t *r);
void bench_report_group(const bench_opts_t *o, const bench_group_result_t *r);

#endif
