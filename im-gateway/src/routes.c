/* routes.c — the REST routing table: method + path pattern -> handler, and whether it
 * needs a token. A pattern's "{}" segment matches any one non-empty segment and is handed
 * to the handler in job->params (the handler parses it: an id, a conversation id). */
#include <stdio.h>
#include <string.h>

#include "gateway.h"

static const struct {
    const char *method;
    const char *pattern;
    int auth;            /* needs `Authorization: Bearer <jwt>` */
    gw_api_fn fn;
    int upload;          /* the body is a file: streamed to the store, up to max_upload */
} routes[] = {
    {"GET", "/api/ping", 0, gw_api_ping},
    {"POST", "/api/register", 0, gw_api_register},
    {"POST", "/api/login", 0, gw_api_login},
    {"GET", "/api/me", 1, gw_api_me},
    {"PATCH", "/api/me", 1, gw_api_me_update},
    {"POST", "/api/files", 1, gw_api_file_upload, 1},
    {"GET", "/api/files/{}", 1, gw_api_file_get},
    {"GET", "/api/files/{}/thumb", 1, gw_api_file_thumb},
    {"POST", "/api/logout", 1, gw_api_logout},
    {"POST", "/api/friends/requests", 1, gw_api_friend_request},
    {"GET", "/api/friends/requests", 1, gw_api_friend_requests},
    {"POST", "/api/friends/requests/{}/accept", 1, gw_api_friend_accept},
    {"POST", "/api/friends/requests/{}/decline", 1, gw_api_friend_decline},
    {"GET", "/api/friends", 1, gw_api_friends},
    {"GET", "/api/presence", 1, gw_api_presence},
    {"DELETE", "/api/friends/{}", 1, gw_api_unfriend},
    {"POST", "/api/blocks", 1, gw_api_block},
    {"GET", "/api/blocks", 1, gw_api_blocks},
    {"DELETE", "/api/blocks/{}", 1, gw_api_unblock},
    {"GET", "/api/users", 1, gw_api_users},
    {"GET", "/api/conversations", 1, gw_api_conversations},
    {"GET", "/api/conversations/{}/messages", 1, gw_api_messages},
    {"GET", "/api/conversations/{}/reads", 1, gw_api_reads},
    {"POST", "/api/groups", 1, gw_api_group_create},
    {"GET", "/api/groups", 1, gw_api_groups},
    {"GET", "/api/groups/{}", 1, gw_api_group},
    {"PATCH", "/api/groups/{}", 1, gw_api_group_update},
    {"GET", "/api/groups/{}/members", 1, gw_api_group_members},
    {"POST", "/api/groups/{}/members", 1, gw_api_group_invite},
    {"POST", "/api/groups/{}/join", 1, gw_api_group_join},
    {"DELETE", "/api/groups/{}/members/{}", 1, gw_api_group_remove},
    {"PUT", "/api/groups/{}/members/{}", 1, gw_api_group_role},
    {"POST", "/api/devices", 1, gw_api_device_register},
    {"GET", "/api/devices", 1, gw_api_devices},
    {"DELETE", "/api/devices", 1, gw_api_device_delete},
};

/* 1 if path matches pattern segment by segment; the {} segments are copied to params. */
static int match(const char *pattern, const char *path, char params[2][64])
{
    int np = 0;
    while (*pattern && *path) {
        if (strncmp(pattern, "{}", 2) == 0) {
            size_t n = strcspn(path, "/");
            if (n == 0 || n >= 64 || np == 2) return 0;
            memcpy(params[np], path, n);
            params[np++][n] = '\0';
            pattern += 2;
            path += n;
        } else if (*pattern++ != *path++) {
            return 0;
        }
    }
    return *pattern == '\0' && *path == '\0';
}

gw_api_fn gw_route(const char *method, const char *path, int *auth, int *upload, char params[2][64])
{
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (strcmp(method, routes[i].method) == 0 && match(routes[i].pattern, path, params)) {
            *auth = routes[i].auth;
            *upload = routes[i].upload;
            return routes[i].fn;
        }
    return NULL;
}
