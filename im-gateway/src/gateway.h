/* gateway.h — im-gateway: the WebSocket + HTTP edge of cim.
 *
 * DESIGN
 *   Threads:
 *     [S] `lws`     the libwebsockets service thread: owns every `struct lws`, all
 *                   connection state, and the only thread that writes to a socket.
 *     [W] `work-N`  REST workers: blocking gRPC calls to im-logic. They never touch a
 *                   `struct lws`; a finished job goes on the `done` queue, whose wake-up
 *                   is lws_cancel_service(): [S] (EVENT_WAIT_CANCELLED) writes it.
 *     main          config, start, wait for SIGTERM, stop; plus `admin` and etcd threads.
 *
 *     [D] `down`    consumer of im-downstream-topic-{gateway_id}: hands each record's
 *                   frame and targets to [S] through the `inbox` queue.
 *     [R] `session` writes user_session:{uid} in Redis (HSET on open, HDEL on close,
 *                   a re-assert with an expiry every heartbeat), so Redis latency never
 *                   stalls [S]; and derives presence from it (presence.c: the first
 *                   open and, after a grace, the last close are announced upstream);
 *                   first it takes each new connection's per-address token (limits.c).
 *     [P] `up`      produces client ops to Kafka (up.c), so a stalled producer never
 *                   stalls [S]: a full queue is answered `unavailable` at once. Sends
 *                   take their per-user token (Redis) here first, a batch at a time.
 *     [V] `revoke`  listens for logouts (Redis SUBSCRIBE) and hands them to [S] (revoke.c).
 *   Every handoff between threads is an im_queue_t (im/queue.h): todo [S]->[W],
 *   done [W]->[S] (and [P]->[S]: a send refused by its limit or by Kafka; [R]->[S]: a
 *   connection admitted or refused by its limit), inbox [D]->[S], sess [S]->[R],
 *   upq [S]/[R]->[P], revoked [V]->[S]. Stopping (main.c) stops each producer
 *   before closing its queue, and closes the queues that wake [S] before lws is destroyed.
 *
 *   Send path (client -> server):
 *     client -ws-> [S] ws.c (frame, UTF-8, JSON) -> handle_send.c (checks) -> upq
 *       -> [P] up.c (per-user limit in Redis, one round trip per batch; limits.c)
 *       -produce-> im-upstream-topic (key = conversation id, header traceparent)
 *   Connection admission: [S] ws.c opens it -> sess -> [R] session.c (per-address limit,
 *       then the session write) -> a refusal back through done -> [S] ws.c closes it.
 *   Ack/read path: [S] handle_cursor.c -> cursors.c (highest seq per user+conversation,
 *       cursor_flush_ms) -> one `cursors` record per flush -> im-upstream-topic
 *   Push path (server -> client):
 *     im-downstream-topic-{gateway_id} -> [D] down.c -> inbox -> [S] conns.c fan-out
 *       -> each connection's outbox -> ws.c WRITEABLE -> client
 *     (a large group's `notify` passes notify.c first: one per conversation per
 *     connection per notify_interval_ms, the newest held for a gateway timer)
 *   REST path (e.g. POST /api/login):
 *     client -http-> [S] http.c (read body, JWT, route) -> jobs.c queue
 *       -> [W] api_<name>.c -grpc-> im-logic -> done list -> [S] http.c writes reply
 *     routes.c maps method + path pattern ("/api/groups/{}/members/{}") to the handler;
 *     group endpoints are api_group*.c, their shared parts api_group_util.c.
 *   WebSocket `sync` takes the REST path's workers too (handle_sync.c).
 *   Files: POST /api/files -> [S] http.c writes the body to a temp file of the store
 *       -> [W] api_file_upload.c (media.c: sha256, libmagic, libvips thumbnail; store.c
 *       moves it under its sha256) -grpc-> im-logic SaveFile (the row);
 *     GET /api/files/{id}[/thumb] -> [W] api_file_get.c (im-logic GetFile: may this user
 *       read it?) -> [S] http.c streams it, one chunk per WRITEABLE.
 *   Heartbeat: clients `ping` every heartbeat_s; one 1 s lws timer (conns.c) sweeps
 *   connections idle for 2.5 x heartbeat_s: no timer per connection.
 *   Static files: [S] served by lws from web_root (mount "/").
 */
#ifndef IM_GATEWAY_H
#define IM_GATEWAY_H

#include <libwebsockets.h>
#include <pthread.h>
#include <uv.h>
#include <stdint.h>

