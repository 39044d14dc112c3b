/* mysql.h — a thread-safe MySQL/MariaDB connection pool; prepared statements only.
 *
 * Each connection caches its prepared statements by SQL text, so the hot path pays the
 * prepare once per connection. The cache is bounded (least recently used statements are
 * closed), so callers that build SQL text cannot walk the server to its
 * max_prepared_stmt_count; still, build texts in a few fixed shapes, not one per row count.
 * Every parameter is bound, never spliced into SQL. A connection that lost its server is
 * reconnected (and its cache dropped) on next acquire. */
#ifndef IM_MYSQL_H
#define IM_MYSQL_H

#include <mysql.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    const char *host;
    int port;
    const char *user;
    const char *password;
    const char *db;
    int connect_timeout_s;
    int stmt_cache;         /* prepared statements kept per connection; 0 = IM_MYSQL_STMT_CACHE */
} im_mysql_opts_t;

/* im-repo uses about 60 texts (7 shapes of each multi-row statement, plus single-row
 * ones): the default keeps them all with room to spare. Server-wide that is at most
 * connections x this, far below MariaDB's default max_prepared_stmt_count (16382). */
#define IM_MYSQL_STMT_CACHE 128

typedef struct im_mysql_pool_s im_mysql_pool_t;

im_mysql_pool_t *im_mysql_pool_new(const im_mysql_opts_t *o, int size);  /* NULL if the first connect fails */
void im_mysql_pool_free(im_mysql_pool_t *p);                             /* NULL ok */
MYSQL *im_mysql_acquire(im_mysql_pool_t *p);   /* blocks until one is free; NULL if it cannot connect */
void im_mysql_release(im_mysql_pool_t *p, MYSQL *m);

typedef enum { IM_MYSQL_NULL, IM_MYSQL_I64, IM_MYSQL_U64, IM_MYSQL_STR } im_mysql_type_t;
typedef struct {
    im_mysql_type_t type;
    union {
        int64_t i64;
        uint64_t u64;
        struct {
            const char *s;
            size_t len;
        } str;
    };
} im_mysql_param_t;

#define IM_MP_NULL() ((im_mysql_param_t){.type = IM_MYSQL_NULL})
#define IM_MP_I64(v) ((im_mysql_param_t){.type = IM_MYSQL_I64, .i64 = (int64_t)(v)})
#define IM_MP_U64(v) ((im_mysql_param_t){.type = IM_MYSQL_U64, .u64 = (uint64_t)(v)})
#define IM_MP_STRN(v, n) ((im_mysql_param_t){.type = IM_MYSQL_STR, .str = {(v), (n)}})
#define IM_MP_STR(v) IM_MP_STRN((v), strlen(v))

/* Rows reach row_fn with every column as a NUL-terminated string (NULL for SQL NULL) and
 * its length; row_fn returns 0 to go on. affected and insert_id may be NULL.
 * Returns IM_OK, IM_EEXISTS on a duplicate key (1062), IM_EINVAL when the server refused
 * or altered a value (too long, out of range, wrong type: a strict-mode error, or any
 * warning that is not a Note or deprecated syntax — the statement's effects stay, so run
 * writes in a transaction and roll back), IM_EIO otherwise (logged). */
typedef int (*im_mysql_row_fn)(void *ud, char **cols, unsigned long *lens, unsigned ncols);
int im_mysql_exec(MYSQL *m, const char *sql, const im_mysql_param_t *params, unsigned nparams,
                  im_mysql_row_fn row_fn, void *ud, uint64_t *affected, uint64_t *insert_id);

int im_mysql_begin(MYSQL *m);
int im_mysql_commit(MYSQL *m);
int im_mysql_rollback(MYSQL *m);

#endif
