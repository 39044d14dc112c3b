/* report.c — results as a table on stdout and, with --json FILE, as JSON with every number. */
#include "bench.h"

#include <stdio.h>

#define MIB (1024.0 * 1024.0)

static void lat_header(void)
{
    printf("  %-24s %8s %8s %8s %8s %8s %8s %8s\n", "latency (ms)", "count", "mean", "p50", "p90",
           "p99", "p99.9", "max");
}

static void lat_row(const char *name, const bench_hist_t *h)
{
    printf("  %-24s %8llu %8.2f %8.2f %8.2f %8.2f %8.2f %8.2f\n", name, (unsigned long long)h->count,
           bench_hist_mean(h) / 1e6, bench_hist_quantile(h, 0.5) / 1e6, bench_hist_quantile(h, 0.9) / 1e6,
           bench_hist_quantile(h, 0.99) / 1e6, bench_hist_quantile(h, 0.999) / 1e6, (double)h->max / 1e6);
}

static void write_json(const bench_opts_t *o, json_t *root)
{
    if (o->json_path &&
        json_dump_file(root, o->json_path, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(9)) != 0)
        fprintf(stderr, "im-bench: cannot write %s\n", o->json_path);
    json_decref(root);
}

static json_t *sample_json(const bench_sample_t *s)
{
    if (!s->ok) return json_null();
    return json_pack("{s:f, s:f, s:f, s:f}", "rss_bytes", s->rss_bytes, "cpu_seconds", s->cpu_s,
                     "connections", s->conns, "open_fds", s->open_fds);
}

/* Per gateway resource numbers of a conns run. */
typedef struct {
    double conns;            /* connections the gateway gained (its gauge, else our count) */
    double rss_per_conn;     /* bytes */
    double idle_cpu_pct;     /* over the hold */
    double base_cpu_pct;     /* before any connection */
} gw_use_t;

static double cpu_pct(const bench_sample_t *a, const bench_sample_t *b)
{
    if (!a->ok || !b->ok || b->t_ns <= a->t_ns) return 0;
    return 100.0 * (b->cpu_s - a->cpu_s) / ((double)(b->t_ns - a->t_ns) / 1e9);
}

static gw_use_t gw_use(const bench_conns_result_t *r, int g)
{
    gw_use_t u = {0};
    const bench_sample_t *b = &r->before[g], *l = &r->loaded[g], *e = &r->hold_end[g];
    u.conns = (b->ok && e->ok && e->conns > b->conns) ? e->conns - b->conns : (double)r->per_gw[g];
    if (b->ok && e->ok && u.conns > 0) u.rss_per_conn = (e->rss_bytes - b->rss_bytes) / u.conns;
    u.idle_cpu_pct = cpu_pct(l, e);
    u.base_cpu_pct = cpu_pct(b, &r->idle[g]);
    return u;
}

