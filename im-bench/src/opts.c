/* opts.c — the command line: `im-bench conns|p2p [options]`, with defaults that aim at
 * the local cluster of deploy/local/up.sh. */
#include "bench.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_GATEWAYS "http://127.0.0.1:8080,http://127.0.0.1:8081"

void bench_usage(FILE *f)
{
    fputs(
        "usage: im-bench conns [common] [--n N] [--procs P] [--hold S] [--heartbeat S]\n"
        "                      [--users U] [--inflight K]\n"
        "       im-bench p2p   [common] [--pairs N] [--rate R] [--duration S] [--warmup S]\n"
        "                      [--window W] [--size B] [--drain S] [--ack N] [--read]\n"
        "       im-bench group [common] [--members N] [--rate R] [--duration S] [--warmup S]\n"
        "                      [--drain S] [--ack N] [--pull P]\n"
        "\n"
        "conns: open N authenticated WebSocket connections round-robin over the gateways\n"
        "  (U accounts, default min(N,1000), shared by the connections), in P worker\n"
        "  processes (default: one per 15000 connections; a process may hold 20000 files),\n"
        "  hold them S seconds (10) pinging every heartbeat (default: the gateway's\n"
        "  heartbeat_s). Reports connect rate, failures, and per gateway RSS per connection\n"
        "  and CPU per 10000 idle connections during the hold.\n"
        "  --inflight K: handshakes in progress at once per worker (200). Past ~28000\n"
        "  connections per gateway address, give --source-addrs.\n"
        "p2p: N sender/receiver pairs (10), sender on gateway i, receiver on gateway i+1;\n"
        "  aggregate R sends/s (1000; 0 = as fast as the window allows), at most W unacked\n"
        "  sends per sender (64), for S seconds (10) after a warmup (2). Reports throughput\n"
        "  and send->sent / send->msg latency, then checks one `sent` per cmid, one `msg` per\n"
        "  message, and a final `sync` per conversation (stored == acked). Content is B\n"
        "  bytes (0 = just the header). Exit 1 on loss or duplicates.\n"
        "  Pair i sends at R/N per second, its sends due at (i + k*N)/R s: the same pace for\n"
        "  every pair, the pairs' phases staggered. Receivers ack deliveries as a client\n"
        "  should: `ack {conversation_id, seq}` every N-th `msg` (--ack 1; 0 = never), with\n"
        "  --read a `read` too (the sender then gets a `receipt`). The gateways allow 50\n"
        "  acks+reads/s per user (cursor_rate): raise it (CIM_CURSOR_RATE) or --ack N for\n"
        "  fast runs.\n"
        "  The gateways' per-user send limit (send_rate 20/s) must be raised for this, e.g.\n"
        "  CIM_SEND_RATE=100000 CIM_SEND_BURST=100000 ./deploy/local/up.sh\n"
        "group: N users (100) in one group, all connected round-robin over the gateways;\n"
        "  member 0 creates it and sends R group messages/s (10) for S seconds after the\n"
        "  warmup. Reports send->sent and send->first/last/each member's delivery: its\n"
        "  `msg`, or above the server's large_group_threshold the `notify` whose max_seq\n"
        "  reaches the message. Exit 1 unless every member got every message exactly once.\n"
        "  Members ack every --ack `msg` (1). Past ~28000 members per gateway, --source-addrs.\n"
        "  --pull P: P % of the members (those with the chat open, say) answer each `notify`\n"
        "  as a client does, with a `sync` from the last seq they pulled (one in flight per\n"
        "  member); for them a message counts as delivered when its `sync` reply arrives.\n"
        "\n"
        "common:\n"
        "  --gateways URL[,URL...]  gateway base URLs (" DEFAULT_GATEWAYS ")\n"
        "  --admin URL[,URL...]     their admin base URLs, same order (default: from --etcd,\n"
        "                           or 9101,9111 for the default gateways)\n"
        "  --etcd URL               etcd to find each gateway's admin address in\n"
        "  --json FILE              write every number to FILE\n"
        "  --timeout S              connect + upgrade + hello deadline (10)\n"
        "  --setup-threads T        parallel register/login calls (8)\n"
        "  --source-addrs LIST      local addresses to connect from, round-robin per gateway,\n"
        "                           e.g. 127.0.0.2-127.0.0.9,127.0.1.1 (or 127.0.0.2-9): each\n"
        "                           (source, gateway) pair has its own ~28000 ephemeral ports\n",
        f);
}

