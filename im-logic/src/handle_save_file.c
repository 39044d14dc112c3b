/* handle_save_file.c — Logic.SaveFile: an upload the gateway stored gets its id (a
 * snowflake) and its files row in im-repo. The gateway measured and sniffed the bytes;
 * the name is the client's, kept only if it is UTF-8 without control characters. */
#include "im/clock.h"
#include "im/text.h"
#include "logic.h"

#include <string.h>

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 255 || !im_utf8_valid(s, n)) return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == '/' || s[i] == '\\') return 0;
    return 1;
}

LOGIC_HANDLER(logic_handle_save_file)
{
    logic_t *l = ud;
    const Im__Logic__V1__SaveFileRequest *in = (const void *)req;
    Im__Logic__V1__FileReply *out = (void *)resp;
    if (in->file == NULL || in->user_id == 0) return GRPC_STATUS_INVALID_ARGUMENT;
    Im__Common__V1__File f = *in->file;
    if ((f.file_id = im_snowflake_next(&l->ids)) == 0) return GRPC_STATUS_UNAVAILABLE;   /* lease unsure */
    f.uploader_id = in->user_id;
    f.created_at = im_clock_wall_ms();
    if (!valid_name(f.name)) f.name = "file";
    Im__Repo__V1__SaveFileRequest q = IM__REPO__V1__SAVE_FILE_REQUEST__INIT;
    q.file = &f;
    ProtobufCMessage *rr = NULL;
    if (logic_repo_call(l, "SaveFile", &q.base, &rr) != IM_OK) return GRPC_STATUS_UNAVAILABLE;
    protobuf_c_message_free_unpacked(rr, NULL);
    out->file = logic_copy_file(call, &f);
    return GRPC_STATUS_OK;
}
