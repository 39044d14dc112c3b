/* fuzz_rest.c — what the gateway makes of a REST request's own bytes before any call:
 * the route of (method, path) with its {} segments, the query string's values, id lists,
 * the X-File-Name decoding and the Range header. Input: lines "method\npath\nquery\n
 * range\nfile name". Invariants checked: a routed path's segments are ids or names that
 * fit; a 206 range lies inside the file and is not empty, a 200 is the whole file. */
#include "gateway.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static char *next_line(char **p)
{
    char *s = *p, *nl = s ? strchr(s, '\n') : NULL;
    if (nl) {
        *nl = '\0';
        *p = nl + 1;
    } else {
        *p = NULL;
    }
    return s ? s : (char *)"";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1), *p = buf;
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *method = next_line(&p), *path = next_line(&p), *query = next_line(&p), *range = next_line(&p),
         *name = next_line(&p);

    int auth = 0, upload = 0;
    char params[2][64];
    memset(params, 0x55, sizeof params);   /* a segment the route wrote must be cut to fit */
    if (gw_route(method, path, &auth, &upload, params))
        for (int i = 0; i < 2; i++)
            if ((unsigned char)params[i][0] != 0x55 && memchr(params[i], '\0', sizeof params[i]) == NULL) abort();

    char v[64];
    uint64_t u = 0, ids[16];
    gw_query_str(query, "after_seq", v, sizeof v);
    gw_query_u64(query, "limit", &u);
    int n = gw_parse_ids(query, ids, 16);
    for (int i = 0; i < n; i++)
        if (ids[i] == 0) abort();
    gw_parse_id(path);

    char out[256];
    gw_percent_decode(name, out, sizeof out);
    if (strlen(out) >= sizeof out) abort();

    static const uint64_t totals[] = {0, 1, 2, 1000, UINT64_MAX};
    for (size_t i = 0; i < sizeof totals / sizeof totals[0]; i++) {
        uint64_t off, len, total = totals[i];
        int st = gw_parse_range(range, total, &off, &len);
        if (st == 206 && (len == 0 || off >= total || len > total - off)) abort();
        if (st == 200 && (off != 0 || len != total)) abort();
        if (st != 200 && st != 206 && st != 416) abort();
    }
    free(buf);
    return 0;
}