#include "im/auth.h"
#include "im/conv.h"
#include "im/daemon.h"
#include "im/kafka.h"
#include "im/queue.h"
#include "im/ratelimit.h"
#include "im/redis.h"
#include "im/rpc.h"
#include "im/u64map.h"
#include "logic.pb-c.h"
#include "mq.pb-c.h"

#define GW_ADDR_MAX 48   /* a client address as text (IPv6 included) */

typedef struct {
    im_common_cfg_t common;
    char *host;               /* bind address of the client port */
    int port;                 /* client port: /ws, /api/..., static web/ */
    char *web_root;           /* folder served at / */
    char *tls_cert, *tls_key; /* PEM files: HTTPS/WSS on the client port; "" = plain HTTP */
    char *trusted_proxies;    /* balancers whose X-Forwarded-For names the client, comma-separated */
    int workers;              /* REST worker threads */
    int logic_timeout_ms;     /* deadline of each call to im-logic */
    int max_body;             /* largest accepted REST body, bytes */
    char *jwt_secret;         /* HS256 key shared with im-logic */
    int heartbeat_s;          /* clients ping this often; idle for 2.5x -> closed */
    int max_frame;            /* largest WebSocket message, bytes */
    int max_outbox;           /* frames queued to one slow connection before it is dropped */
    int send_rate;            /* live: sends per second per user, all gateways (up.c) */
    int send_burst;           /* live: bucket size */
    int cursor_rate;          /* ack/read per second per user */
    int cursor_burst;
    int cursor_flush_ms;      /* acks/reads are coalesced this long */
    int notify_interval_ms;   /* at most one `notify` per conversation per connection this often */
    char *kafka_brokers;
    int up_queue_max;         /* sends waiting for Kafka before the next is refused `unavailable` */
    int presence_enabled;     /* live: announce first-connect / last-disconnect (presence.c) */
    int rest_rate;            /* live: REST calls per second per user, all gateways (limits.c) */
    int rest_burst;
    int login_user_per_min;   /* live: login attempts per minute per username, all gateways */
    int login_addr_per_min;   /* live: login attempts per minute per client address */
    int conn_addr_per_min;    /* live: new WebSocket connections per minute per client address */
    int presence_grace_ms;    /* live: a user offline this long before it is announced */
    int typing_enabled;       /* live degradation switch: relay `typing` */
    int shed_outbox;          /* live: hints to a connection with this many frames queued are dropped */
    char *redis_host;
    int redis_port;
    char *files_dir;          /* the store of uploads (store.c), shared by every gateway */
    int max_upload;           /* largest POST /api/files body, bytes */
    int thumb_px;             /* thumbnails fit in this square */
    int image_max_px;         /* larger images (width x height) are kept as plain files */
} gw_config_t;

typedef struct gw_job_s gw_job_t;

/* A stored file to send as a REST reply instead of JSON (api_file_get.c sets it on [W],
 * [S] streams it in chunks: http.c). Owned by its job; fd closed by gw_job_free. */
typedef struct {
    int fd;
    uint64_t off, len;        /* the bytes to send (a range, or all) */
    uint64_t total;           /* the file's size, for Content-Range */
    uint64_t sent;
    char content_type[128];
    char disposition[320];    /* Content-Disposition value */
} gw_serve_t;
typedef struct gw_s gw_t;

/* A REST handler: runs on a [W] worker, reads job->req_*, sets job->status and job->resp. */
typedef void (*gw_api_fn)(gw_t *g, gw_job_t *job);

/* One REST request in flight. Created and freed on [S]; between gw_jobs_submit() and its
 * return on the done list only the worker touches it. */
