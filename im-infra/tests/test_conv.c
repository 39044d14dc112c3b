/* test_conv.c — conversation ids: built one way, parsed strictly. */
#include "im/conv.h"
#include "im/err.h"
#include "im_test.h"

int main(void)
{
    char cid[IM_CONV_ID_MAX];
    im_conv_t c;
    im_conv_single(cid, 42, 7);
    CHECK_STR(cid, "s_7_42");
    CHECK_INT(im_conv_parse(cid, &c), IM_OK);
    CHECK(c.kind == IM_CONV_SINGLE && c.a == 7 && c.b == 42);
    im_conv_single(cid, 18446744073709551615ULL, 18446744073709551614ULL);
    CHECK_STR(cid, "s_18446744073709551614_18446744073709551615");
    CHECK_INT(im_conv_parse(cid, &c), IM_OK);
    im_conv_group(cid, 9);
    CHECK_STR(cid, "g_9");
    CHECK_INT(im_conv_parse(cid, &c), IM_OK);
    CHECK(c.kind == IM_CONV_GROUP && c.a == 9);
    static const char *const bad[] = {
        "", "s", "s_", "s_1", "s_1_", "s_2_1", "s_1_1", "s_01_2", "s_0_2", "s_1_2x", "s_+1_2", "s_1_-2",
        "s_1_18446744073709551616", "g_", "g_0", "g_01", "g_1_2", "x_1_2", "S_1_2", " s_1_2", "g_1 ",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (im_conv_parse(bad[i], &c) != IM_EINVAL) fprintf(stderr, "accepted: '%s'\n", bad[i]);
        CHECK_INT(im_conv_parse(bad[i], &c), IM_EINVAL);
    }
    CHECK_INT(im_conv_peer("s_7_42", 7), 42);
    CHECK_INT(im_conv_peer("s_7_42", 42), 7);
    CHECK_INT(im_conv_peer("s_7_42", 8), 0);
    CHECK_INT(im_conv_peer("g_7", 7), 0);
    IM_TEST_DONE();
}
