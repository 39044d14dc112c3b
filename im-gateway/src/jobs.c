/* jobs.c — the REST worker pool: [S] submits to `todo`, [W] runs the handler, `done`
 * wakes [S] to write the reply.
 *
 * A job whose client left before a worker took it (job->gone, set by [S]) is not run:
 * it goes straight back to [S] to be freed. Stopping: [S] has stopped first; closing
 * `todo` lets the workers finish the job in hand, answer the rest 503 without running
 * them, and exit; lws still exists while they wake it. */
#include "gateway.h"
#include "im/err.h"
#include "im/log.h"
#include "im/wire.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Authenticated REST calls share rest_rate per user across the gateways (limits.c);
 * WebSocket jobs (sync, recall) and a logout are never refused here. */
static int over_rest_limit(gw_t *g, gw_job_t *job)
{
    if (job->user_id == 0 || job->conn_id != 0 || job->fn == gw_api_logout) return 0;
    char uid[24];
    snprintf(uid, sizeof uid, "%llu", (unsigned long long)job->user_id);
    return gw_limit(g, job, "rest", uid, IM_CFG_GET(g->cfg.rest_rate), IM_CFG_GET(g->cfg.rest_burst)) != IM_OK;
}

static void *worker_main(void *arg)
{
    gw_t *g = arg;
    static int seq;
    char name[16];
    snprintf(name, sizeof name, "work-%d", __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED));
    im_log_set_thread(name);
    im_queue_node_t *n;
    while ((n = im_queue_pop_wait(&g->todo)) != NULL) {
        gw_job_t *job = IM_QUEUE_ENTRY(n, gw_job_t, node);
        if (__atomic_load_n(&job->gone, __ATOMIC_ACQUIRE)) {
            /* nobody to answer */
        } else if (im_queue_closed(&g->todo)) {
            gw_job_error(job, 503, "unavailable", "gateway shutting down");
        } else if (over_rest_limit(g, job)) {
            /* answered 429 */
        } else {
            im_trace_set(job->trace);
            job->fn(g, job);
            im_trace_set("");
        }
        if (im_queue_push(&g->done, &job->node) != IM_OK) gw_job_free(job);   /* only after [S] is gone */
    }
    return NULL;
}

void gw_jobs_start(gw_t *g)
{
    im_queue_init(&g->todo, NULL, NULL);
    im_queue_init(&g->done, gw_server_wake, g);
    g->nworkers = g->cfg.workers;
    g->workers = im_calloc((size_t)g->nworkers, sizeof *g->workers);
    for (int i = 0; i < g->nworkers; i++) pthread_create(&g->workers[i], NULL, worker_main, g);
}

void gw_jobs_stop(gw_t *g)
{
    im_queue_close(&g->todo);
    for (int i = 0; i < g->nworkers; i++) pthread_join(g->workers[i], NULL);
    im_free(g->workers);
    g->workers = NULL;
    im_queue_close(&g->done);   /* no more wake-ups of lws */
}

void gw_jobs_free_done(gw_t *g)
{
    for (im_queue_node_t *n = im_queue_take_all(&g->done), *next; n; n = next) {
        next = n->next;
        gw_job_free(IM_QUEUE_ENTRY(n, gw_job_t, node));
    }
    im_queue_fini(&g->todo);
    im_queue_fini(&g->done);
}

void gw_jobs_submit(gw_t *g, gw_job_t *job)
{
    if (im_queue_push(&g->todo, &job->node) == IM_OK) return;
    gw_job_error(job, 503, "unavailable", "gateway shutting down");   /* stopping: answer at once */
    im_queue_push(&g->done, &job->node);   /* [S] is running, so `done` is still open */
}

gw_job_t *gw_job_new(void)
{
    gw_job_t *job = im_calloc(1, sizeof *job);
    job->upload_fd = -1;
    job->body = im_strdup("");
    im_trace_new(job->trace);
    return job;
}

void gw_job_free(gw_job_t *job)
{
    if (job == NULL) return;
    if (job->upload_fd >= 0) close(job->upload_fd);
    if (job->upload_path) unlink(job->upload_path);   /* not taken by the store */
    im_free(job->upload_path);
    if (job->serve) close(job->serve->fd);
    im_free(job->serve);
    im_free(job->query);
    im_free(job->body);
    im_free(job->resp);
    im_free(job);
}

void gw_job_reply(gw_job_t *job, int status, char *json)
{
    im_free(job->resp);
    job->status = status;
    job->resp = json;
}

void gw_job_error(gw_job_t *job, int status, const char *code, const char *message)
{
    gw_job_reply(job, status, im_wire_dump(json_pack("{s:s, s:s}", "error", code, "message", message)));
}

void gw_ws_submit(gw_t *g, gw_conn_t *c, gw_api_fn fn, const char *method, const char *path, char *query)
{
    gw_job_t *job = gw_job_new();
    job->fn = fn;
    job->conn_id = c->id;
    job->user_id = c->user->id;
    snprintf(job->method, sizeof job->method, "%s", method);
    snprintf(job->path, sizeof job->path, "%s", path);
    job->query = query;
    gw_jobs_submit(g, job);
}
