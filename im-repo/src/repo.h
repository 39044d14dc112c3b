/* repo.h — im-repo: the only process that opens MySQL; cache-aside Redis keys.
 *
 * DESIGN
 *   Threads: main (config, start, wait for SIGTERM, stop); `rpc-N` gRPC workers
 *   (rpc_threads of them) running every handler; `admin`; etcd keepalive.
 *   Handlers are synchronous: each takes a MySQL connection from the pool for the
 *   length of one call, so the pool size bounds the database concurrency.
 *
 *   Statements over many rows come in a few fixed shapes (chunk.c), so the prepared
 *   statements per connection stay few whatever the batch sizes.
 *
 *   Message path through this daemon:
 *     im-logic -grpc-> [rpc-N] rpc.c -> handle_save_messages.c -> MySQL (one txn per batch)
 *                                                             -> Redis hot_messages:{cid}
 *   Acks and reads (a consume batch's cursors in one call):
 *     im-logic -grpc-> [rpc-N] rpc.c -> handle_update_cursors.c -> MySQL user_conversations
 *   Reads (sync, history, conversation list):
 *     im-logic -grpc-> [rpc-N] rpc.c -> handle_get_messages.c -> Redis hot cache | MySQL
 *   Groups (every change locks the group's row first; rules in group_rules.c):
 *     im-logic -grpc-> [rpc-N] rpc.c -> handle_change_group.c -> group_op_<op>.c
 *                                    -> group_tx.c (MySQL txn) -> group_cache.c (invalidate)
 *     membership reads: handle_get_member_ids.c -> MySQL -> group_cache.c (versioned fill)
 *   Friends and blocks: handle_change_relation.c (MySQL, a txn where two rows move) ->
 *     relation_cache.c (invalidate each side); handle_get_relations.c -> MySQL ->
 *     versioned fill of user_rel:{uid}, which im-logic reads on every single-chat batch.
 *   Files: handle_save_file.c (a row once the gateway stored the bytes), handle_get_files.c
 *     (the row + may this user read it: uploader, avatar, or access.c on the
 *     conversations of file_refs, which handle_save_messages.c writes and a recall deletes).
 *   Push devices: handle_register_device.c (upsert by unique token, newest 20 per user),
 *     handle_delete_device.c (own rows only), handle_list_devices.c (read by im-logic for
 *     GET /api/devices and by im-task before each offline push).
 *   A group member's state is their user_conversations row (cursors, mention_seq): made
 *   on create/invite/join, deleted on leave/kick, never made by a message.
 *   Metrics (metrics.c): cim_repo_* counters bumped where the event happens, plus the
 *   cim_sql_* and cim_redis_* round trips of im-infra.
 */
#ifndef IM_REPO_H
#define IM_REPO_H

#include "im/daemon.h"
#include "im/metrics.h"
#include "im/mysql.h"
#include "im/redis.h"
#include "im/rpc.h"
#include "im/u64map.h"
#include "repo.pb-c.h"

typedef struct {
    im_common_cfg_t common;
    int grpc_port;           /* gRPC listen port (0 = any) */
    char *grpc_host;         /* gRPC bind address */
    int rpc_threads;         /* gRPC worker threads */
    char *mysql_host;
    int mysql_port;
    char *mysql_user;
    char *mysql_password;
    char *mysql_db;
    int mysql_pool;          /* MySQL connections (bounds DB concurrency) */
    char *redis_host;
    int redis_port;
    int redis_pool;
    int hot_messages;        /* how many recent messages hot_messages:{cid} keeps */
} repo_config_t;

/* Registered once by repo_metrics_init() before any handler runs; updated from rpc-N. */
typedef struct {
    im_metric_t *stored;           /* cim_repo_messages_total{result="stored"}: new rows */
    im_metric_t *duplicates;       /* {result="duplicate"}: a resend, answered with the original */
    im_metric_t *seq_conflicts;    /* {result="seq_conflict"}: the seq was taken by another message */
    im_metric_t *hot_hit, *hot_miss;       /* cim_repo_cache_lookups_total{cache="hot_messages"} */
    im_metric_t *group_hit, *group_miss;   /* {cache="group_members"}: access.c's membership check */
    im_metric_t *group_fill, *relation_fill;   /* cim_repo_cache_fills_total{cache=...} */
} repo_metrics_t;

