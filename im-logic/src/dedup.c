/* dedup.c — msg_dedup:{uid}:{cmid}: the cached outcome of a send, written only after its
 * row is committed (looked up by seq.c's script, with the seq). MySQL's
 * UNIQUE(sender_id, client_msg_id) stays the truth; this cache answers retries without a
 * seq, a MySQL round trip or a second message. */
#include "im/log.h"
#include "im/names.h"
#include "logic.h"

#include <stdio.h>

/* Value: "{msg_id} {seq} {created_at}", built with snprintf and passed as one argument
 * (hiredis splits its format string on spaces), parsed back by logic_dedup_parse (for
 * seq.c's script reply). Duplicates found by MySQL are cached too, so their next retry
 * stops at Redis. */
int logic_dedup_parse(const char *value, Im__Common__V1__Message *msg)
{
    unsigned long long id, seq;
    long long at;
    if (sscanf(value, "%llu %llu %lld", &id, &seq, &at) != 3) return IM_EINVAL;
    msg->msg_id = id;
    msg->seq = seq;
    msg->created_at = at;
    return IM_OK;
}

size_t logic_dedup_append(logic_t *l, redisContext *c, const logic_send_t *items, size_t n)
{
    size_t asked = 0;
    int ttl = IM_CFG_GET(l->cfg.dedup_ttl_s);
    for (size_t i = 0; i < n; i++) {
        if (items[i].error || items[i].same_as) continue;
        char value[80];
        snprintf(value, sizeof value, "%llu %llu %lld", (unsigned long long)items[i].msg.msg_id,
                 (unsigned long long)items[i].msg.seq, (long long)items[i].msg.created_at);
        redisAppendCommand(c, "SET " IM_KEY_MSG_DEDUP " %s EX %d", (unsigned long long)items[i].up->user_id,
                           items[i].up->cmid, value, ttl);
        asked++;
    }
    return asked;
}
