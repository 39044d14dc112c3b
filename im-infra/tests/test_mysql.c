/* test_mysql.c — the MySQL pool against a real MariaDB: prepared statements with SQL
 * metacharacters and 4-byte UTF-8, duplicate keys, NULLs, transactions, a shared pool,
 * a bounded statement cache (server-side count and LRU order), values the server would
 * truncate (strict-mode errors and warnings both fail), statements with many parameters. */
#include "im/err.h"
#include "im/log.h"
#include "im/metrics.h"
#include "im/mysql.h"
#include "im_test.h"
#include "im_test_server.h"

#include <pthread.h>

static char *dir;
static int port;

static pid_t start_mariadb(void)
{
    char cmd[512], data[128], sock[128], portarg[32], log[128];
    snprintf(data, sizeof data, "--datadir=%s/data", dir);
    snprintf(sock, sizeof sock, "--socket=%s/sock", dir);
    snprintf(portarg, sizeof portarg, "--port=%d", port);
    snprintf(log, sizeof log, "%s/mariadb.log", dir);
    snprintf(cmd, sizeof cmd, "mariadb-install-db --no-defaults --user=root %s --auth-root-authentication-method=normal "
             "--skip-test-db > %s/install.log 2>&1", data, dir);
    if (system(cmd) != 0) return -1;
    char *argv[] = {"mariadbd", "--no-defaults", "--user=root", data, sock, portarg, "--bind-address=127.0.0.1",
                    "--skip-name-resolve", "--skip-grant-tables", NULL};
    pid_t pid = im_test_spawn(argv, log, port, 30);
    snprintf(cmd, sizeof cmd, "mariadb --no-defaults --socket=%s/sock -uroot -e 'CREATE DATABASE t'", dir);
    if (pid > 0 && system(cmd) != 0) return -1;
    return pid;
}

static int count_row(void *ud, char **cols, unsigned long *lens, unsigned n)
{
    *(long *)ud = atol(cols[0]);
    return 0;
}

static int count_row_at1(void *ud, char **cols, unsigned long *lens, unsigned n)   /* SHOW STATUS: name, value */
{
    *(long *)ud = atol(cols[1]);
    return 0;
}

typedef struct {
    char name[64], note[64];
    int note_null;
    unsigned long name_len;
} row_t;

static int read_row(void *ud, char **cols, unsigned long *lens, unsigned n)
{
    row_t *r = ud;
    snprintf(r->name, sizeof r->name, "%s", cols[0]);
    r->name_len = lens[0];
    r->note_null = cols[1] == NULL;
    return 0;
}

static void *insert_50(void *arg)
{
    im_mysql_pool_t *p = arg;
    for (int i = 0; i < 50; i++) {
        MYSQL *m = im_mysql_acquire(p);
        char name[32];
        snprintf(name, sizeof name, "t%lx-%d", (unsigned long)pthread_self(), i);
        im_mysql_param_t q[] = {IM_MP_STR(name), IM_MP_NULL()};
        im_mysql_exec(m, "INSERT INTO u (name, note) VALUES (?, ?)", q, 2, NULL, NULL, NULL, NULL);
        im_mysql_release(p, m);
    }
    return NULL;
}

/* A server status counter: Prepared_stmt_count (global) or Com_stmt_prepare (session). */
static long status(MYSQL *m, const char *sql)
{
    long n = -1;
    CHECK_INT(im_mysql_exec(m, sql, NULL, 0, count_row_at1, &n, NULL, NULL), IM_OK);
    return n;
}

/* The cache keeps at most IM_MYSQL_STMT_CACHE statements per connection, however many
 * texts go through it: the server's global count stays bounded. */
static void stmt_cache_bounded(im_mysql_pool_t *p)
{
    MYSQL *m1 = im_mysql_acquire(p), *m2 = im_mysql_acquire(p);
    for (int i = 0; i < 600; i++) {
        char sql[64];
        snprintf(sql, sizeof sql, "SELECT ? + %d", i);
        im_mysql_param_t a[] = {IM_MP_I64(1)};
        long v = -1;
        CHECK_INT(im_mysql_exec(i % 2 ? m1 : m2, sql, a, 1, count_row, &v, NULL, NULL), IM_OK);
        CHECK_INT(v, i + 1);
    }
    long n = status(m1, "SHOW GLOBAL STATUS LIKE 'Prepared_stmt_count'");
    CHECK(n > 0);
    CHECK(n <= 2 * IM_MYSQL_STMT_CACHE);
    im_mysql_release(p, m2);
    im_mysql_release(p, m1);
}

/* Eviction takes the least recently used: a statement used between every new text is
 * never prepared again, one left idle is. */
