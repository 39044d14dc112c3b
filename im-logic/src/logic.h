/* logic.h — im-logic: the business rules of cim.
 *
 * DESIGN
 *   Threads:
 *     `consume`  the im-logic consumer group on im-upstream-topic: takes a batch of
 *                records, runs the send pipeline on it, then stores the offsets
 *                (at-least-once; the pipeline is idempotent through dedup).
 *     `fanout`   the `notify` of large groups and `presence` frames (fanout.c), handed
 *                over through one im_queue_t, so thousands of members never hold the pipeline.
 *     `rpc-N`    gRPC workers serving im.logic.v1.Logic (accounts, reads) for gateways.
 *     main, `admin`, the etcd keepalive and the watch thread of the im-repo client.
 *
 *   Send path (one record = one client `send`, or a `system` group event from group_event.c):
 *     im-upstream-topic -> [consume] consume.c -> send.c:
 *        validate + recipient exists (cache, else im-repo GetUsers)
 *        -> relations.c  single chats: the recipient blocked the sender? (and, with
 *                     single_chat_policy friends, not a friend?) from user_rel:{uid},
 *                     else im-repo GetRelations
 *        -> send_group.c  group sends: groups.c reads each group's members once per batch
 *                     (group_members:{gid}, else im-repo GetMemberIds); sender a member,
 *                     mentions members, @all by an admin/owner
 *        -> seq.c     one script per item: msg_dedup:{uid}:{cmid} hit? ack again, stop;
 *                     a seq reserved there? take it; else INCR conv_seq:{cid} and reserve
 *                     it (re-seeded from MySQL under a lock if missing)
 *        -> snowflake msg id
 *        -> im-repo SaveMessages (one transaction per batch)   persist before push
 *        -> dedup.c   cache the outcome, with push.c's session reads in the same pipeline
 *        -> push.c    `sent` to the sender's connection, `msg` to every connection of
 *                     the recipient and the sender's other ones
 *           push_group.c  groups: `msg` to every member (write diffusion), or above
 *                     large_group_threshold `msg` to the mentioned, and one job per
 *                     group per batch -queue-> [fanout] fanout.c: `notify` to the rest
 *                     (read diffusion)
 *        -> out.c     one Downstream record per gateway per batch
 *                     -produce-> im-downstream-topic-{gateway_id}
 *                     recipient offline -produce-> im-task-topic (offline push)
 *   Cursor path: `cursors` records (a gateway's coalesced acks and reads) of a batch
 *        -> cursor.c -> im-repo UpdateCursors (one call) -> `receipt` to read peers
 *   Presence: a gateway's `presence` record -> [consume] -> fanout.c -> friends and
 *        recent peers (im-repo GetRelations, ListConversations) -> `presence` frames
 *   Gateway calls: gateway -grpc-> [rpc-N] rpc.c -> handle_<method>.c -grpc-> im-repo
 *        (friends and blocks: handle_change_relation.c, handle_list_relations.c; recall:
 *        handle_recall.c pushes `recalled` to every participant)
 *   Push devices: [rpc-N] handle_register_device.c, handle_delete_device.c,
 *        handle_list_devices.c (validate, caller's own only) -grpc-> im-repo devices table
 *   Group changes: [rpc-N] handle_create_group.c / handle_change_group.c -grpc-> im-repo,
 *        then group_event.c -produce(waits for the ack)-> im-upstream-topic (op "system",
 *        key g_{gid}) -> the send path above, like a message
 */
#ifndef IM_LOGIC_H
#define IM_LOGIC_H

#include <jansson.h>
#include <pthread.h>

#include "im/conv.h"
#include "im/daemon.h"
#include "im/kafka.h"
#include "im/metrics.h"
#include "im/queue.h"
#include "im/redis.h"
#include "im/rpc.h"
#include "im/snowflake.h"
#include "im/trace.h"
#include "im/u64map.h"
#include "logic.pb-c.h"
#include "mq.pb-c.h"
#include "repo.pb-c.h"

