/* send.c — the send pipeline over one batch of upstream `send` records ([consume]).
 *
 * validate -> recipients exist (a cache, else one GetUsers) -> group members, sender and
 * mentions (send_group.c: one script per distinct group) -> images and files (send_files.c:
 * one GetFiles, only when the batch has some) -> dedup lookup + seq +
 * snowflake id (one pipeline) -> SaveMessages (one call, one transaction) -> dedup store
 * and sessions (one pipeline) -> ack + push (one record per gateway).
 * Round trips per batch, not per message. Nothing is acked or pushed before
 * its row is committed. An error before the commit returns non-OK and the caller
 * retries the batch (already stored items then come back as duplicates).
 * Tracing: the batch runs under its first item's span (its gRPC calls, and im-repo's
 * spans, hang under that one); every sampled item gets the phases' spans. */
#include "im/clock.h"
#include "im/conv.h"
#include "im/log.h"
#include "im/names.h"
#include "im/text.h"
#include "logic.h"

#include <stdio.h>
#include <string.h>

#define SEQ_CONFLICT_RETRIES 3
#define MAX_CONTENT_BYTES 65535   /* messages.content is a TEXT */

void logic_send_refuse(logic_send_t *it, const char *code, const char *msg)
{
    it->error = code;
    it->error_msg = msg;
}

#define TYPE_SYSTEM 100

static void validate(logic_t *l, logic_send_t *it)
{
    const Im__Mq__V1__Upstream *up = it->up;
    size_t clen = strlen(up->content);
    int group = up->group_id != 0;
    if (!im_cmid_valid(up->cmid)) logic_send_refuse(it, "invalid_argument", "cmid must be 1..64 of [A-Za-z0-9_.:-]");
    else if (it->system && (!group || up->type != TYPE_SYSTEM)) logic_send_refuse(it, "invalid_argument", "bad system message");
    else if (group && up->to_user != 0) logic_send_refuse(it, "invalid_argument", "both a recipient and a group");
    else if (!group && up->to_user == 0) logic_send_refuse(it, "invalid_argument", "missing recipient");
    else if (!group && up->to_user == up->user_id) logic_send_refuse(it, "invalid_argument", "cannot send to yourself");
    else if (!it->system && up->type != 1 && up->type != 2 && up->type != 3)
        logic_send_refuse(it, "invalid_argument", "unknown message type");
    else if (clen == 0) logic_send_refuse(it, "invalid_argument", "empty content");
    else if (clen > MAX_CONTENT_BYTES) logic_send_refuse(it, "too_large", "content too long");
    else if (!im_utf8_valid(up->content, clen)) logic_send_refuse(it, "invalid_argument", "content is not UTF-8");
    else if (!it->system && im_utf8_chars(up->content, clen) > (size_t)IM_CFG_GET(l->cfg.max_content))
        logic_send_refuse(it, "too_large", "content too long");
    if (it->error) return;
    if (group) {   /* the sender only: a message never makes anyone a member */
        im_conv_group(it->cid, up->group_id);
        it->gid = up->group_id;
        it->members[0] = up->user_id;
        it->n_members = 1;
    } else {
        im_conv_single(it->cid, up->user_id, up->to_user);
        it->members[0] = up->user_id < up->to_user ? up->user_id : up->to_user;
        it->members[1] = up->user_id < up->to_user ? up->to_user : up->user_id;
        it->n_members = 2;
    }
    it->msg.conversation_id = it->cid;
    it->msg.sender_id = up->user_id;
    it->msg.type = up->type;
    it->msg.content = up->content;
    it->msg.cmid = up->cmid;
}

#define KNOWN_USERS_MAX 1000000   /* the cache starts over past this */

/* Refuses items whose recipient does not exist: ids not confirmed before are asked of
 * im-repo in one GetUsers for the batch. */
