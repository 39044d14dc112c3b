/* parse.c — small parsers of client bytes that need no connection: a percent-encoded
 * header value (X-File-Name) and an HTTP Range header. Pure functions, any thread; the
 * fuzz targets of tests/fuzz drive them directly. */
#include "gateway.h"

#include <stdio.h>
#include <string.h>

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

void gw_percent_decode(const char *s, char *out, size_t size)
{
    size_t k = 0;
    for (; *s && k + 1 < size; s++) {
        if (*s != '%') {
            out[k++] = *s;
        } else if (hexval(s[1]) >= 0 && hexval(s[2]) >= 0 && (s[1] != '0' || s[2] != '0')) {
            out[k++] = (char)(hexval(s[1]) * 16 + hexval(s[2]));
            s += 2;
        } else {
            k = 0;
            break;
        }
    }
    out[k] = '\0';
}

int gw_parse_range(const char *h, uint64_t total, uint64_t *off, uint64_t *len)
{
    *off = 0;
    *len = total;
    unsigned long long a, b;
    char tail;
    if (strncmp(h, "bytes=", 6) != 0 || strchr(h, ',')) return 200;
    h += 6;
    if (sscanf(h, "-%llu%c", &a, &tail) == 1) {   /* the last a bytes */
        if (a == 0 || total == 0) return 416;
        *len = a < total ? a : total;
        *off = total - *len;
        return 206;
    }
    int n = sscanf(h, "%llu-%llu%c", &a, &b, &tail);
    if (n == 1 && h[strlen(h) - 1] == '-') b = total ? total - 1 : 0;
    else if (n != 2 || b < a) return 200;
    if (a >= total) return 416;
    if (b >= total) b = total - 1;
    *off = a;
    *len = b - a + 1;
    return 206;
}
