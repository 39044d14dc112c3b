/* main.c — im-bench: parse the command line, find the gateways' admin ports, run one
 * scenario, report. Exit 0 on success, 1 if the run found loss or duplicates (or could
 * not connect everything), 2 on bad usage or failed setup. */
#include "bench.h"
#include "im/err.h"
#include "im/log.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    bench_opts_t o;
    if (bench_opts_parse(&o, argc, argv) != 0) {
        bench_usage(stderr);
        return 2;
    }
    im_log_init("im-bench", IM_LOG_WARN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    bench_admin_resolve(&o);

    if (o.scenario == BENCH_CONNS) {
        bench_conns_result_t *r = im_calloc(1, sizeof *r);
        int rc = bench_conns_run(&o, r);
        if (rc == IM_OK) bench_report_conns(&o, r);
        int exit_code = rc != IM_OK ? 2 : r->incomplete ? 1 : 0;
        im_free(r);
        return exit_code;
    }
    if (o.scenario == BENCH_GROUP) {
        bench_group_result_t *r = im_calloc(1, sizeof *r);
        int rc = bench_group_run(&o, r);
        if (rc == IM_OK) bench_report_group(&o, r);
        int exit_code = rc != IM_OK ? 2 : r->failed ? 1 : 0;
        im_free(r);
        return exit_code;
    }
    bench_p2p_result_t *r = im_calloc(1, sizeof *r);
    int rc = bench_p2p_run(&o, r);
    if (rc == IM_OK) bench_report_p2p(&o, r);
    int exit_code = rc != IM_OK ? 2 : r->failed ? 1 : 0;
    im_free(r);
    return exit_code;
}