typedef struct {
    im_common_cfg_t common;
    char *grpc_host;         /* gRPC bind address */
    int grpc_port;           /* gRPC port of im.logic.v1.Logic (0 = any) */
    int rpc_threads;         /* gRPC worker threads */
    int repo_timeout_ms;     /* deadline of each call to im-repo */
    char *kafka_brokers;
    int upstream_partitions; /* partitions of im-upstream-topic when this creates it */
    int batch_max;           /* most upstream records handled as one batch */
    char *redis_host;
    int redis_port;
    int redis_pool;
    char *jwt_secret;        /* HS256 key shared with the gateways */
    int jwt_ttl_s;           /* token lifetime */
    int hash_concurrency;    /* argon2id hashes at once (hash_memory_kib each) */
    int hash_passes;         /* argon2id cost of new password hashes */
    int hash_memory_kib;
    int max_content;         /* longest message content, in characters */
    int dedup_ttl_s;         /* how long msg_dedup:{uid}:{cmid} outcomes are cached */
    int large_group_threshold; /* LIVE: groups above this many members get read diffusion */
    int receipts_group_limit;  /* LIVE: read receipts are relayed in groups up to this size */
    int max_group_members;     /* LIVE: most members a group may have */
    int single_chat_policy;    /* LIVE: LOGIC_POLICY_ANYONE or LOGIC_POLICY_FRIENDS */
    int recall_window_s;       /* LIVE: how long a sender may recall a message */
    /* degradation switches and shedding (LIVE; docs/OPERATIONS.md) */
    int receipts_enabled;      /* relay `receipt` frames */
    int offline_push_enabled;  /* produce offline-push tasks */
    int history_page_max;      /* cap of a history page / sync */
    int registration_open;     /* RegisterUser accepted */
    int shed_lag_ms;           /* typing, presence, receipts consumed later than this are dropped */
} logic_config_t;

enum { LOGIC_POLICY_ANYONE = 0, LOGIC_POLICY_FRIENDS = 1 };   /* single_chat_policy */

typedef struct {
    logic_config_t cfg;
    im_daemon_t daemon;             /* identity, etcd, admin port */
    im_rpc_server_t *rpc;           /* im.logic.v1.Logic */
    im_discovery_t repo;            /* im-repo client, endpoints from etcd */
    im_redis_pool_t *redis;         /* dedup, seq, sessions */
    im_kafka_producer_t *producer;  /* downstream and task topics */
    im_kafka_producer_t *sys_producer; /* [rpc-N]: group events to im-upstream-topic, each
                                       call waiting for its own delivery report */
    im_kafka_consumer_t *consumer;  /* group im-logic on im-upstream-topic */
    im_snowflake_t ids;             /* worker id leased from etcd */
    pthread_t consume_thread;
    volatile int stopping;
    im_queue_t fanout;              /* [consume] -> [fanout]: large-group notify jobs */
    pthread_t fanout_thread;
    int fanout_started;
    im_metric_t *m_fanout_jobs;     /* jobs handed to [fanout] */
    im_metric_t *m_sent;            /* messages stored */
    im_metric_t *m_dups;            /* sends answered from dedup */
    im_metric_t *m_rejected;        /* sends refused (bad input, unknown user) */
    im_metric_t *m_shed;            /* hints dropped by load shedding (shed_lag_ms) */
    im_metric_t *m_pushed;          /* downstream records produced */
    im_metric_t *m_offline;         /* offline-push tasks produced */
    im_metric_t *m_events;          /* group system messages produced (group_event.c) */
    im_metric_t *m_hop_up;          /* histogram: a gateway read the send -> logic consumed it */
    im_metric_t *m_hop_logic;       /* histogram: logic consumed a send -> its frames produced */
    pthread_mutex_t gw_lock;        /* guards the live gateway list */
    char **gw_live;                 /* instance ids of registered gateways */
    size_t gw_nlive;
    int gw_known;                   /* a first snapshot arrived */
    im_etcd_watch_t *gw_watch;
    im_u64map_t known_users;        /* [consume]: ids im-repo confirmed (users are never
                                       deleted), so a recipient is checked once */
} logic_t;

