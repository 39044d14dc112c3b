/* test_config.c — the config table: parsing of INT/BOOL/ENUM, ranges, and run-time changes
 * through im_config_set_live (live keys only, validated, stored; start-only keys refused). */
#include "im/config.h"
#include "im/err.h"
#include "im_test.h"

#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct {
    int batch_max;   /* start-only: sizes an array */
    int rate;        /* live */
    int verbose;     /* live BOOL */
    int level;       /* live ENUM */
    char *host;      /* start-only STR */
} cfg_t;

static const char *const levels[] = {"debug", "info", "warn", "error", NULL};

static const im_cfg_field_t table[] = {
    {"batch_max", IM_CFG_INT, offsetof(cfg_t, batch_max), "64", 1, 1024, "batch size"},
    {"rate", IM_CFG_INT, offsetof(cfg_t, rate), "20", 1, 1000, "per second", IM_CFG_LIVE},
    {"verbose", IM_CFG_BOOL, offsetof(cfg_t, verbose), "no", 0, 1, "chatty", IM_CFG_LIVE},
    {"level", IM_CFG_ENUM, offsetof(cfg_t, level), "info", 0, 0, "log level", IM_CFG_LIVE, levels},
    {"host", IM_CFG_STR, offsetof(cfg_t, host), "127.0.0.1", 1, 0, "bind address"},
    IM_CFG_END,
};

static void test_defaults_and_parsing(void)
{
    char err[256];
    cfg_t c = {0};
    CHECK_INT(im_config_load(table, &c, NULL, err, sizeof err), IM_OK);
    CHECK_INT(c.batch_max, 64);
    CHECK_INT(c.rate, 20);
    CHECK_INT(c.verbose, 0);
    CHECK_INT(c.level, 1);
    CHECK_STR(c.host, "127.0.0.1");

    const char *yes[] = {"yes", "YES", "true", "True", "1"}, *no[] = {"no", "false", "FALSE", "0"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
        c.verbose = 0;
        CHECK_INT(im_config_set(table, &c, "verbose", yes[i], err, sizeof err), IM_OK);
        CHECK_INT(c.verbose, 1);
    }
    for (size_t i = 0; i < sizeof no / sizeof *no; i++) {
        c.verbose = 1;
        CHECK_INT(im_config_set(table, &c, "verbose", no[i], err, sizeof err), IM_OK);
        CHECK_INT(c.verbose, 0);
    }
    CHECK_INT(im_config_set(table, &c, "verbose", "maybe", err, sizeof err), IM_ECONFIG);
    CHECK_STR(err, "verbose: 'maybe' is not yes/no");
    CHECK_INT(im_config_set(table, &c, "verbose", "2", err, sizeof err), IM_ECONFIG);

    CHECK_INT(im_config_set(table, &c, "level", "WARN", err, sizeof err), IM_OK);
    CHECK_INT(c.level, 2);
    CHECK_INT(im_config_set(table, &c, "level", "loud", err, sizeof err), IM_ECONFIG);
    CHECK(strstr(err, "debug|info|warn|error") != NULL);
    CHECK_INT(c.level, 2);

    const char *bad_ints[] = {"", "12x", "x", "1.5", "0x10", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad_ints / sizeof *bad_ints; i++) {
        CHECK_INT(im_config_set(table, &c, "batch_max", bad_ints[i], err, sizeof err), IM_ECONFIG);
        CHECK_INT(c.batch_max, 64);
    }
    CHECK_INT(im_config_set(table, &c, "batch_max", "-3", err, sizeof err), IM_ECONFIG);
    CHECK(strstr(err, "outside [1, 1024]") != NULL);
    CHECK_INT(im_config_set(table, &c, "batch_max", "1024", err, sizeof err), IM_OK);
    CHECK_INT(c.batch_max, 1024);
    CHECK_INT(im_config_set(table, &c, "batch_max", "1", err, sizeof err), IM_OK);
    CHECK_INT(im_config_set(table, &c, "batch_max", "1025", err, sizeof err), IM_ECONFIG);
    CHECK_INT(c.batch_max, 1);
    CHECK_INT(im_config_set(table, &c, "host", "", err, sizeof err), IM_ECONFIG);
    CHECK_INT(im_config_set(table, &c, "nope", "1", err, sizeof err), IM_ECONFIG);

    /* a value quoted in a message is printable text */
    CHECK_INT(im_config_set(table, &c, "rate", "1\n\x1b[31m", err, sizeof err), IM_ECONFIG);
    for (const char *p = err; *p; p++) CHECK(*p >= 0x20 && *p < 0x7f);
    im_config_free(table, &c);
}

