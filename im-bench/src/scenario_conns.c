/* scenario_conns.c — `im-bench conns`: many authenticated, idle WebSocket connections.
 *
 * The parent makes the users, samples each gateway's /metrics, forks --procs workers and
 * waits. Each worker opens its share of the connections (at most --inflight handshakes at
 * once), pings each one every heartbeat (spread over the period, not all at once), and
 * reports over a pipe twice: when all its connections are up or failed, and when the
 * parent closes its control pipe at the end of the hold.
 *
 *   parent: users -> sample before -> 5 s -> sample idle -> fork -> [CONNECTED x P] -> sample loaded
 *           -> sleep hold -> sample hold_end -> close ctl -> [FINAL x P] -> sample after
 *   worker: connect ... hello -> CONNECTED -> ping ... pong -> ctl EOF -> FINAL -> exit */
#include "bench.h"
#include "im/err.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TICK_MS 100
#define BASELINE_S 5.0       /* gateway CPU sampled over this long before connecting */
#define FD_SPARE 64          /* a worker's files besides its connections: loop, pipes, stdio */

enum { C_IDLE = 0, C_CONNECTING, C_UP, C_DONE };
enum { REPORT_CONNECTED = 1, REPORT_FINAL };

/* One connection of a worker. */
typedef struct {
    bench_ws_t ws;
    uint32_t idx;            /* global connection index */
    uint8_t phase;           /* C_* */
    uint8_t timed_out;       /* closed by us past --timeout */
    uint64_t t_ns;           /* connect start; then the outstanding ping's send time, or 0 */
} cconn_t;

/* What a worker tells the parent (plain data through a pipe). */
typedef struct {
    int kind;                /* REPORT_* */
    int heartbeat_s;
    uint64_t established, failed, refused, timed_out, dropped, pings, pongs;
    uint64_t per_gw[BENCH_MAX_GW];
    uint64_t t_first_ns, t_last_ns;   /* first connect started, last hello */
    bench_hist_t connect_lat, ping_lat;
} wreport_t;

typedef struct {
    const bench_opts_t *o;
    const bench_user_t *users;
    const struct sockaddr_storage *addr;
    uv_loop_t loop;
    uv_timer_t tick;
    uv_pipe_t ctl;           /* EOF: the hold is over */
    int report_fd;
    cconn_t *c;
    int n, next, inflight, holding;
    uint64_t tick_no;
    wreport_t r;
} worker_t;

static worker_t W;           /* a worker process has one */