/* One client `send` going through the pipeline ([consume] only). */
typedef struct {
    Im__Mq__V1__Upstream *up;       /* the record, unpacked; owned */
    im_span_t span;                 /* "logic send", child of the gateway's (span.trace: logs) */
    char tp[56];                    /* its traceparent, carried by the frames it causes */
    int32_t partition;              /* where the record came from, for the logs */
    int64_t offset;
    const char *error;              /* client error code if refused, else NULL */
    const char *error_msg;
    int duplicate;                  /* answered from dedup (cache or MySQL) */
    size_t same_as;                 /* 1 + index of an earlier item of the batch with the
                                       same sender and cmid (answered as it is), else 0 */
    int system;                     /* op "system": a group event (group_event.c); no membership
                                       checks, no `sent` (conn_id 0) */
    uint64_t gid;                   /* a group send or event: the group, else 0 */
    char cid[IM_CONV_ID_MAX];       /* conversation id */
    uint64_t members[2];            /* single: both users; group: the sender only */
    size_t n_members;
    uint64_t mention_all[1];        /* {IM_WIRE_MENTION_ALL}: msg.mentions of an @all */
    uint64_t file_id;               /* an image or file: the upload it carries (send_files.c) */
    Im__Common__V1__Message msg;    /* the message as stored; strings point into up and cid */
} logic_send_t;

/* One group's members as a batch sees them ([consume] or one cursor/typing call); groups.c. */
typedef struct {
    uint64_t gid;
    int found;                      /* the group exists */
    uint32_t count;                 /* members */
    int full;                       /* ids holds every member, roles every member's role */
    uint64_t *ids;                  /* full: the members */
    size_t nids;
    im_u64map_t roles;              /* uid -> (void *)(uintptr_t)role: every member (full),
                                       else the uids asked that are members */
    uint64_t *asks;                 /* uids whose roles the caller needs (not full) */
    size_t nasks, capasks;
    int large;                      /* above large_group_threshold, as read once for the batch */
    /* push_group.c, read diffusion */
    size_t pushed;                  /* messages of this group pushed in the batch */
    uint64_t max_seq;               /* the highest of their seqs */
    im_u64map_t got;                /* uid -> (void *)count of those it got as a full `msg` */
} logic_group_t;

typedef struct {
    logic_group_t *v;
    size_t n, cap;
    im_u64map_t index;              /* gid -> (void *)(1 + index into v) */
} logic_groups_t;

/* ---- config.c ---- */
extern const im_cfg_field_t logic_config_table[];

/* ---- rpc.c ---- */
int logic_rpc_start(logic_t *l);
/* Calls im-repo with the logic deadline; frees nothing. *resp as im_rpc_client_call. */
/* im-repo GetUsers: the profiles of ids (unknown ones left out), or NULL if im-repo did
 * not answer; free with protobuf_c_message_free_unpacked(&reply->base, NULL). */
Im__Repo__V1__GetUsersReply *logic_repo_users(logic_t *l, const uint64_t *ids, size_t n);
int logic_repo_call(logic_t *l, const char *method, const ProtobufCMessage *req,
                    ProtobufCMessage **resp);
/* im-repo GetFiles: for each i, file_ids[i]'s row and whether user_ids[i] may read it;
 * NULL if im-repo did not answer. Free like logic_repo_users'. */
Im__Repo__V1__GetFilesReply *logic_repo_files(logic_t *l, const uint64_t *user_ids, const uint64_t *file_ids, size_t n);

/* ---- consume.c ---- */
int logic_consume_start(logic_t *l);
void logic_consume_stop(logic_t *l);

/* ---- send.c: the send pipeline over a batch ---- */
/* IM_OK when every item is finished (stored, deduped or refused, and answered);
 * an error means nothing may be committed: the caller retries the batch. */
int logic_send_batch(logic_t *l, logic_send_t *items, size_t n);

/* ---- dedup.c (the lookup is in seq.c's script) ---- */
/* A cached outcome back into msg (msg_id, seq, created_at); IM_EINVAL if malformed. */
int logic_dedup_parse(const char *value, Im__Common__V1__Message *msg);
/* Appends the SETs of a committed batch to pipeline c; returns how many replies to read. */
size_t logic_dedup_append(logic_t *l, redisContext *c, const logic_send_t *items, size_t n);

/* ---- send.c ---- */
void logic_send_refuse(logic_send_t *it, const char *code, const char *msg);   /* a client error */

/* ---- relations.c: single chats against the recipient's friends and blocks ---- */
int logic_send_check_relations(logic_t *l, logic_send_t *items, size_t n);

