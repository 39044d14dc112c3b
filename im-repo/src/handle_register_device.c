/* handle_register_device.c — Repo.RegisterDevice: a push token (platform fcm | apns) for
 * user_id, upserted by its unique token: a token already stored moves to this user (the
 * app on that device signed in as someone else), and its platform is refreshed. A user
 * keeps at most REPO_MAX_DEVICES tokens: registering one more drops their oldest
 * (stale installs are the usual surplus; a live one registers again at its next start).
 * The caller (im-logic) has checked platform and token. */
#include "repo.h"

#include <string.h>

#define REPO_MAX_DEVICES 20

REPO_HANDLER(repo_handle_register_device)
{
    repo_t *r = ud;
    const Im__Repo__V1__DeviceOpRequest *in = (const void *)req;
    Im__Repo__V1__DeviceOpReply *out = (void *)resp;
    MYSQL *m = im_mysql_acquire(r->db);
    if (m == NULL) return GRPC_STATUS_UNAVAILABLE;
    im_mysql_param_t p[] = {IM_MP_U64(in->user_id), IM_MP_STR(in->platform), IM_MP_STR(in->token)};
    im_mysql_param_t u[] = {IM_MP_U64(in->user_id), IM_MP_U64(in->user_id), IM_MP_U64(REPO_MAX_DEVICES)};
    uint64_t affected = 0;
    int rc = im_mysql_exec(m,
                           "INSERT INTO devices (user_id, platform, token) VALUES (?, ?, ?) "
                           "ON DUPLICATE KEY UPDATE user_id = VALUES(user_id), platform = VALUES(platform)",
                           p, 3, NULL, NULL, &affected, NULL);
    if (rc == IM_OK)   /* the derived table lets MariaDB/MySQL take a LIMIT in the subquery */
        rc = im_mysql_exec(m,
                           "DELETE FROM devices WHERE user_id = ? AND id NOT IN (SELECT id FROM "
                           "(SELECT id FROM devices WHERE user_id = ? ORDER BY id DESC LIMIT ?) keep)",
                           u, 3, NULL, NULL, NULL, NULL);
    im_mysql_release(r->db, m);
    if (rc != IM_OK) return GRPC_STATUS_INTERNAL;
    out->changed = affected > 0;
    return GRPC_STATUS_OK;
}
