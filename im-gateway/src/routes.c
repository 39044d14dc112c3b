/* routes.c — the REST routing table: method + path -> handler, and whether it needs a token. */
#include <string.h>

#include "gateway.h"

static const struct {
    const char *method;
    const char *path;    /* exact, or a prefix when it ends with '/' */
    int auth;            /* needs `Authorization: Bearer <jwt>` */
    gw_api_fn fn;
} routes[] = {
    {"GET", "/api/ping", 0, gw_api_ping},
    {"POST", "/api/register", 0, gw_api_register},
    {"POST", "/api/login", 0, gw_api_login},
    {"GET", "/api/me", 1, gw_api_me},
    {"GET", "/api/users", 1, gw_api_users},
    {"GET", "/api/conversations", 1, gw_api_conversations},
    {"GET", "/api/conversations/", 1, gw_api_messages},   /* {cid}/messages */
};

gw_api_fn gw_route(const char *method, const char *path, int *auth)
{
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        size_t n = strlen(routes[i].path);
        int prefix = routes[i].path[n - 1] == '/';
        if (strcmp(method, routes[i].method) == 0 &&
            (prefix ? strncmp(path, routes[i].path, n) == 0 : strcmp(path, routes[i].path) == 0)) {
            *auth = routes[i].auth;
            return routes[i].fn;
        }
    }
    return NULL;
}