struct gw_job_s {
    im_queue_node_t node;     /* in todo, then in done */
    struct lws *wsi;          /* [S] only; NULL once the client went away */
    int gone;                 /* atomic: set by [S] when the client left; [W] skips the call */
    gw_api_fn fn;
    char method[8];
    char path[256];           /* without the query string */
    char params[2][64];       /* the path's {} segments, in order (routes.c) */
    char *query;              /* raw query string, "" if none */
    char *body;               /* request body, NUL-terminated */
    size_t body_len;
    char trace[33];           /* trace id of this request */
    uint64_t user_id;         /* from the bearer token; 0 if none or invalid */
    char addr[GW_ADDR_MAX];   /* the client's address (REST) */
    int retry_after_s;        /* a 429's Retry-After header, 0 for none */
    uint64_t jti;             /* the token's id and expiry (seconds), for POST /api/logout */
    int64_t exp;
    int revoke;               /* set by api_logout.c: [S] denies jti before replying */
    uint64_t conn_id;         /* WebSocket job (sync): the connection to answer, else 0 */
    int refuse;               /* WebSocket job: close the connection after resp (ws.c) */
    int admit;                /* WebSocket job: [R] admitted the connection (ws.c) */
    int status;               /* HTTP status of the reply */
    char *resp;               /* reply body (JSON), owned by the job */
    /* POST /api/files: the body goes to a temp file of the store instead of `body` */
    int upload_fd;            /* [S] writes it while the body arrives; -1 otherwise */
    char *upload_path;        /* the temp file; unlinked by gw_job_free unless taken (NULL) */
    char name[256];           /* X-File-Name, percent-decoded */
    char range[64];           /* a GET's Range header, "" if none */
    gw_serve_t *serve;        /* a file reply (206 with Content-Range for a range) */
};

/* REST state of one HTTP connection ([S] only). */
typedef struct {
    gw_job_t *job;            /* the request in progress, NULL if none */
    int state;                /* http.c JOB_* */
    int too_large;            /* body went past max_body (max_upload): answered 413, body discarded */
} gw_http_t;

/* A frame shared by every connection it goes to; freed when the last one wrote it. */
typedef struct {
    int refs;                 /* [S] only */
    int hint;                 /* typing, presence or receipt: shed first (gw_conn_send) */
    size_t len;
    unsigned char data[];     /* LWS_PRE bytes of headroom, then the JSON text */
} gw_frame_t;

typedef struct gw_out_s {
    struct gw_out_s *next;
    gw_frame_t *frame;
} gw_out_t;

typedef struct gw_user_s gw_user_t;

/* An ack or read waiting to be flushed upstream ([S] only). */
typedef struct {
    uint64_t user_id;
    uint64_t seq;
    int read;
    char cid[IM_CONV_ID_MAX];
} gw_cursor_t;

/* One WebSocket connection ([S] only). */
typedef struct gw_note_s gw_note_t;   /* notify.c */

typedef struct gw_conn_s {
    struct lws *wsi;
    uint64_t id;              /* conn_id: fixed64 in Kafka records, hex in Redis and `hello` */
    gw_user_t *user;
    uint64_t jti;             /* of the token it was opened with: a logout closes it */
    struct gw_conn_s *next_of_user;
    int64_t last_seen_ms;     /* last frame from the client */
    int64_t asserted_ms;      /* last time its session was written to Redis */
    gw_out_t *out_head, *out_tail;   /* outbox */
    int out_len;
    int closing;              /* close after the outbox drains, or now */
    char *rx;                 /* the message being reassembled from fragments */
    size_t rx_len;
    int rx_too_large;         /* this message went past max_frame: discard till its end */
    gw_note_t *notes;         /* notify.c: the last notify per conversation, and the one held */
    int nnotes, notify_held;
    int refused;              /* by [R] (limits.c): closed once the outbox is written,
                               * nothing more queued (ws.c); 0 = stays open */
    int admitted;             /* by [R] (limits.c): until then the client's messages wait in
                               * held (ws.c), handled once admitted, dropped if refused */
    struct gw_held_s *held, **held_tail;
    int nheld;
} gw_conn_t;

/* A client message that came before its connection was admitted ([S] only). */
typedef struct gw_held_s {
    struct gw_held_s *next;
    size_t len;
    char text[];
} gw_held_t;
#define GW_HELD_MAX 64   /* messages held per connection; later ones are dropped */

/* A user with at least one connection on this gateway ([S] only). */
struct gw_user_s {
    uint64_t id;
    gw_conn_t *conns;
    im_bucket_t typing_bucket;   /* `typing`, at send_rate (sends: rl:send:{uid} on [P], limits.c) */
    im_bucket_t cursor_bucket;   /* rate limit on `ack` and `read` */
};

/* lws per-session data of the one "cim" protocol (HTTP and WebSocket). */
typedef struct {
    gw_http_t http;
    gw_conn_t *conn;          /* WebSocket only */
} gw_pss_t;

/* A downstream record handed from [D] to [S]. */
typedef struct gw_push_s {
    im_queue_node_t node;
    Im__Mq__V1__Downstream *rec;  /* unpacked; [S] frees it */
    int64_t consumed_us;          /* wall clock, when [D] had it: its push spans start there */
} gw_push_t;

