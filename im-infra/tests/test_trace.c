/* test_trace.c — spans: the traceparent each hop passes on, the live 1-in-N sampling, the
 * thread's current span, and every ended sampled span counted as exported or dropped
 * (here dropped: the collector's address refuses connections). */
#include "im/metrics.h"
#include "im/trace.h"
#include "im_test.h"

#include "im/log.h"

static int64_t counter(const char *name)
{
    im_metric_t *m = im_metric_find_l(name, NULL);
    return m ? im_metric_get(m) : -1;
}

int main(void)
{
    im_span_t s, c;
    char tp[56];

    /* before im_tracing_start nothing is sampled, but ids and propagation work */
    im_span_root(&s, "send", IM_SPAN_PRODUCER);
    CHECK_INT(s.sampled, 0);
    CHECK_INT((int)strlen(s.trace), 32);
    CHECK_INT((int)strlen(s.id), 16);
    CHECK_STR(s.parent, "");
    im_span_traceparent(&s, tp);
    CHECK_INT((int)strlen(tp), 55);
    CHECK(strncmp(tp, "00-", 3) == 0 && strcmp(tp + 52, "-00") == 0);

    int one_in = 2;
    im_tracing_start("test", "http://127.0.0.1:1", &one_in);
    int sampled = 0;
    for (int i = 0; i < 10; i++) {
        im_span_root(&s, "send", IM_SPAN_PRODUCER);
        sampled += s.sampled;
    }
    CHECK_INT(sampled, 5);
    __atomic_store_n(&one_in, 0, __ATOMIC_RELAXED);   /* live: 0 = none */
    im_span_root(&s, "send", IM_SPAN_PRODUCER);
    CHECK_INT(s.sampled, 0);
    __atomic_store_n(&one_in, 1, __ATOMIC_RELAXED);
    im_span_root(&s, "send", IM_SPAN_PRODUCER);
    CHECK_INT(s.sampled, 1);

    /* a child through its traceparent: same trace, parent = the sender's span, sampled */
    im_span_traceparent(&s, tp);
    CHECK(strcmp(tp + 52, "-01") == 0);
    im_span_from(&c, tp, "logic send", IM_SPAN_CONSUMER);
    CHECK_STR(c.trace, s.trace);
    CHECK_STR(c.parent, s.id);
    CHECK(strcmp(c.id, s.id) != 0);
    CHECK_INT(c.sampled, 1);
    tp[54] = '0';   /* the flag says not sampled: the hop follows */
    im_span_from(&c, tp, "logic send", IM_SPAN_CONSUMER);
    CHECK_INT(c.sampled, 0);
    CHECK_STR(c.trace, s.trace);
    /* malformed: a new trace of its own, never sampled */
    const char *bad[] = {"", "00-abc", "00-0123456789ABCDEF0123456789abcdef-0123456789abcdef-01",
                         "00-0123456789abcdef0123456789abcdef_0123456789abcdef-01"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        im_span_from(&c, bad[i], "x", IM_SPAN_CONSUMER);
        CHECK_INT(c.sampled, 0);
        CHECK_STR(c.parent, "");
        CHECK_INT((int)strlen(c.trace), 32);
    }
    im_span_from(&c, NULL, "x", IM_SPAN_CONSUMER);
    CHECK_INT(c.sampled, 0);

    /* tags: only on sampled spans, at most IM_SPAN_TAGS, values cut to fit */
    for (int i = 0; i < IM_SPAN_TAGS + 2; i++) im_span_tag(&s, "k", "%d", i);
    CHECK_INT(s.ntags, IM_SPAN_TAGS);
    im_span_tag(&c, "k", "v");
    CHECK_INT(c.ntags, 0);

    /* the thread's current span: nested enter/leave, log trace id follows */
    CHECK(im_span_current() == NULL);
    im_span_enter(&s);
    CHECK(im_span_current() == &s);
    CHECK_STR(im_trace_get(), s.trace);
    im_span_child_of(&c, &s, "inner", IM_SPAN_INTERNAL);
    im_span_enter(&c);
    CHECK(im_span_current() == &c);
    im_span_child("sql", 1, 2, "db.statement", "SELECT 1");   /* under c: ended, queued */
    im_span_leave(&c);
    CHECK(im_span_current() == &s);
    im_span_leave(&s);
    CHECK(im_span_current() == NULL);
    CHECK_STR(im_trace_get(), "");
    im_span_child("sql", 1, 2, NULL, NULL);   /* no current span: nothing */

    /* ended sampled spans: c, s; unsampled ones are not counted */
    im_span_end(&c);
    im_span_end(&s);
    im_span_root(&s, "unsampled", IM_SPAN_PRODUCER);
    s.sampled = 0;
    im_span_end(&s);
    im_tracing_stop();   /* drains: the collector refuses, so all 3 are dropped */
    CHECK_INT(counter("cim_trace_spans_dropped_total") + counter("cim_trace_spans_exported_total"), 3);
    CHECK_INT(counter("cim_trace_spans_dropped_total"), 3);
    im_span_root(&s, "after stop", IM_SPAN_PRODUCER);
    CHECK_INT(s.sampled, 0);
    IM_TEST_DONE();
}