/* ---- send_files.c: images and files in a batch ---- */
/* Refuses type 2/3 sends naming a file the sender may not read (or a non-image as an
 * image) and rebuilds the others' content from the file's row; IM_OK, else an error that
 * retries the batch (im-repo down). */
int logic_send_check_files(logic_t *l, logic_send_t *items, size_t n);

/* ---- send_group.c: group sends and events in a batch ---- */
/* Loads the batch's groups (one script per distinct group) into gs and refuses group
 * sends whose sender is no member or whose mentions are wrong; IM_OK, else an error that
 * retries the batch (Redis, im-repo down). */
int logic_send_check_groups(logic_t *l, logic_send_t *items, size_t n, logic_groups_t *gs);

/* ---- groups.c: group membership from group_members:{gid} ---- */
void logic_groups_init(logic_groups_t *gs);
void logic_groups_free(logic_groups_t *gs);
logic_group_t *logic_groups_add(logic_groups_t *gs, uint64_t gid);   /* find or add; the
                                                                        pointer lives until the next add */
logic_group_t *logic_groups_find(const logic_groups_t *gs, uint64_t gid);
void logic_group_ask(logic_group_t *g, uint64_t uid);   /* this uid's role is needed */
/* One pipelined script per group: the full member list when it has at most full_upto
 * members, else the roles asked; a miss (no hash) asks im-repo GetMemberIds (full).
 * IM_OK, or IM_EUNAVAIL/IM_EIO/... when a group could not be read. */
int logic_groups_load(logic_t *l, logic_groups_t *gs, uint32_t full_upto);
int logic_group_role(const logic_group_t *g, uint64_t uid);   /* 0: not a member (or not known) */

/* ---- send.c helpers ---- */
/* Still to be given a seq: not refused, not a duplicate, no seq yet. */
static inline int logic_send_needs_seq(const logic_send_t *it)
{
    return !it->error && !it->duplicate && !it->same_as && it->msg.seq == 0;
}

/* ---- seq.c ---- */
/* Gives every item that needs one a seq, a snowflake id and created_at, in batch order. */
int logic_seq_assign(logic_t *l, logic_send_t *items, size_t n);
int logic_seq_conflict(logic_t *l, logic_send_t *it);   /* its seq was taken: assign again */

/* ---- gateways.c: live gateways, from etcd ---- */
void logic_gateways_start(logic_t *l);
void logic_gateways_stop(logic_t *l);
int logic_gateway_alive(logic_t *l, const char *gateway_id);

/* ---- out.c: a batch's downstream records, one per gateway ----
 * The same frame added again for a gateway right after itself becomes one more Target of
 * that gateway's last Delivery (up to LOGIC_OUT_TARGETS_MAX), so a group message is one
 * Delivery per gateway; frames stay in the order they were added. */
#define LOGIC_OUT_TARGETS_MAX 2000
#define LOGIC_OUT_RECORD_MAX (512 * 1024)   /* bytes of deliveries per record, about */
typedef struct logic_out_gw_s logic_out_gw_t;
typedef struct {
    logic_out_gw_t *gws;
    size_t ngws, capgws;
    char **frames;                  /* owned, freed by flush */
    size_t nframes, capframes;
} logic_out_t;
void logic_out_init(logic_out_t *o);
const char *logic_out_keep(logic_out_t *o, char *frame);   /* takes ownership of frame */
/* A delivery of frame (kept by o, or outliving the flush) to a user or one connection;
 * tp: the traceparent it carries to the gateway ("" for none). */
void logic_out_add(logic_out_t *o, const char *gateway_id, uint64_t user_id, uint64_t conn_id,
                   uint64_t except_conn, const char *frame, const char *tp, int64_t received_us);
/* As logic_out_add for a `notify` frame of (cid, seq): Delivery.notify_cid/notify_seq. */
void logic_out_add_notify(logic_out_t *o, const char *gateway_id, uint64_t user_id, const char *frame,
                          const char *cid, uint64_t seq);
/* A Downstream record (produced_us = now) of gateway i's deliveries from *next on, as
 * many as fit LOGIC_OUT_RECORD_MAX (at least one), packed; *next moves past them; *len
 * set; im_free it. */
uint8_t *logic_out_pack(logic_out_t *o, size_t i, size_t *next, int64_t now, const char **gateway_id,
                        size_t *len);