void bench_report_conns(const bench_opts_t *o, const bench_conns_result_t *r)
{
    printf("\nim-bench conns: %llu connections over %d gateway(s), %d users, %d process(es)\n",
           (unsigned long long)r->target, r->gateways, r->users, r->procs);
    printf("  %-24s %.1f s (%.0f users/s)\n", "setup (register+login)", r->setup_s,
           r->setup_s > 0 ? r->users / r->setup_s : 0);
    printf("  %-24s %llu of %llu   failed %llu (HTTP refused %llu, timed out %llu)\n", "connected",
           (unsigned long long)r->established, (unsigned long long)r->target, (unsigned long long)r->failed,
           (unsigned long long)r->refused, (unsigned long long)r->timed_out);
    printf("  %-24s %.0f conn/s (%.2f s from first connect to last hello)\n", "connect rate", r->connect_rate,
           r->connect_s);
    printf("  %-24s %d s, ping every %d s: %llu pings, %llu pongs, %llu dropped by the server\n", "hold",
           r->hold_s, r->heartbeat_s, (unsigned long long)r->pings, (unsigned long long)r->pongs,
           (unsigned long long)r->dropped);
    lat_header();
    lat_row("connect -> hello", &r->connect_lat);
    lat_row("ping -> pong (hold)", &r->ping_lat);

    json_t *gws = json_array();
    if (o->nadmin) {
        int stale = 0;
        printf("\n  %-24s %7s %11s %11s %9s %9s %9s %11s\n", "gateway", "conns", "RSS before", "RSS loaded",
               "KiB/conn", "CPU idle", "CPU held", "conns after");
        for (int g = 0; g < o->ngw; g++) {
            gw_use_t u = gw_use(r, g);
            stale |= u.conns > 0 && u.rss_per_conn < 512;
            printf("  %-24s %7.0f %7.1f MiB %7.1f MiB %9.2f %8.2f%% %8.2f%% %11.0f\n", o->gw[g].text, u.conns,
                   r->before[g].rss_bytes / MIB, r->hold_end[g].rss_bytes / MIB, u.rss_per_conn / 1024.0,
                   u.base_cpu_pct, u.idle_cpu_pct, r->after[g].conns);
            json_array_append_new(gws, json_pack("{s:s, s:s, s:I, s:f, s:f, s:f, s:f, s:o, s:o, s:o, s:o, s:o}",
                                                 "url", o->gw[g].text, "admin", o->admin[g].text, "established",
                                                 (json_int_t)r->per_gw[g], "connections_gained", u.conns,
                                                 "rss_per_conn_bytes", u.rss_per_conn, "idle_cpu_pct",
                                                 u.idle_cpu_pct, "base_cpu_pct", u.base_cpu_pct, "before",
                                                 sample_json(&r->before[g]), "idle", sample_json(&r->idle[g]),
                                                 "loaded", sample_json(&r->loaded[g]), "hold_end",
                                                 sample_json(&r->hold_end[g]), "after", sample_json(&r->after[g])));
        }
        printf("  (CPU idle: %% of one core with no connections; CPU held: during the hold, pings included)\n");
        if (stale)
            printf("  note: RSS hardly grew: a gateway keeps its heap after connections close, so RSS per\n"
                   "  connection is only meaningful the first time a gateway reaches this many; restart it\n");
    } else {
        printf("\n  (no --admin or --etcd: gateway RSS and CPU not sampled)\n");
        for (int g = 0; g < o->ngw; g++)
            json_array_append_new(gws, json_pack("{s:s, s:I}", "url", o->gw[g].text, "established",
                                                 (json_int_t)r->per_gw[g]));
    }
    write_json(o, json_pack("{s:s, s:I, s:i, s:i, s:i, s:i, s:f, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:o, "
                            "s:I, s:I, s:o, s:o}",
                            "scenario", "conns", "target", (json_int_t)r->target, "users", r->users,
                            "procs", r->procs, "hold_s", r->hold_s, "heartbeat_s", r->heartbeat_s,
                            "setup_s", r->setup_s, "established", (json_int_t)r->established, "failed",
                            (json_int_t)r->failed, "refused", (json_int_t)r->refused, "timed_out",
                            (json_int_t)r->timed_out, "dropped", (json_int_t)r->dropped, "connect_s",
                            r->connect_s, "connect_rate", r->connect_rate, "connect_latency",
                            bench_hist_json(&r->connect_lat), "pings", (json_int_t)r->pings, "pongs",
                            (json_int_t)r->pongs, "ping_latency", bench_hist_json(&r->ping_lat),
                            "gateways", gws));
}

