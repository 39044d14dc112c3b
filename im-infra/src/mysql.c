/* mysql.c — the pool and the prepared-statement executor.
 *
 * A pooled connection is an im_conn_t whose first member is the MYSQL handle, so the
 * MYSQL * callers hold leads back to its statement cache without a lookup. The cache is
 * a list in recency order, at most stmt_cap long: a hit moves to the front, a miss past
 * the cap closes the statement at the back (freeing it on the server too).
 *
 * Every statement, begin, commit and rollback is timed (wall clock, two clock reads):
 * cim_sql_seconds{op}, cim_sql_errors_total{op} (a duplicate key is an answer, not an
 * error), and an "sql" span under the calling thread's trace span when that is sampled. */
#include "im/mysql.h"
#include "im/clock.h"
#include "im/err.h"
#include "im/log.h"
#include "im/metrics.h"
#include "im/trace.h"

#include <errmsg.h>
#include <mysqld_error.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct stmt_s {
    struct stmt_s *prev, *next;   /* recency list: most recently used first */
    uint64_t hash;                /* of sql, to skip most string compares */
    size_t len;
    char *sql;
    MYSQL_STMT *stmt;
} stmt_t;

typedef struct {
    MYSQL mysql;          /* first: (im_conn_t *)m */
    stmt_t *head, *tail;  /* prepared statements of this connection */
    int nstmts, stmt_cap;
    MYSQL_BIND *binds;    /* parameter binds, grown to the most any statement took */
    unsigned nbinds;
    int connected;
    int broken;           /* lost the server: reconnect on next acquire */
} im_conn_t;

struct im_mysql_pool_s {
    im_mysql_opts_t o;    /* strings owned */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    im_conn_t **idle;     /* stack of idle connections */
    int nidle;
    int size;
};

enum { OP_EXEC, OP_BEGIN, OP_COMMIT, OP_ROLLBACK, NOPS };
static const char *const op_names[NOPS] = {"exec", "begin", "commit", "rollback"};
static im_metric_t *g_seconds[NOPS], *g_errors[NOPS];   /* set once by register_metrics */
static pthread_once_t g_metrics_once = PTHREAD_ONCE_INIT;

static void register_metrics(void)
{
    for (int i = 0; i < NOPS; i++) {
        char labels[32];
        snprintf(labels, sizeof labels, "op=\"%s\"", op_names[i]);
        g_seconds[i] = im_metric_new_l(IM_METRIC_HISTOGRAM, "cim_sql_seconds",
                                       "MySQL round trips by operation", labels);
        g_errors[i] = im_metric_new_l(IM_METRIC_COUNTER, "cim_sql_errors_total",
                                      "MySQL operations that failed (duplicate keys excluded)", labels);
    }
}

/* Records one finished operation that started at start_us (wall clock). */
static int timed(int op, int64_t start_us, const char *sql, int rc)
{
    int64_t end_us = im_clock_wall_us();
    im_metric_observe_us(g_seconds[op], end_us - start_us);
    if (rc != IM_OK && rc != IM_EEXISTS) im_metric_add(g_errors[op], 1);
    const im_span_t *cur = im_span_current();
    if (cur && cur->sampled) {
        char text[81];
        snprintf(text, sizeof text, "%s", sql);
        im_span_child("sql", start_us, end_us, "db.statement", text);
    }
    return rc;
}

static void unlink_stmt(im_conn_t *c, stmt_t *s)
{
    if (s->prev) s->prev->next = s->next;
    else c->head = s->next;
    if (s->next) s->next->prev = s->prev;
    else c->tail = s->prev;
    s->prev = s->next = NULL;
}

static void push_front(im_conn_t *c, stmt_t *s)
{
    s->prev = NULL;
    s->next = c->head;
    if (c->head) c->head->prev = s;
    c->head = s;
    if (c->tail == NULL) c->tail = s;
}

static void free_stmt(stmt_t *s)
{
    mysql_stmt_close(s->stmt);
    im_free(s->sql);
    im_free(s);
}

static void drop_stmts(im_conn_t *c)
{
    for (stmt_t *s = c->head, *n; s; s = n) {
        n = s->next;
        free_stmt(s);
    }
    c->head = c->tail = NULL;
    c->nstmts = 0;
}

static void disconnect(im_conn_t *c)
{
    drop_stmts(c);
    if (c->connected) mysql_close(&c->mysql);
    c->connected = 0;
}