/* A Redis session write handed from [S] to [R]. */
typedef struct gw_sess_s {
    im_queue_node_t node;
    int open;                 /* GW_SESS_OPEN, GW_SESS_ASSERT or GW_SESS_CLOSE */
    uint64_t user_id;
    uint64_t conn_id;
    char addr[GW_ADDR_MAX];   /* GW_SESS_OPEN: the client's address, for rl:conn:a:{addr} */
} gw_sess_t;

enum { GW_SESS_CLOSE = 0, GW_SESS_ASSERT = 1, GW_SESS_OPEN = 2 };   /* gw_sess_t.open */

/* An upstream record handed from [S] (or [R]) to [P] on `upq` (up.c); freed by [P]. */
typedef struct {
    im_queue_node_t node;
    uint64_t conn_id;         /* a `send`: the connection to answer if it is refused; else 0 */
    uint64_t user_id;         /* a `send`: whose rl:send:{uid} token it takes */
    char cmid[72];
    char key[80];             /* the Kafka key: the conversation id (cursors: the gateway id) */
    char tp[56];              /* traceparent */
    size_t len;
    uint8_t payload[];        /* a packed Im__Mq__V1__Upstream */
} gw_upmsg_t;

struct gw_s {
    gw_config_t cfg;
    im_daemon_t daemon;       /* identity (gateway_id = instance), etcd, admin port */
    const char *gateway_id;   /* = daemon.instance */
    struct lws_context *lws;  /* [S] */
    uv_loop_t loop;           /* [S]'s event loop (libuv, epoll), run by service_main */
    pthread_t lws_thread;
    volatile int stopping;    /* set by main, read by [S] */
    im_discovery_t logic;     /* im-logic client, endpoints from etcd */

    im_queue_t todo;          /* [S] -> [W]: jobs to run */
    im_queue_t done;          /* [W] -> [S]: jobs to answer; wakes [S] */
    pthread_t *workers;
    int nworkers;

    /* [S] state */
    im_u64map_t users;        /* user id -> gw_user_t */
    im_u64map_t conns;        /* conn id -> gw_conn_t */
    uint64_t next_conn;       /* conn ids: random high bits, counter low bits */
    lws_sorted_usec_list_t sweep_timer;

    /* [D] -> [S] */
    im_queue_t inbox;         /* downstream records; wakes [S] */
    im_kafka_consumer_t *down;
    volatile int down_stop;
    pthread_t down_thread;

    /* [S] -> [R] */
    im_redis_pool_t *redis;
    im_queue_t sess;          /* session writes, applied in order */
    int sess_reassert;        /* atomic: set by [R] when Redis lost our sessions; [S] re-posts all */
    struct gw_absent_s *absent;   /* [R] (presence.c): users whose last connection closed, */
    size_t nabsent, capabsent;    /* to be announced offline after presence_grace_ms */
    pthread_t sess_thread;

    im_kafka_producer_t *up;  /* im-upstream-topic; used by [P] only (up.c) */
    im_redis_pool_t *up_redis;   /* [P]'s own connection: the send limits (up.c) */
    int64_t up_redis_pause_ms;   /* [P]: Redis failed; local buckets decide until then (mono ms) */
    im_queue_t upq;           /* [S], [R] -> [P]: records to produce */
    pthread_t up_thread;
    int up_started;

    /* revoke.c: tokens revoked by a logout anywhere */
    im_u64map_t denied;       /* [S]: jti -> (void *)exp */
    int64_t denied_swept_s;
    im_queue_t revoked;       /* [V] -> [S]: gw_revoked_t; wakes [S] */
    pthread_t revoke_thread;
    volatile int revoke_stop;
    int revoke_started;
    pthread_mutex_t revoke_lock;   /* guards revoke_sub */
    redisContext *revoke_sub;      /* [V]'s SUBSCRIBE connection; main shuts it down to stop [V] */

    /* [S]: acks and reads waiting for the next cursor flush (cursors.c) */
    gw_cursor_t *cursors;
    size_t ncursors, capcursors;
    lws_sorted_usec_list_t cursor_timer;
    int cursor_armed;

    /* [S]: connections holding a `notify` until its interval passes (notify.c), by id */
    uint64_t *held;
    size_t nheld, capheld;
    lws_sorted_usec_list_t notify_timer;
    int notify_armed;