int bench_url_parse(const char *s, bench_url_t *out)
{
    bench_url_t u = {0};
    const char *p = s;
    if (strncmp(p, "http://", 7) == 0) p += 7;
    else if (strstr(p, "://")) return -1;   /* https and ws are not supported */
    const char *colon = strchr(p, ':'), *slash = strchr(p, '/');
    size_t hlen = colon ? (size_t)(colon - p) : slash ? (size_t)(slash - p) : strlen(p);
    if (hlen == 0 || hlen >= sizeof u.host) return -1;
    memcpy(u.host, p, hlen);
    u.port = colon ? atoi(colon + 1) : 80;
    if (u.port <= 0 || u.port > 65535) return -1;
    snprintf(u.text, sizeof u.text, "http://%s:%d", u.host, u.port);
    *out = u;
    return 0;
}

/* Splits a comma separated URL list into urls[]; the count, or -1. */
static int url_list(const char *s, bench_url_t *urls)
{
    char *copy = strdup(s), *save = NULL;
    int n = 0;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (n == BENCH_MAX_GW || bench_url_parse(t, &urls[n]) != 0) {
            fprintf(stderr, "im-bench: bad or too many URLs: %s\n", t);
            free(copy);
            return -1;
        }
        n++;
    }
    free(copy);
    return n;
}

/* Adds one address (port 0) to o->src. */
static int src_add(bench_opts_t *o, int family, const void *addr)
{
    if (o->nsrc == BENCH_MAX_SRC) {
        fprintf(stderr, "im-bench: --source-addrs: more than %d addresses\n", BENCH_MAX_SRC);
        return -1;
    }
    struct sockaddr_storage *ss = &o->src[o->nsrc++];
    memset(ss, 0, sizeof *ss);
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        in->sin_family = AF_INET;
        memcpy(&in->sin_addr, addr, sizeof in->sin_addr);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
        in6->sin6_family = AF_INET6;
        memcpy(&in6->sin6_addr, addr, sizeof in6->sin6_addr);
    }
    return 0;
}

/* One item of --source-addrs: an address, or an IPv4 range A-B (B whole, or its last
 * part: 127.0.0.2-9). */
static int src_item(bench_opts_t *o, char *t)
{
    struct in_addr a, b;
    struct in6_addr a6;
    char *dash = strchr(t, '-');
    if (dash == NULL) {
        if (inet_pton(AF_INET, t, &a) == 1) return src_add(o, AF_INET, &a);
        if (inet_pton(AF_INET6, t, &a6) == 1) return src_add(o, AF_INET6, &a6);
        return -1;
    }
    *dash = '\0';
    const char *hi = dash + 1;
    char whole[INET_ADDRSTRLEN];
    if (strchr(hi, '.') == NULL) {   /* last part only: the first three of A */
        const char *dot = strrchr(t, '.');
        if (dot == NULL || (size_t)(dot - t) + 1 + strlen(hi) >= sizeof whole) return -1;
        snprintf(whole, sizeof whole, "%.*s.%s", (int)(dot - t), t, hi);
        hi = whole;
    }
    if (inet_pton(AF_INET, t, &a) != 1 || inet_pton(AF_INET, hi, &b) != 1) return -1;
    uint32_t lo = ntohl(a.s_addr), top = ntohl(b.s_addr);
    if (top < lo) return -1;
    for (uint64_t x = lo; x <= top; x++) {
        struct in_addr ia = {.s_addr = htonl((uint32_t)x)};
        if (src_add(o, AF_INET, &ia) != 0) return -1;
    }
    return 0;
}