static int check_recipients(logic_t *l, logic_send_t *items, size_t n)
{
    Im__Repo__V1__GetUsersRequest req = IM__REPO__V1__GET_USERS_REQUEST__INIT;
    uint64_t *ids = im_calloc(n, sizeof *ids);
    for (size_t i = 0; i < n; i++)
        if (!items[i].error && !items[i].gid && !im_u64map_get(&l->known_users, items[i].up->to_user))
            ids[req.n_user_ids++] = items[i].up->to_user;
    req.user_ids = ids;
    int rc = IM_OK;
    if (req.n_user_ids) {
        ProtobufCMessage *resp = NULL;
        rc = logic_repo_call(l, "GetUsers", &req.base, &resp);
        Im__Repo__V1__GetUsersReply *r = (void *)resp;
        if (rc == IM_OK && l->known_users.len + r->n_users > KNOWN_USERS_MAX) {
            im_u64map_fini(&l->known_users);
            im_u64map_init(&l->known_users);
        }
        for (size_t k = 0; rc == IM_OK && k < r->n_users; k++)
            im_u64map_put(&l->known_users, r->users[k]->user_id, (void *)1);
        if (resp) protobuf_c_message_free_unpacked(resp, NULL);
    }
    for (size_t i = 0; rc == IM_OK && i < n; i++)
        if (!items[i].error && !items[i].gid && !im_u64map_get(&l->known_users, items[i].up->to_user))
            logic_send_refuse(&items[i], "not_found", "no such user");
    im_free(ids);
    return rc;
}

/* The same sender and cmid twice in one batch (a quick client retry, a redelivery): the
 * later one is answered as the first, and takes no seq. */
static void mark_same(logic_send_t *items, size_t n)
{
    for (size_t j = 1; j < n; j++)
        for (size_t i = 0; i < j && !items[j].error; i++)
            if (!items[i].same_as && items[i].up->user_id == items[j].up->user_id &&
                strcmp(items[i].up->cmid, items[j].up->cmid) == 0) {
                items[j].same_as = i + 1;
                break;
            }
}

/* SaveMessages for the items that still need storing. *conflicts counts items whose
 * seq was taken (their counter is raised; the caller assigns and saves them again). */
static int save(logic_t *l, logic_send_t *items, size_t n, size_t *conflicts)
{
    Im__Repo__V1__SaveItem *store = im_calloc(n, sizeof *store);
    Im__Repo__V1__SaveItem **ptrs = im_calloc(n, sizeof *ptrs);
    size_t *idx = im_calloc(n, sizeof *idx), m = 0;
    for (size_t i = 0; i < n; i++) {
        if (items[i].error || items[i].duplicate || items[i].msg.seq == 0) continue;   /* nothing to store */
        im__repo__v1__save_item__init(&store[m]);
        store[m].message = &items[i].msg;
        store[m].n_members = items[i].n_members;
        store[m].members = items[i].members;
        store[m].trace = items[i].span.trace;
        store[m].file_id = items[i].file_id;
        ptrs[m] = &store[m];
        idx[m++] = i;
    }
    Im__Repo__V1__SaveMessagesRequest req = IM__REPO__V1__SAVE_MESSAGES_REQUEST__INIT;
    req.n_items = m;
    req.items = ptrs;
    ProtobufCMessage *resp = NULL;
    int rc = m ? logic_repo_call(l, "SaveMessages", &req.base, &resp) : IM_OK;
    Im__Repo__V1__SaveMessagesReply *r = (void *)resp;
    if (rc == IM_OK && m && r->n_results != m) rc = IM_EPROTO;
    *conflicts = 0;
    for (size_t k = 0; rc == IM_OK && k < m; k++) {
        logic_send_t *it = &items[idx[k]];
        const Im__Repo__V1__SaveResult *res = r->results[k];
        if (res->seq_conflict) {
            logic_seq_conflict(l, it);      /* seq 0: to be assigned again */
            ++*conflicts;
        } else if (res->duplicate) {
            it->duplicate = 1;
            it->msg.msg_id = res->message->msg_id;
            it->msg.seq = res->message->seq;
            it->msg.created_at = res->message->created_at;
        } else {
            im_trace_set(it->span.trace);
            im_debug("msg.stored", "cid=%s seq=%llu msg_id=%llu sender=%llu topic=%s partition=%d offset=%lld",
                    it->cid, (unsigned long long)it->msg.seq, (unsigned long long)it->msg.msg_id,
                    (unsigned long long)it->msg.sender_id, IM_TOPIC_UPSTREAM, it->partition,
                    (long long)it->offset);
            im_trace_set("");
        }
    }
    if (resp) protobuf_c_message_free_unpacked(resp, NULL);
    im_free(store);
    im_free(ptrs);
    im_free(idx);
    return rc;
}