typedef struct {
    repo_config_t cfg;
    repo_metrics_t metrics;
    im_daemon_t daemon;      /* identity, etcd, admin port */
    im_rpc_server_t *rpc;    /* im.repo.v1.Repo */
    im_mysql_pool_t *db;
    im_redis_pool_t *redis;
} repo_t;

/* ---- config.c ---- */
extern const im_cfg_field_t repo_config_table[];

/* ---- metrics.c ---- */
void repo_metrics_init(repo_metrics_t *m);

/* ---- rpc.c ---- */
int repo_rpc_start(repo_t *r);

/* Every Repo method is a handler of this shape, one file each (handle_<method>.c). */
#define REPO_HANDLER(name)                                                              \
    grpc_status_code name(im_rpc_call_t *call, const ProtobufCMessage *req,             \
                          ProtobufCMessage *resp, void *ud)
REPO_HANDLER(repo_handle_ping);
REPO_HANDLER(repo_handle_create_user);
REPO_HANDLER(repo_handle_get_user_by_name);
REPO_HANDLER(repo_handle_get_users);
REPO_HANDLER(repo_handle_update_user);
REPO_HANDLER(repo_handle_change_relation);
REPO_HANDLER(repo_handle_get_relations);
REPO_HANDLER(repo_handle_list_friend_requests);
REPO_HANDLER(repo_handle_save_file);
REPO_HANDLER(repo_handle_get_files);
REPO_HANDLER(repo_handle_recall_message);
REPO_HANDLER(repo_handle_search_users);
REPO_HANDLER(repo_handle_save_messages);
REPO_HANDLER(repo_handle_get_max_seq);
REPO_HANDLER(repo_handle_get_messages);
REPO_HANDLER(repo_handle_list_conversations);
REPO_HANDLER(repo_handle_update_cursor);
REPO_HANDLER(repo_handle_update_cursors);
REPO_HANDLER(repo_handle_create_group);
REPO_HANDLER(repo_handle_get_group);
REPO_HANDLER(repo_handle_list_user_groups);
REPO_HANDLER(repo_handle_list_members);
REPO_HANDLER(repo_handle_get_member_ids);
REPO_HANDLER(repo_handle_change_group);
REPO_HANDLER(repo_handle_get_reads);
REPO_HANDLER(repo_handle_register_device);   /* push devices: handle_*_device(s).c */
REPO_HANDLER(repo_handle_delete_device);
REPO_HANDLER(repo_handle_list_devices);

/* ---- handle_update_cursors.c: UpdateCursor and UpdateCursors share this ---- */
/* Moves n cursors forward in a few statements; out[i] (the caller's) answers items[i]. */
int repo_cursors_update(MYSQL *m, Im__Repo__V1__UpdateCursorRequest *const *items, size_t n,
                        Im__Repo__V1__UpdateCursorReply *const *out);

/* ---- chunk.c: many rows as statements of a few fixed shapes ---- */
/* A statement over k rows is "head row sep row ... sep row tail"; k is 1, 2, 4, ... or
 * REPO_CHUNK_MAX, so a connection prepares few texts per kind of statement. */
#define REPO_CHUNK_MAX 64
typedef struct {
    const char *head, *row, *sep, *tail;
    unsigned nparams;        /* placeholders in row */
} repo_rows_sql_t;
size_t repo_chunk(size_t n);   /* the rows of the next statement when n are left */
/* One statement of k rows (a fixed shape, else IM_EINVAL); params holds k * q->nparams. */
int repo_exec_rows(MYSQL *m, const repo_rows_sql_t *q, size_t k, const im_mysql_param_t *params,
                   im_mysql_row_fn fn, void *ud, uint64_t *affected);
/* All n rows as repo_chunk() statements; params holds n * q->nparams. */
int repo_exec_chunked(MYSQL *m, const repo_rows_sql_t *q, size_t n, const im_mysql_param_t *params,
                      im_mysql_row_fn fn, void *ud);

/* ---- rows.c: MySQL rows -> protobuf messages in the call's arena ---- */
/* The columns every message query selects, in the order repo_row_message() reads them. */
#define REPO_MSG_COLS                                                                     \
    "m.id, m.conversation_id, m.sender_id, m.client_msg_id, m.message_type, m.content, " \
    "m.seq, CAST(UNIX_TIMESTAMP(m.created_at) * 1000 AS UNSIGNED), m.recalled"
