/* config.c — every key of im-task (see deploy/config/im-task.conf). */
#include <stddef.h>

#include "task.h"

const im_cfg_field_t task_config_table[] = {
    IM_COMMON_CFG_FIELDS(task_config_t, 9401),
    {"kafka_brokers", IM_CFG_STR, offsetof(task_config_t, kafka_brokers), "127.0.0.1:9092", 1, 0,
     "Kafka bootstrap brokers, host:port[,...]"},
    {"push_provider", IM_CFG_STR, offsetof(task_config_t, push_provider), "log", 1, 0,
     "Offline push provider: log | webhook"},
    {"webhook_url", IM_CFG_STR, offsetof(task_config_t, webhook_url), "", 0, 0,
     "webhook provider: URL that receives each offline push as a JSON POST"},
    {"webhook_timeout_ms", IM_CFG_INT, offsetof(task_config_t, webhook_timeout_ms), "3000", 100,
     60000, "webhook provider: timeout of one POST", IM_CFG_LIVE},
    {"push_workers", IM_CFG_INT, offsetof(task_config_t, push_workers), "4", 1, 64,
     "Threads making push attempts (one webhook connection each); a slow push holds one"},
    {"push_attempts", IM_CFG_INT, offsetof(task_config_t, push_attempts), "3", 1, 20,
     "Tries per offline push before it is given up", IM_CFG_LIVE},
    {"push_backoff_ms", IM_CFG_INT, offsetof(task_config_t, push_backoff_ms), "100", 1, 600000,
     "Wait before the first retry of a failed push; doubles with each further attempt",
     IM_CFG_LIVE},
    {"push_backoff_max_ms", IM_CFG_INT, offsetof(task_config_t, push_backoff_max_ms), "10000", 1,
     600000, "Longest wait between two attempts of one push", IM_CFG_LIVE},
    {"max_inflight", IM_CFG_INT, offsetof(task_config_t, max_inflight), "10000", 1, 1000000,
     "Records read but not yet stored (behind an unfinished push); at the limit reading waits",
     IM_CFG_LIVE},
    IM_CFG_END,
};
