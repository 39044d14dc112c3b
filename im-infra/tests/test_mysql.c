/* test_mysql.c — the MySQL pool against a real MariaDB: prepared statements with SQL
 * metacharacters and 4-byte UTF-8, duplicate keys, NULLs, transactions, a shared pool. */
#include "im/err.h"
#include "im/log.h"
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
    CHECK_INT(im_mysql_exec(m, "SELECT nope FROM u", NULL, 0, NULL, NULL, NULL, NULL), IM_EIO);
    im_mysql_release(p, m);

    pthread_t th[4];                                 /* 4 threads share a pool of 2 */
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, insert_50, p);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    m = im_mysql_acquire(p);
    im_mysql_exec(m, "SELECT COUNT(*) FROM u", NULL, 0, count_row, &n, NULL, NULL);
    CHECK_INT(n, 202);
    im_mysql_release(p, m);

    im_mysql_pool_free(p);
    im_test_kill(pid);
    im_test_rmdir(dir);
    IM_TEST_DONE();
}
