/* api_file_get.c — GET /api/files/{id} (the bytes) and GET /api/files/{id}/thumb (an
 * image's thumbnail), for whoever may read the file (im-logic asks im-repo: the uploader,
 * an avatar, or a participant of a conversation that carries it), with one byte range
 * (Range: bytes=a-b | a- | -n -> 206, unsatisfiable -> 416; several ranges -> the whole
 * file, as RFC 9110 allows). http.c streams the bytes.
 *
 * Only images libvips read are served as what they are, inline; anything else goes as
 * application/octet-stream, an attachment, so an HTML or SVG upload can never run as a
 * page of this origin (with nosniff and a sandbox CSP on every file reply). */
#include "gateway.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* RFC 6266: an ASCII fallback name, and the real one percent-encoded in filename*. */
static void disposition(char *out, size_t size, const char *kind, const char *name)
{
    char ascii[64], enc[240];
    size_t a = 0, e = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        int safe = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                   *p == '.' || *p == '-' || *p == '_';
        if (a + 1 < sizeof ascii) ascii[a++] = safe ? (char)*p : '_';
        if (e + 4 > sizeof enc) break;
        e += (size_t)snprintf(enc + e, sizeof enc - e, safe ? "%c" : "%%%02X", *p);
    }
    ascii[a] = '\0';
    snprintf(out, size, "%s; filename=\"%s\"; filename*=UTF-8''%s", kind, a ? ascii : "file", e ? enc : "file");
}

/* The file reply of f (its thumbnail if thumb) into job->serve, or an error reply. */
static void reply_file(gw_t *g, gw_job_t *job, const Im__Common__V1__File *f, int thumb)
{
    if (thumb && !f->has_thumb) return gw_job_error(job, 404, "not_found", "this file has no thumbnail");
    char buf[GW_STORE_KEY_MAX];
    const char *key = thumb ? gw_store_thumb_key(buf, f->sha256) : f->sha256;
    gw_serve_t *sv = im_calloc(1, sizeof *sv);
    if ((sv->fd = gw_store_open(g, key, &sv->total)) < 0) {
        im_free(sv);
        return gw_job_error(job, 404, "not_found", "the file's bytes are missing");
    }
    job->serve = sv;   /* freed (fd closed) with the job */
    job->status = gw_parse_range(job->range, sv->total, &sv->off, &sv->len);
    if (job->status == 416) {
        close(sv->fd);
        im_free(sv);
        job->serve = NULL;
        return gw_job_error(job, 416, "invalid_argument", "range not satisfiable");
    }
    int image = f->has_thumb;
    snprintf(sv->content_type, sizeof sv->content_type, "%s",
             thumb ? "image/jpeg" : image ? f->content_type : "application/octet-stream");
    disposition(sv->disposition, sizeof sv->disposition, image ? "inline" : "attachment", f->name);
}

static void serve(gw_t *g, gw_job_t *job, int thumb)
{
    uint64_t id = gw_parse_id(job->params[0]);
    if (id == 0) return gw_job_error(job, 400, "invalid_argument", "bad file id");
    Im__Logic__V1__GetFileRequest req = IM__LOGIC__V1__GET_FILE_REQUEST__INIT;
    req.user_id = job->user_id;
    req.file_id = id;
    ProtobufCMessage *resp = NULL;
    if (gw_logic_call(g, job, "GetFile", &req.base, &resp) != IM_OK) return;
    Im__Logic__V1__FileReply *r = (void *)resp;
    if (!gw_reply_logic_error(job, r->error, r->message)) reply_file(g, job, r->file, thumb);
    protobuf_c_message_free_unpacked(resp, NULL);
}

void gw_api_file_get(gw_t *g, gw_job_t *job)
{
    serve(g, job, 0);
}

void gw_api_file_thumb(gw_t *g, gw_job_t *job)
{
    serve(g, job, 1);
}
