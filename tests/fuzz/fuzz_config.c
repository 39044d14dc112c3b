/* fuzz_config.c — a config file of any bytes through im_config_load (every key type),
 * and `key value` pairs through im_config_set_live as an etcd change would arrive: no
 * crash, no leak, and a value accepted is within its key's bounds. */
#include "im/config.h"
#include "im/err.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct {
    int n;
    char *s;
    char *req;
    int b;
    int e;
    int live_n;
} cfg_t;

static const char *const words[] = {"debug", "info", "warn", NULL};

static const im_cfg_field_t table[] = {
    {"n", IM_CFG_INT, offsetof(cfg_t, n), "5", 1, 100, "an int"},
    {"s", IM_CFG_STR, offsetof(cfg_t, s), "", 0, 0, "a string"},
    {"req", IM_CFG_STR, offsetof(cfg_t, req), "x", 1, 0, "a required string"},
    {"b", IM_CFG_BOOL, offsetof(cfg_t, b), "no", 0, 1, "a bool", IM_CFG_LIVE},
    {"e", IM_CFG_ENUM, offsetof(cfg_t, e), "info", 0, 0, "an enum", IM_CFG_LIVE, words},
    {"live_n", IM_CFG_INT, offsetof(cfg_t, live_n), "0", -10, 10, "a live int", IM_CFG_LIVE},
    IM_CFG_END,
};

static void check(const cfg_t *c)
{
    if (c->n < 1 || c->n > 100 || c->live_n < -10 || c->live_n > 10 || (c->b != 0 && c->b != 1) || c->e < 0 ||
        c->e > 2 || c->req == NULL || c->req[0] == '\0')
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    if (fd < 0) fd = memfd_create("cim-fuzz-config", 0);
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size) return 0;
    char path[64], err[256];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    cfg_t c;
    memset(&c, 0, sizeof c);
    if (im_config_load(table, &c, path, err, sizeof err) == IM_OK) {
        check(&c);
        /* each line as a live change: "key value" */
        char *text = malloc(size + 1);
        memcpy(text, data, size);
        text[size] = '\0';
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
            char *sp = strchr(line, ' ');
            if (sp == NULL) continue;
            *sp = '\0';
            im_config_set_live(table, &c, line, sp + 1, err, sizeof err);
            check(&c);
        }
        free(text);
    }
    im_config_free(table, &c);
    return 0;
}