void logic_out_flush(logic_t *l, logic_out_t *o);           /* produces, then empties o */
void logic_out_discard(logic_out_t *o);                     /* empties o, producing nothing */

/* ---- push.c ---- */
/* The user_session:{uid} hashes of a batch's users, read in one pipelined round trip. */
typedef struct {
    uint64_t *uids;
    void **replies;                 /* redisReply *, NULL if the read failed */
    size_t n;
    im_u64map_t index;              /* uid -> (void *)(1 + index) */
} logic_sessions_t;
void logic_sessions_load(logic_t *l, logic_sessions_t *s, const uint64_t *uids, size_t n);
/* The same in parts, to share a pipeline: the distinct users, their HGETALLs appended to
 * c, then their replies read (IM_EIO if the connection failed). */
void logic_sessions_prepare(logic_sessions_t *s, const uint64_t *uids, size_t n);
void logic_sessions_append(redisContext *c, const logic_sessions_t *s);
int logic_sessions_read(redisContext *c, logic_sessions_t *s);
void logic_sessions_free(logic_sessions_t *s);
void logic_push_sent(logic_out_t *o, const logic_send_t *it);
void logic_push_error(logic_out_t *o, const logic_send_t *it);
void logic_push_message(logic_t *l, logic_out_t *o, const logic_sessions_t *s, const logic_send_t *it);
/* A frame to every connection of user_id (but except_conn, 0 for none) found in s;
 * returns on how many gateways. */
size_t logic_push_user(logic_t *l, logic_out_t *o, const logic_sessions_t *s, uint64_t user_id,
                       uint64_t except_conn, const char *frame, const char *tp, int64_t received_us);
/* A `notify` frame of (cid, seq) to every connection of user_id; on how many gateways. */
size_t logic_push_notify(logic_t *l, logic_out_t *o, const logic_sessions_t *s, uint64_t user_id,
                         const char *frame, const char *cid, uint64_t seq);
/* Outside a batch (an RPC, typing, [fanout]...): frame (taken) to every connection of the
 * users but except_user (0: none), their sessions read in one round trip, one record per
 * gateway. */
void logic_push_to_users(logic_t *l, const uint64_t *uids, size_t n, uint64_t except_user, char *frame,
                         const char *tp);
/* One offline_push task of it's message for user_id. */
void logic_push_offline(logic_t *l, const logic_send_t *it, uint64_t user_id);

/* ---- push_group.c: a group message to the members ---- */
/* Write diffusion (members <= large_group_threshold): `msg` to every member but the
 * sending connection, offline_push for offline members (not for events). Read diffusion:
 * `msg` to the sender's other connections, the mentioned (all online members for @all) and
 * also_to; the rest wait for logic_push_group_notifies. */
/* The message mentions @all (its one mention is IM_WIRE_MENTION_ALL). */
int logic_mentions_all(const logic_send_t *it);
void logic_push_group(logic_t *l, logic_out_t *o, const logic_sessions_t *s, logic_groups_t *gs,
                      const logic_send_t *it);
/* After a batch's items: one fanout job per large group, a `notify {conversation_id,
 * max_seq}` for every member that did not get all of that group's messages of the batch
 * in full. */
void logic_push_group_notifies(logic_t *l, logic_groups_t *gs);

/* ---- fanout.c: [fanout], large groups' notifies off the pipeline ---- */
int logic_fanout_start(logic_t *l);
void logic_fanout_stop(logic_t *l);   /* after [consume] stopped: drains, then joins */
/* [consume]: queues the notify of gid up to max_seq to ids (taken: im_calloc'd). */
void logic_fanout_notify(logic_t *l, uint64_t gid, uint64_t max_seq, uint64_t *ids, size_t n);
/* [consume]: queues a user's presence change for their friends and recent peers. */
void logic_fanout_presence(logic_t *l, uint64_t uid, int online, int64_t last_seen);

/* ---- frame.c: client frames (JSON) ---- */
char *logic_frame_message(const Im__Common__V1__Message *m);     /* {"op":"msg",...}; im_free */
char *logic_frame_sent(const Im__Common__V1__Message *m);
char *logic_frame_error(const char *code, const char *message, const char *cmid);
char *logic_frame_notify(const char *cid, uint64_t max_seq);        /* {"op":"notify",...} */
char *logic_frame_presence(uint64_t uid, int online, int64_t last_seen);
char *logic_frame_recalled(const char *cid, uint64_t seq, uint64_t by);
char *logic_frame_friend_request(uint64_t request_id, const Im__Common__V1__User *from, const char *message);