int bench_src_parse(bench_opts_t *o, const char *s)
{
    char *copy = strdup(s), *save = NULL;
    int rc = 0;
    o->nsrc = 0;
    for (char *t = strtok_r(copy, ",", &save); t && rc == 0; t = strtok_r(NULL, ",", &save)) {
        char *item = strdup(t);   /* src_item cuts t at the dash */
        if ((rc = src_item(o, t)) != 0) fprintf(stderr, "im-bench: --source-addrs: bad item '%s'\n", item);
        free(item);
    }
    if (rc == 0 && o->nsrc == 0) rc = -1;
    for (int i = 1; rc == 0 && i < o->nsrc; i++)
        if (o->src[i].ss_family != o->src[0].ss_family) {
            fprintf(stderr, "im-bench: --source-addrs mixes IPv4 and IPv6\n");
            rc = -1;
        }
    free(copy);
    return rc;
}

/* Connection idx goes to gateway idx % ngw; counting per gateway (idx / ngw) spreads each
 * gateway's connections over every source address, so no (source, gateway) pair takes
 * more than its share of ports. */
const struct sockaddr *bench_src_of(const bench_opts_t *o, uint64_t idx)
{
    if (o->nsrc == 0) return NULL;
    return (const struct sockaddr *)&o->src[(idx / (uint64_t)o->ngw) % (uint64_t)o->nsrc];
}

static int int_arg(const char *name, const char *v, int min, int max, int *out)
{
    char *end;
    long x = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0' || x < min || x > max) {
        fprintf(stderr, "im-bench: --%s wants an integer in %d..%d, not '%s'\n", name, min, max, v);
        return -1;
    }
    *out = (int)x;
    return 0;
}

enum {
    O_GATEWAYS = 256, O_ADMIN, O_ETCD, O_JSON, O_TIMEOUT, O_SETUP, O_N, O_PROCS, O_HOLD,
    O_HEARTBEAT, O_USERS, O_INFLIGHT, O_PAIRS, O_RATE, O_DURATION, O_WARMUP, O_WINDOW,
    O_SIZE, O_DRAIN, O_HELP, O_ACK, O_READ, O_SRC, O_MEMBERS, O_PULL
};

/* Same order as the enum above: longopts[id - O_GATEWAYS] names option id. */
static const struct option longopts[] = {
    {"gateways", 1, 0, O_GATEWAYS}, {"admin", 1, 0, O_ADMIN},     {"etcd", 1, 0, O_ETCD},
    {"json", 1, 0, O_JSON},         {"timeout", 1, 0, O_TIMEOUT}, {"setup-threads", 1, 0, O_SETUP},
    {"n", 1, 0, O_N},               {"procs", 1, 0, O_PROCS},     {"hold", 1, 0, O_HOLD},
    {"heartbeat", 1, 0, O_HEARTBEAT}, {"users", 1, 0, O_USERS},   {"inflight", 1, 0, O_INFLIGHT},
    {"pairs", 1, 0, O_PAIRS},       {"rate", 1, 0, O_RATE},       {"duration", 1, 0, O_DURATION},
    {"warmup", 1, 0, O_WARMUP},     {"window", 1, 0, O_WINDOW},   {"size", 1, 0, O_SIZE},
    {"drain", 1, 0, O_DRAIN},       {"help", 0, 0, O_HELP},       {"ack", 1, 0, O_ACK},
    {"read", 0, 0, O_READ},         {"source-addrs", 1, 0, O_SRC}, {"members", 1, 0, O_MEMBERS}, {"pull", 1, 0, O_PULL},
    {0, 0, 0, 0},
};

/* The integer options: where each goes and its bounds. */
static int *int_field(bench_opts_t *o, int id, int *min, int *max)
{
    *min = 0;
    *max = 100000000;
    switch (id) {
    case O_TIMEOUT: *min = 1; return &o->timeout_s;
    case O_SETUP: *min = 1; *max = 256; return &o->setup_threads;
    case O_N: *min = 1; return &o->n;
    case O_PROCS: *min = 1; *max = 256; return &o->procs;
    case O_HOLD: return &o->hold_s;
    case O_HEARTBEAT: return &o->heartbeat_s;
    case O_USERS: *min = 1; return &o->users;
    case O_INFLIGHT: *min = 1; return &o->inflight;
    case O_PAIRS: *min = 1; *max = 100000; return &o->pairs;
    case O_RATE: return &o->rate;
    case O_DURATION: *min = 1; return &o->duration_s;
    case O_WARMUP: return &o->warmup_s;
    case O_WINDOW: *min = 1; *max = 100000; return &o->window;
    case O_SIZE: *max = 4000; return &o->size;
    case O_DRAIN: return &o->drain_s;
    case O_ACK: *max = 1000000; return &o->ack_every;
    case O_MEMBERS: *min = 2; *max = 20000; return &o->members;
    case O_PULL: *max = 100; return &o->pull;
    default: return NULL;
    }
}