static void stmt_cache_lru(const im_mysql_opts_t *base)
{
    im_mysql_opts_t o = *base;
    o.stmt_cache = 4;
    im_mysql_pool_t *q = im_mysql_pool_new(&o, 1);
    MYSQL *m = im_mysql_acquire(q);
    const char *hot = "SELECT COUNT(*) FROM u", *count = "SHOW SESSION STATUS LIKE 'Com_stmt_prepare'";
    long before = status(m, count), v;
    for (int i = 0; i < 20; i++) {
        char sql[64];
        snprintf(sql, sizeof sql, "SELECT %d", i);
        CHECK_INT(im_mysql_exec(m, sql, NULL, 0, count_row, &v, NULL, NULL), IM_OK);
        CHECK_INT(v, i);
        CHECK_INT(im_mysql_exec(m, hot, NULL, 0, NULL, NULL, NULL, NULL), IM_OK);
    }
    /* 20 texts + hot once + the status query again (evicted) */
    CHECK_INT(status(m, count) - before, 22);
    CHECK(status(m, "SHOW GLOBAL STATUS LIKE 'Prepared_stmt_count'") <= 2 * IM_MYSQL_STMT_CACHE + 4);
    im_mysql_release(q, m);
    im_mysql_pool_free(q);
}

/* A value that does not fit its column is an error, as a strict-mode error or as a
 * warning in a lax sql_mode; ON DUPLICATE KEY UPDATE id = id counts 1 per new row and 0
 * per duplicate; a SELECT whose warnings arrive after its rows fails too. */
static void values_checked(MYSQL *m)
{
    CHECK_INT(im_mysql_exec(m, "CREATE TABLE w (id INT PRIMARY KEY, s VARCHAR(4) NOT NULL)", NULL, 0, NULL, NULL,
                            NULL, NULL), IM_OK);
    const char *ins = "INSERT INTO w (id, s) VALUES (?, ?), (?, ?) ON DUPLICATE KEY UPDATE id = id";
    uint64_t affected = 99;
    im_mysql_param_t ok[] = {IM_MP_I64(1), IM_MP_STR("abcd"), IM_MP_I64(2), IM_MP_STR("ab")};
    CHECK_INT(im_mysql_exec(m, ins, ok, 4, NULL, NULL, &affected, NULL), IM_OK);
    CHECK_INT(affected, 2);
    im_mysql_param_t dup[] = {IM_MP_I64(1), IM_MP_STR("x"), IM_MP_I64(3), IM_MP_STR("y")};
    CHECK_INT(im_mysql_exec(m, ins, dup, 4, NULL, NULL, &affected, NULL), IM_OK);
    CHECK_INT(affected, 1);

    im_mysql_param_t big[] = {IM_MP_I64(4), IM_MP_STR("ok"), IM_MP_I64(5), IM_MP_STR("toolong")};
    CHECK_INT(im_mysql_exec(m, ins, big, 4, NULL, NULL, NULL, NULL), IM_EINVAL);   /* strict: error 1406 */
    CHECK_INT(im_mysql_exec(m, "SET SESSION sql_mode = ''", NULL, 0, NULL, NULL, NULL, NULL), IM_OK);
    CHECK_INT(im_mysql_begin(m), IM_OK);
    CHECK_INT(im_mysql_exec(m, ins, big, 4, NULL, NULL, NULL, NULL), IM_EINVAL);   /* lax: warning 1265 */
    CHECK_INT(im_mysql_rollback(m), IM_OK);
    long n = -1;
    CHECK_INT(im_mysql_exec(m, "SELECT COUNT(*) FROM w", NULL, 0, count_row, &n, NULL, NULL), IM_OK);
    CHECK_INT(n, 3);                                  /* nothing truncated kept */
    im_mysql_param_t s[] = {IM_MP_STR("12abc")};
    CHECK_INT(im_mysql_exec(m, "SELECT CAST(? AS UNSIGNED)", s, 1, NULL, NULL, NULL, NULL), IM_EINVAL);
    CHECK_INT(im_mysql_exec(m, "SET SESSION sql_mode = DEFAULT", NULL, 0, NULL, NULL, NULL, NULL), IM_OK);
}

/* One statement with 2,000 parameters: binds come from the heap, not the stack. */
static void many_params(MYSQL *m)
{
    enum { ROWS = 1000 };
    char *sql = im_malloc(64 + ROWS * 8), *q = sql;
    im_mysql_param_t *a = im_calloc(2 * ROWS, sizeof *a);
    char (*names)[16] = im_calloc(ROWS, sizeof *names);
    q += sprintf(q, "INSERT INTO u (name, note) VALUES ");
    for (int i = 0; i < ROWS; i++) {
        q += sprintf(q, "%s(?, ?)", i ? "," : "");
        snprintf(names[i], sizeof names[i], "many-%d", i);
        a[2 * i] = IM_MP_STR(names[i]);
        a[2 * i + 1] = IM_MP_NULL();
    }
    uint64_t affected = 0;
    CHECK_INT(im_mysql_exec(m, sql, a, 2 * ROWS, NULL, NULL, &affected, NULL), IM_OK);
    CHECK_INT(affected, ROWS);
    im_free(names);
    im_free(a);
    im_free(sql);
}