/* SaveMessages refused the batch as invalid (a value the database will not take): each
 * item alone, and the ones refused again get an error instead of a retry forever. */
static int save_each(logic_t *l, logic_send_t *items, size_t n, size_t *conflicts)
{
    *conflicts = 0;
    for (size_t i = 0; i < n; i++) {
        size_t c = 0;
        int rc = save(l, &items[i], 1, &c);
        if (rc == IM_EINVAL) {
            im_warn("msg.unstorable", "user=%llu cmid=%s", (unsigned long long)items[i].up->user_id, items[i].up->cmid);
            logic_send_refuse(&items[i], "invalid_argument", "the message could not be stored");
        } else if (rc != IM_OK) {
            return rc;
        }
        *conflicts += c;
    }
    return IM_OK;
}

/* The users a batch pushes a full frame to: recipients and senders, also_to, every
 * member of the groups it stored messages in (once per group), but of a large group only
 * the mentioned (all of them for @all): the rest get their notify from [fanout]. */
static uint64_t *push_uids(const logic_send_t *items, size_t n, const logic_groups_t *gs, size_t *nu)
{
    size_t cap = 2 * n;
    for (size_t i = 0; i < n; i++) cap += items[i].up->n_also_to + items[i].msg.n_mentions;
    for (size_t i = 0; i < gs->n; i++) cap += gs->v[i].nids;
    uint64_t *uids = im_calloc(cap ? cap : 1, sizeof *uids);
    size_t k = 0;
    im_u64map_t seen;   /* groups already added */
    im_u64map_init(&seen);
    for (size_t i = 0; i < n; i++) {
        const logic_send_t *it = &items[i];
        if (it->error || it->duplicate) continue;
        uids[k++] = it->up->user_id;
        if (!it->gid) uids[k++] = it->up->to_user;
        for (size_t j = 0; j < it->up->n_also_to; j++) uids[k++] = it->up->also_to[j];
        const logic_group_t *g = it->gid ? logic_groups_find(gs, it->gid) : NULL;
        if (g == NULL || im_u64map_get(&seen, g->gid)) continue;
        if (g->large && !logic_mentions_all(it)) {
            for (size_t j = 0; j < it->msg.n_mentions; j++) uids[k++] = it->msg.mentions[j];
            continue;
        }
        im_u64map_put(&seen, g->gid, (void *)1);
        for (size_t j = 0; j < g->nids; j++) uids[k++] = g->ids[j];
    }
    im_u64map_fini(&seen);
    *nu = k;
    return uids;
}

/* One pipelined round trip after the commit: the dedup outcomes are cached and the
 * sessions of the users to push to are read. */
static void after_commit(logic_t *l, const logic_send_t *items, size_t n, const logic_groups_t *gs,
                         logic_sessions_t *sessions)
{
    size_t nu;
    uint64_t *uids = push_uids(items, n, gs, &nu);
    logic_sessions_prepare(sessions, uids, nu);
    im_free(uids);
    redisContext *c = im_redis_acquire(l->redis);
    if (c == NULL) return;   /* no cache write (MySQL still dedups); everyone looks offline */
    size_t sets = logic_dedup_append(l, c, items, n);
    logic_sessions_append(c, sessions);
    int rc = IM_OK;
    for (size_t k = 0; k < sets && rc != IM_EIO; k++) {
        redisReply *r;
        if ((rc = im_redis_reply(c, &r, "dedup.set")) == IM_OK) freeReplyObject(r);
    }
    if (rc != IM_EIO) rc = logic_sessions_read(c, sessions);
    im_redis_release(l->redis, c, rc == IM_EIO);
}

