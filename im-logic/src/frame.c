/* frame.c — the JSON text frames logic sends to clients (client protocol v1). */
#include "im/err.h"
#include "im/wire.h"
#include "logic.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

char *logic_frame_message(const Im__Common__V1__Message *m)
{
    return im_wire_dump(json_pack("{s:s, s:o}", "op", "msg", "message", im_wire_message(m)));
}

char *logic_frame_sent(const Im__Common__V1__Message *m)
{
    char id[24];
    snprintf(id, sizeof id, "%llu", (unsigned long long)m->msg_id);
    return im_wire_dump(json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "op", "sent", "cmid", m->cmid,
                          "msg_id", id, "conversation_id", m->conversation_id, "seq",
                          (json_int_t)m->seq, "created_at", (json_int_t)m->created_at));
}

char *logic_frame_error(const char *code, const char *message, const char *cmid)
{
    json_t *o = json_pack("{s:s, s:s, s:s}", "op", "error", "code", code, "message", message);
    if (cmid && *cmid) json_object_set_new(o, "cmid", json_string(cmid));
    return im_wire_dump(o);
}

char *logic_frame_notify(const char *cid, uint64_t max_seq)
{
    return im_wire_dump(json_pack("{s:s, s:s, s:I}", "op", "notify", "conversation_id", cid, "max_seq",
                                  (json_int_t)max_seq));
}

char *logic_frame_friend_request(uint64_t request_id, const Im__Common__V1__User *from, const char *message)
{
    return im_wire_dump(json_pack("{s:s, s:I, s:{s:I, s:s, s:s}, s:s}", "op", "friend_request", "request_id",
                                  (json_int_t)request_id, "from", "user_id", (json_int_t)from->user_id, "username",
                                  from->username, "nickname", from->nickname, "message", message));
}

char *logic_frame_recalled(const char *cid, uint64_t seq, uint64_t by)
{
    return im_wire_dump(json_pack("{s:s, s:s, s:I, s:I}", "op", "recalled", "conversation_id", cid, "seq",
                                  (json_int_t)seq, "by", (json_int_t)by));
}

char *logic_frame_presence(uint64_t uid, int online, int64_t last_seen)
{
    return im_wire_dump(json_pack("{s:s, s:I, s:b, s:I}", "op", "presence", "user_id", (json_int_t)uid, "online",
                                  online, "last_seen", (json_int_t)last_seen));
}