    im_metric_t *m_conns;     /* gauge: open WebSocket connections */
    im_metric_t *m_sends;     /* sends produced upstream */
    im_metric_t *m_pushed;    /* frames written to clients */
    im_metric_t *m_outbox;    /* gauge: frames in every outbox */
    im_metric_t *m_dropped;   /* connections dropped for a full outbox */
    im_metric_t *m_shed;      /* hint frames not queued to a backed-up connection */
    im_metric_t *m_hop_down;  /* histogram: logic produced -> this gateway consumed */
    im_metric_t *m_hop_total; /* histogram: a gateway read the send -> frame queued here */
};

/* ---- config.c ---- */
extern const im_cfg_field_t gw_config_table[];

/* ---- server.c: the lws context and its service thread ---- */
int gw_server_start(gw_t *g);   /* binds the client port; nothing is served yet */
void gw_server_run(gw_t *g);    /* starts [S]: connections are accepted from now on */
void gw_server_stop(gw_t *g);      /* stops [S]; the lws context stays */
/* The wake-up of the queues [S] consumes (any thread; until they are closed). */
void gw_server_wake(void *ud /* gw_t */);
void gw_server_destroy(gw_t *g);   /* closes every connection: after every waker stopped */

/* ---- http.c: REST requests on [S] ---- */
int gw_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len);
void gw_http_deliver(gw_t *g, gw_job_t *job);    /* [S]: a finished job */

/* ---- jobs.c: the worker pool ---- */
void gw_jobs_start(gw_t *g);
void gw_jobs_stop(gw_t *g);                      /* after [S] stopped: workers finish and exit */
void gw_jobs_submit(gw_t *g, gw_job_t *job);     /* [S] */
/* [S]: a job for WebSocket connection c (its reply, if any, is written to c as a frame);
 * takes query (im_sprintf). */
void gw_ws_submit(gw_t *g, gw_conn_t *c, gw_api_fn fn, const char *method, const char *path, char *query);
void gw_jobs_free_done(gw_t *g);                 /* after lws is gone: frees unanswered jobs */
gw_job_t *gw_job_new(void);                      /* a fresh trace id, an empty body */
void gw_job_free(gw_job_t *job);                 /* also drops an upload's temp file */
void gw_job_reply(gw_job_t *job, int status, char *json);   /* [W]: takes ownership of json */
void gw_job_error(gw_job_t *job, int status, const char *code, const char *message);

/* ---- routes.c ---- */
/* The handler for method + path; *auth says whether it needs a bearer token, *upload
 * whether its body is a file (to the store, not memory); the path's {} segments go to
 * params. NULL: no such endpoint. */
gw_api_fn gw_route(const char *method, const char *path, int *auth, int *upload, char params[2][64]);

/* ---- parse.c: client bytes that need no connection (any thread) ---- */
/* %XX escapes of s decoded into out (NUL-terminated, cut at size); "" if malformed or %00. */
void gw_percent_decode(const char *s, char *out, size_t size);
/* The bytes of a file of size total a Range header h asks for, into *off, *len: 206; 200
 * for no or an unsupported range (all of it); 416 for one that is not satisfiable. */
int gw_parse_range(const char *h, uint64_t total, uint64_t *off, uint64_t *len);

/* ---- store.c: uploaded bytes, content-addressed under files_dir ---- */
/* The interface a store backend implements (this one: a folder shared by the gateways):
 *   files_dir/tmp/{gateway_id}.*      uploads being received or probed
 *   files_dir/{k[0..1]}/{k}            the bytes under key k (sha256 hex, or sha256.thumb.jpg) */
int gw_store_init(gw_t *g);                          /* main: folders; this gateway's stale temps go */
int gw_store_tmp(gw_t *g, char **path);              /* a new temp file: its fd, *path malloc'd */
int gw_store_put(gw_t *g, const char *tmp, const char *key);   /* moves tmp in (kept if present) */
int gw_store_open(gw_t *g, const char *key, uint64_t *size);   /* fd to read, or -1 */
#define GW_STORE_KEY_MAX 80
char *gw_store_thumb_key(char out[GW_STORE_KEY_MAX], const char *sha256);   /* the thumbnail of those bytes */

/* ---- media.c: what an upload is, from its bytes ([W]) ---- */
typedef struct {
    char sha256[65];          /* hex */
    uint64_t size;
    char content_type[128];   /* sniffed (libmagic) */
    int width, height;        /* an image (png, jpeg, gif, webp) within image_max_px, else 0 */
    int thumb;                /* the thumbnail was written */
} gw_media_t;
int gw_media_init(void);      /* main, before the workers */
void gw_media_fini(void);     /* main, after them */
/* Measures the file at path; for an image writes a JPEG thumbnail (fits px x px) to thumb. */
int gw_media_probe(const char *path, const char *thumb, int px, int max_px, gw_media_t *out);