/* ---- copy.c: im-repo replies into the Logic call's arena ---- */
Im__Common__V1__User *logic_copy_user(im_rpc_call_t *call, const Im__Common__V1__User *u);
/* The one user of a GetUsers-shaped reply into a UserReply, or not_found. */
void logic_user_reply(im_rpc_call_t *call, Im__Logic__V1__UserReply *out, const Im__Repo__V1__GetUsersReply *r);
Im__Common__V1__Message *logic_copy_message(im_rpc_call_t *call, const Im__Common__V1__Message *m);
Im__Common__V1__Group *logic_copy_group(im_rpc_call_t *call, const Im__Common__V1__Group *g);
Im__Common__V1__Member *logic_copy_member(im_rpc_call_t *call, const Im__Common__V1__Member *m);
Im__Common__V1__File *logic_copy_file(im_rpc_call_t *call, const Im__Common__V1__File *f);

/* ---- group_event.c: group system messages ([rpc-N]) ---- */
/* A group event as a type-100 message in g_{gid}: an Upstream op "system" (cmid
 * "sys.<snowflake>", user_id = actor, content {"event","actor","targets",...extra}) produced
 * keyed g_{gid} to im-upstream-topic; returns once Kafka acked it (IM_OK) or failed.
 * also_to: users who get it though no longer members. extra: more content fields (borrowed,
 * may be NULL). The consume thread stores and pushes it like a message. */
int logic_group_event(logic_t *l, uint64_t gid, uint64_t actor, const char *event, const uint64_t *targets,
                      size_t ntargets, json_t *extra, const uint64_t *also_to, size_t nalso);
int logic_group_events_start(logic_t *l);
void logic_group_events_stop(logic_t *l);
/* Group outcome of im-repo -> the Logic reply's error (code and message); 0 if OK. */
int logic_group_outcome(Im__Repo__V1__GroupOutcome outcome, const char **code, const char **message);
const char *logic_role_name(int role);   /* "member", "admin", "owner"; "" for 0 */

/* ---- cursor.c: `cursors` records (acks and reads) and `typing` ---- */
/* All the cursors of a batch's records: one UpdateCursors call, then (with_receipts) the
 * read receipts. */
void logic_cursors_handle(logic_t *l, Im__Mq__V1__Upstream **ups, size_t n, int with_receipts);
void logic_typing_handle(logic_t *l, const Im__Mq__V1__Upstream *up, const char *tp);

/* ---- handle_<method>.c: im.logic.v1.Logic ---- */
#define LOGIC_HANDLER(name)                                                             \
    grpc_status_code name(im_rpc_call_t *call, const ProtobufCMessage *req,             \
                          ProtobufCMessage *resp, void *ud)
LOGIC_HANDLER(logic_handle_ping);
LOGIC_HANDLER(logic_handle_register);
LOGIC_HANDLER(logic_handle_login);
LOGIC_HANDLER(logic_handle_get_me);
LOGIC_HANDLER(logic_handle_search_users);
LOGIC_HANDLER(logic_handle_update_me);
LOGIC_HANDLER(logic_handle_change_relation);
LOGIC_HANDLER(logic_handle_list_relations);
LOGIC_HANDLER(logic_handle_recall);
LOGIC_HANDLER(logic_handle_save_file);
LOGIC_HANDLER(logic_handle_get_file);
LOGIC_HANDLER(logic_handle_list_conversations);
LOGIC_HANDLER(logic_handle_get_messages);
LOGIC_HANDLER(logic_handle_update_cursor);
LOGIC_HANDLER(logic_handle_create_group);
LOGIC_HANDLER(logic_handle_get_group);
LOGIC_HANDLER(logic_handle_list_groups);
LOGIC_HANDLER(logic_handle_list_members);
LOGIC_HANDLER(logic_handle_change_group);
LOGIC_HANDLER(logic_handle_get_reads);
LOGIC_HANDLER(logic_handle_register_device);
LOGIC_HANDLER(logic_handle_delete_device);
LOGIC_HANDLER(logic_handle_list_devices);

#endif
