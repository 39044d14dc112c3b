/* main.c — im-task: load config, pick the push providers (the default one, and FCM and
 * APNs when configured, with an im-repo client for the devices), start the push workers
 * and the consumer, register, wait, stop. */
#include "task.h"
#include "im/log.h"
#include "im/rpc.h"

#include <string.h>

static task_t g_task;

static int provider_init(task_t *t)
{
    int rc = strcmp(t->cfg.push_provider, "webhook") == 0 ? task_provider_webhook(t, &t->provider)
           : strcmp(t->cfg.push_provider, "log") == 0     ? task_provider_log(t, &t->provider)
                                                          : IM_ECONFIG;
    if (rc != IM_OK) {
        im_error("task.bad_provider", "push_provider=%s", t->cfg.push_provider);
        return rc;
    }
    if ((rc = task_provider_fcm(t, &t->fcm)) != IM_OK) return rc;
    if ((rc = task_provider_apns(t, &t->apns)) != IM_OK) return rc;
    if (!t->fcm.state && !t->apns.state) return IM_OK;
    rc = im_discovery_init(&t->repo, t->daemon.etcd, "im-repo", &im__repo__v1__repo__descriptor);
    if (rc == IM_OK) im_discovery_set_breaker(&t->repo, &t->cfg.common.breaker);
    return rc;
}

int main(int argc, char **argv)
{
    task_t *t = &g_task;
    im_daemon_config("im-task", argc, argv, task_config_table, &t->cfg, &t->cfg.common);
    if (im_daemon_init(&t->daemon, "im-task", &t->cfg.common, NULL, t) != IM_OK) return 1;
    im_daemon_watch_config(&t->daemon, task_config_table, &t->cfg);
    im_rpc_global_init();   /* the im-repo client (devices) */
    if (provider_init(t) != IM_OK) return 1;
    if (task_push_start(t) != IM_OK) return 1;
    if (task_consume_start(t) != IM_OK) return 1;
    if (im_daemon_register(&t->daemon, &t->cfg.common, "") != IM_OK) return 1;

    im_daemon_wait();

    im_etcd_deregister(t->daemon.etcd);
    task_consume_stop(t);    /* no more records read */
    task_push_stop(t);       /* workers and [retry] gone; unfinished jobs are on `done` */
    task_consume_close(t);   /* stores what finished, leaves the group */
    task_provider_webhook_free(&t->provider);
    task_provider_fcm_free(&t->fcm);
    task_provider_apns_free(&t->apns);
    if (t->repo.client) im_discovery_fini(&t->repo);
    im_daemon_fini(&t->daemon);
    im_rpc_global_shutdown();
    im_config_free(task_config_table, &t->cfg);
    return 0;
}
