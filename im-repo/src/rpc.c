/* rpc.c — binds im.repo.v1.Repo's methods to their handlers. */
#include "repo.h"

static const im_rpc_method_t methods[] = {
    {"Ping", repo_handle_ping},
    {"CreateUser", repo_handle_create_user},
    {"GetUserByName", repo_handle_get_user_by_name},
    {"GetUsers", repo_handle_get_users},
    {"SearchUsers", repo_handle_search_users},
    {"UpdateUser", repo_handle_update_user},
    {"ChangeRelation", repo_handle_change_relation},
    {"GetRelations", repo_handle_get_relations},
    {"ListFriendRequests", repo_handle_list_friend_requests},
    {"SaveFile", repo_handle_save_file},
    {"GetFiles", repo_handle_get_files},
    {"RecallMessage", repo_handle_recall_message},
    {"SaveMessages", repo_handle_save_messages},
    {"GetMaxSeq", repo_handle_get_max_seq},
    {"GetMessages", repo_handle_get_messages},
    {"ListConversations", repo_handle_list_conversations},
    {"UpdateCursor", repo_handle_update_cursor},
    {"UpdateCursors", repo_handle_update_cursors},
    {"CreateGroup", repo_handle_create_group},
    {"GetGroup", repo_handle_get_group},
    {"ListUserGroups", repo_handle_list_user_groups},
    {"ListMembers", repo_handle_list_members},
    {"GetMemberIds", repo_handle_get_member_ids},
    {"ChangeGroup", repo_handle_change_group},
    {"GetReads", repo_handle_get_reads},
    {"RegisterDevice", repo_handle_register_device},
    {"DeleteDevice", repo_handle_delete_device},
    {"ListDevices", repo_handle_list_devices},
    {NULL, NULL},
};

int repo_rpc_start(repo_t *r)
{
    return im_daemon_serve(r->cfg.grpc_host, r->cfg.grpc_port, r->cfg.rpc_threads,
                           &im__repo__v1__repo__descriptor, methods, r, &r->rpc);
}
