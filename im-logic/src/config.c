/* config.c — every key of im-logic (see deploy/config/im-logic.conf). */
#include <stddef.h>

#include "logic.h"

/* F(name, type, field, default, min, max, help[, IM_CFG_LIVE]) */
#define F(name, type, field, def, min, max, ...) \
    {name, type, offsetof(logic_config_t, field), def, min, max, __VA_ARGS__}

static const char *const policies[] = {"anyone", "friends", NULL};

const im_cfg_field_t logic_config_table[] = {
    IM_COMMON_CFG_FIELDS(logic_config_t, 9201),
    F("grpc_host", IM_CFG_STR, grpc_host, "127.0.0.1", 1, 0, "gRPC bind address"),
    F("grpc_port", IM_CFG_INT, grpc_port, "9200", 0, 65535,
      "gRPC port of im.logic.v1.Logic; 0 = any free port"),
    F("rpc_threads", IM_CFG_INT, rpc_threads, "4", 1, 64, "gRPC worker threads"),
    F("repo_timeout_ms", IM_CFG_INT, repo_timeout_ms, "3000", 10, 60000,
      "Deadline of each call to im-repo", IM_CFG_LIVE),
    F("kafka_brokers", IM_CFG_STR, kafka_brokers, "127.0.0.1:9092", 1, 0,
      "Kafka bootstrap brokers, host:port[,...]"),
    F("upstream_partitions", IM_CFG_INT, upstream_partitions, "8", 1, 1024,
      "Partitions of im-upstream-topic if this process creates it"),
    F("batch_max", IM_CFG_INT, batch_max, "64", 1, 4096,
      "Most upstream records taken and stored as one batch"),
    F("redis_host", IM_CFG_STR, redis_host, "127.0.0.1", 1, 0, "Redis host"),
    F("redis_port", IM_CFG_INT, redis_port, "6379", 1, 65535, "Redis port"),
    F("redis_pool", IM_CFG_INT, redis_pool, "8", 1, 256, "Redis connections in the pool"),
    F("jwt_secret", IM_CFG_STR, jwt_secret, NULL, 1, 0,
      "HS256 secret of the login tokens; the gateways must have the same (required)"),
    F("jwt_ttl_s", IM_CFG_INT, jwt_ttl_s, "86400", 60, 31536000, "Login token lifetime, seconds",
      IM_CFG_LIVE),
    F("hash_concurrency", IM_CFG_INT, hash_concurrency, "2", 1, 64,
      "argon2id password hashes running at once (each takes hash_memory_kib)"),
    F("hash_passes", IM_CFG_INT, hash_passes, "2", 1, 10,
      "argon2id passes of new password hashes (libsodium's interactive limit is 2)"),
    F("hash_memory_kib", IM_CFG_INT, hash_memory_kib, "65536", 8, 4194304,
      "argon2id memory of new password hashes, KiB (interactive: 65536). Lower only for a "
      "bench cluster that registers thousands of users; a verify uses the stored hash's cost"),
    F("max_content", IM_CFG_INT, max_content, "5000", 1, 65536,
      "Longest message content, in characters", IM_CFG_LIVE),
    F("dedup_ttl_s", IM_CFG_INT, dedup_ttl_s, "86400", 60, 2592000,
      "How long a send's outcome is cached in msg_dedup:{uid}:{cmid}", IM_CFG_LIVE),
    F("large_group_threshold", IM_CFG_INT, large_group_threshold, "500", 1, 1000000,
      "Groups with more members get read diffusion: `msg` only to the mentioned, `notify` to the rest",
      IM_CFG_LIVE),
    F("receipts_group_limit", IM_CFG_INT, receipts_group_limit, "100", 0, 1000000,
      "Read receipts are relayed to the members of groups up to this size (0 = never)", IM_CFG_LIVE),
    F("max_group_members", IM_CFG_INT, max_group_members, "20000", 2, 1000000,
      "Most members a group may have (create, invite, join)", IM_CFG_LIVE),
    F("single_chat_policy", IM_CFG_ENUM, single_chat_policy, "anyone", 0, 0,
      "anyone | friends: who may send a user single-chat messages (a block always refuses)", IM_CFG_LIVE,
      policies),
    F("receipts_enabled", IM_CFG_BOOL, receipts_enabled, "yes", 0, 0,
      "Degradation switch: relay read receipts (`receipt` frames); read positions are stored either way",
      IM_CFG_LIVE),
    F("offline_push_enabled", IM_CFG_BOOL, offline_push_enabled, "yes", 0, 0,
      "Degradation switch: offline-push tasks for recipients with no connection (sync still delivers)",
      IM_CFG_LIVE),
    F("history_page_max", IM_CFG_INT, history_page_max, "200", 1, 200,
      "Degradation switch: most messages one history page or `sync` returns", IM_CFG_LIVE),
    F("registration_open", IM_CFG_BOOL, registration_open, "yes", 0, 0,
      "Degradation switch: new accounts may register (off: 503 unavailable; logins still work)", IM_CFG_LIVE),
    F("shed_lag_ms", IM_CFG_INT, shed_lag_ms, "2000", 0, 3600000,
      "Load shedding: typing, presence and receipts older than this when consumed are dropped "
      "(the consumer is behind); messages never. 0 = never shed", IM_CFG_LIVE),
    F("recall_window_s", IM_CFG_INT, recall_window_s, "120", 0, 86400 * 30,
      "How long after sending a sender may recall a message (group owners and admins: any time)", IM_CFG_LIVE),
    IM_CFG_END,
};