int main(void)
{
    im_log_init("test", IM_LOG_ERROR);
    dir = im_test_tmpdir();
    port = im_test_free_port();
    pid_t pid = start_mariadb();
    CHECK(pid > 0);
    im_mysql_opts_t o = {"127.0.0.1", port, "root", "", "t", 5};
    im_mysql_pool_t *p = im_mysql_pool_new(&o, 2);
    CHECK(p != NULL);
    if (p == NULL) IM_TEST_DONE();
    MYSQL *m = im_mysql_acquire(p);
    CHECK_INT(im_mysql_exec(m, "CREATE TABLE u (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(64) NOT NULL UNIQUE, "
                            "note VARCHAR(64)) CHARSET utf8mb4", NULL, 0, NULL, NULL, NULL, NULL), IM_OK);

    const char *evil = "x'); DROP TABLE u; -- \xf0\x9f\x98\x80";   /* metacharacters and an emoji */
    uint64_t id = 0, affected = 0;
    im_mysql_param_t a[] = {IM_MP_STR(evil), IM_MP_NULL()};
    CHECK_INT(im_mysql_exec(m, "INSERT INTO u (name, note) VALUES (?, ?)", a, 2, NULL, NULL, &affected, &id), IM_OK);
    CHECK_INT(affected, 1);
    CHECK(id > 0);
    CHECK_INT(im_mysql_exec(m, "INSERT INTO u (name, note) VALUES (?, ?)", a, 2, NULL, NULL, NULL, NULL), IM_EEXISTS);

    row_t row = {0};
    im_mysql_param_t b[] = {IM_MP_U64(id)};
    CHECK_INT(im_mysql_exec(m, "SELECT name, note FROM u WHERE id = ?", b, 1, read_row, &row, NULL, NULL), IM_OK);
    CHECK_STR(row.name, evil);                       /* byte-exact, table still there */
    CHECK_INT(row.name_len, strlen(evil));
    CHECK(row.note_null);

    CHECK_INT(im_mysql_begin(m), IM_OK);             /* rollback leaves nothing */
    im_mysql_param_t c[] = {IM_MP_STR("rolled back"), IM_MP_STR("n")};
    im_mysql_exec(m, "INSERT INTO u (name, note) VALUES (?, ?)", c, 2, NULL, NULL, NULL, NULL);
    CHECK_INT(im_mysql_rollback(m), IM_OK);
    CHECK_INT(im_mysql_begin(m), IM_OK);             /* commit keeps */
    im_mysql_param_t d[] = {IM_MP_STR("committed"), IM_MP_STR("n")};
    im_mysql_exec(m, "INSERT INTO u (name, note) VALUES (?, ?)", d, 2, NULL, NULL, NULL, NULL);
    CHECK_INT(im_mysql_commit(m), IM_OK);
    long n = -1;
    CHECK_INT(im_mysql_exec(m, "SELECT COUNT(*) FROM u", NULL, 0, count_row, &n, NULL, NULL), IM_OK);
    CHECK_INT(n, 2);
    CHECK_INT(im_metric_get(im_metric_find_l("cim_sql_errors_total", "op=\"exec\"")), 0);   /* a duplicate is no error */
    CHECK_INT(im_mysql_exec(m, "SELECT nope FROM u", NULL, 0, NULL, NULL, NULL, NULL), IM_EIO);
    CHECK_INT(im_metric_get(im_metric_find_l("cim_sql_errors_total", "op=\"exec\"")), 1);
    CHECK_INT(im_metric_get(im_metric_find_l("cim_sql_seconds", "op=\"exec\"")), 8);   /* every statement timed */
    CHECK_INT(im_metric_get(im_metric_find_l("cim_sql_seconds", "op=\"begin\"")), 2);
    CHECK_INT(im_metric_get(im_metric_find_l("cim_sql_seconds", "op=\"commit\"")), 1);
    CHECK_INT(im_metric_get(im_metric_find_l("cim_sql_seconds", "op=\"rollback\"")), 1);
    im_mysql_release(p, m);

    pthread_t th[4];                                 /* 4 threads share a pool of 2 */
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, insert_50, p);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    m = im_mysql_acquire(p);
    im_mysql_exec(m, "SELECT COUNT(*) FROM u", NULL, 0, count_row, &n, NULL, NULL);
    CHECK_INT(n, 202);
    values_checked(m);
    many_params(m);
    im_mysql_release(p, m);

    stmt_cache_bounded(p);
    stmt_cache_lru(&o);

    im_mysql_pool_free(p);
    im_test_kill(pid);
    im_test_rmdir(dir);
    IM_TEST_DONE();
}