/* ---- api_*.c: REST handlers, one file each ([W]) ---- */
void gw_api_ping(gw_t *g, gw_job_t *job);
void gw_api_register(gw_t *g, gw_job_t *job);
void gw_api_login(gw_t *g, gw_job_t *job);
void gw_api_me(gw_t *g, gw_job_t *job);
void gw_api_me_update(gw_t *g, gw_job_t *job);
void gw_api_file_upload(gw_t *g, gw_job_t *job);
void gw_api_file_get(gw_t *g, gw_job_t *job);     /* the bytes */
void gw_api_file_thumb(gw_t *g, gw_job_t *job);   /* an image's thumbnail */
void gw_api_logout(gw_t *g, gw_job_t *job);
/* api_relation_change.c: Logic.ChangeRelation */
void gw_api_friend_request(gw_t *g, gw_job_t *job);
void gw_api_friend_accept(gw_t *g, gw_job_t *job);
void gw_api_friend_decline(gw_t *g, gw_job_t *job);
void gw_api_unfriend(gw_t *g, gw_job_t *job);
void gw_api_block(gw_t *g, gw_job_t *job);
void gw_api_unblock(gw_t *g, gw_job_t *job);
/* api_relation_list.c: Logic.ListRelations */
void gw_api_friends(gw_t *g, gw_job_t *job);
void gw_api_blocks(gw_t *g, gw_job_t *job);
void gw_api_friend_requests(gw_t *g, gw_job_t *job);
void gw_api_users(gw_t *g, gw_job_t *job);
void gw_api_conversations(gw_t *g, gw_job_t *job);
void gw_api_messages(gw_t *g, gw_job_t *job);
void gw_api_reads(gw_t *g, gw_job_t *job);
void gw_api_group_create(gw_t *g, gw_job_t *job);
void gw_api_groups(gw_t *g, gw_job_t *job);
void gw_api_group(gw_t *g, gw_job_t *job);
void gw_api_group_update(gw_t *g, gw_job_t *job);
void gw_api_group_members(gw_t *g, gw_job_t *job);
void gw_api_group_invite(gw_t *g, gw_job_t *job);
void gw_api_group_join(gw_t *g, gw_job_t *job);
void gw_api_group_remove(gw_t *g, gw_job_t *job);
void gw_api_group_role(gw_t *g, gw_job_t *job);
/* api_devices.c: push tokens (Logic.RegisterDevice, ListDevices, DeleteDevice) */
void gw_api_device_register(gw_t *g, gw_job_t *job);
void gw_api_devices(gw_t *g, gw_job_t *job);
void gw_api_device_delete(gw_t *g, gw_job_t *job);

/* ---- api_util.c ([W]) ---- */
/* Calls im-logic; on failure answers the job 503 and returns non-OK. */
int gw_logic_call(gw_t *g, gw_job_t *job, const char *method, const ProtobufCMessage *req,
                  ProtobufCMessage **resp);
/* Answers a Logic reply's `error` code with its HTTP status; 1 if it was an error. */
int gw_reply_logic_error(gw_job_t *job, const char *code, const char *message);
void gw_reply_json(gw_job_t *job, int status, void *json);      /* takes a json_t reference */
void *gw_json_user(const Im__Common__V1__User *u);
int gw_query_u64(const char *query, const char *name, uint64_t *out);   /* 1 if present and valid */
int gw_query_str(const char *query, const char *name, char *out, size_t outlen);
/* A decimal id > 0 with nothing after it (a path segment); 0 if it is not one. */
uint64_t gw_parse_id(const char *s);
/* "1,2,3" (commas also as %2C) into ids: the count, or -1 if malformed or over max. */
int gw_parse_ids(const char *s, uint64_t *ids, int max);

/* ---- api_group_util.c ([W]) ---- */
const char *gw_role_name(int role);          /* 1 member, 2 admin, 3 owner; else NULL */
int gw_role_of(const char *name);            /* the inverse; 0 if unknown */
/* {group_id, name, owner_id, announcement, member_count, open, my_role}; new reference */
void *gw_json_group(const Im__Common__V1__Group *gr, int my_role);
/* The group id of job->params[0], or answers 404 and returns 0. */
uint64_t gw_job_group(gw_job_t *job);
/* Calls Logic.ChangeGroup with req (user_id and group_id set here); on success returns the
 * reply (caller frees with protobuf_c_message_free_unpacked), else answers the job, NULL. */
