/* config.h — a declarative config table per daemon (like redis config.c).
 *
 * Each daemon lists its keys once: name, type, where the value lives in its config
 * struct, the default, the bounds, a one-line help and whether the key is live.
 * im_config_load() applies the defaults, then the file (`key = value`, `#` comments),
 * then the environment (`CIM_<KEY>` upper-cased, e.g. CIM_GRPC_PORT), and validates
 * every value.
 *
 * Run-time changes (etcd /im/config/{service}/{key}, applied by daemon.c):
 *   - only IM_CFG_LIVE keys change; a start-only key is refused ("start-only key, restart
 *     to change") and logged, the running value stays;
 *   - a value is validated exactly as at start (type, [min, max]); a refused value
 *     leaves the key as it was;
 *   - deleting the etcd key reverts the key to the value the daemon started with (file,
 *     environment or default);
 *   - live keys are INT, BOOL or ENUM (one `int`), stored with an atomic store, and read
 *     with IM_CFG_GET: each read sees either the old or the new value, never a torn one.
 *     A reader that uses a live key twice in one decision loads it once into a local. */
#ifndef IM_CONFIG_H
#define IM_CONFIG_H

#include <stddef.h>

typedef enum {
    IM_CFG_INT,
    IM_CFG_STR,
    IM_CFG_BOOL,   /* yes/no, true/false, 1/0 */
    IM_CFG_ENUM,   /* one of `names`; stores its index */
} im_cfg_type_t;

/* Flags of a key. A key without IM_CFG_LIVE is start-only (redis IMMUTABLE_CONFIG): read
 * once at start, refused from /im/config/ at run time. IM_CFG_LIVE keys (redis
 * MODIFIABLE_CONFIG) may change while the daemon runs: never size a buffer by one, and
 * read them with IM_CFG_GET. */
#define IM_CFG_LIVE 1

typedef struct {
    const char *name;
    im_cfg_type_t type;  /* INT, BOOL and ENUM store an `int`, STR a `char *` owned by the struct */
    size_t offset;       /* offsetof(config struct, field) */
    const char *def;     /* default as text; NULL = "" for strings */
    long long min, max;  /* INT bounds; for STR min = 1 means "required non-empty" */
    const char *help;
    int flags;           /* IM_CFG_LIVE, or 0: start-only */
    const char *const *names;   /* ENUM: the accepted words, NULL-terminated */
} im_cfg_field_t;

#define IM_CFG_END {NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL}

/* Reads a live INT/BOOL/ENUM key (another thread may store it at any time). */
#define IM_CFG_GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

/* path may be NULL (defaults + environment only). On failure err says which key and why. */
int im_config_load(const im_cfg_field_t *table, void *cfg, const char *path, char *err,
                   size_t errlen);
/* Set one key from text, as a file line would (used by the loader; start-up only). */
int im_config_set(const im_cfg_field_t *table, void *cfg, const char *name, const char *value,
                  char *err, size_t errlen);
/* At run time (an /im/config/ change), from any one thread: IM_CFG_LIVE keys only, validated
 * as at start, stored atomically. IM_ENOTFOUND for an unknown key, IM_EFORBIDDEN for a
 * start-only key, IM_ECONFIG for a bad value; err then says why, without the key's name and
 * without the value (fit for a log line). */
int im_config_set_live(const im_cfg_field_t *table, void *cfg, const char *name,
                       const char *value, char *err, size_t errlen);
/* The field of `name`, NULL if the table has none. */
const im_cfg_field_t *im_config_find(const im_cfg_field_t *table, const char *name);
/* f's current value as text, as the file would spell it (INT/BOOL/ENUM read atomically). */
void im_config_format(const im_cfg_field_t *f, const void *cfg, char *out, size_t outlen);
void im_config_free(const im_cfg_field_t *table, void *cfg);   /* frees the strings */
/* Writes every key with its help, whether it is live (changed through
 * /im/config/{service}/{key}) or start-only, and its current value, as an example file
 * would read. */
void im_config_dump(const im_cfg_field_t *table, const void *cfg, const char *service, int fd);

#endif
