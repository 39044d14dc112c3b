/* window.c — offsets stored in order per partition, while records finish in any order.
 *
 * Every record read joins its partition's list at the tail; it leaves from the head,
 * and only once it is finished, so an offset is stored only when every record read
 * before it in that partition is finished too (delivered or given up). A record stuck
 * in retries holds back the offsets behind it, never the work behind it.
 *
 * After a rebalance a partition may be read again from an older offset: the replayed
 * records join behind the old ones, the stored offset may step back, and the records
 * in between are pushed once more — at-least-once either way.
 *
 * @locality [consume] only. */
#include "task.h"
#include "im/err.h"

static task_partition_t *partition_of(task_window_t *w, int32_t partition)
{
    for (size_t i = 0; i < w->nparts; i++)
        if (w->parts[i].partition == partition) return &w->parts[i];
    w->parts = im_realloc(w->parts, (w->nparts + 1) * sizeof *w->parts);
    task_partition_t *p = &w->parts[w->nparts++];
    p->partition = partition;
    p->head = p->tail = NULL;
    return p;
}

void task_window_add(task_window_t *w, task_job_t *job)
{
    task_partition_t *p = partition_of(w, job->msg.partition);
    job->next_in_partition = NULL;
    job->finished = 0;
    if (p->tail) p->tail->next_in_partition = job;
    else p->head = job;
    p->tail = job;
    w->len++;
}

task_job_t *task_window_finish(task_window_t *w, task_job_t *job)
{
    job->finished = 1;
    task_partition_t *p = partition_of(w, job->msg.partition);
    if (p->head == NULL || !p->head->finished) return NULL;
    task_job_t *first = p->head, *last = first;
    w->len--;
    while (last->next_in_partition && last->next_in_partition->finished) {
        last = last->next_in_partition;
        w->len--;
    }
    p->head = last->next_in_partition;
    if (p->head == NULL) p->tail = NULL;
    last->next_in_partition = NULL;
    return first;
}

task_job_t *task_window_take_all(task_window_t *w)
{
    task_job_t *all = NULL, **end = &all;
    for (size_t i = 0; i < w->nparts; i++) {
        task_partition_t *p = &w->parts[i];
        if (p->head == NULL) continue;
        *end = p->head;
        end = &p->tail->next_in_partition;
        p->head = p->tail = NULL;
    }
    w->len = 0;
    return all;
}

void task_window_fini(task_window_t *w)
{
    im_free(w->parts);
    w->parts = NULL;
    w->nparts = w->len = 0;
}
