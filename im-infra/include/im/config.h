/* config.h — a declarative config table per daemon (like redis config.c).
 *
 * Each daemon lists its keys once: name, type, where the value lives in its config
 * struct, the default, the bounds and a one-line help. im_config_load() applies the
 * defaults, then the file (`key = value`, `#` comments), then the environment
 * (`CIM_<KEY>` upper-cased, e.g. CIM_GRPC_PORT), and validates every value. */
#ifndef IM_CONFIG_H
#define IM_CONFIG_H

#include <stddef.h>

typedef enum { IM_CFG_INT, IM_CFG_STR, IM_CFG_BOOL } im_cfg_type_t;

/* Flags of a key. A key without IM_CFG_LIVE is start-only (redis IMMUTABLE_CONFIG): read
 * once at start, refused from /im/config/ at run time. IM_CFG_LIVE keys (redis
 * MODIFIABLE_CONFIG) may change while the daemon runs: never size a buffer by one, and
 * read them with IM_CFG_GET. */
#define IM_CFG_LIVE 1

typedef struct {
    const char *name;
    im_cfg_type_t type;  /* INT and BOOL store an `int`, STR a `char *` owned by the struct */
    size_t offset;       /* offsetof(config struct, field) */
    const char *def;     /* default as text; NULL = "" for strings */
    long long min, max;  /* INT bounds; for STR min = 1 means "required non-empty" */
    const char *help;
    int flags;           /* IM_CFG_LIVE, or 0: start-only */
} im_cfg_field_t;

#define IM_CFG_END {NULL, 0, 0, NULL, 0, 0, NULL, 0}

/* Reads a live INT/BOOL key (another thread may store it at any time). */
#define IM_CFG_GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

/* path may be NULL (defaults + environment only). On failure err says which key and why. */
int im_config_load(const im_cfg_field_t *table, void *cfg, const char *path, char *err,
                   size_t errlen);
/* Set one key from text, as a file line would (used by the loader and by /im/config/ watches). */
int im_config_set(const im_cfg_field_t *table, void *cfg, const char *name, const char *value,
                  char *err, size_t errlen);
/* At run time (an /im/config/ change): INT and BOOL keys only, stored atomically; strings
 * need a restart (IM_EINVAL). */
int im_config_set_live(const im_cfg_field_t *table, void *cfg, const char *name,
                       const char *value, char *err, size_t errlen);
void im_config_free(const im_cfg_field_t *table, void *cfg);   /* frees the strings */
/* Writes every key with its help and current value, as an example file would read. */
void im_config_dump(const im_cfg_field_t *table, const void *cfg, int fd);

#endif