static int connect_conn(im_mysql_pool_t *p, im_conn_t *c)
{
    disconnect(c);
    mysql_init(&c->mysql);
    unsigned int timeout = (unsigned)(p->o.connect_timeout_s > 0 ? p->o.connect_timeout_s : 5);
    my_bool off = 0;
    mysql_options(&c->mysql, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_options(&c->mysql, MYSQL_OPT_RECONNECT, &off);
    mysql_options(&c->mysql, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (!mysql_real_connect(&c->mysql, p->o.host, p->o.user, p->o.password, p->o.db,
                            (unsigned)p->o.port, NULL, 0)) {
        IM_LOG_RATELIMITED(5, IM_LOG_WARN, "mysql.connect_failed", "host=%s port=%d errno=%u err=\"%s\"",
                           p->o.host, p->o.port, mysql_errno(&c->mysql), mysql_error(&c->mysql));
        mysql_close(&c->mysql);
        return IM_EUNAVAIL;
    }
    c->connected = 1;
    c->broken = 0;
    return IM_OK;
}

im_mysql_pool_t *im_mysql_pool_new(const im_mysql_opts_t *o, int size)
{
    pthread_once(&g_metrics_once, register_metrics);
    im_mysql_pool_t *p = im_calloc(1, sizeof *p);
    p->o = *o;
    p->o.host = im_strdup(o->host);
    p->o.user = im_strdup(o->user);
    p->o.password = im_strdup(o->password ? o->password : "");
    p->o.db = im_strdup(o->db);
    p->size = size > 0 ? size : 1;
    p->idle = im_calloc((size_t)p->size, sizeof *p->idle);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    for (int i = 0; i < p->size; i++) {
        im_conn_t *c = im_calloc(1, sizeof *c);
        c->stmt_cap = o->stmt_cache > 0 ? o->stmt_cache : IM_MYSQL_STMT_CACHE;
        if (i == 0 && connect_conn(p, c) != IM_OK) {
            im_free(c);
            im_mysql_pool_free(p);
            return NULL;
        }
        p->idle[p->nidle++] = c;
    }
    return p;
}

void im_mysql_pool_free(im_mysql_pool_t *p)
{
    if (p == NULL) return;
    for (int i = 0; i < p->nidle; i++) {
        disconnect(p->idle[i]);
        im_free(p->idle[i]->binds);
        im_free(p->idle[i]);
    }
    im_free(p->idle);
    im_free((char *)p->o.host);
    im_free((char *)p->o.user);
    im_free((char *)p->o.password);
    im_free((char *)p->o.db);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    im_free(p);
}

MYSQL *im_mysql_acquire(im_mysql_pool_t *p)
{
    pthread_mutex_lock(&p->lock);
    while (p->nidle == 0) pthread_cond_wait(&p->cond, &p->lock);
    im_conn_t *c = p->idle[--p->nidle];
    pthread_mutex_unlock(&p->lock);
    if ((!c->connected || c->broken) && connect_conn(p, c) != IM_OK) {
        im_mysql_release(p, &c->mysql);
        return NULL;
    }
    return &c->mysql;
}

void im_mysql_release(im_mysql_pool_t *p, MYSQL *m)
{
    pthread_mutex_lock(&p->lock);
    p->idle[p->nidle++] = (im_conn_t *)m;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

/* The server refused a value (strict mode) or, as a warning, changed one. */
static int is_data_error(unsigned err)
{
    return err == ER_DATA_TOO_LONG || err == WARN_DATA_TRUNCATED ||
           err == ER_WARN_DATA_OUT_OF_RANGE || err == ER_TRUNCATED_WRONG_VALUE ||
           err == ER_TRUNCATED_WRONG_VALUE_FOR_FIELD || err == ER_BAD_NULL_ERROR ||
           err == ER_WARN_NULL_TO_NOTNULL || err == ER_WRONG_VALUE_FOR_TYPE;
}

static int fail(im_conn_t *c, unsigned err, const char *what, const char *msg)
{
    if (err == ER_DUP_ENTRY) return IM_EEXISTS;
    if (err == CR_SERVER_GONE_ERROR || err == CR_SERVER_LOST || err == CR_CONNECTION_ERROR ||
        err == ER_UNKNOWN_STMT_HANDLER || err == CR_COMMANDS_OUT_OF_SYNC)
        c->broken = 1;
    /* msg may quote a client's value: im_log escapes it */
    IM_LOG_RATELIMITED(2, IM_LOG_WARN, "mysql.error", "op=%s errno=%u err=\"%.200s\"", what, err, msg ? msg : "");
    return is_data_error(err) ? IM_EINVAL : IM_EIO;
}

/* FNV-1a over the SQL text; sets *len. */
static uint64_t sql_hash(const char *sql, size_t *len)
{
    uint64_t h = 1469598103934665603ULL;
    const char *p = sql;
    for (; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    *len = (size_t)(p - sql);
    return h;
}

static MYSQL_STMT *prepared(im_conn_t *c, const char *sql, int *rc)
{
    size_t len;
    uint64_t h = sql_hash(sql, &len);
    for (stmt_t *s = c->head; s; s = s->next)
        if (s->hash == h && s->len == len && memcmp(s->sql, sql, len) == 0) {
            if (s != c->head) {
                unlink_stmt(c, s);
                push_front(c, s);
            }
            return s->stmt;
        }
    MYSQL_STMT *st = mysql_stmt_init(&c->mysql);
    if (st == NULL || mysql_stmt_prepare(st, sql, (unsigned long)len) != 0) {
        *rc = fail(c, st ? mysql_stmt_errno(st) : mysql_errno(&c->mysql), "prepare",
                   st ? mysql_stmt_error(st) : mysql_error(&c->mysql));
        if (st) mysql_stmt_close(st);
        return NULL;
    }
    my_bool update_max = 1;
    mysql_stmt_attr_set(st, STMT_ATTR_UPDATE_MAX_LENGTH, &update_max);
    if (c->nstmts >= c->stmt_cap) {   /* evict the least recently used */
        stmt_t *old = c->tail;
        unlink_stmt(c, old);
        free_stmt(old);
        c->nstmts--;
    }
    stmt_t *s = im_calloc(1, sizeof *s);
    s->hash = h;
    s->len = len;
    s->sql = im_strndup(sql, len);
    s->stmt = st;
    push_front(c, s);
    c->nstmts++;
    return st;
}

/* The connection's bind array, at least n long (contents undefined). */
static MYSQL_BIND *binds(im_conn_t *c, unsigned n)
{
    if (n > c->nbinds) {
        im_free(c->binds);
        c->nbinds = n > 2 * c->nbinds ? n : 2 * c->nbinds;
        c->binds = im_malloc(sizeof *c->binds * c->nbinds);
    }
    return c->binds;
}

/* The last statement raised warnings: SHOW WARNINGS names them. Notes and deprecated
 * syntax (MySQL 8 warns about VALUES() in ON DUPLICATE KEY UPDATE) pass; any other
 * warning means the server changed or dropped something we sent: IM_EINVAL. */
static int check_warnings(im_conn_t *c)
{
    if (mysql_query(&c->mysql, "SHOW WARNINGS") != 0)
        return fail(c, mysql_errno(&c->mysql), "show_warnings", mysql_error(&c->mysql));
    MYSQL_RES *res = mysql_store_result(&c->mysql);
    if (res == NULL) return fail(c, mysql_errno(&c->mysql), "show_warnings", mysql_error(&c->mysql));
    int rc = IM_OK;
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res)) != NULL) {   /* Level, Code, Message */
        unsigned code = row[1] ? (unsigned)strtoul(row[1], NULL, 10) : 0;
        if ((row[0] && strcmp(row[0], "Note") == 0) || code == ER_WARN_DEPRECATED_SYNTAX) continue;
        if (rc == IM_OK) {
            IM_LOG_RATELIMITED(2, IM_LOG_WARN, "mysql.warning", "level=%s errno=%u err=\"%.200s\"",
                               row[0] ? row[0] : "?", code, row[2] ? row[2] : "");
        }
        rc = IM_EINVAL;
    }
    mysql_free_result(res);
    return rc;
}

static void bind_params(MYSQL_BIND *b, const im_mysql_param_t *params, unsigned n)
{
    memset(b, 0, sizeof *b * n);
    for (unsigned i = 0; i < n; i++) {
        const im_mysql_param_t *p = &params[i];
        switch (p->type) {
        case IM_MYSQL_NULL: b[i].buffer_type = MYSQL_TYPE_NULL; break;
        case IM_MYSQL_I64:
            b[i].buffer_type = MYSQL_TYPE_LONGLONG;
            b[i].buffer = (void *)&p->i64;
            break;
        case IM_MYSQL_U64:
            b[i].buffer_type = MYSQL_TYPE_LONGLONG;
            b[i].buffer = (void *)&p->u64;
            b[i].is_unsigned = 1;
            break;
        case IM_MYSQL_STR:
            b[i].buffer_type = MYSQL_TYPE_STRING;
            b[i].buffer = (void *)p->str.s;
            b[i].buffer_length = (unsigned long)p->str.len;
            break;
        }
    }
}

/* Fetches every row of the stored result as strings into row_fn. */
static int fetch_rows(im_conn_t *c, MYSQL_STMT *st, MYSQL_RES *meta, im_mysql_row_fn row_fn, void *ud)
{
    unsigned n = mysql_num_fields(meta);
    MYSQL_FIELD *f = mysql_fetch_fields(meta);
    MYSQL_BIND *b = im_calloc(n, sizeof *b);
    char **cols = im_calloc(n, sizeof *cols), **bufs = im_calloc(n, sizeof *bufs);
    unsigned long *lens = im_calloc(n, sizeof *lens);
    my_bool *nulls = im_calloc(n, sizeof *nulls);
    for (unsigned i = 0; i < n; i++) {
        size_t cap = (f[i].max_length > 64 ? f[i].max_length : 64) + 1;
        bufs[i] = im_malloc(cap);
        b[i].buffer_type = MYSQL_TYPE_STRING;
        b[i].buffer = bufs[i];
        b[i].buffer_length = (unsigned long)cap;
        b[i].length = &lens[i];
        b[i].is_null = &nulls[i];
    }
    int rc = IM_OK, stop = 0;
    if (mysql_stmt_bind_result(st, b) != 0) rc = fail(c, mysql_stmt_errno(st), "bind_result", mysql_stmt_error(st));
    while (rc == IM_OK) {
        int fr = mysql_stmt_fetch(st);
        if (fr == MYSQL_NO_DATA) break;
        if (fr == 1) {
            rc = fail(c, mysql_stmt_errno(st), "fetch", mysql_stmt_error(st));
            break;
        }
        if (stop) continue;   /* drain the rest */
        for (unsigned i = 0; i < n; i++) {
            if (nulls[i]) {
                cols[i] = NULL;
                continue;
            }
            unsigned long l = lens[i] < b[i].buffer_length ? lens[i] : b[i].buffer_length - 1;
            bufs[i][l] = '\0';
            cols[i] = bufs[i];
        }
        stop = row_fn && row_fn(ud, cols, lens, n) != 0;
    }
    for (unsigned i = 0; i < n; i++) im_free(bufs[i]);
    im_free(bufs);
    im_free(cols);
    im_free(lens);
    im_free(nulls);
    im_free(b);
    return rc;
}

static int exec_stmt(MYSQL *m, const char *sql, const im_mysql_param_t *params, unsigned nparams,
                     im_mysql_row_fn row_fn, void *ud, uint64_t *affected, uint64_t *insert_id)
{
    im_conn_t *c = (im_conn_t *)m;
    int rc = IM_OK;
    MYSQL_STMT *st = prepared(c, sql, &rc);
    if (st == NULL) return rc;
    if (mysql_stmt_param_count(st) != nparams) {
        im_error("mysql.param_count", "want=%lu got=%u", mysql_stmt_param_count(st), nparams);
        return IM_EINVAL;
    }
    MYSQL_BIND *pb = binds(c, nparams ? nparams : 1);
    bind_params(pb, params, nparams);
    if ((nparams && mysql_stmt_bind_param(st, pb) != 0) || mysql_stmt_execute(st) != 0)
        return fail(c, mysql_stmt_errno(st), "execute", mysql_stmt_error(st));
    MYSQL_RES *meta = mysql_stmt_result_metadata(st);
    if (meta) {
        if (mysql_stmt_store_result(st) != 0) rc = fail(c, mysql_stmt_errno(st), "store", mysql_stmt_error(st));
        else rc = fetch_rows(c, st, meta, row_fn, ud);
        mysql_free_result(meta);
        mysql_stmt_free_result(st);
    }
    uint64_t n = mysql_stmt_affected_rows(st), id = mysql_stmt_insert_id(st);
    if (rc == IM_OK && mysql_stmt_warning_count(st) > 0)   /* counted up to the last row */
        rc = check_warnings(c);
    if (rc == IM_OK && affected) *affected = n;
    if (rc == IM_OK && insert_id) *insert_id = id;
    return rc;
}

int im_mysql_exec(MYSQL *m, const char *sql, const im_mysql_param_t *params, unsigned nparams,
                  im_mysql_row_fn row_fn, void *ud, uint64_t *affected, uint64_t *insert_id)
{
    int64_t t0 = im_clock_wall_us();
    return timed(OP_EXEC, t0, sql, exec_stmt(m, sql, params, nparams, row_fn, ud, affected, insert_id));
}

int im_mysql_begin(MYSQL *m)
{
    int64_t t0 = im_clock_wall_us();
    int rc = IM_OK;
    if (mysql_query(m, "START TRANSACTION") != 0)
        rc = fail((im_conn_t *)m, mysql_errno(m), "begin", mysql_error(m));
    return timed(OP_BEGIN, t0, "START TRANSACTION", rc);
}

int im_mysql_commit(MYSQL *m)
{
    int64_t t0 = im_clock_wall_us();
    int rc = mysql_commit(m) ? fail((im_conn_t *)m, mysql_errno(m), "commit", mysql_error(m)) : IM_OK;
    return timed(OP_COMMIT, t0, "COMMIT", rc);
}

int im_mysql_rollback(MYSQL *m)
{
    int64_t t0 = im_clock_wall_us();
    int rc = mysql_rollback(m) ? fail((im_conn_t *)m, mysql_errno(m), "rollback", mysql_error(m)) : IM_OK;
    return timed(OP_ROLLBACK, t0, "ROLLBACK", rc);
}
