/* wire.c — JSON shapes of the client protocol. */
#include "im/wire.h"
#include "im/err.h"

#include <stdio.h>
#include <stdlib.h>

json_t *im_wire_message(const Im__Common__V1__Message *m)
{
    char id[24];
    snprintf(id, sizeof id, "%llu", (unsigned long long)m->msg_id);
    json_t *mentions = json_array();
    for (size_t i = 0; i < m->n_mentions; i++)   /* mention 0 is @all: "all" on the wire */
        json_array_append_new(mentions, m->mentions[i] == IM_WIRE_MENTION_ALL
                                            ? json_string("all")
                                            : json_integer((json_int_t)m->mentions[i]));
    json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:i, s:s, s:o, s:I, s:s}", "msg_id", id,
                          "conversation_id", m->conversation_id, "seq", (json_int_t)m->seq,
                          "sender_id", (json_int_t)m->sender_id, "type", m->type, "content",
                          m->content, "mentions", mentions, "created_at", (json_int_t)m->created_at,
                          "cmid", m->cmid);
    if (m->recalled) json_object_set_new(o, "recalled", json_true());   /* only when it is */
    return o;
}

json_t *im_wire_file(const Im__Common__V1__File *f)
{
    char id[24];
    snprintf(id, sizeof id, "%llu", (unsigned long long)f->file_id);
    json_t *o = json_pack("{s:s, s:I, s:s, s:s, s:I}", "file_id", id, "size", (json_int_t)f->size, "content_type",
                          f->content_type, "name", f->name, "created_at", (json_int_t)f->created_at);
    if (f->width) {
        json_object_set_new(o, "width", json_integer(f->width));
        json_object_set_new(o, "height", json_integer(f->height));
    }
    if (f->has_thumb) json_object_set_new(o, "thumb", json_true());
    return o;
}

char *im_wire_dump(json_t *o)
{
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    char *out = im_strdup(text ? text : "{}");
    free(text);
    return out;
}