Im__Logic__V1__GroupReply *gw_change_group(gw_t *g, gw_job_t *job, Im__Logic__V1__ChangeGroupRequest *req);

/* ---- ws.c: WebSocket events on [S] ---- */
int gw_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len);
/* [S]: one complete text message from c: UTF-8, JSON, then its op's handler (or an
 * `error` frame). The whole of what the gateway makes of a client's frame: tests/fuzz
 * drives it directly (fuzz_ws.c). */
void gw_ws_dispatch(gw_t *g, gw_conn_t *c, const char *text, size_t len);
void gw_ws_error(gw_t *g, gw_conn_t *c, const char *code, const char *message, const char *cmid);
/* The text of that `error` frame (im_free it), for replies built off [S]. */
char *gw_error_frame(const char *code, const char *message, const char *cmid);
/* The same with retry_after_ms (rate_limited: when to try again). */
char *gw_error_frame_retry(const char *code, const char *message, const char *cmid, int64_t retry_ms);
/* [S]: a WebSocket job back from another thread (job->conn_id): its reply written to the
 * connection, which closes after it if job->refuse. Frees the job. */
void gw_ws_deliver(gw_t *g, gw_job_t *job);

/* ---- conns.c: the connection registry and outboxes ([S]) ---- */
void gw_conns_init(gw_t *g);
gw_conn_t *gw_conn_open(gw_t *g, struct lws *wsi, uint64_t user_id);
void gw_conn_close(gw_t *g, gw_conn_t *c);
void gw_conn_drop_held(gw_conn_t *c);   /* frees the messages held before admission (ws.c) */
gw_frame_t *gw_frame_new(const void *text, size_t len);
void gw_frame_unref(gw_frame_t *f);
void gw_conn_send(gw_t *g, gw_conn_t *c, gw_frame_t *f);         /* queues; takes a ref */
void gw_conn_send_text(gw_t *g, gw_conn_t *c, const char *text);
int gw_conn_write(gw_t *g, gw_conn_t *c);                         /* WRITEABLE: one frame */
void gw_conns_deliver(gw_t *g, gw_push_t *p);                     /* a downstream record */
void gw_conns_sweep_start(gw_t *g);

/* ---- notify.c: `notify` frames, at most one per conversation per connection per
 * notify_interval_ms ([S]) ---- */
void gw_notify_offer(gw_t *g, gw_conn_t *c, const char *cid, uint64_t seq, gw_frame_t *f);
void gw_notify_due(lws_sorted_usec_list_t *sul);
void gw_notify_free(gw_conn_t *c);   /* on close: drops what it holds */

/* ---- handle_*.c: one file per client op ([S]) ---- */
typedef void (*gw_op_fn)(gw_t *g, gw_conn_t *c, void *msg /* json_t object */);
void gw_handle_send(gw_t *g, gw_conn_t *c, void *msg);
/* A send's `mentions` (a json_t): up to GW_MENTIONS_MAX positive ids, or exactly ["all"]
 * (*all = 1); groups only (in_group). IM_EINVAL for any other shape. */
#define GW_MENTIONS_MAX 100
int gw_mentions_parse(void *list, int in_group, uint64_t out[GW_MENTIONS_MAX], size_t *n, int *all);
void gw_handle_cursor(gw_t *g, gw_conn_t *c, void *msg);   /* ack and read */
void gw_handle_sync(gw_t *g, gw_conn_t *c, void *msg);
void gw_handle_ping(gw_t *g, gw_conn_t *c, void *msg);
void gw_handle_typing(gw_t *g, gw_conn_t *c, void *msg);
void gw_sync_run(gw_t *g, gw_job_t *job);                   /* [W] half of sync */
void gw_handle_recall(gw_t *g, gw_conn_t *c, void *msg);
void gw_recall_run(gw_t *g, gw_job_t *job);                 /* [W] half of recall */

/* ---- cursors.c: acks and reads coalesced upstream ([S]) ---- */
void gw_cursor_add(gw_t *g, uint64_t user_id, const char *cid, uint64_t seq, int read);
void gw_cursors_flush(gw_t *g);                    /* also at stop, before [S] ends */

