/* mysql.c — the pool and the prepared-statement executor.
 *
 * A pooled connection is an im_conn_t whose first member is the MYSQL handle, so the
 * MYSQL * callers hold leads back to its statement cache without a lookup. */
#include "im/mysql.h"
#include "im/err.h"
#include "im/log.h"

#include <errmsg.h>
#include <mysqld_error.h>
#include <pthread.h>
#include <stdlib.h>

typedef struct stmt_s {
    struct stmt_s *next;
    char *sql;
    MYSQL_STMT *stmt;
} stmt_t;

typedef struct {
    MYSQL mysql;          /* first: (im_conn_t *)m */
    stmt_t *stmts;        /* prepared statements of this connection */
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

static void drop_stmts(im_conn_t *c)
{
    for (stmt_t *s = c->stmts, *n; s; s = n) {
        n = s->next;
        mysql_stmt_close(s->stmt);
        im_free(s->sql);
        im_free(s);
    }
    c->stmts = NULL;
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

static int fail(im_conn_t *c, unsigned err, const char *what, const char *msg)
{
    if (err == ER_DUP_ENTRY) return IM_EEXISTS;
    if (err == CR_SERVER_GONE_ERROR || err == CR_SERVER_LOST || err == CR_CONNECTION_ERROR ||
        err == ER_UNKNOWN_STMT_HANDLER || err == CR_COMMANDS_OUT_OF_SYNC)
        c->broken = 1;
    IM_LOG_RATELIMITED(2, IM_LOG_WARN, "mysql.error", "op=%s errno=%u err=\"%s\"", what, err, msg);
    return IM_EIO;
}

static MYSQL_STMT *prepared(im_conn_t *c, const char *sql, int *rc)
{
    for (stmt_t *s = c->stmts; s; s = s->next)
        if (strcmp(s->sql, sql) == 0) return s->stmt;
    MYSQL_STMT *st = mysql_stmt_init(&c->mysql);
    if (st == NULL || mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql)) != 0) {
        *rc = fail(c, st ? mysql_stmt_errno(st) : mysql_errno(&c->mysql), "prepare",
                   st ? mysql_stmt_error(st) : mysql_error(&c->mysql));
        if (st) mysql_stmt_close(st);
        return NULL;
    }
    my_bool update_max = 1;
    mysql_stmt_attr_set(st, STMT_ATTR_UPDATE_MAX_LENGTH, &update_max);
    stmt_t *s = im_malloc(sizeof *s);
    s->sql = im_strdup(sql);
    s->stmt = st;
    s->next = c->stmts;
    c->stmts = s;
    return st;
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

int im_mysql_exec(MYSQL *m, const char *sql, const im_mysql_param_t *params, unsigned nparams,
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
    MYSQL_BIND pb[nparams ? nparams : 1];
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
    if (rc == IM_OK && affected) *affected = mysql_stmt_affected_rows(st);
    if (rc == IM_OK && insert_id) *insert_id = mysql_stmt_insert_id(st);
    return rc;
}

int im_mysql_begin(MYSQL *m)
{
    if (mysql_query(m, "START TRANSACTION") != 0)
        return fail((im_conn_t *)m, mysql_errno(m), "begin", mysql_error(m));
    return IM_OK;
}

int im_mysql_commit(MYSQL *m)
{
    return mysql_commit(m) ? fail((im_conn_t *)m, mysql_errno(m), "commit", mysql_error(m)) : IM_OK;
}

int im_mysql_rollback(MYSQL *m)
{
    return mysql_rollback(m) ? fail((im_conn_t *)m, mysql_errno(m), "rollback", mysql_error(m)) : IM_OK;
}