/* A phase of the batch [from_us, to_us] as a span of every sampled item. */
static void phase(logic_send_t *items, size_t n, const char *name, int64_t from_us, int64_t to_us)
{
    for (size_t i = 0; i < n; i++) {
        if (!items[i].span.sampled) continue;
        im_span_t s;
        im_span_child_of(&s, &items[i].span, name, IM_SPAN_INTERNAL);
        s.start_us = from_us;
        s.end_us = to_us;
        im_span_end(&s);
    }
}

/* The rest of logic_send_batch, once every item is checked. */
static int send_checked(logic_t *l, logic_send_t *items, size_t n, logic_groups_t *groups)
{
    int rc;
    int64_t t0 = im_clock_wall_us();
    mark_same(items, n);

    size_t conflicts = 0;
    int round = 0;
    do {
        if ((rc = logic_seq_assign(l, items, n)) != IM_OK) return rc;
        rc = save(l, items, n, &conflicts);
        if (rc == IM_EINVAL) rc = save_each(l, items, n, &conflicts);
        if (rc != IM_OK) return rc;
    } while (conflicts && ++round < SEQ_CONFLICT_RETRIES);
    if (conflicts) return IM_EINTERNAL;

    for (size_t i = 0; i < n; i++)
        if (items[i].same_as) {
            const logic_send_t *first = &items[items[i].same_as - 1];
            items[i].error = first->error;
            items[i].error_msg = first->error_msg;
            items[i].duplicate = 1;
            items[i].msg.msg_id = first->msg.msg_id;
            items[i].msg.seq = first->msg.seq;
            items[i].msg.created_at = first->msg.created_at;
        }
    int64_t t1 = im_clock_wall_us();
    phase(items, n, "dedup, seq, store", t0, t1);
    logic_sessions_t sessions;
    after_commit(l, items, n, groups, &sessions);
    int64_t t2 = im_clock_wall_us();
    phase(items, n, "dedup cache, sessions", t1, t2);
    logic_out_t out;
    logic_out_init(&out);
    for (size_t i = 0; i < n; i++) {
        logic_send_t *it = &items[i];
        im_trace_set(it->span.trace);
        if (it->error) {
            im_metric_add(l->m_rejected, 1);
            im_info("msg.refused", "user=%llu cmid=%s code=%s", (unsigned long long)it->up->user_id,
                    it->up->cmid, it->error);
            logic_push_error(&out, it);
        } else if (it->duplicate) {
            im_metric_add(l->m_dups, 1);
            im_info("msg.duplicate", "user=%llu cmid=%s msg_id=%llu", (unsigned long long)it->up->user_id,
                    it->up->cmid, (unsigned long long)it->msg.msg_id);
            logic_push_sent(&out, it);
        } else {
            im_metric_add(l->m_sent, 1);
            logic_push_sent(&out, it);
            if (it->gid) logic_push_group(l, &out, &sessions, groups, it);
            else logic_push_message(l, &out, &sessions, it);
        }
        im_trace_set("");
    }
    logic_out_flush(l, &out);
    phase(items, n, "push", t2, im_clock_wall_us());
    logic_sessions_free(&sessions);
    logic_push_group_notifies(l, groups);   /* after the flush: `sent` and msgs go first */
    return IM_OK;
}

static int send_batch(logic_t *l, logic_send_t *items, size_t n)
{
    int64_t t0 = im_clock_wall_us();
    for (size_t i = 0; i < n; i++) validate(l, &items[i]);
    int rc = check_recipients(l, items, n);
    if (rc == IM_OK) rc = logic_send_check_relations(l, items, n);
    if (rc != IM_OK) return rc;
    logic_groups_t groups;
    logic_groups_init(&groups);
    if ((rc = logic_send_check_groups(l, items, n, &groups)) != IM_OK ||
        (rc = logic_send_check_files(l, items, n)) != IM_OK) {
        logic_groups_free(&groups);
        return rc;
    }
    phase(items, n, "checks", t0, im_clock_wall_us());
    rc = send_checked(l, items, n, &groups);
    logic_groups_free(&groups);
    return rc;
}

int logic_send_batch(logic_t *l, logic_send_t *items, size_t n)
{
    if (n == 0) return IM_OK;
    im_span_enter(&items[0].span);
    int rc = send_batch(l, items, n);
    im_span_leave(&items[0].span);
    return rc;
}
