/* handle_get_file.c — Logic.GetFile: a file's row for a download, if the caller may read
 * it (im-repo decides: the uploader, an avatar, or a participant of a conversation that
 * carries it); otherwise not_found or forbidden. */
#include "logic.h"

LOGIC_HANDLER(logic_handle_get_file)
{
    logic_t *l = ud;
    const Im__Logic__V1__GetFileRequest *in = (const void *)req;
    Im__Logic__V1__FileReply *out = (void *)resp;
    Im__Repo__V1__FileResult *res = NULL;
    Im__Repo__V1__GetFilesReply *r = logic_repo_files(l, &in->user_id, &in->file_id, 1);
    if (r == NULL) return GRPC_STATUS_UNAVAILABLE;
    res = r->results[0];
    if (!res->found) {
        out->error = "not_found";
        out->message = "no such file";
    } else if (!res->allowed) {
        out->error = "forbidden";
        out->message = "not yours, and in none of your conversations";
    } else {
        out->file = logic_copy_file(call, res->file);
    }
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return GRPC_STATUS_OK;
}
