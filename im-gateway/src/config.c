/* config.c — every key of im-gateway (see deploy/config/im-gateway.conf). */
#include <stddef.h>

#include "gateway.h"

const im_cfg_field_t gw_config_table[] = {
    IM_COMMON_CFG_FIELDS(gw_config_t, 9101),
    {"host", IM_CFG_STR, offsetof(gw_config_t, host), "127.0.0.1", 1, 0,
     "Bind address of the client port"},
    {"port", IM_CFG_INT, offsetof(gw_config_t, port), "8080", 0, 65535,
     "Client port: /ws, /api/*, and the web client"},
    {"web_root", IM_CFG_STR, offsetof(gw_config_t, web_root), "web", 1, 0,
     "Folder of the web client, served at /"},
    {"workers", IM_CFG_INT, offsetof(gw_config_t, workers), "4", 1, 64,
     "REST worker threads (each makes blocking gRPC calls to im-logic)"},
    {"logic_timeout_ms", IM_CFG_INT, offsetof(gw_config_t, logic_timeout_ms), "3000", 10, 60000,
     "Deadline of each call to im-logic"},
    {"max_body", IM_CFG_INT, offsetof(gw_config_t, max_body), "65536", 256, 16777216,
     "Largest REST request body accepted, in bytes (larger: 413 too_large)"},
    {"jwt_secret", IM_CFG_STR, offsetof(gw_config_t, jwt_secret), NULL, 1, 0,
     "HS256 secret of the login tokens; must equal im-logic's (required)"},
    {"heartbeat_s", IM_CFG_INT, offsetof(gw_config_t, heartbeat_s), "30", 1, 3600,
     "Clients ping this often; a connection silent for 2.5x this is closed"},
    {"max_frame", IM_CFG_INT, offsetof(gw_config_t, max_frame), "16384", 256, 1048576,
     "Largest WebSocket message accepted, bytes (larger: error too_large)"},
    {"max_outbox", IM_CFG_INT, offsetof(gw_config_t, max_outbox), "1024", 8, 1000000,
     "Frames queued to one connection that does not read before it is dropped"},
    {"send_rate", IM_CFG_INT, offsetof(gw_config_t, send_rate), "20", 1, 1000000,
     "Sends per second allowed per user (token bucket refill)"},
    {"send_burst", IM_CFG_INT, offsetof(gw_config_t, send_burst), "40", 1, 1000000,
     "Sends a user may make at once (token bucket size)"},
    {"kafka_brokers", IM_CFG_STR, offsetof(gw_config_t, kafka_brokers), "127.0.0.1:9092", 1, 0,
     "Kafka bootstrap brokers, host:port[,...]"},
    {"redis_host", IM_CFG_STR, offsetof(gw_config_t, redis_host), "127.0.0.1", 1, 0,
     "Redis host (user_session:{uid})"},
    {"redis_port", IM_CFG_INT, offsetof(gw_config_t, redis_port), "6379", 1, 65535, "Redis port"},
    IM_CFG_END,
};
