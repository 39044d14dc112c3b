/* test_breaker.c — the circuit breaker's state machine on a fake clock. */
#include "im/breaker.h"
#include "im_test.h"

int main(void)
{
    im_breaker_cfg_t cfg = {.min_calls = 10, .failure_pct = 50, .open_ms = 1000, .slow_ms = 0};
    im_breaker_t b;
    im_breaker_init(&b);
    int64_t t = 1000;

    /* below min_calls nothing opens, whatever fails */
    for (int i = 0; i < 9; i++) {
        CHECK(im_breaker_allow(&b, &cfg, t));
        CHECK_INT(im_breaker_record(&b, &cfg, 1, t), -1);
    }
    /* the 10th outcome: 10 of 10 failed -> open */
    CHECK(im_breaker_allow(&b, &cfg, t));
    CHECK_INT(im_breaker_record(&b, &cfg, 1, t), IM_BREAKER_OPEN);
    CHECK(!im_breaker_allow(&b, &cfg, t + 999));            /* refused while open */
    /* after open_ms: exactly one probe */
    CHECK(im_breaker_allow(&b, &cfg, t + 1000));
    CHECK(!im_breaker_allow(&b, &cfg, t + 1001));
    CHECK_INT(im_breaker_record(&b, &cfg, 1, t + 1100), IM_BREAKER_OPEN);   /* probe failed */
    CHECK(!im_breaker_allow(&b, &cfg, t + 2000));
    CHECK(im_breaker_allow(&b, &cfg, t + 2100));
    CHECK_INT(im_breaker_record(&b, &cfg, 0, t + 2150), IM_BREAKER_CLOSED); /* probe ok */
    CHECK_INT(b.n, 0);                                       /* a fresh window */

    /* 40 % failures over the window stays closed; 50 % opens */
    for (int i = 0; i < 20; i++) CHECK_INT(im_breaker_record(&b, &cfg, i % 5 >= 3, t), -1);
    CHECK_INT(b.n, 20);
    CHECK_INT(b.fails, 8);
    int opened = -1;
    for (int i = 0; i < 20 && opened == -1; i++) opened = im_breaker_record(&b, &cfg, i % 2, t);
    CHECK_INT(opened, IM_BREAKER_OPEN);

    /* failure_pct 0: never opens; settings are read on every call */
    im_breaker_t c;
    im_breaker_init(&c);
    cfg.failure_pct = 0;
    for (int i = 0; i < 50; i++) CHECK_INT(im_breaker_record(&c, &cfg, 1, t), -1);
    cfg.failure_pct = 100;
    CHECK_INT(im_breaker_record(&c, &cfg, 1, t), IM_BREAKER_OPEN);
    CHECK(im_breaker_state_name(IM_BREAKER_HALF_OPEN)[0] == 'h');
    im_breaker_fini(&b);
    im_breaker_fini(&c);
    IM_TEST_DONE();
}
