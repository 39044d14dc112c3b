/* wire.h — client protocol v1 (docs/PROTOCOL.md) encodings shared by the daemons that
 * speak to clients. Message ids go out as decimal strings: JavaScript numbers cannot
 * hold 64 bits. Every server frame is an object whose first member is "op" (the gateway
 * reads it to shed typing, presence and receipts first under load). */
#ifndef IM_WIRE_H
#define IM_WIRE_H

#include <jansson.h>

#include "common.pb-c.h"

/* Message.mentions value meaning @all (message_mentions.mentioned_user_id 0). */
#define IM_WIRE_MENTION_ALL 0

/* {msg_id,conversation_id,seq,sender_id,type,content,mentions,created_at,cmid}; new reference.
 * mentions: user ids as numbers, @all as the string "all". */
json_t *im_wire_message(const Im__Common__V1__Message *m);
/* {file_id,size,content_type,name,created_at} plus width, height and thumb for an image;
 * new reference. The answer of POST /api/files and the shape clients see. */
json_t *im_wire_file(const Im__Common__V1__File *f);
/* Compact JSON text of o; consumes the reference; caller frees with im_free. */
char *im_wire_dump(json_t *o);

#endif
