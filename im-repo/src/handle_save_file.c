/* handle_save_file.c — Repo.SaveFile: one files row for an upload whose bytes the
 * gateway already stored (so a row never names bytes that are not there). */
#include "repo.h"

#include <string.h>

REPO_HANDLER(repo_handle_save_file)
{
    repo_t *r = ud;
    const Im__Repo__V1__SaveFileRequest *in = (const void *)req;
    const Im__Common__V1__File *f = in->file;
    if (f == NULL || f->file_id == 0 || f->uploader_id == 0 || strlen(f->sha256) != 64)
        return GRPC_STATUS_INVALID_ARGUMENT;
    MYSQL *m = im_mysql_acquire(r->db);
    if (m == NULL) return GRPC_STATUS_UNAVAILABLE;
    im_mysql_param_t p[] = {
        IM_MP_U64(f->file_id), IM_MP_U64(f->uploader_id), IM_MP_STR(f->sha256),  IM_MP_U64(f->size),
        IM_MP_STR(f->content_type), IM_MP_STR(f->name), IM_MP_U64(f->width), IM_MP_U64(f->height),
        IM_MP_I64(f->has_thumb),
    };
    int rc = im_mysql_exec(m, "INSERT INTO files (id, uploader_id, sha256, size, content_type, name, width, height, "
                           "has_thumb) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", p, 9, NULL, NULL, NULL, NULL);
    im_mysql_release(r->db, m);
    if (rc == IM_EINVAL) return GRPC_STATUS_INVALID_ARGUMENT;
    return rc == IM_OK ? GRPC_STATUS_OK : GRPC_STATUS_INTERNAL;
}
