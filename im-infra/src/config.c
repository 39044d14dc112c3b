/* config.c — defaults, then file, then environment; every value validated. */
#include "im/config.h"
#include "im/err.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const im_cfg_field_t *find(const im_cfg_field_t *t, const char *name)
{
    for (; t->name; t++)
        if (strcmp(t->name, name) == 0) return t;
    return NULL;
}

static int set_field(const im_cfg_field_t *f, void *cfg, const char *value, char *err,
                     size_t errlen)
{
    char *slot = (char *)cfg + f->offset;
    switch (f->type) {
    case IM_CFG_INT: {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end != '\0') {
            snprintf(err, errlen, "%s: '%s' is not an integer", f->name, value);
            return IM_ECONFIG;
        }
        if (v < f->min || v > f->max) {
            snprintf(err, errlen, "%s: %lld is outside [%lld, %lld]", f->name, v, f->min, f->max);
            return IM_ECONFIG;
        }
        *(int *)slot = (int)v;
        return IM_OK;
    }
    case IM_CFG_BOOL:
        if (!strcasecmp(value, "yes") || !strcasecmp(value, "true") || !strcmp(value, "1")) {
            *(int *)slot = 1;
        } else if (!strcasecmp(value, "no") || !strcasecmp(value, "false") || !strcmp(value, "0")) {
            *(int *)slot = 0;
        } else {
            snprintf(err, errlen, "%s: '%s' is not yes/no", f->name, value);
            return IM_ECONFIG;
        }
        return IM_OK;
    case IM_CFG_STR:
        if (f->min > 0 && *value == '\0') {
            snprintf(err, errlen, "%s: must not be empty", f->name);
            return IM_ECONFIG;
        }
        im_free(*(char **)slot);
        *(char **)slot = im_strdup(value);
        return IM_OK;
    }
    return IM_EINVAL;
}

int im_config_set(const im_cfg_field_t *table, void *cfg, const char *name, const char *value,
                  char *err, size_t errlen)
{
    const im_cfg_field_t *f = find(table, name);
    if (f == NULL) {
        snprintf(err, errlen, "unknown key '%s'", name);
        return IM_ECONFIG;
    }
    return set_field(f, cfg, value, err, errlen);
}

int im_config_set_live(const im_cfg_field_t *table, void *cfg, const char *name,
                       const char *value, char *err, size_t errlen)
{
    const im_cfg_field_t *f = find(table, name);
    if (f == NULL || f->type == IM_CFG_STR) {
        snprintf(err, errlen, "%s: %s", name, f ? "string keys need a restart" : "unknown key");
        return IM_EINVAL;
    }
    int v = 0;
    const im_cfg_field_t one[] = {{"value", f->type, 0, NULL, f->min, f->max, NULL}, IM_CFG_END};
    int rc = set_field(&one[0], &v, value, err, errlen);
    if (rc == IM_OK) __atomic_store_n((int *)((char *)cfg + f->offset), v, __ATOMIC_RELAXED);
    return rc;
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

int im_config_load(const im_cfg_field_t *table, void *cfg, const char *path, char *err,
                   size_t errlen)
{
    for (const im_cfg_field_t *f = table; f->name; f++) {
        if (f->type == IM_CFG_STR && f->min > 0 && (f->def == NULL || !*f->def)) {
            /* required: the default "" is set now and checked after file + env */
            *(char **)((char *)cfg + f->offset) = im_strdup("");
            continue;
        }
        int rc = set_field(f, cfg, f->def ? f->def : "", err, errlen);
        if (rc != IM_OK) return rc;
    }
    if (path) {
        int rc = load_file(table, cfg, path, err, errlen);
        if (rc != IM_OK) return rc;
    }
    for (const im_cfg_field_t *f = table; f->name; f++) {
        char env[96] = "CIM_";
        size_t i = 4;
        for (const char *p = f->name; *p && i < sizeof env - 1; p++)
            env[i++] = (char)toupper((unsigned char)*p);
        env[i] = '\0';
        const char *v = getenv(env);
        if (v == NULL) continue;
        char msg[200];
        if (set_field(f, cfg, v, msg, sizeof msg) != IM_OK) {
            snprintf(err, errlen, "%s (from $%s)", msg, env);
            return IM_ECONFIG;
        }
    }
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

void im_config_dump(const im_cfg_field_t *table, const void *cfg, int fd)
{
    FILE *fp = fdopen(dup(fd), "w");
    if (fp == NULL) return;
    for (const im_cfg_field_t *f = table; f->name; f++) {
        const char *slot = (const char *)cfg + f->offset;
        fprintf(fp, "# %s\n", f->help);
        if (f->type == IM_CFG_STR && f->min > 0 && !**(char *const *)slot)
            fprintf(fp, "# required, no default: set it here or in the environment\n# %s =\n\n", f->name);
        else if (f->type == IM_CFG_STR)
            fprintf(fp, "%s = %s\n\n", f->name, *(char *const *)slot);
        else if (f->type == IM_CFG_BOOL)
            fprintf(fp, "%s = %s\n\n", f->name, *(const int *)slot ? "yes" : "no");
        else
            fprintf(fp, "%s = %d\n\n", f->name, *(const int *)slot);
    }
    fclose(fp);
}
