/* config.c — defaults, then file, then environment; every value validated. Live keys
 * change at run time through im_config_set_live(), one atomic store each. */
#include "im/config.h"
#include "im/err.h"
#include "im/etcd.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

const im_cfg_field_t *im_config_find(const im_cfg_field_t *t, const char *name)
{
    for (; t->name; t++)
        if (strcmp(t->name, name) == 0) return t;
    return NULL;
}

/* Up to 32 bytes of s for an error message: anything but printable ASCII becomes '?',
 * a longer value ends in "...". */
static const char *printable(char out[40], const char *s)
{
    size_t i = 0;
    for (; s[i] && i < 32; i++) out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    strcpy(out + i, s[i] ? "..." : "");
    return out;
}

/* Parses an INT, BOOL or ENUM value of f. err says why not, without f's name; it quotes
 * the value (made printable) only if quote: a run-time value from etcd is operator input
 * that reaches a log line, so it is left out there. */
static int parse_number(const im_cfg_field_t *f, const char *value, int quote, int *out,
                        char *err, size_t errlen)
{
    char shown[40], head[48] = "";
    if (quote) snprintf(head, sizeof head, "'%s' is ", printable(shown, value));
    switch (f->type) {
    case IM_CFG_INT: {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end != '\0') {
            snprintf(err, errlen, "%snot an integer", head);
            return IM_ECONFIG;
        }
        if (v < f->min || v > f->max) {
            snprintf(err, errlen, "%lld is outside [%lld, %lld]", v, f->min, f->max);
            return IM_ECONFIG;
        }
        *out = (int)v;
        return IM_OK;
    }
    case IM_CFG_BOOL:
        if (!strcasecmp(value, "yes") || !strcasecmp(value, "true") || !strcmp(value, "1")) {
            *out = 1;
        } else if (!strcasecmp(value, "no") || !strcasecmp(value, "false") || !strcmp(value, "0")) {
            *out = 0;
        } else {
            snprintf(err, errlen, "%snot yes/no", head);
            return IM_ECONFIG;
        }
        return IM_OK;
    case IM_CFG_ENUM: {
        int n = 0;
        for (; f->names[n]; n++)
            if (strcasecmp(value, f->names[n]) == 0) {
                *out = n;
                return IM_OK;
            }
        size_t len = (size_t)snprintf(err, errlen, "%snot one of ", head);
        for (int i = 0; i < n && len < errlen; i++)
            len += (size_t)snprintf(err + len, errlen - len, "%s%s", i ? "|" : "", f->names[i]);
        return IM_ECONFIG;
    }
    case IM_CFG_STR:
        break;
    }
    snprintf(err, errlen, "not a number");
    return IM_EINVAL;
}

/* Start-up only (no other thread yet). err says why not, without f's name. */
static int set_field(const im_cfg_field_t *f, void *cfg, const char *value, char *err,
                     size_t errlen)
{
    char *slot = (char *)cfg + f->offset;
    if (f->type == IM_CFG_STR) {
        if (f->min > 0 && *value == '\0') {
            snprintf(err, errlen, "must not be empty");
            return IM_ECONFIG;
        }
        im_free(*(char **)slot);
        *(char **)slot = im_strdup(value);
        return IM_OK;
    }
    int v;
    int rc = parse_number(f, value, 1, &v, err, errlen);
    if (rc == IM_OK) *(int *)slot = v;
    return rc;
}

int im_config_set(const im_cfg_field_t *table, void *cfg, const char *name, const char *value,
                  char *err, size_t errlen)
{
    const im_cfg_field_t *f = im_config_find(table, name);
    char shown[40], why[160];
    if (f == NULL) {
        snprintf(err, errlen, "unknown key '%s'", printable(shown, name));
        return IM_ECONFIG;
    }
    int rc = set_field(f, cfg, value, why, sizeof why);
    if (rc != IM_OK) snprintf(err, errlen, "%s: %s", f->name, why);
    return rc;
}

int im_config_set_live(const im_cfg_field_t *table, void *cfg, const char *name,
                       const char *value, char *err, size_t errlen)
{
    const im_cfg_field_t *f = im_config_find(table, name);
    if (f == NULL) {
        snprintf(err, errlen, "unknown key");
        return IM_ENOTFOUND;
    }
    if (!(f->flags & IM_CFG_LIVE)) {
        snprintf(err, errlen, "start-only key, restart to change");
        return IM_EFORBIDDEN;
    }
    int v;
    int rc = parse_number(f, value, 0, &v, err, errlen);
    if (rc == IM_OK) __atomic_store_n((int *)((char *)cfg + f->offset), v, __ATOMIC_RELAXED);
    return rc;
}

void im_config_format(const im_cfg_field_t *f, const void *cfg, char *out, size_t outlen)
{
    const char *slot = (const char *)cfg + f->offset;
    if (f->type == IM_CFG_STR) {
        const char *s = *(char *const *)slot;
        snprintf(out, outlen, "%s", s ? s : "");
        return;
    }
    int v = IM_CFG_GET(*(const int *)slot);
    if (f->type == IM_CFG_BOOL) snprintf(out, outlen, "%s", v ? "yes" : "no");
    else if (f->type == IM_CFG_ENUM) snprintf(out, outlen, "%s", f->names[v]);
    else snprintf(out, outlen, "%d", v);
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = '\0';
    return s;
}

