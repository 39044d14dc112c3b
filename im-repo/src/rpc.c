/* rpc.c — binds im.repo.v1.Repo's methods to their handlers. */
#include "repo.h"
#include "im/log.h"

#include <stdio.h>

static const im_rpc_method_t methods[] = {
    {"Ping", repo_handle_ping},
    {"CreateUser", repo_handle_create_user},
    {"GetUserByName", repo_handle_get_user_by_name},
    {"GetUsers", repo_handle_get_users},
    {"SearchUsers", repo_handle_search_users},
    {"SaveMessages", repo_handle_save_messages},
    {"GetMaxSeq", repo_handle_get_max_seq},
    {"GetMessages", repo_handle_get_messages},
    {"ListConversations", repo_handle_list_conversations},
    {"UpdateCursor", repo_handle_update_cursor},
    {NULL, NULL},
};

int repo_rpc_start(repo_t *r)
{
    char addr[128];
    snprintf(addr, sizeof addr, "%s:%d", r->cfg.grpc_host, r->cfg.grpc_port);
    r->rpc = im_rpc_server_new(addr, r->cfg.rpc_threads);
    im_rpc_server_add_service(r->rpc, &im__repo__v1__repo__descriptor, methods, r);
    int rc = im_rpc_server_start(r->rpc);
    if (rc == IM_OK) im_info("rpc.listening", "addr=%s:%d", r->cfg.grpc_host, im_rpc_server_port(r->rpc));
    return rc;
}
