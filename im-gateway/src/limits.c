/* limits.c — rate limits every gateway shares, in Redis (one Lua token bucket per key,
 * im/ratelimit.h; a local bucket stands in while Redis cannot answer):
 *   rl:rest:{uid}       every authenticated REST call, on [W] (jobs.c): rest_rate/s, rest_burst
 *   rl:login:u:{name}   POST /api/login per username, on [W]: login_user_per_min (brute force)
 *   rl:login:a:{addr}   POST /api/login per client address, on [W]: login_addr_per_min
 *   rl:send:{uid}       WebSocket `send` per user, on [P] before producing (up.c, one round
 *                       trip per batch): send_rate/s, send_burst
 *   rl:conn:a:{addr}    new WebSocket connections per client address, on [R] before the
 *                       session is written (session.c): conn_addr_per_min
 * Over a limit: REST gets 429 rate_limited with Retry-After (seconds, rounded up) and
 * nothing runs; a send gets an `error` rate_limited with retry_after_ms for its cmid and
 * nothing is produced; a connection gets that `error` and is then closed (ws.c).
 * Acks and reads keep a bucket per user per gateway on [S] (handle_cursor.c). */
#include "gateway.h"
#include "im/clock.h"
#include "im/err.h"
#include "im/log.h"
#include "im/ratelimit.h"

#include <stdio.h>
#include <string.h>

char *gw_limit_key(char out[GW_LIMIT_KEY_MAX], const char *kind, const char *who)
{
    snprintf(out, GW_LIMIT_KEY_MAX, "rl:%s:%.120s", kind, who);
    return out;
}

void gw_limit_refused(const char *kind, int64_t n)
{
    char labels[64];
    snprintf(labels, sizeof labels, "limit=\"%s\"", kind);
    im_metric_add(im_metric_new_l(IM_METRIC_COUNTER, "cim_ratelimit_refused_total",
                                  "Requests a rate limit refused, by limit (send, conn:a, rest, login:u, login:a)", labels),
                  n);
}

int gw_limit(gw_t *g, gw_job_t *job, const char *kind, const char *who, double rate, double burst)
{
    char key[GW_LIMIT_KEY_MAX];
    int64_t retry_ms = 0;
    if (im_rlimit_take(g->redis, gw_limit_key(key, kind, who), rate, burst, im_clock_wall_ms(), &retry_ms) == IM_OK)
        return IM_OK;
    job->retry_after_s = (int)((retry_ms + 999) / 1000);
    if (job->retry_after_s < 1) job->retry_after_s = 1;
    gw_limit_refused(kind, 1);
    IM_LOG_RATELIMITED(2, IM_LOG_INFO, "rate_limited", "kind=%s user=%llu retry_after_s=%d", kind,
                       (unsigned long long)job->user_id, job->retry_after_s);
    gw_job_error(job, 429, "rate_limited", "too many requests, retry later");
    return IM_ERATELIMIT;
}

/* 1 if addr is one of the comma-separated addresses of list. */
static int listed(const char *list, const char *addr)
{
    size_t n = strlen(addr);
    for (const char *p = list; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
        while (*p == ' ') p++;
        if (strncmp(p, addr, n) == 0 && (p[n] == '\0' || p[n] == ',' || p[n] == ' ')) return 1;
    }
    return 0;
}

void gw_client_addr(gw_t *g, struct lws *wsi, char out[GW_ADDR_MAX])
{
    char xff[256];
    lws_get_peer_simple(wsi, out, GW_ADDR_MAX);
    if (strncmp(out, "::ffff:", 7) == 0)   /* an IPv4 peer of a dual-stack socket, as IPv4 */
        memmove(out, out + 7, strlen(out + 7) + 1);
    if (!*g->cfg.trusted_proxies || !listed(g->cfg.trusted_proxies, out) ||
        lws_hdr_copy(wsi, xff, sizeof xff, WSI_TOKEN_X_FORWARDED_FOR) <= 0)
        return;
    const char *last = strrchr(xff, ',');
    last = last ? last + 1 : xff;
    while (*last == ' ') last++;
    size_t n = strspn(last, "0123456789abcdefABCDEF:.");
    if (n > 0 && n < GW_ADDR_MAX && last[n + strspn(last + n, " ")] == '\0') {
        memcpy(out, last, n);
        out[n] = '\0';
    }
}