static int load_file(const im_cfg_field_t *table, void *cfg, const char *path, char *err,
                     size_t errlen)
{
    FILE *fp = fopen(path, "r");
    if (fp == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return IM_ECONFIG;
    }
    char line[1024];
    int lineno = 0, rc = IM_OK;
    while (rc == IM_OK && fgets(line, sizeof line, fp)) {
        lineno++;
        char *s = trim(line);
        if (*s == '\0' || *s == '#') continue;
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            snprintf(err, errlen, "%s:%d: expected key = value", path, lineno);
            rc = IM_ECONFIG;
            break;
        }
        *eq = '\0';
        char msg[200];
        rc = im_config_set(table, cfg, trim(s), trim(eq + 1), msg, sizeof msg);
        if (rc != IM_OK) snprintf(err, errlen, "%s:%d: %s", path, lineno, msg);
    }
    fclose(fp);
    return rc;
}

/* The table itself: a live key must be one `int`, an ENUM needs its words. */
static int check_table(const im_cfg_field_t *table, char *err, size_t errlen)
{
    for (const im_cfg_field_t *f = table; f->name; f++) {
        if ((f->flags & IM_CFG_LIVE) && f->type == IM_CFG_STR) {
            snprintf(err, errlen, "%s: a live key must be INT, BOOL or ENUM", f->name);
            return IM_EINVAL;
        }
        if (f->type == IM_CFG_ENUM && (f->names == NULL || f->names[0] == NULL)) {
            snprintf(err, errlen, "%s: an ENUM key needs its names", f->name);
            return IM_EINVAL;
        }
    }
    return IM_OK;
}

static int set_defaults(const im_cfg_field_t *table, void *cfg, char *err, size_t errlen)
{
    for (const im_cfg_field_t *f = table; f->name; f++) {
        if (f->type == IM_CFG_STR && f->min > 0 && (f->def == NULL || !*f->def)) {
            /* required: the default "" is set now and checked after file + env */
            *(char **)((char *)cfg + f->offset) = im_strdup("");
            continue;
        }
        char why[160];
        if (set_field(f, cfg, f->def ? f->def : "", why, sizeof why) != IM_OK) {
            snprintf(err, errlen, "%s: %s (the default)", f->name, why);
            return IM_ECONFIG;
        }
    }
    return IM_OK;
}

static int load_env(const im_cfg_field_t *table, void *cfg, char *err, size_t errlen)
{
    for (const im_cfg_field_t *f = table; f->name; f++) {
        char env[96] = "CIM_";
        size_t i = 4;
        for (const char *p = f->name; *p && i < sizeof env - 1; p++)
            env[i++] = (char)toupper((unsigned char)*p);
        env[i] = '\0';
        const char *v = getenv(env);
        if (v == NULL) continue;
        char why[160];
        if (set_field(f, cfg, v, why, sizeof why) != IM_OK) {
            snprintf(err, errlen, "%s: %s (from $%s)", f->name, why, env);
            return IM_ECONFIG;
        }
    }
    return IM_OK;
}

int im_config_load(const im_cfg_field_t *table, void *cfg, const char *path, char *err,
                   size_t errlen)
{
    int rc = check_table(table, err, errlen);
    if (rc == IM_OK) rc = set_defaults(table, cfg, err, errlen);
    if (rc == IM_OK && path) rc = load_file(table, cfg, path, err, errlen);
    if (rc == IM_OK) rc = load_env(table, cfg, err, errlen);
    if (rc != IM_OK) return rc;
    for (const im_cfg_field_t *f = table; f->name; f++)
        if (f->type == IM_CFG_STR && f->min > 0 && !**(char **)((char *)cfg + f->offset)) {
            snprintf(err, errlen, "%s: required", f->name);
            return IM_ECONFIG;
        }
    return IM_OK;
}

void im_config_free(const im_cfg_field_t *table, void *cfg)
{
    for (const im_cfg_field_t *f = table; f->name; f++)
        if (f->type == IM_CFG_STR) {
            char **slot = (char **)((char *)cfg + f->offset);
            im_free(*slot);
            *slot = NULL;
        }
}

void im_config_dump(const im_cfg_field_t *table, const void *cfg, const char *service, int fd)
{
    FILE *fp = fdopen(dup(fd), "w");
    if (fp == NULL) return;
    for (const im_cfg_field_t *f = table; f->name; f++) {
        fprintf(fp, "# %s\n", f->help);
        if (f->flags & IM_CFG_LIVE)
            fprintf(fp, "# live: may be changed at run time through %s%s/%s\n",
                    IM_ETCD_CONFIG_PREFIX, service, f->name);
        else
            fprintf(fp, "# start-only\n");
        char value[1024];
        im_config_format(f, cfg, value, sizeof value);
        if (f->type == IM_CFG_STR && f->min > 0 && !*value)
            fprintf(fp, "# required, no default: set it here or in the environment\n# %s =\n\n",
                    f->name);
        else
            fprintf(fp, "%s = %s\n\n", f->name, value);
    }
    fclose(fp);
}