/* ---- up.c: im-upstream-topic ---- */
int gw_up_start(gw_t *g);
void gw_up_stop(gw_t *g);
/* An upstream record from connection c for op. */
void gw_up_init(gw_t *g, gw_conn_t *c, const char *op, Im__Mq__V1__Upstream *up);
#define GW_UP_REFUSED "could not queue the message, retry"   /* a refused send's `error`, now or from [P] */
/* Queues the record for [P] (any thread); never blocks: IM_EUNAVAIL at once when
 * up_queue_max records already wait. A `send` [P] then refuses (over the sender's limit,
 * or Kafka's queue full) is answered by [P]: `rate_limited` or `unavailable`. tp: the
 * record's traceparent (a send's root span); NULL: a fresh, unsampled one. */
int gw_up_send(gw_t *g, const Im__Mq__V1__Upstream *u, const char *key, const char *tp);

/* ---- down.c: [D] ---- */
int gw_down_start(gw_t *g);
void gw_down_stop(gw_t *g);                        /* stops [D]; the inbox stays open */
void gw_push_free(gw_push_t *p);

/* ---- revoke.c: logout that means it ---- */
/* [V] `revoke`: SUBSCRIBE jwt_revoked; each revocation -revoked-> [S]. Start loads the
 * revocations already in Redis into `denied` before [S] serves anyone. */
int gw_revoke_start(gw_t *g);
void gw_revoke_stop(gw_t *g);      /* before lws is destroyed: joins [V], closes `revoked` */
void gw_revoke_free(gw_t *g);      /* after lws is destroyed ([S]'s drain may still run before) */
/* [S]: verify a token, and refuse it if revoked. */
int gw_token_check(gw_t *g, const char *token, im_jwt_claims_t *cl);
/* [S]: deny jti until exp and close user_id's connections opened with it. */
void gw_revoke_apply(gw_t *g, uint64_t jti, uint64_t user_id, int64_t exp);
void gw_revoke_drain(gw_t *g);     /* [S]: what [V] handed over */
void gw_revoke_sweep(gw_t *g);     /* [S], from the sweep: forget tokens past their exp */

/* ---- limits.c: rate limits shared by every gateway (Redis) ---- */
/* [W]: IM_OK, or the job answered 429 rate_limited with Retry-After. */
int gw_limit(gw_t *g, gw_job_t *job, const char *kind, const char *who, double rate, double burst);
#define GW_LIMIT_KEY_MAX 160
/* The Redis key of kind's bucket for who ("send", uid -> rl:send:{uid}); returns out. */
char *gw_limit_key(char out[GW_LIMIT_KEY_MAX], const char *kind, const char *who);
/* Counts n refusals of limit `kind` (cim_ratelimit_refused_total{limit}); any thread. */
void gw_limit_refused(const char *kind, int64_t n);
/* [S]: the address a client's requests are counted under: the peer's, or the last
 * X-Forwarded-For entry when the peer is one of trusted_proxies. */
void gw_client_addr(gw_t *g, struct lws *wsi, char out[GW_ADDR_MAX]);

/* ---- presence.c: online / offline, on [R]; GET /api/presence on [W] ---- */
/* Appends the Redis commands of one session op to c; how many replies to read. */
int gw_presence_append(gw_t *g, redisContext *c, const gw_sess_t *s);
/* Reads them (IM_EIO: the connection failed) and acts: announce online, or note the user
 * for an offline check after the grace. */
int gw_presence_read(gw_t *g, redisContext *c, const gw_sess_t *s);
/* The users due for the offline check: still without a session -> last_seen, announce. */
void gw_presence_check(gw_t *g, redisContext *c);
void gw_api_presence(gw_t *g, gw_job_t *job);

/* ---- session.c: [R] ---- */
int gw_session_start(gw_t *g);     /* clears this gateway's stale sessions, starts [R] */
void gw_session_stop(gw_t *g);     /* after lws is gone: drains, so every open gets its close */
void gw_session_post(gw_t *g, int open, uint64_t user_id, uint64_t conn_id);   /* [S] */
/* [S]: a new connection from addr; [R] takes its rl:conn:a:{addr} token before writing
 * its session, and on refusal hands [S] an `error` and a close instead (gw_ws_deliver). */
void gw_session_open(gw_t *g, uint64_t user_id, uint64_t conn_id, const char *addr);
/* [S], once per sweep: 1 if [R] found that Redis lost this gateway's sessions (every
 * connection's session is then posted again), else 0. Clears the flag. */
int gw_session_lost(gw_t *g);
int gw_session_ttl_s(gw_t *g);     /* a session field's expiry: 3 heartbeats */

#endif
