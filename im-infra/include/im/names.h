/* names.h — every Kafka topic, consumer group and Redis key format of cim, in one place. */
#ifndef IM_NAMES_H
#define IM_NAMES_H

/* Kafka topics */
#define IM_TOPIC_UPSTREAM "im-upstream-topic"            /* gateway -> logic, key = conversation id */
#define IM_TOPIC_DOWNSTREAM_FMT "im-downstream-topic-%s" /* logic/task -> one gateway, %s = gateway_id */
#define IM_TOPIC_TASK "im-task-topic"                    /* logic -> task */

/* Kafka consumer groups */
#define IM_GROUP_LOGIC "im-logic"
#define IM_GROUP_TASK "im-task"
#define IM_GROUP_GATEWAY_FMT "im-gateway-%s"             /* each gateway reads its own topic */

/* Redis keys */
#define IM_KEY_USER_INFO "user_info:%llu"                /* HASH: nickname, avatar_url, username */
#define IM_KEY_USER_SESSION "user_session:%llu"          /* HASH: conn_id (hex) -> gateway_id; EXPIRE */
#define IM_KEY_USER_SESSION_MATCH "user_session:*"       /* SCAN pattern of the key above */
#define IM_KEY_GATEWAY_SESSIONS "gateway_sessions:%s"    /* STRING EX: a gateway's sessions are in Redis */
#define IM_KEY_USER_REL "user_rel:%llu"                  /* HASH other uid -> "f" friend, "b" blocked by
                                                          * uid, "fb" both; field "0" = loaded */
#define IM_KEY_USER_REL_VER "user_rel_ver:%llu"          /* INCR on every change of uid's relations */
#define IM_KEY_PRESENCE "presence:%llu"                  /* STRING EX: the user was announced online */
#define IM_KEY_LAST_SEEN "last_seen:%llu"                /* STRING: ms when the last connection closed */
#define IM_KEY_JWT_DENY "jwt_deny:%016llx"               /* STRING EX until the token's exp: "{exp} {uid}" */
#define IM_KEY_JWT_DENY_MATCH "jwt_deny:*"               /* SCAN pattern of the key above */
#define IM_CHANNEL_JWT_REVOKED "jwt_revoked"             /* PUBLISH "{jti hex} {exp} {uid}" on logout */
#define IM_KEY_CONV_SEQ "conv_seq:%s"                    /* STRING: last allocated seq */
#define IM_KEY_CONV_SEQ_LOCK "conv_seq_lock:%s"          /* STRING NX PX: re-seed lock */
#define IM_KEY_GROUP_MEMBERS "group_members:%llu"        /* HASH user id -> role (1 member, 2 admin, 3 owner) */
#define IM_KEY_GROUP_VER "group_ver:%llu"                /* INCR on every membership change: a cache fill
                                                          * writes group_members only if it did not move */
#define IM_KEY_MSG_DEDUP "msg_dedup:%llu:%s"             /* STRING EX: "{msg_id} {seq} {created_at}",
                                                          * or "r {seq}" (taken, not yet stored) */
#define IM_KEY_HOT_MESSAGES "hot_messages:%s"            /* ZSET: score seq, member = encoded message */

#endif
