/* handle_offline_push.c — an `offline_push` task: tell the provider that user_id has a
 * new message while offline. [consume] builds the push here; the push workers
 * (push.c) attempt it, retrying with capped backoff, and give it up (logged) after
 * push_attempts. Redelivery after a crash may push twice: a push is a notification,
 * and the body carries msg_id so a receiver can drop repeats. */
#include "im/err.h"
#include "im/wire.h"
#include "task.h"

int task_offline_push_prepare(task_t *t, const Im__Mq__V1__Task *task, task_job_t *job)
{
    if (task->message == NULL) return IM_EINVAL;
    json_t *o = json_pack("{s:s, s:I, s:o}", "kind", "offline_push", "user_id",
                          (json_int_t)task->user_id, "message", im_wire_message(task->message));
    job->body = im_wire_dump(o);
    job->user_id = task->user_id;
    job->msg_id = task->message->msg_id;
    return IM_OK;
}
