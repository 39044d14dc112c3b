/* handle_offline_push.c — an `offline_push` task: tell the provider that user_id has a
 * new message while offline. Retried with backoff; given up (and logged) after
 * push_attempts. Redelivery after a crash may push twice: a push is a notification,
 * and the body carries msg_id so a receiver can drop repeats. */
#include "im/log.h"
#include "im/wire.h"
#include "task.h"

#include <unistd.h>

int task_handle_offline_push(task_t *t, const Im__Mq__V1__Task *task)
{
    if (task->message == NULL) return IM_EINVAL;
    json_t *o = json_pack("{s:s, s:I, s:o}", "kind", "offline_push", "user_id",
                          (json_int_t)task->user_id, "message", im_wire_message(task->message));
    char *body = im_wire_dump(o);
    int rc = IM_EUNAVAIL;
    for (int attempt = 1; attempt <= t->cfg.push_attempts && !t->stopping; attempt++) {
        if ((rc = t->provider.push(t->provider.state, task->user_id, body)) == IM_OK) break;
        usleep((useconds_t)(100000 << (attempt - 1)));
    }
    if (rc != IM_OK)
        im_error("push.given_up", "user=%llu msg_id=%llu", (unsigned long long)task->user_id,
                 (unsigned long long)task->message->msg_id);
    im_free(body);
    return rc;
}
