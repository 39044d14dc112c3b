/* jobs.c — the REST worker pool: [S] submits, [W] runs the handler, [S] writes the reply. */
#include "gateway.h"
#include "im/err.h"
#include "im/log.h"
#include "im/wire.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

static void *worker_main(void *arg)
{
    gw_t *g = arg;
    static int seq;
    char name[16];
    snprintf(name, sizeof name, "work-%d", __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED));
    im_log_set_thread(name);
    for (;;) {
        pthread_mutex_lock(&g->jobs_lock);
        while (g->todo_head == NULL && !g->stopping) pthread_cond_wait(&g->jobs_cond, &g->jobs_lock);
        gw_job_t *job = g->todo_head;
        if (job == NULL) { /* stopping and drained */
            pthread_mutex_unlock(&g->jobs_lock);
            return NULL;
        }
        g->todo_head = job->next;
        if (g->todo_head == NULL) g->todo_tail = NULL;
        pthread_mutex_unlock(&g->jobs_lock);

        im_trace_set(job->trace);
        job->fn(g, job);
        im_trace_set("");

        pthread_mutex_lock(&g->jobs_lock);
        job->next = g->done_head;
        g->done_head = job;
        pthread_mutex_unlock(&g->jobs_lock);
        lws_cancel_service(g->lws);   /* the one lws call that is safe off [S] */
    }
}

void gw_jobs_start(gw_t *g)
{
    pthread_mutex_init(&g->jobs_lock, NULL);
    pthread_cond_init(&g->jobs_cond, NULL);
    g->nworkers = g->cfg.workers;
    g->workers = im_calloc((size_t)g->nworkers, sizeof *g->workers);
    for (int i = 0; i < g->nworkers; i++) pthread_create(&g->workers[i], NULL, worker_main, g);
}

void gw_jobs_stop(gw_t *g)
{
    pthread_mutex_lock(&g->jobs_lock);
    pthread_cond_broadcast(&g->jobs_cond);
    pthread_mutex_unlock(&g->jobs_lock);
    for (int i = 0; i < g->nworkers; i++) pthread_join(g->workers[i], NULL);
    im_free(g->workers);
    for (gw_job_t *j = gw_jobs_take_done(g), *n; j; j = n) {
        n = j->next;
        gw_job_free(j);
    }
}

void gw_jobs_submit(gw_t *g, gw_job_t *job)
{
    job->next = NULL;
    pthread_mutex_lock(&g->jobs_lock);
    if (g->todo_tail) g->todo_tail->next = job;
    else g->todo_head = job;
    g->todo_tail = job;
    pthread_cond_signal(&g->jobs_cond);
    pthread_mutex_unlock(&g->jobs_lock);
}

gw_job_t *gw_jobs_take_done(gw_t *g)
{
    pthread_mutex_lock(&g->jobs_lock);
    gw_job_t *list = g->done_head;
    g->done_head = NULL;
    pthread_mutex_unlock(&g->jobs_lock);
    return list;
}

void gw_job_free(gw_job_t *job)
{
    if (job == NULL) return;
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
