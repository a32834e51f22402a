/*
 * Work off the connection's thread: a handler with a heavy part (parsing and storing a large batch
 * of line protocol) hands it to a pool of worker threads, one per core, and its connection waits
 * suspended meanwhile. libmicrohttpd ties each connection to one of its threads for good; through
 * the pool the work uses every core whichever threads its connections are on, and the
 * connection's thread goes on serving its other connections (a dashboard, say).
 *
 * A worker runs the job, marks it done and resumes the connection; libmicrohttpd then calls the
 * handler again, which answers from the job's result. When the pool is stopped (or could not be
 * started) the job runs on the connection's thread, as if there were no pool.
 */
#include "api/server.h"
#include "gemba/log.h"
#include "util/str.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#define WORKERS_MAX 16

struct gb_api_work {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    gb_req_t *head, *tail; /* jobs waiting, through gb_req_t.work_next */
    bool stop;
    pthread_t th[WORKERS_MAX];
    int nth;
};

static void *worker_main(void *arg)
{
    gb_api_work_t *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->head && !w->stop)
            pthread_cond_wait(&w->cv, &w->mu);
        gb_req_t *r = w->head;
        if (!r) break; /* stopping, and nothing left */
        w->head = r->work_next;
        if (!w->head) w->tail = NULL;
        pthread_mutex_unlock(&w->mu);
        r->work(r);
        r->work_done = true;
        MHD_resume_connection(r->c); /* the handler is called again, and answers */
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

gb_api_work_t *gb_api_work_start(void)
{
    gb_api_work_t *w = gb_xcalloc(1, sizeof *w);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int want = cores < 2 ? 2 : cores > WORKERS_MAX ? WORKERS_MAX : (int)cores;
    while (w->nth < want && pthread_create(&w->th[w->nth], NULL, worker_main, w) == 0)
        pthread_setname_np(w->th[w->nth++], "http-work");
    if (w->nth < want)
        gb_warn("http", "started %d of %d worker threads; heavy requests run on fewer cores",
                w->nth, want);
    return w;
}

void gb_api_work_stop(gb_api_work_t *w)
{
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    /* the jobs not started are answered without being run (a collector sends its batch again
     * once the server is back), so that a stop does not wait for a queue of large writes; the
     * ones under way finish */
    for (gb_req_t *r = w->head, *next; r; r = next) {
        next = r->work_next;
        r->work_skipped = true;
        r->work_done = true;
        MHD_resume_connection(r->c);
    }
    w->head = w->tail = NULL;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    for (int i = 0; i < w->nth; i++)
        pthread_join(w->th[i], NULL);
    w->nth = 0;
}

void gb_api_work_free(gb_api_work_t *w)
{
    if (!w) return;
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

bool gb_api_offload(gb_req_t *r, void (*work)(gb_req_t *r))
{
    gb_api_work_t *w = r->api->work;
    r->work = work;
    r->work_next = NULL;
    if (w) {
        pthread_mutex_lock(&w->mu);
        bool take = !w->stop && w->nth > 0;
        if (take) {
            /* suspended before a worker can see it: the worker's resume always follows */
            MHD_suspend_connection(r->c);
            if (w->tail)
                w->tail->work_next = r;
            else
                w->head = r;
            w->tail = r;
            pthread_cond_signal(&w->cv);
        }
        pthread_mutex_unlock(&w->mu);
        if (take) return true;
    }
    work(r);
    r->work_done = true;
    return false;
}
