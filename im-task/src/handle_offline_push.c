/* handle_offline_push.c — an `offline_push` task: tell the provider that user_id has a
 * new message while offline. [consume] builds the push here: `body`, the JSON the
 * default provider (log, webhook) gets, and `note`, the alert a device provider (FCM,
 * APNs) shows: title "New message", text the first PREVIEW_BYTES of a text message
 * (whole UTF-8 characters; only with push_preview on), else "[image]", "[file]",
 * "New message". The push workers (push.c) attempt it, retrying with capped backoff,
 * and give it up (logged) after push_attempts. Redelivery after a crash may push twice:
 * a push is a notification, and it carries msg_id so a receiver can drop repeats. */
#include "im/err.h"
#include "im/wire.h"
#include "task.h"

#include <string.h>

#define PREVIEW_BYTES 100

/* The alert's text: owned by the caller. */
static char *preview(task_t *t, const Im__Common__V1__Message *m)
{
    if (m->type == 2) return im_strdup("[image]");
    if (m->type == 3) return im_strdup("[file]");
    if (m->type != 1 || m->recalled || !IM_CFG_GET(t->cfg.push_preview) || !m->content[0])
        return im_strdup("New message");
    size_t n = strlen(m->content);
    if (n > PREVIEW_BYTES) {
        n = PREVIEW_BYTES;
        while (n > 0 && ((unsigned char)m->content[n] & 0xC0) == 0x80) n--;   /* not mid-character */
    }
    char *s = im_malloc(n + 4);
    memcpy(s, m->content, n);
    strcpy(s + n, n < strlen(m->content) ? "..." : "");
    return s;
}

int task_offline_push_prepare(task_t *t, const Im__Mq__V1__Task *task, task_job_t *job)
{
    const Im__Common__V1__Message *m = task->message;
    if (m == NULL) return IM_EINVAL;
    json_t *o = json_pack("{s:s, s:I, s:o}", "kind", "offline_push", "user_id",
                          (json_int_t)task->user_id, "message", im_wire_message(m));
    job->body = im_wire_dump(o);
    job->user_id = task->user_id;
    job->msg_id = m->msg_id;
    job->note.title = im_strdup("New message");
    job->note.text = preview(t, m);
    job->note.conversation_id = im_strdup(m->conversation_id);
    job->note.msg_id = m->msg_id;
    job->note.seq = m->seq;
    job->note.sender_id = m->sender_id;
    return IM_OK;
}
