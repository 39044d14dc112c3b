/* fanout.c — the `notify` of large groups on a thread of its own ([fanout]), so that
 * reading thousands of members' sessions and building their records never holds the send
 * pipeline ([consume]), which answers `sent` and pushes every other conversation.
 *
 *   [consume] push_group.c logic_push_group_notifies: one job per large group of a
 *      batch {gid, max_seq, the members to tell} -push-> l->fanout (im/queue.h)
 *   [fanout] takes every job queued, merges the jobs of one group (the highest max_seq,
 *      the union of the members), reads all their sessions in one pipelined round trip
 *      and produces one Downstream record per gateway (out.c caps the targets a record).
 *
 * A notify only says "pull up to max_seq" and the gateway keeps the highest, so a merged
 * or late notify loses nothing; a lost one (logic dies with jobs queued) costs the member
 * nothing either: the next notify, a reconnect or opening the chat pulls.
 * Stop: the queue is closed once [consume] has stopped; the thread drains what is queued,
 * then exits, before the producer is freed (main.c). */
#include "im/log.h"
#include "logic.h"

#include <string.h>

typedef struct fanout_job_s {
    im_queue_node_t node;
    uint64_t gid, max_seq;
    uint64_t *ids;                  /* owned */
    size_t n;
} fanout_job_t;

static void job_free(fanout_job_t *j)
{
    im_free(j->ids);
    im_free(j);
}

void logic_fanout_notify(logic_t *l, uint64_t gid, uint64_t max_seq, uint64_t *ids, size_t n)
{
    fanout_job_t *j = im_calloc(1, sizeof *j);
    j->gid = gid;
    j->max_seq = max_seq;
    j->ids = ids;
    j->n = n;
    if (im_queue_push(&l->fanout, &j->node) != IM_OK) {   /* stopping: not after [consume] stops */
        im_warn("fanout.refused", "group=%llu max_seq=%llu", (unsigned long long)gid, (unsigned long long)max_seq);
        job_free(j);
    }
}

/* Jobs of the same group into the first of them: the highest max_seq, every member once. */
static size_t merge(fanout_job_t **jobs, size_t n)
{
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < out && jobs[k]->gid != jobs[i]->gid) k++;
        if (k == out) {
            jobs[out++] = jobs[i];
            continue;
        }
        fanout_job_t *into = jobs[k], *from = jobs[i];
        if (from->max_seq > into->max_seq) into->max_seq = from->max_seq;
        im_u64map_t have;
        im_u64map_init(&have);
        for (size_t x = 0; x < into->n; x++) im_u64map_put(&have, into->ids[x], (void *)1);
        into->ids = im_realloc(into->ids, (into->n + from->n) * sizeof *into->ids);
        for (size_t x = 0; x < from->n; x++)
            if (!im_u64map_get(&have, from->ids[x])) into->ids[into->n++] = from->ids[x];
        im_u64map_fini(&have);
        job_free(from);
    }
    return out;
}

static void run(logic_t *l, fanout_job_t **jobs, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += jobs[i]->n;
    uint64_t *uids = im_calloc(total ? total : 1, sizeof *uids);
    for (size_t i = 0, k = 0; i < n; i++) {
        memcpy(uids + k, jobs[i]->ids, jobs[i]->n * sizeof *uids);
        k += jobs[i]->n;
    }
    logic_sessions_t s;
    logic_sessions_load(l, &s, uids, total);
    im_free(uids);
    logic_out_t o;
    logic_out_init(&o);
    for (size_t i = 0; i < n; i++) {
        char cid[IM_CONV_ID_MAX];
        im_conv_group(cid, jobs[i]->gid);
        const char *frame = logic_out_keep(&o, logic_frame_notify(cid, jobs[i]->max_seq));
        const char *ncid = logic_out_keep(&o, im_strdup(cid));   /* Delivery.notify_cid, freed by the flush */
        for (size_t x = 0; x < jobs[i]->n; x++) logic_push_notify(l, &o, &s, jobs[i]->ids[x], frame, ncid, jobs[i]->max_seq);
        im_debug("fanout.notify", "cid=%s max_seq=%llu members=%zu", cid, (unsigned long long)jobs[i]->max_seq,
                 jobs[i]->n);
    }
    logic_out_flush(l, &o);
    logic_sessions_free(&s);
}

static void *fanout_main(void *arg)
{
    logic_t *l = arg;
    im_queue_node_t *first;
    while ((first = im_queue_pop_wait(&l->fanout)) != NULL) {
        first->next = im_queue_take_all(&l->fanout);   /* and everything queued behind it */
        size_t n = 0, cap = 16;
        fanout_job_t **jobs = im_calloc(cap, sizeof *jobs);
        for (im_queue_node_t *p = first, *next; p; p = next) {
            next = p->next;
            if (n == cap) jobs = im_realloc(jobs, (cap *= 2) * sizeof *jobs);
            jobs[n++] = IM_QUEUE_ENTRY(p, fanout_job_t, node);
        }
        im_metric_add(l->m_fanout_jobs, n);
        n = merge(jobs, n);
        run(l, jobs, n);
        for (size_t i = 0; i < n; i++) job_free(jobs[i]);
        im_free(jobs);
    }
    return NULL;
}

int logic_fanout_start(logic_t *l)
{
    l->m_fanout_jobs = im_metric_new(IM_METRIC_COUNTER, "cim_logic_fanout_jobs_total",
                                     "Large-group notify jobs handed to the fanout thread");
    im_queue_init(&l->fanout, NULL, NULL);
    if (pthread_create(&l->fanout_thread, NULL, fanout_main, l) != 0) return IM_EINTERNAL;
    l->fanout_started = 1;
    return IM_OK;
}

void logic_fanout_stop(logic_t *l)
{
    if (!l->fanout_started) return;
    im_queue_close(&l->fanout);
    pthread_join(l->fanout_thread, NULL);
    im_queue_fini(&l->fanout);
    l->fanout_started = 0;
}