#define REPO_MSG_NCOLS 9
#define REPO_USER_COLS "u.id, u.username, u.nickname, u.avatar_url, UNIX_TIMESTAMP(u.created_at)"
#define REPO_USER_NCOLS 5
#define REPO_GROUP_COLS                                                                 \
    "g.id, g.name, g.owner_id, g.announcement, g.member_count, g.is_open, g.avatar_url, " \
    "UNIX_TIMESTAMP(g.created_at)"
#define REPO_GROUP_NCOLS 8
Im__Common__V1__Message *repo_row_message(im_rpc_call_t *call, char **cols);
Im__Common__V1__User *repo_row_user(im_rpc_call_t *call, char **cols);
Im__Common__V1__Group *repo_row_group(im_rpc_call_t *call, char **cols);
/* A row callback appending REPO_USER_COLS rows to out->users (sized by the caller). */
typedef struct {
    im_rpc_call_t *call;
    Im__Repo__V1__GetUsersReply *out;
} repo_users_t;
int repo_row_append_user(void *ud, char **cols, unsigned long *lens, unsigned ncols);
uint64_t repo_u64(const char *s);    /* NULL -> 0 */
/* A row callback: the row's columns as numbers into the uint64_t array ud (the last row
 * read wins; ud must hold ncols). */
int repo_row_u64s(void *ud, char **cols, unsigned long *lens, unsigned ncols);

/* ---- access.c: who may read a conversation ---- */
/* IM_OK if user_id takes part in conversation cid, IM_EFORBIDDEN if not. Groups: the
 * group_members:{gid} cache when it is there, else MySQL group_members. */
int repo_can_read(repo_t *r, MYSQL *m, uint64_t user_id, const char *cid);

/* ---- mentions.c: message_mentions rows back onto messages read from MySQL ---- */
#define REPO_MENTION_ALL 0   /* mentioned_user_id / Message.mentions value meaning @all */
/* Sets msgs[i]->mentions (in the call's arena) from message_mentions; only group
 * messages are looked up (single chats carry none). */
int repo_attach_mentions(MYSQL *m, im_rpc_call_t *call, Im__Common__V1__Message **msgs, size_t n);

/* ---- group_rules.c: who may change a group, and how (pure: tests/test_group_rules.c) ---- */
enum { REPO_ROLE_NONE = 0, REPO_ROLE_MEMBER = 1, REPO_ROLE_ADMIN = 2, REPO_ROLE_OWNER = 3 };
typedef enum { REPO_GOP_INVITE, REPO_GOP_JOIN, REPO_GOP_KICK, REPO_GOP_LEAVE, REPO_GOP_ROLE, REPO_GOP_UPDATE } repo_gop_t;
typedef struct {
    int actor_role;          /* REPO_ROLE_*, NONE = not a member */
    int target_role;         /* kick, role: the target's, NONE = not a member */
    int open;                /* groups.is_open */
    uint32_t member_count;   /* before the op */
    uint32_t adding;         /* invite, join: members the op adds (existing ones are skipped) */
    uint32_t unknown;        /* invite: invitees that are no user */
    uint32_t max_members;    /* invite, join: the cap after the op; 0 = none */
} repo_group_facts_t;
/* The outcome of op on a group in the state f describes (GROUP_OK: go ahead). */
Im__Repo__V1__GroupOutcome repo_group_rule(repo_gop_t op, const repo_group_facts_t *f);
/* "invite", "join", "kick", "leave", "role", "update" -> IM_OK and *op; IM_EINVAL otherwise. */
int repo_gop_parse(const char *s, repo_gop_t *op);

/* ---- group_tx.c: statements of the group transactions (the caller holds the txn) ---- */
/* SELECT ... FOR UPDATE of the group's row: IM_OK and *out (NULL: no such group). */
int repo_group_lock(MYSQL *m, im_rpc_call_t *call, uint64_t gid, Im__Common__V1__Group **out);
/* The group row without a lock (NULL: no such group). */
int repo_group_get(MYSQL *m, im_rpc_call_t *call, uint64_t gid, Im__Common__V1__Group **out);
/* roles[i] = role of uids[i] in the group, REPO_ROLE_NONE if not a member. */
int repo_group_roles(MYSQL *m, uint64_t gid, const uint64_t *uids, size_t n, int *roles);
/* exists[i] = uids[i] is a user. */
int repo_users_exist(MYSQL *m, const uint64_t *uids, size_t n, char *exists);
/* New members: group_members rows and user_conversations rows read up to the
 * conversation's max_seq (an existing row is reset to it). uids are not members. */