void bench_report_p2p(const bench_opts_t *o, const bench_p2p_result_t *r)
{
    printf("\nim-bench p2p: %d pairs over %d gateway(s), rate %d/s%s, window %d, %d s measured after %d s warmup\n",
           r->pairs, o->ngw, r->rate, r->rate ? "" : " (unlimited)", r->window, r->duration_s, r->warmup_s);
    printf("  %-24s %.1f s\n", "setup (register+login)", r->setup_s);
    printf("  %-24s sent %.1f   acked %.1f   received %.1f\n", "throughput (msg/s)", r->send_rate, r->ack_rate,
           r->recv_rate);
    lat_header();
    lat_row("send -> sent", &r->sent_lat);
    lat_row("send -> msg (receiver)", &r->msg_lat);
    printf("  verification\n");
    printf("    %-22s %8llu   attempts %llu; errors rate_limited %llu, unavailable %llu, other %llu\n",
           "sent (cmids)", (unsigned long long)r->sends, (unsigned long long)r->attempts,
           (unsigned long long)r->errors_rate_limited, (unsigned long long)r->errors_unavailable,
           (unsigned long long)r->errors_other);
    printf("    %-22s %8llu   conflicting sent %llu, never acked %llu, repeated identical sent %llu\n",
           "acked (one `sent`)", (unsigned long long)r->acked, (unsigned long long)r->sent_dup,
           (unsigned long long)r->unacked, (unsigned long long)r->sent_repeat);
    printf("    %-22s %8llu   duplicates %llu, missing %llu, msg_id mismatch %llu\n", "received (`msg`)",
           (unsigned long long)r->received, (unsigned long long)r->recv_dup, (unsigned long long)r->recv_missing,
           (unsigned long long)r->recv_mismatch);
    printf("    %-22s %8llu   lost %llu, stored twice %llu, stored not acked %llu (%llu pages%s)\n",
           "stored (`sync`)", (unsigned long long)r->stored, (unsigned long long)r->lost,
           (unsigned long long)r->stored_dup, (unsigned long long)r->stored_unacked,
           (unsigned long long)r->sync_pages, r->sync_ok ? "" : ", INCOMPLETE");
    if (r->conns_dropped) printf("    connections dropped by the server: %llu\n", (unsigned long long)r->conns_dropped);
    printf("  result: %s\n", r->failed ? "FAILED (loss, duplicates or unanswered sends)" : "OK");
    if (o->nadmin) {
        printf("  %-24s", "gateway CPU (window)");
        for (int g = 0; g < o->nadmin; g++)
            printf("  %s %.1f%%", o->gw[g].text, cpu_pct(&r->gw_start[g], &r->gw_end[g]));
        printf("\n");
    }
    if (r->errors_rate_limited)
        printf("  note: the gateways rate-limited sends; start them with e.g. "
               "CIM_SEND_RATE=100000 CIM_SEND_BURST=100000, or use more pairs\n");

    json_t *gws = json_array();
    for (int g = 0; g < o->nadmin; g++)
        json_array_append_new(gws, json_pack("{s:s, s:f, s:o, s:o}", "url", o->gw[g].text, "cpu_pct",
                                             cpu_pct(&r->gw_start[g], &r->gw_end[g]), "start",
                                             sample_json(&r->gw_start[g]), "end", sample_json(&r->gw_end[g])));
    write_json(o, json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:f, s:f, s:f, s:f, s:f, s:o, s:o, s:o, "
                            "s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
                            "s:I, s:I, s:I, s:I, s:I, s:b}, s:b}",
                            "scenario", "p2p", "pairs", r->pairs, "rate", r->rate, "window", r->window,
                            "duration_s", r->duration_s, "warmup_s", r->warmup_s, "size", r->size,
                            "setup_s", r->setup_s, "measured_s", r->measured_s, "send_rate", r->send_rate,
                            "ack_rate", r->ack_rate, "recv_rate", r->recv_rate, "sent_latency",
                            bench_hist_json(&r->sent_lat), "msg_latency", bench_hist_json(&r->msg_lat),
                            "gateways", gws, "verify", "sends", (json_int_t)r->sends, "sends_measured",
                            (json_int_t)r->sends_measured, "attempts", (json_int_t)r->attempts, "acked",
                            (json_int_t)r->acked, "sent_dup", (json_int_t)r->sent_dup, "sent_repeat",
                            (json_int_t)r->sent_repeat, "unacked",
                            (json_int_t)r->unacked, "received", (json_int_t)r->received, "recv_dup",
                            (json_int_t)r->recv_dup, "recv_missing", (json_int_t)r->recv_missing,
                            "recv_mismatch", (json_int_t)r->recv_mismatch, "stored", (json_int_t)r->stored,
                            "stored_dup", (json_int_t)r->stored_dup, "stored_unacked",
                            (json_int_t)r->stored_unacked, "lost", (json_int_t)r->lost, "sync_pages",
                            (json_int_t)r->sync_pages, "errors_rate_limited", (json_int_t)r->errors_rate_limited,
                            "errors_unavailable", (json_int_t)r->errors_unavailable, "errors_other",
                            (json_int_t)r->errors_other, "conns_dropped", (json_int_t)r->conns_dropped,
                            "sync_ok", r->sync_ok, "failed", r->failed));
}