static int write_full(int fd, const void *p, size_t n)
{
    const char *b = p;
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_full(int fd, void *p, size_t n)
{
    char *b = p;
    while (n > 0) {
        ssize_t r = read(fd, b, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        b += r;
        n -= (size_t)r;
    }
    return 0;
}

/* ---- worker ---- */

static void start_more(worker_t *w);

static void connect_done(worker_t *w)
{
    w->inflight--;
    start_more(w);
    if (!w->holding && w->next == w->n && w->inflight == 0) {
        w->holding = 1;
        w->r.kind = REPORT_CONNECTED;
        if (write_full(w->report_fd, &w->r, sizeof w->r) != 0) exit(2);
    }
}

static void on_open(bench_ws_t *ws)
{
}

static void on_text(bench_ws_t *ws, const char *p, size_t n)
{
    cconn_t *c = ws->data;
    worker_t *w = &W;
    if (c->phase == C_CONNECTING && memmem(p, n, "\"op\":\"hello\"", 12)) {
        uint64_t now = bench_now_ns();
        bench_hist_add(&w->r.connect_lat, now - c->t_ns);
        c->phase = C_UP;
        c->t_ns = 0;
        w->r.established++;
        w->r.per_gw[c->idx % w->o->ngw]++;
        w->r.t_last_ns = now;
        if (w->r.heartbeat_s == 0) {   /* learn the gateway's heartbeat from the first hello */
            json_t *h = json_loadb(p, n, 0, NULL);
            w->r.heartbeat_s = (int)json_integer_value(json_object_get(h, "heartbeat_s"));
            json_decref(h);
            if (w->r.heartbeat_s <= 0) w->r.heartbeat_s = 30;
        }
        connect_done(w);
    } else if (c->phase == C_UP && memmem(p, n, "\"op\":\"pong\"", 11)) {
        w->r.pongs++;
        if (c->t_ns && w->holding) bench_hist_add(&w->r.ping_lat, bench_now_ns() - c->t_ns);
        c->t_ns = 0;
    }
}

static void on_close(bench_ws_t *ws, int reason)
{
    cconn_t *c = ws->data;
    worker_t *w = &W;
    int phase = c->phase;
    c->phase = C_DONE;
    if (phase == C_CONNECTING) {
        w->r.failed++;
        if (c->timed_out) w->r.timed_out++;
        else if (reason > BENCH_WS_ECLOSED) w->r.refused++;   /* an HTTP status */
        if (w->r.failed <= 3) {   /* the first few, for a hint */
            char why[64];
            if (c->timed_out) snprintf(why, sizeof why, "timeout");
            else if (reason > BENCH_WS_ECLOSED) snprintf(why, sizeof why, "HTTP %d", reason);
            else snprintf(why, sizeof why, "%s", reason < 0 ? uv_strerror(reason) : "closed by the server");
            fprintf(stderr, "im-bench: connection %u failed: %s\n", c->idx, why);
        }
        connect_done(w);
    } else if (phase == C_UP) {
        w->r.dropped++;
    }
}

static const bench_ws_cb_t callbacks = {on_open, on_text, on_close};

static void start_one(worker_t *w, cconn_t *c)
{
    int g = (int)(c->idx % (uint32_t)w->o->ngw);
    const bench_user_t *u = &w->users[c->idx % (uint32_t)w->o->users];
    char hostport[96], *path = im_sprintf("/ws?token=%s", u->token);
    snprintf(hostport, sizeof hostport, "%s:%d", w->o->gw[g].host, w->o->gw[g].port);
    c->ws.data = c;
    c->phase = C_CONNECTING;
    c->t_ns = bench_now_ns();
    if (w->r.t_first_ns == 0) w->r.t_first_ns = c->t_ns;
    w->inflight++;
    int rc = bench_ws_connect(&w->loop, &c->ws, bench_src_of(w->o, c->idx), (const struct sockaddr *)&w->addr[g],
                              hostport, path, &callbacks);
    im_free(path);
    if (rc < 0) {   /* no on_close will come */
        c->phase = C_DONE;
        w->r.failed++;
        connect_done(w);
    }
}

static void start_more(worker_t *w)
{
    while (w->next < w->n && w->inflight < w->o->inflight) start_one(w, &w->c[w->next++]);
}

/* Every TICK_MS: time out slow handshakes; ping the slice of connections due now. */
static void on_tick(uv_timer_t *t)
{
    worker_t *w = &W;
    uint64_t now = bench_now_ns(), deadline = (uint64_t)w->o->timeout_s * 1000000000ull;
    if (!w->holding)
        for (int i = 0; i < w->next; i++)
            if (w->c[i].phase == C_CONNECTING && now - w->c[i].t_ns > deadline && !w->c[i].timed_out) {
                w->c[i].timed_out = 1;
                bench_ws_close(&w->c[i].ws);
            }
    int hb = w->o->heartbeat_s ? w->o->heartbeat_s : w->r.heartbeat_s;
    if (hb <= 0) return;
    uint64_t slices = (uint64_t)hb * (1000 / TICK_MS);
    for (uint64_t i = w->tick_no++ % slices; i < (uint64_t)w->n; i += slices) {
        cconn_t *c = &w->c[i];
        if (c->phase != C_UP) continue;
        if (bench_ws_send_text(&c->ws, "{\"op\":\"ping\"}", 13) == 0) {
            w->r.pings++;
            if (c->t_ns == 0) c->t_ns = now;
        }
    }
}

static void on_ctl_alloc(uv_handle_t *h, size_t s, uv_buf_t *b)
{
    static char buf[64];
    *b = uv_buf_init(buf, sizeof buf);
}

/* The parent closed the control pipe (or died): final report, then exit; the kernel
 * closes the sockets. */
static void on_ctl(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    if (nread >= 0) return;
    W.r.kind = REPORT_FINAL;
    int rc = write_full(W.report_fd, &W.r, sizeof W.r);
    _exit(rc == 0 ? 0 : 2);
}

static void worker_main(const bench_opts_t *o, const bench_user_t *users,
                        const struct sockaddr_storage *addr, int first, int n, int ctl_fd, int report_fd)
{
    worker_t *w = &W;
    memset(w, 0, sizeof *w);
    w->o = o;
    w->users = users;
    w->addr = addr;
    w->report_fd = report_fd;
    w->n = n;
    w->c = im_calloc((size_t)n, sizeof *w->c);
    for (int i = 0; i < n; i++) w->c[i].idx = (uint32_t)(first + i);
    bench_hist_init(&w->r.connect_lat);
    bench_hist_init(&w->r.ping_lat);
    bench_ws_global_init();
    uv_loop_init(&w->loop);
    uv_pipe_init(&w->loop, &w->ctl, 0);
    uv_pipe_open(&w->ctl, ctl_fd);
    uv_read_start((uv_stream_t *)&w->ctl, on_ctl_alloc, on_ctl);
    uv_timer_init(&w->loop, &w->tick);
    uv_timer_start(&w->tick, on_tick, TICK_MS, TICK_MS);
    start_more(w);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    _exit(0);
}

/* ---- parent ---- */

/* Raises the open-files limit to its hard limit and checks that the largest worker's
 * share (plus the loop's and the pipes' few) fits under it. */
static int raise_nofile(const bench_opts_t *o, bench_conns_result_t *r)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    r->fd_limit = (uint64_t)rl.rlim_cur;
    r->per_proc_max = (uint64_t)((o->n + o->procs - 1) / o->procs);
    if (r->per_proc_max + FD_SPARE > r->fd_limit) {
        fprintf(stderr, "im-bench: %llu connections per worker need more than the %llu open files a "
                "process may hold: use --procs %llu or more\n", (unsigned long long)r->per_proc_max,
                (unsigned long long)r->fd_limit,
                (unsigned long long)((o->n + r->fd_limit - FD_SPARE - 1) / (r->fd_limit - FD_SPARE)));
        return IM_EINVAL;
    }
    return IM_OK;
}

static void merge(wreport_t *into, const wreport_t *r)
{
    into->established += r->established;
    into->failed += r->failed;
    into->refused += r->refused;
    into->timed_out += r->timed_out;
    into->dropped += r->dropped;
    into->pings += r->pings;
    into->pongs += r->pongs;
    for (int g = 0; g < BENCH_MAX_GW; g++) into->per_gw[g] += r->per_gw[g];
    if (r->t_first_ns && (!into->t_first_ns || r->t_first_ns < into->t_first_ns)) into->t_first_ns = r->t_first_ns;
    if (r->t_last_ns > into->t_last_ns) into->t_last_ns = r->t_last_ns;
    if (r->heartbeat_s) into->heartbeat_s = r->heartbeat_s;
    bench_hist_merge(&into->connect_lat, &r->connect_lat);
    bench_hist_merge(&into->ping_lat, &r->ping_lat);
}

/* Reads one report of `kind` from every worker into *sum; -1 if a worker died. */
static int collect(const int *fds, int procs, int kind, wreport_t *sum)
{
    wreport_t *r = im_malloc(sizeof *r);
    memset(sum, 0, sizeof *sum);
    int rc = 0;
    for (int i = 0; i < procs; i++) {
        if (read_full(fds[i], r, sizeof *r) != 0 || r->kind != kind) {
            fprintf(stderr, "im-bench: worker %d did not report\n", i);
            rc = -1;
            continue;
        }
        merge(sum, r);
    }
    im_free(r);
    return rc;
}

static void sleep_s(double s)
{
    struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

static pid_t spawn(const bench_opts_t *o, const bench_user_t *users, const struct sockaddr_storage *addr,
                   int w, int *ctl_w, int *report_r)
{
    int ctl[2], rep[2];
    if (pipe(ctl) != 0 || pipe(rep) != 0) return -1;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        /* Only this worker's ends: an inherited write end of another worker's control pipe
         * would keep that worker from ever seeing EOF. */
        for (int j = 0; j < w; j++) {
            close(ctl_w[j]);
            close(report_r[j]);
        }
        close(ctl[1]);
        close(rep[0]);
        int first = (int)((long long)o->n * w / o->procs), end = (int)((long long)o->n * (w + 1) / o->procs);
        worker_main(o, users, addr, first, end - first, ctl[0], rep[1]);
    }
    close(ctl[0]);
    close(rep[1]);
    ctl_w[w] = ctl[1];
    report_r[w] = rep[0];
    return pid;
}

int bench_conns_run(const bench_opts_t *o, bench_conns_result_t *r)
{
    memset(r, 0, sizeof *r);
    r->gateways = o->ngw;
    r->target = (uint64_t)o->n;
    r->users = o->users;
    r->hold_s = o->hold_s;
    r->procs = o->procs;
    r->nsrc = o->nsrc;
    if (raise_nofile(o, r) != IM_OK) return IM_EINVAL;
    struct sockaddr_storage addr[BENCH_MAX_GW];
    for (int g = 0; g < o->ngw; g++)
        if (bench_ws_resolve(&o->gw[g], &addr[g]) != IM_OK) {
            fprintf(stderr, "im-bench: cannot resolve %s\n", o->gw[g].text);
            return IM_ENOTFOUND;
        }

    char run[8];
    bench_run_id(run);
    bench_user_t *users = im_calloc((size_t)o->users, sizeof *users);
    for (int i = 0; i < o->users; i++) snprintf(users[i].name, sizeof users[i].name, "b%s_c%d", run, i);
    fprintf(stderr, "im-bench: run %s: registering %d users\n", run, o->users);
    uint64_t t0 = bench_now_ns();
    int rc = bench_users_setup(o, users, o->users);
    r->setup_s = (double)(bench_now_ns() - t0) / 1e9;
    if (rc != IM_OK) {
        bench_users_free(users, o->users);
        return rc;
    }

    bench_admin_sample(o, r->before);
    if (o->nadmin) {   /* the gateways' CPU with no connections: the baseline of CPU/10k */
        sleep_s(BASELINE_S);
        bench_admin_sample(o, r->idle);
    }
    fprintf(stderr, "im-bench: users ready in %.1f s; opening %d connections in %d process(es)\n",
            r->setup_s, o->n, o->procs);
    signal(SIGPIPE, SIG_IGN);
    int *ctl_w = im_calloc((size_t)o->procs, sizeof(int)), *report_r = im_calloc((size_t)o->procs, sizeof(int));
    pid_t *pids = im_calloc((size_t)o->procs, sizeof(pid_t));
    int nspawned = 0;
    for (; nspawned < o->procs; nspawned++)
        if ((pids[nspawned] = spawn(o, users, addr, nspawned, ctl_w, report_r)) < 0) break;

    wreport_t *sum = im_malloc(sizeof *sum);
    rc = nspawned == o->procs ? collect(report_r, nspawned, REPORT_CONNECTED, sum) : -1;
    if (rc == 0) {
        r->established = sum->established;
        r->failed = sum->failed;
        r->refused = sum->refused;
        r->timed_out = sum->timed_out;
        memcpy(r->per_gw, sum->per_gw, sizeof r->per_gw);
        r->connect_lat = sum->connect_lat;
        r->connect_s = (double)(sum->t_last_ns - sum->t_first_ns) / 1e9;
        r->connect_rate = r->connect_s > 0 ? (double)r->established / r->connect_s : 0;
        fprintf(stderr, "im-bench: %llu up, %llu failed in %.2f s; holding %d s\n",
                (unsigned long long)r->established, (unsigned long long)r->failed, r->connect_s, o->hold_s);
        sleep_s(1.0);   /* let the gateways settle (session writes, first allocations) */
        bench_admin_sample(o, r->loaded);
        sleep_s((double)o->hold_s);
        bench_admin_sample(o, r->hold_end);
    }
    for (int i = 0; i < nspawned; i++) close(ctl_w[i]);
    if (rc == 0 && collect(report_r, nspawned, REPORT_FINAL, sum) == 0) {
        r->dropped = sum->dropped;
        r->pings = sum->pings;
        r->pongs = sum->pongs;
        r->ping_lat = sum->ping_lat;
        r->heartbeat_s = o->heartbeat_s ? o->heartbeat_s : sum->heartbeat_s;
    } else {
        rc = -1;
    }
    for (int i = 0; i < nspawned; i++) {
        close(report_r[i]);
        waitpid(pids[i], NULL, 0);
    }
    r->incomplete = r->failed || r->dropped || r->established < r->target;
    if (rc == 0) {
        sleep_s(2.0);   /* the gateways notice the closes */
        bench_admin_sample(o, r->after);
    }
    im_free(sum);
    im_free(ctl_w);
    im_free(report_r);
    im_free(pids);
    bench_users_free(users, o->users);
    return rc == 0 ? IM_OK : IM_EINTERNAL;
}
