/* fanout.c — the `notify` of large groups, and `presence`, on a thread of its own
 * ([fanout]), so that reading thousands of members' sessions (or a user's friends and
 * peers) and building their records never holds the send pipeline ([consume]), which
 * answers `sent` and pushes every other conversation.
 *
 *   presence: [consume] a gateway's `presence` record -> one job {uid, online,
 *      last_seen}; [fanout] keeps the latest job per user, reads their friends (im-repo
 *      GetRelations) and single-chat peers (ListConversations, the PRESENCE_PEERS most
 *      recent), and sends `presence {user_id, online, last_seen}` to their connections.
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
    uint64_t gid, max_seq;          /* notify: gid > 0 */
    uint64_t *ids;                  /* owned */
    size_t n;
    uint64_t uid;                   /* presence: gid == 0 */
    int online;
    int64_t last_seen;
} fanout_job_t;

#define PRESENCE_PEERS 50

static void job_free(fanout_job_t *j)
{
    im_free(j->ids);
    im_free(j);
}

static void hand_over(logic_t *l, fanout_job_t *j)
{
    if (im_queue_push(&l->fanout, &j->node) != IM_OK) {   /* stopping: not after [consume] stops */
        im_warn("fanout.refused", "group=%llu user=%llu", (unsigned long long)j->gid, (unsigned long long)j->uid);
        job_free(j);
    }
}

void logic_fanout_notify(logic_t *l, uint64_t gid, uint64_t max_seq, uint64_t *ids, size_t n)
{
    fanout_job_t *j = im_calloc(1, sizeof *j);
    j->gid = gid;
    j->max_seq = max_seq;
    j->ids = ids;
    j->n = n;
    hand_over(l, j);
}

void logic_fanout_presence(logic_t *l, uint64_t uid, int online, int64_t last_seen)
{
    fanout_job_t *j = im_calloc(1, sizeof *j);
    j->uid = uid;
    j->online = online;
    j->last_seen = last_seen;
    hand_over(l, j);
}

/* A presence job's audience: friends and recent single-chat peers, into j->ids. */
static void audience(logic_t *l, fanout_job_t *j)
{
    Im__Repo__V1__GetRelationsRequest q = IM__REPO__V1__GET_RELATIONS_REQUEST__INIT;
    q.user_id = j->uid;
    ProtobufCMessage *rr = NULL, *cr = NULL;
    Im__Repo__V1__ListConversationsRequest cq = IM__REPO__V1__LIST_CONVERSATIONS_REQUEST__INIT;
    cq.user_id = j->uid;
    Im__Repo__V1__GetRelationsReply *rel = logic_repo_call(l, "GetRelations", &q.base, &rr) == IM_OK ? (void *)rr : NULL;
    Im__Repo__V1__ListConversationsReply *cv =
        logic_repo_call(l, "ListConversations", &cq.base, &cr) == IM_OK ? (void *)cr : NULL;
    size_t cap = (rel ? rel->n_friend_ids : 0) + PRESENCE_PEERS + 1;
    j->ids = im_calloc(cap, sizeof *j->ids);
    im_u64map_t seen;
    im_u64map_init(&seen);
    for (size_t i = 0; rel && i < rel->n_friend_ids; i++)
        if (!im_u64map_get(&seen, rel->friend_ids[i])) {
            im_u64map_put(&seen, rel->friend_ids[i], (void *)1);
            j->ids[j->n++] = rel->friend_ids[i];
        }
    for (size_t i = 0, peers = 0; cv && i < cv->n_conversations && peers < PRESENCE_PEERS; i++) {
        uint64_t p = cv->conversations[i]->peer_id;
        if (cv->conversations[i]->type != 1 || p == 0 || im_u64map_get(&seen, p)) continue;
        im_u64map_put(&seen, p, (void *)1);
        j->ids[j->n++] = p;
        peers++;
    }
    im_u64map_fini(&seen);
    if (rr) protobuf_c_message_free_unpacked(rr, NULL);
    if (cr) protobuf_c_message_free_unpacked(cr, NULL);
}

/* Jobs of the same group into the first of them: the highest max_seq, every member once;
 * of one user's presence, the latest. */
static size_t merge(fanout_job_t **jobs, size_t n)
{
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < out && (jobs[k]->gid != jobs[i]->gid || jobs[k]->uid != jobs[i]->uid)) k++;
        if (k == out) {
            jobs[out++] = jobs[i];
            continue;
        }
        if (jobs[i]->gid == 0) {   /* presence: the later one stands */
            job_free(jobs[k]);
            jobs[k] = jobs[i];
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
    for (size_t i = 0; i < n; i++)
        if (jobs[i]->gid == 0) audience(l, jobs[i]);
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
        if (jobs[i]->gid == 0) {
            const char *f = logic_out_keep(&o, logic_frame_presence(jobs[i]->uid, jobs[i]->online, jobs[i]->last_seen));
            for (size_t x = 0; x < jobs[i]->n; x++) logic_push_user(l, &o, &s, jobs[i]->ids[x], 0, f, "", 0);
            im_debug("fanout.presence", "user=%llu online=%d to=%zu", (unsigned long long)jobs[i]->uid,
                     jobs[i]->online, jobs[i]->n);
            continue;
        }
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
