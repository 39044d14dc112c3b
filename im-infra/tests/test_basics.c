/* test_basics.c — err, config, snowflake and the admin port. */
#include "im/config.h"
#include "im/err.h"
#include "im/log.h"
#include "im/metrics.h"
#include "im/snowflake.h"
#include "im_test.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    int port;
    char *name;
    int verbose;
} cfg_t;

static const im_cfg_field_t table[] = {
    {"port", IM_CFG_INT, offsetof(cfg_t, port), "8080", 1, 65535, "listen port"},
    {"name", IM_CFG_STR, offsetof(cfg_t, name), NULL, 1, 0, "required name"},
    {"verbose", IM_CFG_BOOL, offsetof(cfg_t, verbose), "no", 0, 1, "chatty logs"},
    IM_CFG_END,
};

static void test_config(void)
{
    char err[256];
    cfg_t c = {0};
    char path[] = "/tmp/cimcfgXXXXXX";
    int fd = mkstemp(path);
    dprintf(fd, "# comment\nport = 9000\n  name = alpha  \nverbose = yes\n");
    close(fd);

    CHECK_INT(im_config_load(table, &c, path, err, sizeof err), IM_OK);
    CHECK_INT(c.port, 9000);
    CHECK_STR(c.name, "alpha");
    CHECK_INT(c.verbose, 1);
    im_config_free(table, &c);

    setenv("CIM_PORT", "9100", 1);
    CHECK_INT(im_config_load(table, &c, path, err, sizeof err), IM_OK);
    CHECK_INT(c.port, 9100); /* environment wins over the file */
    im_config_free(table, &c);

    setenv("CIM_PORT", "70000", 1);
    CHECK_INT(im_config_load(table, &c, path, err, sizeof err), IM_ECONFIG);
    CHECK(strstr(err, "port") != NULL && strstr(err, "outside") != NULL);
    im_config_free(table, &c);
    setenv("CIM_PORT", "12x", 1);
    CHECK_INT(im_config_load(table, &c, path, err, sizeof err), IM_ECONFIG);
    im_config_free(table, &c);
    unsetenv("CIM_PORT");

    CHECK_INT(im_config_load(table, &c, NULL, err, sizeof err), IM_ECONFIG); /* name required */
    CHECK(strstr(err, "name") != NULL);
    im_config_free(table, &c);

    fd = open(path, O_WRONLY | O_TRUNC);
    dprintf(fd, "name = x\nbogus = 1\n");
    close(fd);
    CHECK_INT(im_config_load(table, &c, path, err, sizeof err), IM_ECONFIG);
    CHECK(strstr(err, ":2:") != NULL && strstr(err, "bogus") != NULL);
    im_config_free(table, &c);
    unlink(path);
}

static void test_snowflake(void)
{
    im_snowflake_t sf;
    CHECK_INT(im_snowflake_init(&sf, 1024), IM_EINVAL);
    CHECK_INT(im_snowflake_init(&sf, 7), IM_OK);
    uint64_t prev = 0;
    int ordered = 1;
    for (int i = 0; i < 100000; i++) { /* > 4096 per ms: crosses the sequence limit */
        uint64_t id = im_snowflake_next(&sf);
        if (id <= prev) ordered = 0;
        prev = id;
    }
    CHECK(ordered);
    CHECK_INT(im_snowflake_worker(prev), 7);
    long long skew = im_snowflake_time_ms(prev) - (long long)time(NULL) * 1000;
    CHECK(skew > -5000 && skew < 5000);
    im_snowflake_fini(&sf);
}

static int health(void *ud, char *text, int len)
{
    snprintf(text, (size_t)len, "%s", *(int *)ud ? "down" : "ok");
    return *(int *)ud;
}

static int http_get(int port, const char *path, char *out, size_t outlen)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) return -1;
    dprintf(fd, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
    size_t n = 0;
    ssize_t r;
    while (n < outlen - 1 && (r = read(fd, out + n, outlen - 1 - n)) > 0) n += (size_t)r;
    out[n] = '\0';
    close(fd);
    return atoi(out + 9);
}

static void test_admin(void)
{
    int down = 0;
    im_metric_t *m = im_metric_new(IM_METRIC_COUNTER, "cim_test_events_total", "test events");
    im_metric_add(m, 41);
    im_metric_add(m, 1);
    im_metric_t *h = im_metric_new(IM_METRIC_HISTOGRAM, "cim_test_hop_seconds", "test hop");
    im_metric_observe_us(h, 300);      /* in le=0.0005 */
    im_metric_observe_us(h, 1000);     /* exactly on le=0.001 */
    im_metric_observe_us(h, 9000000);  /* past every bound */
    im_admin_t *a = im_admin_start("127.0.0.1", 0, health, &down);
    CHECK(a != NULL);
    char buf[8192];
    CHECK_INT(http_get(im_admin_port(a), "/healthz", buf, sizeof buf), 200);
    CHECK_INT(http_get(im_admin_port(a), "/metrics", buf, sizeof buf), 200);
    CHECK(strstr(buf, "cim_test_events_total 42") != NULL);
    CHECK(strstr(buf, "# TYPE cim_test_hop_seconds histogram") != NULL);
    CHECK(strstr(buf, "cim_test_hop_seconds_bucket{le=\"0.00025\"} 0\n") != NULL);
    CHECK(strstr(buf, "cim_test_hop_seconds_bucket{le=\"0.0005\"} 1\n") != NULL);
    CHECK(strstr(buf, "cim_test_hop_seconds_bucket{le=\"0.001\"} 2\n") != NULL);
    CHECK(strstr(buf, "cim_test_hop_seconds_bucket{le=\"5\"} 2\n") != NULL);
    CHECK(strstr(buf, "cim_test_hop_seconds_bucket{le=\"+Inf\"} 3\n") != NULL);
    CHECK(strstr(buf, "cim_test_hop_seconds_sum 9.001300\ncim_test_hop_seconds_count 3\n") != NULL);
    CHECK(strstr(buf, "process_resident_memory_bytes") != NULL);
    down = 1;
    CHECK_INT(http_get(im_admin_port(a), "/healthz", buf, sizeof buf), 503);
    CHECK_INT(http_get(im_admin_port(a), "/nope", buf, sizeof buf), 404);
    im_admin_stop(a);
}

int main(void)
{
    im_log_init("test", IM_LOG_WARN);
    CHECK_STR(im_strerror(IM_ENOTFOUND), "not found");
    CHECK_STR(im_strerror(12345), "unknown error");
    test_config();
    test_snowflake();
    test_admin();
    IM_TEST_DONE();
}