int bench_opts_parse(bench_opts_t *o, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) return -1;
    if (strcmp(argv[1], "conns") == 0) o->scenario = BENCH_CONNS;
    else if (strcmp(argv[1], "p2p") == 0) o->scenario = BENCH_P2P;
    else if (strcmp(argv[1], "group") == 0) o->scenario = BENCH_GROUP;
    else {
        fprintf(stderr, "im-bench: unknown scenario '%s'\n", argv[1]);
        return -1;
    }
    o->timeout_s = 10;
    o->setup_threads = 8;
    o->n = 1000;
    o->hold_s = 10;
    o->inflight = 200;
    o->pairs = 10;
    o->rate = o->scenario == BENCH_GROUP ? 10 : 1000;
    o->duration_s = 10;
    o->warmup_s = 2;
    o->window = 64;
    o->drain_s = 10;
    o->ack_every = 1;
    o->members = 100;
    const char *gateways = NULL, *admin = NULL;

    optind = 2;
    int c;
    while ((c = getopt_long_only(argc, argv, "", longopts, NULL)) != -1) {
        int min, max, *field = int_field(o, c, &min, &max);
        if (field) {
            if (int_arg(longopts[c - O_GATEWAYS].name, optarg, min, max, field) != 0) return -1;
            continue;
        }
        switch (c) {
        case O_GATEWAYS: gateways = optarg; break;
        case O_ADMIN: admin = optarg; break;
        case O_ETCD: snprintf(o->etcd, sizeof o->etcd, "%s", optarg); break;
        case O_JSON: o->json_path = optarg; break;
        case O_READ: o->read = 1; break;
        case O_SRC:
            if (bench_src_parse(o, optarg) != 0) return -1;
            break;
        default: return -1;   /* O_HELP, or getopt already complained */
        }
    }
    if (optind < argc) {
        fprintf(stderr, "im-bench: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if ((o->ngw = url_list(gateways ? gateways : DEFAULT_GATEWAYS, o->gw)) <= 0) return -1;
    if (admin) {
        if ((o->nadmin = url_list(admin, o->admin)) < 0) return -1;
        if (o->nadmin != o->ngw) {
            fprintf(stderr, "im-bench: --admin needs one URL per gateway (%d)\n", o->ngw);
            return -1;
        }
    } else if (!gateways && !o->etcd[0]) {
        o->nadmin = url_list("http://127.0.0.1:9101,http://127.0.0.1:9111", o->admin);
    }
    for (int g = 0; o->nsrc && g < o->ngw; g++) {
        struct sockaddr_storage a;
        if (bench_ws_resolve(&o->gw[g], &a) == 0 && a.ss_family != o->src[0].ss_family) {
            fprintf(stderr, "im-bench: --source-addrs and %s are not of one address family\n", o->gw[g].text);
            return -1;
        }
    }
    if (o->scenario == BENCH_GROUP && o->rate == 0) {
        fprintf(stderr, "im-bench: group needs --rate of at least 1\n");
        return -1;
    }
    if (o->read && o->ack_every == 0) {
        fprintf(stderr, "im-bench: --read goes with the acks: not with --ack 0\n");
        return -1;
    }
    if (o->users == 0) o->users = o->n < 1000 ? o->n : 1000;
    if (o->users > o->n) o->users = o->n;
    if (o->procs == 0) o->procs = (o->n + 14999) / 15000;
    if (o->procs > o->n) o->procs = o->n;
    return 0;
}
