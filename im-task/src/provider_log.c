/* provider_log.c — the `log` push provider: one line per offline push. */
#include "im/log.h"
#include "task.h"

#include <string.h>

static int log_push(void *state, int worker, uint64_t user_id, const char *body)
{
    im_info("push.offline_delivered", "provider=log user=%llu bytes=%zu", (unsigned long long)user_id,
            strlen(body));
    return IM_OK;
}

int task_provider_log(task_t *t, task_provider_t *p)
{
    p->name = "log";
    p->push = log_push;
    p->state = NULL;
    return IM_OK;
}
