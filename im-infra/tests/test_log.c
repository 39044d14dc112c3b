/* test_log.c — log lines: client strings escaped, numbers formatted as printf would. */
#include "im/log.h"
#include "im_test.h"

#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

/* The line im_log writes for one call, captured from stderr. */
static char line[4096];
#define CAPTURE(...)                                                  \
    do {                                                              \
        FILE *tmp = tmpfile();                                        \
        int saved = dup(2);                                           \
        dup2(fileno(tmp), 2);                                         \
        im_info("t.ev", __VA_ARGS__);                                 \
        dup2(saved, 2);                                               \
        close(saved);                                                 \
        rewind(tmp);                                                  \
        size_t r = fread(line, 1, sizeof line - 1, tmp);              \
        line[r] = '\0';                                               \
        fclose(tmp);                                                  \
    } while (0)

static const char *fields(void)
{
    const char *p = strstr(line, "event=t.ev ");
    return p ? p + strlen("event=t.ev ") : "";
}

int main(void)
{
    im_log_init("test", IM_LOG_DEBUG);
    CAPTURE("cmid=%s n=%d", "x\nts=1 level=error event=forged", 7);
    CHECK_STR(fields(), "cmid=x\\x0ats\\x3d1\\x20level\\x3derror\\x20event\\x3dforged n=7\n");
    CHECK(strchr(line, '\n') == line + strlen(line) - 1);   /* one line */

    CAPTURE("err=\"%s\" q=%s", "bad \"thing\" a=b\\", "a\"b");
    CHECK_STR(fields(), "err=\"bad \\\"thing\\\" a=b\\\\\" q=a\\\"b\n");

    CAPTURE("u=%llu x=%llx z=%zu l=%ld i=%d neg=%lld s=%.*s pct=100%% f=%.1f", 18446744073709551615ULL,
            (unsigned long long)0xabcdefULL, (size_t)42, -5L, -1, -9223372036854775807LL - 1, 3, "abcdef", 2.5);
    CHECK_STR(fields(), "u=18446744073709551615 x=abcdef z=42 l=-5 i=-1 neg=-9223372036854775808 s=abc pct=100% f=2.5\n");

    const char *volatile none = NULL;
    CAPTURE("null=%s w=%5d", none, 3);
    CHECK_STR(fields(), "null=(null) w=    3\n");

    char big[3000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CAPTURE("big=%s", big);                                    /* truncated, still one line */
    CHECK(strlen(line) <= 2048 && line[strlen(line) - 1] == '\n' && strchr(line, '\n') == line + strlen(line) - 1);
    IM_TEST_DONE();
}