int repo_group_add(MYSQL *m, uint64_t gid, const uint64_t *uids, const int *roles, size_t n);
/* One member out: its group_members and user_conversations rows. */
int repo_group_remove(MYSQL *m, uint64_t gid, uint64_t uid);
int repo_group_set_role(MYSQL *m, uint64_t gid, uint64_t uid, int role);
/* groups.member_count of the locked row. */
int repo_group_save_count(MYSQL *m, uint64_t gid, uint32_t count);

/* ---- vhash.c: a cache-aside HASH guarded by a version key ---- */
/* After a committed change: INCR verkey + DEL key in one MULTI. */
int repo_vhash_invalidate(repo_t *r, const char *key, const char *verkey);
/* The version to pass to repo_vhash_fill (read before MySQL): IM_OK and ver ("" when
 * unset), or an error when Redis cannot answer (then do not fill). */
int repo_vhash_version(repo_t *r, const char *verkey, char ver[32]);
/* Writes the n field/value pairs (n > 0) with a TTL, only if verkey still equals ver. */
void repo_vhash_fill(repo_t *r, const char *key, const char *verkey, const char *ver, int ttl_s,
                     const char *const *fields, const char *const *values, size_t n);

/* ---- relation_cache.c: user_rel:{uid} (HASH other uid -> "f"/"b"/"fb", "0" = loaded) ---- */
/* After a committed change of uid's friends or blocks. */
#define REPO_RELATION_TTL_S 600
void repo_relation_cache_invalidate(repo_t *r, uint64_t uid);
/* As repo_vhash_version / repo_vhash_fill for user_rel:{uid}. */
int repo_relation_cache_version(repo_t *r, uint64_t uid, char ver[32]);
void repo_relation_cache_fill(repo_t *r, uint64_t uid, const char *ver, const uint64_t *friends, size_t nf,
                              const uint64_t *blocked, size_t nb);

/* ---- group_cache.c: group_members:{gid} (HASH uid -> role) and group_ver:{gid} ---- */
/* After a committed change: INCR group_ver + DEL group_members in one MULTI (logged on failure). */
void repo_group_cache_invalidate(repo_t *r, uint64_t gid);
/* The group_ver value to pass to repo_group_cache_fill (read before MySQL); IM_OK and
 * *ver ("" when unset, buffer of 32), or IM_EIO when Redis cannot answer (then no fill). */
int repo_group_cache_version(repo_t *r, uint64_t gid, char ver[32]);
/* Writes the hash only if group_ver still equals ver. */
void repo_group_cache_fill(repo_t *r, uint64_t gid, const char *ver, const uint64_t *uids,
                           const int *roles, size_t n);
/* 1 member, 0 not a member, -1 unknown (no cache entry or Redis down). */
int repo_group_cache_is_member(repo_t *r, uint64_t gid, uint64_t uid);

/* ---- handle_change_group.c + group_op_*.c: one ChangeGroup op inside the locked txn ---- */
typedef struct {
    repo_t *r;
    MYSQL *m;
    im_rpc_call_t *call;
    const Im__Repo__V1__GroupOpRequest *in;
    Im__Common__V1__Group *group;          /* the locked row; ops update it */
    int actor_role;
    Im__Repo__V1__GroupOpReply *out;       /* ops set outcome and changed */
} repo_gtx_t;
/* Each returns IM_OK (out->outcome says whether the op happened) or a MySQL error. */
int repo_gop_add(repo_gtx_t *t, repo_gop_t op);       /* group_op_add.c: invite, join */
int repo_gop_remove(repo_gtx_t *t, repo_gop_t op);    /* group_op_remove.c: kick, leave */
int repo_gop_role(repo_gtx_t *t);                     /* group_op_role.c */
int repo_gop_update(repo_gtx_t *t);                   /* group_op_update.c */

/* ---- hot.c: the hot_messages:{cid} ZSET (recent messages, score = seq) ---- */
void repo_hot_add(repo_t *r, Im__Common__V1__Message *const *msgs, size_t n);
/* Drops one seq (a recalled message: reads then go to MySQL); IM_OK if Redis did it. */
int repo_hot_remove(repo_t *r, const char *cid, uint64_t seq);
/* Messages with seq in (after_seq, ...] up to limit, only if the cache holds the whole
 * contiguous run from after_seq + 1; returns the count, or -1 for "ask MySQL". */
int repo_hot_range(repo_t *r, im_rpc_call_t *call, const char *cid, uint64_t after_seq,
                   uint32_t limit, Im__Common__V1__Message ***out);

#endif
