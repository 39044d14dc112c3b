/* config.c — every key of im-repo (see deploy/config/im-repo.conf). */
#include <stddef.h>

#include "repo.h"

const im_cfg_field_t repo_config_table[] = {
    IM_COMMON_CFG_FIELDS(repo_config_t, 9301),
    {"grpc_host", IM_CFG_STR, offsetof(repo_config_t, grpc_host), "127.0.0.1", 1, 0,
     "gRPC bind address"},
    {"grpc_port", IM_CFG_INT, offsetof(repo_config_t, grpc_port), "9300", 0, 65535,
     "gRPC port of im.repo.v1.Repo; 0 = any free port"},
    {"rpc_threads", IM_CFG_INT, offsetof(repo_config_t, rpc_threads), "4", 1, 64,
     "gRPC worker threads"},
    {"mysql_host", IM_CFG_STR, offsetof(repo_config_t, mysql_host), "127.0.0.1", 1, 0,
     "MySQL/MariaDB host"},
    {"mysql_port", IM_CFG_INT, offsetof(repo_config_t, mysql_port), "3306", 1, 65535,
     "MySQL port"},
    {"mysql_user", IM_CFG_STR, offsetof(repo_config_t, mysql_user), "cim", 1, 0, "MySQL user"},
    {"mysql_password", IM_CFG_STR, offsetof(repo_config_t, mysql_password), "cim", 0, 0,
     "MySQL password"},
    {"mysql_db", IM_CFG_STR, offsetof(repo_config_t, mysql_db), "cim", 1, 0, "MySQL database"},
    {"mysql_pool", IM_CFG_INT, offsetof(repo_config_t, mysql_pool), "8", 1, 256,
     "MySQL connections in the pool"},
    {"redis_host", IM_CFG_STR, offsetof(repo_config_t, redis_host), "127.0.0.1", 1, 0,
     "Redis host"},
    {"redis_port", IM_CFG_INT, offsetof(repo_config_t, redis_port), "6379", 1, 65535,
     "Redis port"},
    {"redis_pool", IM_CFG_INT, offsetof(repo_config_t, redis_pool), "8", 1, 256,
     "Redis connections in the pool"},
    {"hot_messages", IM_CFG_INT, offsetof(repo_config_t, hot_messages), "200", 0, 10000,
     "Recent messages kept per conversation in hot_messages:{cid} (0 = no hot cache)"},
    IM_CFG_END,
};
