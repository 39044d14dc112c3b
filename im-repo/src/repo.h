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
 */
#ifndef IM_REPO_H
#define IM_REPO_H

#include "im/daemon.h"
#include "im/mysql.h"
#include "im/redis.h"
#include "im/rpc.h"
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

typedef struct {
    repo_config_t cfg;
    im_daemon_t daemon;      /* identity, etcd, admin port */
    im_rpc_server_t *rpc;    /* im.repo.v1.Repo */
    im_mysql_pool_t *db;
    im_redis_pool_t *redis;
} repo_t;

/* ---- config.c ---- */
extern const im_cfg_field_t repo_config_table[];

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
REPO_HANDLER(repo_handle_search_users);
REPO_HANDLER(repo_handle_save_messages);
REPO_HANDLER(repo_handle_get_max_seq);
REPO_HANDLER(repo_handle_get_messages);
REPO_HANDLER(repo_handle_list_conversations);
REPO_HANDLER(repo_handle_update_cursor);
REPO_HANDLER(repo_handle_update_cursors);

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
    "m.seq, CAST(UNIX_TIMESTAMP(m.created_at) * 1000 AS UNSIGNED)"
#define REPO_MSG_NCOLS 8
#define REPO_USER_COLS "u.id, u.username, u.nickname, u.avatar_url, UNIX_TIMESTAMP(u.created_at)"
#define REPO_USER_NCOLS 5
Im__Common__V1__Message *repo_row_message(im_rpc_call_t *call, char **cols);
Im__Common__V1__User *repo_row_user(im_rpc_call_t *call, char **cols);
/* A row callback appending REPO_USER_COLS rows to out->users (sized by the caller). */
typedef struct {
    im_rpc_call_t *call;
    Im__Repo__V1__GetUsersReply *out;
} repo_users_t;
int repo_row_append_user(void *ud, char **cols, unsigned long *lens, unsigned ncols);
uint64_t repo_u64(const char *s);    /* NULL -> 0 */

/* ---- access.c: who may read a conversation ---- */
/* IM_OK if user_id takes part in conversation cid, IM_EFORBIDDEN if not. */
int repo_can_read(repo_t *r, MYSQL *m, uint64_t user_id, const char *cid);

/* ---- hot.c: the hot_messages:{cid} ZSET (recent messages, score = seq) ---- */
void repo_hot_add(repo_t *r, Im__Common__V1__Message *const *msgs, size_t n);
/* Messages with seq in (after_seq, ...] up to limit, only if the cache holds the whole
 * contiguous run from after_seq + 1; returns the count, or -1 for "ask MySQL". */
int repo_hot_range(repo_t *r, im_rpc_call_t *call, const char *cid, uint64_t after_seq,
                   uint32_t limit, Im__Common__V1__Message ***out);

#endif
