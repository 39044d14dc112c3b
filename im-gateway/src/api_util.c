/* api_util.c — what every REST handler does alike ([W]): call im-logic, map its error
 * codes to HTTP statuses, build JSON, read the query string. */
#include "gateway.h"
#include "im/err.h"
#include "im/log.h"
#include "im/wire.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int gw_logic_call(gw_t *g, gw_job_t *job, const char *method, const ProtobufCMessage *req,
                  ProtobufCMessage **resp)
{
    im_rpc_status_t st;
    int rc = im_rpc_client_call(g->logic.client, method, req, resp, IM_CFG_GET(g->cfg.logic_timeout_ms),
                                job->trace, &st);
    if (rc != IM_OK) {
        IM_LOG_RATELIMITED(2, IM_LOG_WARN, "logic.call_failed", "method=%s err=\"%s\" status=%d",
                           method, im_strerror(rc), (int)st.code);
        gw_job_error(job, 503, "unavailable", "service unavailable, try again");
    }
    return rc;
}

static const struct {
    const char *code;
    int status;
} statuses[] = {
    {"invalid_argument", 400}, {"unauthorized", 401}, {"invalid_credentials", 401},
    {"forbidden", 403},        {"not_found", 404},    {"username_taken", 409},
    {"too_large", 413},        {"rate_limited", 429}, {"unavailable", 503},
    {"not_member", 403},       {"blocked", 403},
};

int gw_reply_logic_error(gw_job_t *job, const char *code, const char *message)
{
    if (code == NULL || *code == '\0') return 0;
    int status = 500;
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
        if (strcmp(code, statuses[i].code) == 0) status = statuses[i].status;
    gw_job_error(job, status, code, message && *message ? message : code);
    return 1;
}

void gw_reply_json(gw_job_t *job, int status, void *json)
{
    gw_job_reply(job, status, im_wire_dump(json));
}

void *gw_json_user(const Im__Common__V1__User *u)
{
    return json_pack("{s:I, s:s, s:s, s:s}", "user_id", (json_int_t)u->user_id, "username",
                     u->username, "nickname", u->nickname, "avatar_url", u->avatar_url);
}

int gw_query_str(const char *query, const char *name, char *out, size_t outlen)
{
    size_t n = strlen(name);
    for (const char *p = query; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
        if (strncmp(p, name, n) == 0 && p[n] == '=') {
            const char *v = p + n + 1;
            size_t len = strcspn(v, "&");
            if (len >= outlen) return 0;
            memcpy(out, v, len);
            out[len] = '\0';
            return 1;
        }
    }
    return 0;
}

int gw_query_u64(const char *query, const char *name, uint64_t *out)
{
    char v[32], *end;
    if (!gw_query_str(query, name, v, sizeof v) || v[0] == '\0' || v[0] == '-') return 0;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || *end) return 0;
    *out = x;
    return 1;
}

uint64_t gw_parse_id(const char *s)
{
    char *end;
    if (s == NULL || *s < '1' || *s > '9') return 0;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    return errno || *end ? 0 : (uint64_t)x;
}

int gw_parse_ids(const char *s, uint64_t *ids, int max)
{
    char one[24];
    for (int n = 0;;) {
        size_t len = strcspn(s, ",%");
        if (len == 0 || len >= sizeof one || n == max) return -1;
        memcpy(one, s, len);
        one[len] = '\0';
        if ((ids[n++] = gw_parse_id(one)) == 0) return -1;
        s += len;
        if (*s == '\0') return n;
        if (*s == ',') s += 1;
        else if (strncasecmp(s, "%2C", 3) == 0) s += 3;
        else return -1;
    }
}
