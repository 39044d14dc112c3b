/* test_breaker.c — the circuit breaker's state machine on a fake clock. */
#include "im/breaker.h"
#include "im/metrics.h"
#include "im_test.h"

#include <stdio.h>

int main(void)
{
    im_breaker_cfg_t cfg = {.min_calls = 10, .failure_pct = 50, .open_ms = 1000, .slow_ms = 0};
    im_breaker_t b;
    im_breaker_init(&b);
    im_breaker_name(&b, "10.0.0.1:50051");
    im_metric_t *gauge = im_metric_find_l("cim_breaker_state", "endpoint=\"10.0.0.1:50051\"");
    CHECK(gauge != NULL);
    if (gauge == NULL) IM_TEST_DONE();
    CHECK_INT(im_metric_get(gauge), 0);
    int64_t t = 1000;

    /* below min_calls nothing opens, whatever fails */
    for (int i = 0; i < 9; i++) {
        CHECK(im_breaker_allow(&b, &cfg, t));
        CHECK_INT(im_breaker_record(&b, &cfg, 1, t), -1);
    }
    /* the 10th outcome: 10 of 10 failed -> open */
    CHECK(im_breaker_allow(&b, &cfg, t));
    CHECK_INT(im_breaker_record(&b, &cfg, 1, t), IM_BREAKER_OPEN);
    CHECK_INT(im_metric_get(gauge), 1);
    CHECK(!im_breaker_allow(&b, &cfg, t + 999));            /* refused while open */
    /* after open_ms: exactly one probe */
    CHECK(im_breaker_allow(&b, &cfg, t + 1000));
    CHECK_INT(im_metric_get(gauge), 2);                      /* half-open */
    CHECK(!im_breaker_allow(&b, &cfg, t + 1001));
    CHECK_INT(im_breaker_record(&b, &cfg, 1, t + 1100), IM_BREAKER_OPEN);   /* probe failed */
    CHECK(!im_breaker_allow(&b, &cfg, t + 2000));
    CHECK(im_breaker_allow(&b, &cfg, t + 2100));
    CHECK_INT(im_breaker_record(&b, &cfg, 0, t + 2150), IM_BREAKER_CLOSED); /* probe ok */
    CHECK_INT(b.n, 0);                                       /* a fresh window */
    CHECK_INT(im_metric_get(gauge), 0);

    /* 40 % failures over the window stays closed; 50 % opens */
    for (int i = 0; i < 20; i++) CHECK_INT(im_breaker_record(&b, &cfg, i % 5 >= 3, t), -1);
    CHECK_INT(b.n, 20);
    CHECK_INT(b.fails, 8);
    int opened = -1;
    for (int i = 0; i < 20 && opened == -1; i++) opened = im_breaker_record(&b, &cfg, i % 2, t);
    CHECK_INT(opened, IM_BREAKER_OPEN);
    CHECK_INT(im_metric_get(gauge), 1);
    /* open, half-open, open, half-open, closed, open */
    const char *ep = "endpoint=\"10.0.0.1:50051\",to=";
    char l[96];
    snprintf(l, sizeof l, "%s\"open\"", ep);
    CHECK_INT(im_metric_get(im_metric_find_l("cim_breaker_transitions_total", l)), 3);
    snprintf(l, sizeof l, "%s\"half_open\"", ep);
    CHECK_INT(im_metric_get(im_metric_find_l("cim_breaker_transitions_total", l)), 2);
    snprintf(l, sizeof l, "%s\"closed\"", ep);
    CHECK_INT(im_metric_get(im_metric_find_l("cim_breaker_transitions_total", l)), 1);

    /* failure_pct 0: never opens; settings are read on every call */
    im_breaker_t c;
    im_breaker_init(&c);
    cfg.failure_pct = 0;
    for (int i = 0; i < 50; i++) CHECK_INT(im_breaker_record(&c, &cfg, 1, t), -1);
    cfg.failure_pct = 100;
    CHECK_INT(im_breaker_record(&c, &cfg, 1, t), IM_BREAKER_OPEN);
    CHECK(im_breaker_state_name(IM_BREAKER_HALF_OPEN)[0] == 'h');
    im_breaker_fini(&b);
    CHECK_INT(im_metric_get(gauge), 0);                      /* a gone endpoint is not open */
    CHECK_INT(im_metric_get(im_metric_find_l("cim_breaker_transitions_total", "endpoint=\"\",to=\"open\"")), 1);  /* unnamed c */
    im_breaker_fini(&c);
    IM_TEST_DONE();
}
