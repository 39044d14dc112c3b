/* handle_get_files.c — Repo.GetFiles: per (user, file), the file's row and whether that
 * user may read it: its uploader, anyone for an avatar (public), else a participant of a
 * conversation where a stored, unrecalled message carries it (file_refs, checked with
 * access.c's rule for each such conversation until one admits the user). */
#include "repo.h"

#include <string.h>

#define MAX_ITEMS 1000

typedef struct {
    im_rpc_call_t *call;
    Im__Common__V1__File *file;
} file_row_t;

static int file_row(void *ud, char **c, unsigned long *lens, unsigned ncols)
{
    file_row_t *x = ud;
    Im__Common__V1__File *f = im_rpc_alloc(x->call, sizeof *f);
    im__common__v1__file__init(f);
    f->file_id = repo_u64(c[0]);
    f->uploader_id = repo_u64(c[1]);
    f->sha256 = im_rpc_strdup(x->call, c[2]);
    f->size = repo_u64(c[3]);
    f->content_type = im_rpc_strdup(x->call, c[4]);
    f->name = im_rpc_strdup(x->call, c[5]);
    f->width = (uint32_t)repo_u64(c[6]);
    f->height = (uint32_t)repo_u64(c[7]);
    f->has_thumb = repo_u64(c[8]) != 0;
    f->is_public = repo_u64(c[9]) != 0;
    f->created_at = (int64_t)repo_u64(c[10]);
    x->file = f;
    return 0;
}

typedef struct {
    char (*cids)[64];
    size_t n, cap;
} refs_t;

static int ref_row(void *ud, char **c, unsigned long *lens, unsigned ncols)
{
    refs_t *x = ud;
    if (x->n == x->cap) {
        x->cap = x->cap ? 2 * x->cap : 8;
        x->cids = im_realloc(x->cids, x->cap * sizeof *x->cids);
    }
    snprintf(x->cids[x->n++], sizeof x->cids[0], "%s", c[0]);
    return 0;
}

/* IM_OK with *allowed set, or an error (MySQL). */
static int may_read(repo_t *r, MYSQL *m, uint64_t user_id, const Im__Common__V1__File *f, int *allowed)
{
    *allowed = f->uploader_id == user_id || f->is_public;
    if (*allowed) return IM_OK;
    refs_t refs = {0};
    im_mysql_param_t p[] = {IM_MP_U64(f->file_id)};
    int rc = im_mysql_exec(m, "SELECT DISTINCT conversation_id FROM file_refs WHERE file_id = ?", p, 1, ref_row,
                           &refs, NULL, NULL);
    for (size_t i = 0; rc == IM_OK && i < refs.n && !*allowed; i++) {
        int can = repo_can_read(r, m, user_id, refs.cids[i]);
        if (can == IM_OK) *allowed = 1;
        else if (can != IM_EFORBIDDEN) rc = can;
    }
    im_free(refs.cids);
    return rc;
}

REPO_HANDLER(repo_handle_get_files)
{
    repo_t *r = ud;
    const Im__Repo__V1__GetFilesRequest *in = (const void *)req;
    Im__Repo__V1__GetFilesReply *out = (void *)resp;
    if (in->n_items == 0 || in->n_items > MAX_ITEMS) return GRPC_STATUS_INVALID_ARGUMENT;
    out->results = im_rpc_alloc(call, in->n_items * sizeof *out->results);
    MYSQL *m = im_mysql_acquire(r->db);
    if (m == NULL) return GRPC_STATUS_UNAVAILABLE;
    int rc = IM_OK;
    for (size_t i = 0; rc == IM_OK && i < in->n_items; i++) {
        Im__Repo__V1__FileResult *res = im_rpc_alloc(call, sizeof *res);
        im__repo__v1__file_result__init(res);
        out->results[out->n_results++] = res;
        file_row_t row = {call, NULL};
        im_mysql_param_t p[] = {IM_MP_U64(in->items[i]->file_id)};
        rc = im_mysql_exec(m, "SELECT id, uploader_id, sha256, size, content_type, name, width, height, has_thumb, "
                           "public, CAST(UNIX_TIMESTAMP(created_at) * 1000 AS UNSIGNED) FROM files WHERE id = ?",
                           p, 1, file_row, &row, NULL, NULL);
        if (rc != IM_OK || row.file == NULL) continue;
        res->found = 1;
        res->file = row.file;
        int allowed = 0;
        rc = may_read(r, m, in->items[i]->user_id, row.file, &allowed);
        res->allowed = allowed;
    }
    im_mysql_release(r->db, m);
    return rc == IM_OK ? GRPC_STATUS_OK : GRPC_STATUS_INTERNAL;
}