static void test_set_live(void)
{
    char err[256];
    cfg_t c = {0};
    CHECK_INT(im_config_load(table, &c, NULL, err, sizeof err), IM_OK);

    /* start-only keys are refused whatever the value, and keep theirs */
    CHECK_INT(im_config_set_live(table, &c, "batch_max", "4096", err, sizeof err), IM_EFORBIDDEN);
    CHECK_STR(err, "start-only key, restart to change");
    CHECK_INT(im_config_set_live(table, &c, "batch_max", "32", err, sizeof err), IM_EFORBIDDEN);
    CHECK_INT(c.batch_max, 64);
    CHECK_INT(im_config_set_live(table, &c, "host", "0.0.0.0", err, sizeof err), IM_EFORBIDDEN);
    CHECK_STR(c.host, "127.0.0.1");
    CHECK_INT(im_config_set_live(table, &c, "bogus", "1", err, sizeof err), IM_ENOTFOUND);
    CHECK_STR(err, "unknown key");

    /* live keys: validated as at start; a refused value leaves the old one */
    CHECK_INT(im_config_set_live(table, &c, "rate", "500", err, sizeof err), IM_OK);
    CHECK_INT(IM_CFG_GET(c.rate), 500);
    CHECK_INT(im_config_set_live(table, &c, "rate", "1001", err, sizeof err), IM_ECONFIG);
    CHECK(strstr(err, "1001 is outside [1, 1000]") != NULL);
    CHECK_INT(im_config_set_live(table, &c, "rate", "0", err, sizeof err), IM_ECONFIG);
    CHECK_INT(im_config_set_live(table, &c, "rate", "fast", err, sizeof err), IM_ECONFIG);
    CHECK_STR(err, "not an integer");   /* no value: etcd input goes to a log line */
    CHECK_INT(im_config_set_live(table, &c, "level", "lo\nud", err, sizeof err), IM_ECONFIG);
    CHECK_STR(err, "not one of debug|info|warn|error");
    CHECK_INT(IM_CFG_GET(c.rate), 500);
    CHECK_INT(im_config_set_live(table, &c, "verbose", "yes", err, sizeof err), IM_OK);
    CHECK_INT(IM_CFG_GET(c.verbose), 1);
    CHECK_INT(im_config_set_live(table, &c, "verbose", "sometimes", err, sizeof err), IM_ECONFIG);
    CHECK_INT(IM_CFG_GET(c.verbose), 1);
    CHECK_INT(im_config_set_live(table, &c, "level", "debug", err, sizeof err), IM_OK);
    CHECK_INT(IM_CFG_GET(c.level), 0);

    /* the value as text, as a file spells it */
    char text[64];
    im_config_format(&table[2], &c, text, sizeof text);
    CHECK_STR(text, "yes");
    im_config_format(&table[3], &c, text, sizeof text);
    CHECK_STR(text, "debug");
    im_config_format(im_config_find(table, "rate"), &c, text, sizeof text);
    CHECK_STR(text, "500");
    CHECK(im_config_find(table, "bogus") == NULL);
    im_config_free(table, &c);
}

static void test_bad_tables(void)
{
    typedef struct { char *s; int e; } bad_t;
    const im_cfg_field_t live_str[] = {
        {"s", IM_CFG_STR, offsetof(bad_t, s), "x", 0, 0, "a string", IM_CFG_LIVE}, IM_CFG_END};
    const im_cfg_field_t no_names[] = {
        {"e", IM_CFG_ENUM, offsetof(bad_t, e), "a", 0, 0, "an enum"}, IM_CFG_END};
    char err[256];
    bad_t b = {0};
    CHECK_INT(im_config_load(live_str, &b, NULL, err, sizeof err), IM_EINVAL);
    CHECK(strstr(err, "live key must be INT, BOOL or ENUM") != NULL);
    CHECK_INT(im_config_load(no_names, &b, NULL, err, sizeof err), IM_EINVAL);
}

static void test_dump(void)
{
    char err[256], path[] = "/tmp/cimcfgdumpXXXXXX";
    cfg_t c = {0};
    CHECK_INT(im_config_load(table, &c, NULL, err, sizeof err), IM_OK);
    int fd = mkstemp(path);
    im_config_dump(table, &c, "im-test", fd);
    char buf[4096] = {0};
    CHECK(pread(fd, buf, sizeof buf - 1, 0) > 0);
    close(fd);
    unlink(path);
    CHECK(strstr(buf, "# batch size\n# start-only\nbatch_max = 64\n") != NULL);
    CHECK(strstr(buf, "# per second\n# live: may be changed at run time through "
                      "/im/config/im-test/rate\nrate = 20\n") != NULL);
    CHECK(strstr(buf, "level = info\n") != NULL);
    CHECK(strstr(buf, "verbose = no\n") != NULL);

    /* and the dump reads back as the same configuration */
    char path2[] = "/tmp/cimcfgdumpXXXXXX";
    fd = mkstemp(path2);
    CHECK(write(fd, buf, strlen(buf)) == (ssize_t)strlen(buf));
    close(fd);
    cfg_t d = {0};
    CHECK_INT(im_config_load(table, &d, path2, err, sizeof err), IM_OK);
    CHECK_INT(d.batch_max, c.batch_max);
    CHECK_INT(d.level, c.level);
    unlink(path2);
    im_config_free(table, &d);
    im_config_free(table, &c);
}

int main(void)
{
    test_defaults_and_parsing();
    test_set_live();
    test_bad_tables();
    test_dump();
    IM_TEST_DONE();
}
