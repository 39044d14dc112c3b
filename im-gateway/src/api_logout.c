/* api_logout.c — POST /api/logout -> 200 {}: the caller's token is revoked everywhere
 * (revoke.c): jwt_deny:{jti} until the token would expire, then a PUBLISH that every
 * gateway hears; this gateway denies it on [S] before the reply goes out. If Redis does
 * not take both, the answer is 503 and the token stays valid (the client may retry). */
#include "gateway.h"
#include "im/log.h"
#include "im/names.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void gw_api_logout(gw_t *g, gw_job_t *job)
{
    long long left = (long long)job->exp - (long long)time(NULL);
    char value[48], message[80];
    snprintf(value, sizeof value, "%lld %llu", (long long)job->exp, (unsigned long long)job->user_id);
    snprintf(message, sizeof message, "%016llx %s", (unsigned long long)job->jti, value);
    redisContext *c = im_redis_acquire(g->redis);
    if (c == NULL) {
        gw_job_error(job, 503, "unavailable", "try again");
        return;
    }
    redisAppendCommand(c, "SET " IM_KEY_JWT_DENY " %s EX %lld", (unsigned long long)job->jti, value, left > 0 ? left : 1);
    redisAppendCommand(c, "PUBLISH " IM_CHANNEL_JWT_REVOKED " %s", message);
    redisReply *set = NULL, *pub = NULL;
    int rc = im_redis_reply(c, &set, "logout.set");
    if (rc != IM_EIO) {
        int rc2 = im_redis_reply(c, &pub, "logout.publish");
        if (rc == IM_OK) rc = rc2;
    }
    int ok = rc == IM_OK && set->type == REDIS_REPLY_STATUS && strcmp(set->str, "OK") == 0 &&
             pub->type == REDIS_REPLY_INTEGER;
    if (set) freeReplyObject(set);
    if (pub) freeReplyObject(pub);
    im_redis_release(g->redis, c, rc == IM_EIO);
    if (!ok) {
        gw_job_error(job, 503, "unavailable", "the token could not be revoked, try again");
        return;
    }
    job->revoke = 1;
    im_info("auth.logout", "user=%llu jti=%016llx", (unsigned long long)job->user_id, (unsigned long long)job->jti);
    gw_reply_json(job, 200, json_object());
}
