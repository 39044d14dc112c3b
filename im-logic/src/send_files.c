/* send_files.c — images (type 2) and files (type 3) in a send batch ([consume]).
 *
 * The client sends content {"file_id":"<id>"} naming an upload the sender may read (their
 * own, or one from a conversation they are in: a forward); one GetFiles for the batch.
 * The stored content is rebuilt from the file's row, so what every client sees is what
 * the gateway measured, never what a client claimed:
 *   type 2  {"file_id","width","height"}             an image (it has a thumbnail)
 *   type 3  {"file_id","name","size","content_type"}
 * im-repo then records the file as carried by the conversation (file_refs), which is
 * what lets the other participants download it. */
#include "logic.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TYPE_IMAGE 2
#define TYPE_FILE 3

/* The file id of content {"file_id": "<decimal>" | <number>}, else 0. */
static uint64_t file_id_of(const char *content)
{
    json_t *o = json_loads(content, 0, NULL), *v = json_object_get(o, "file_id");
    uint64_t id = 0;
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        if (*s >= '1' && *s <= '9') {
            id = strtoull(s, &end, 10);
            if (*end) id = 0;
        }
    } else if (json_is_integer(v) && json_integer_value(v) > 0) {
        id = (uint64_t)json_integer_value(v);
    }
    json_decref(o);
    return id;
}

/* The content clients see, from the row (malloc'd, as the record's own strings are). */
static char *content_of(int type, const Im__Common__V1__File *f)
{
    char id[24];
    snprintf(id, sizeof id, "%llu", (unsigned long long)f->file_id);
    json_t *o = type == TYPE_IMAGE
                    ? json_pack("{s:s, s:I, s:I}", "file_id", id, "width", (json_int_t)f->width, "height",
                                (json_int_t)f->height)
                    : json_pack("{s:s, s:s, s:I, s:s}", "file_id", id, "name", f->name, "size", (json_int_t)f->size,
                                "content_type", f->content_type);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

static void apply(logic_send_t *it, const Im__Repo__V1__FileResult *res)
{
    if (!res->found) return logic_send_refuse(it, "not_found", "no such file");
    if (!res->allowed) return logic_send_refuse(it, "forbidden", "that file is not yours to send");
    if (it->up->type == TYPE_IMAGE && !res->file->has_thumb)
        return logic_send_refuse(it, "invalid_argument", "not an image: send it as a file (type 3)");
    char *text = content_of(it->up->type, res->file);
    if (text == NULL) return logic_send_refuse(it, "invalid_argument", "bad file");
    free(it->up->content);   /* the record owns its strings (protobuf-c's malloc) */
    it->up->content = text;
    it->msg.content = text;
    it->file_id = res->file->file_id;
}

int logic_send_check_files(logic_t *l, logic_send_t *items, size_t n)
{
    uint64_t *users = im_calloc(n, sizeof *users), *files = im_calloc(n, sizeof *files);
    size_t *idx = im_calloc(n, sizeof *idx), k = 0;
    for (size_t i = 0; i < n; i++) {
        logic_send_t *it = &items[i];
        if (it->error || it->system || (it->up->type != TYPE_IMAGE && it->up->type != TYPE_FILE)) continue;
        if ((files[k] = file_id_of(it->up->content)) == 0) {
            logic_send_refuse(it, "invalid_argument", "an image or file needs content {\"file_id\": \"<id>\"}");
            continue;
        }
        users[k] = it->up->user_id;
        idx[k++] = i;
    }
    int rc = IM_OK;
    if (k) {
        Im__Repo__V1__GetFilesReply *r = logic_repo_files(l, users, files, k);
        if (r == NULL) rc = IM_EUNAVAIL;
        for (size_t j = 0; r && j < k; j++) apply(&items[idx[j]], r->results[j]);
        if (r) protobuf_c_message_free_unpacked(&r->base, NULL);
    }
    im_free(users);
    im_free(files);
    im_free(idx);
    return rc;
}
