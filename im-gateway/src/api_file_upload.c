/* api_file_upload.c — POST /api/files (raw body; X-File-Name, percent-encoded) -> 201
 * {file_id,size,content_type,name,width?,height?,thumb?}. http.c already wrote the body
 * to a temp file of the store (at most max_upload bytes); here it is measured and
 * sniffed (media.c), moved under its sha256 with its thumbnail, and named by im-logic.
 * The bytes are in the store before the row exists, so no row names missing bytes; a
 * failure after the move leaves bytes without a row, which no one can reach. */
#include "gateway.h"
#include "im/log.h"
#include "im/wire.h"

#include <jansson.h>
#include <unistd.h>

static int store(gw_t *g, gw_job_t *job, const gw_media_t *m, const char *thumb)
{
    char key[GW_STORE_KEY_MAX];
    if (gw_store_put(g, job->upload_path, m->sha256) != IM_OK) return IM_EIO;
    im_free(job->upload_path);   /* taken by the store */
    job->upload_path = NULL;
    return m->thumb ? gw_store_put(g, thumb, gw_store_thumb_key(key, m->sha256)) : IM_OK;
}

void gw_api_file_upload(gw_t *g, gw_job_t *job)
{
    if (job->body_len == 0) return gw_job_error(job, 400, "invalid_argument", "empty file");
    /* the thumbnail's temp beside the upload's, under the same prefix: a restart clears both */
    char *thumb = im_sprintf("%s.thumb.jpg", job->upload_path);
    gw_media_t m;
    int rc = gw_media_probe(job->upload_path, thumb, g->cfg.thumb_px, g->cfg.image_max_px, &m);
    if (rc == IM_OK) rc = store(g, job, &m, thumb);
    unlink(thumb);   /* none, or moved into the store already, unless something failed */
    im_free(thumb);
    if (rc != IM_OK) return gw_job_error(job, 503, "unavailable", "cannot store files right now");

    Im__Common__V1__File f = IM__COMMON__V1__FILE__INIT;
    f.sha256 = m.sha256;
    f.size = m.size;
    f.content_type = m.content_type;
    f.name = job->name[0] ? job->name : "file";
    f.width = (uint32_t)m.width;
    f.height = (uint32_t)m.height;
    f.has_thumb = m.thumb;
    Im__Logic__V1__SaveFileRequest req = IM__LOGIC__V1__SAVE_FILE_REQUEST__INIT;
    req.user_id = job->user_id;
    req.file = &f;
    ProtobufCMessage *resp = NULL;
    if (gw_logic_call(g, job, "SaveFile", &req.base, &resp) != IM_OK) return;
    Im__Logic__V1__FileReply *r = (void *)resp;
    if (!gw_reply_logic_error(job, r->error, r->message)) {
        im_info("file.stored", "user=%llu file_id=%llu size=%llu type=%s", (unsigned long long)job->user_id,
                (unsigned long long)r->file->file_id, (unsigned long long)m.size, m.content_type);
        gw_reply_json(job, 201, im_wire_file(r->file));
    }
    protobuf_c_message_free_unpacked(resp, NULL);
}
