/* rpc.c — binds im.logic.v1.Logic's methods to their handlers; the im-repo call helper. */
#include "logic.h"
#include "im/log.h"

#include <stdio.h>

static const im_rpc_method_t methods[] = {
    {"Ping", logic_handle_ping},
    {"RegisterUser", logic_handle_register},
    {"LoginUser", logic_handle_login},
    {"GetMe", logic_handle_get_me},
    {"SearchUsers", logic_handle_search_users},
    {"UpdateMe", logic_handle_update_me},
    {"ChangeRelation", logic_handle_change_relation},
    {"ListRelations", logic_handle_list_relations},
    {"Recall", logic_handle_recall},
    {"SaveFile", logic_handle_save_file},
    {"GetFile", logic_handle_get_file},
    {"ListConversations", logic_handle_list_conversations},
    {"GetMessages", logic_handle_get_messages},
    {"UpdateCursor", logic_handle_update_cursor},
    {"CreateGroup", logic_handle_create_group},
    {"GetGroup", logic_handle_get_group},
    {"ListGroups", logic_handle_list_groups},
    {"ListMembers", logic_handle_list_members},
    {"ChangeGroup", logic_handle_change_group},
    {"GetReads", logic_handle_get_reads},
    {"RegisterDevice", logic_handle_register_device},
    {"DeleteDevice", logic_handle_delete_device},
    {"ListDevices", logic_handle_list_devices},
    {NULL, NULL},
};

int logic_rpc_start(logic_t *l)
{
    return im_daemon_serve(l->cfg.grpc_host, l->cfg.grpc_port, l->cfg.rpc_threads,
                           &im__logic__v1__logic__descriptor, methods, l, &l->rpc);
}

int logic_repo_call(logic_t *l, const char *method, const ProtobufCMessage *req,
                    ProtobufCMessage **resp)
{
    im_rpc_status_t st;
    int rc = im_rpc_client_call(l->repo.client, method, req, resp, IM_CFG_GET(l->cfg.repo_timeout_ms),
                                im_trace_get(), &st);
    if (rc != IM_OK)
        IM_LOG_RATELIMITED(2, IM_LOG_WARN, "repo.call_failed", "method=%s err=\"%s\" status=%d detail=\"%s\"",
                           method, im_strerror(rc), (int)st.code, st.message);
    return rc;
}

Im__Repo__V1__GetUsersReply *logic_repo_users(logic_t *l, const uint64_t *ids, size_t n)
{
    Im__Repo__V1__GetUsersRequest q = IM__REPO__V1__GET_USERS_REQUEST__INIT;
    q.n_user_ids = n;
    q.user_ids = (uint64_t *)ids;
    ProtobufCMessage *rr = NULL;
    return logic_repo_call(l, "GetUsers", &q.base, &rr) == IM_OK ? (void *)rr : NULL;
}

Im__Repo__V1__GetFilesReply *logic_repo_files(logic_t *l, const uint64_t *user_ids, const uint64_t *file_ids, size_t n)
{
    Im__Repo__V1__FileAccess *items = im_calloc(n, sizeof *items);
    Im__Repo__V1__FileAccess **ptrs = im_calloc(n, sizeof *ptrs);
    for (size_t i = 0; i < n; i++) {
        im__repo__v1__file_access__init(&items[i]);
        items[i].user_id = user_ids[i];
        items[i].file_id = file_ids[i];
        ptrs[i] = &items[i];
    }
    Im__Repo__V1__GetFilesRequest q = IM__REPO__V1__GET_FILES_REQUEST__INIT;
    q.n_items = n;
    q.items = ptrs;
    ProtobufCMessage *rr = NULL;
    int rc = logic_repo_call(l, "GetFiles", &q.base, &rr);
    im_free(items);
    im_free(ptrs);
    Im__Repo__V1__GetFilesReply *r = (void *)rr;
    if (rc == IM_OK && r->n_results == n) return r;
    if (rr) protobuf_c_message_free_unpacked(rr, NULL);
    return NULL;
}
