/* chunk.c — statements over many rows, in a few fixed shapes.
 *
 * A multi-row statement's text depends on its row count, and every text is one prepared
 * statement per connection (and on the server). So a batch of n rows runs as statements
 * of 1, 2, 4, ... REPO_CHUNK_MAX rows, the largest first: at most n / REPO_CHUNK_MAX + 6
 * statements, and at most 7 texts per kind of statement whatever the batch sizes. */
#include "repo.h"

#include <stdio.h>
#include <string.h>

size_t repo_chunk(size_t n)
{
    size_t k = REPO_CHUNK_MAX;
    while (k > n && k > 1) k /= 2;
    return k;
}

int repo_exec_rows(MYSQL *m, const repo_rows_sql_t *q, size_t k, const im_mysql_param_t *params,
                   im_mysql_row_fn fn, void *ud, uint64_t *affected)
{
    if (k == 0 || k > REPO_CHUNK_MAX || (k & (k - 1)) != 0) return IM_EINVAL;   /* not a fixed shape */
    size_t lrow = strlen(q->row), lsep = strlen(q->sep);
    char *sql = im_malloc(strlen(q->head) + k * (lrow + lsep) + strlen(q->tail) + 1), *p = sql;
    p += sprintf(p, "%s", q->head);
    for (size_t i = 0; i < k; i++) p += sprintf(p, "%s%s", i ? q->sep : "", q->row);
    sprintf(p, "%s", q->tail);
    int rc = im_mysql_exec(m, sql, params, (unsigned)(k * q->nparams), fn, ud, affected, NULL);
    im_free(sql);
    return rc;
}

int repo_exec_chunked(MYSQL *m, const repo_rows_sql_t *q, size_t n, const im_mysql_param_t *params,
                      im_mysql_row_fn fn, void *ud)
{
    int rc = IM_OK;
    for (size_t off = 0, k; rc == IM_OK && off < n; off += k) {
        k = repo_chunk(n - off);
        rc = repo_exec_rows(m, q, k, params + off * q->nparams, fn, ud, NULL);
    }
    return rc;
}
