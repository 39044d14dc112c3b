/* fuzz_text.c — the checks every client string passes (UTF-8, cmid, username) and the
 * conversation id parser: no crash, and an id im_conv_parse accepts is exactly the one
 * im_conv_single/im_conv_group would write for it (one spelling per conversation). */
#include "im/conv.h"
#include "im/err.h"
#include "im/text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    int valid = im_utf8_valid(s, size);
    size_t chars = im_utf8_chars(s, size);
    if (valid && chars > size) abort();
    im_cmid_valid(s);
    im_username_valid(s);
    im_conv_t c;
    if (im_conv_parse(s, &c) == IM_OK) {
        char again[IM_CONV_ID_MAX];
        if (c.kind == IM_CONV_SINGLE) im_conv_single(again, c.a, c.b);
        else im_conv_group(again, c.a);
        if (strcmp(again, s) != 0) abort();
        if (c.kind == IM_CONV_SINGLE && (im_conv_peer(s, c.a) != c.b || im_conv_peer(s, c.b) != c.a)) abort();
    }
    free(s);
    return 0;
}
