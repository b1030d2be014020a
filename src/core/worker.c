#include "core/worker.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/notify.h"

/* jobs waiting behind the one about to run that make a background worker
 * "behind" */
#define BEHIND 4

struct sl_worker {
    uv_loop_t *loop;
    char name[16];
    enum sl_thread_role role;
    struct sl_notify wake; /* loop thread only, but for sl_notify_send */
    uv_thread_t thread;
    /* shared, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct sl_worker_job *todo_head, **todo_tail;
    struct sl_worker_job *done_head, **done_tail;
    size_t waiting; /* jobs in todo */
    int stop;       /* the thread exits once todo is empty */
    /* loop thread only */
    int closing, stopped;
    size_t out; /* submitted, done() not yet run */
    void (*close_cb)(void *);
    void *close_arg;
};

static void thread_main(void *arg)
{
    struct sl_worker *w = arg;
    pthread_setname_np(pthread_self(), w->name);
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->todo_head == NULL && !w->stop)
            pthread_cond_wait(&w->cv, &w->mu);
        struct sl_worker_job *job = w->todo_head;
        if (job == NULL)
            break; /* stopping, and nothing left */
        w->todo_head = job->next;
        if (w->todo_head == NULL)
            w->todo_tail = &w->todo_head;
        size_t waiting = --w->waiting;
        pthread_mutex_unlock(&w->mu);
        /* a background worker that fell behind works at normal priority
         * until it caught up: the loop first, but not at any price */
        if (w->role == SL_THREAD_BACKGROUND)
            sl_thread_role(waiting >= BEHIND ? SL_THREAD_NORMAL : SL_THREAD_BACKGROUND);
        job->work(job);
        pthread_mutex_lock(&w->mu);
        job->next = NULL;
        *w->done_tail = job;
        w->done_tail = &job->next;
        pthread_mutex_unlock(&w->mu);
        sl_notify_send(&w->wake); /* the last step: no window for the loop to wait on */
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
}

static void ignore(void *arg)
{
    (void)arg;
}

static void on_wake_closed(struct sl_notify *n)
{
    struct sl_worker *w = n->data;
    void (*cb)(void *) = w->close_cb;
    void *arg = w->close_arg;
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
    cb(arg);
}

static void maybe_closed(struct sl_worker *w)
{
    if (!w->closing || w->out > 0 || w->stopped)
        return;
    w->stopped = 1;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    uv_thread_join(&w->thread);
    sl_notify_close(&w->wake, on_wake_closed);
}

static void on_wake(struct sl_notify *n)
{
    struct sl_worker *w = n->data;
    pthread_mutex_lock(&w->mu);
    struct sl_worker_job *list = w->done_head;
    w->done_head = NULL;
    w->done_tail = &w->done_head;
    pthread_mutex_unlock(&w->mu);
    while (list) {
        struct sl_worker_job *next = list->next;
        w->out--;
        list->done(list); /* may free the job */
        list = next;
    }
    maybe_closed(w);
}

int sl_worker_new(uv_loop_t *loop, const char *name, enum sl_thread_role role,
                  struct sl_worker **out)
{
    struct sl_worker *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return UV_ENOMEM;
    w->loop = loop;
    w->role = role;
    snprintf(w->name, sizeof(w->name), "%s", name);
    w->todo_tail = &w->todo_head;
    w->done_tail = &w->done_head;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    int rc = sl_notify_init(loop, &w->wake, on_wake);
    if (rc != 0) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        free(w);
        return rc;
    }
    w->wake.data = w;
    rc = uv_thread_create(&w->thread, thread_main, w);
    if (rc != 0) {
        /* no thread: the handle closes on the loop, and frees the worker */
        w->stopped = 1;
        w->close_cb = ignore;
        sl_notify_close(&w->wake, on_wake_closed);
        return rc;
    }
    *out = w;
    return 0;
}

void sl_worker_submit(struct sl_worker *w, struct sl_worker_job *job)
{
    job->next = NULL;
    w->out++;
    pthread_mutex_lock(&w->mu);
    *w->todo_tail = job;
    w->todo_tail = &job->next;
    w->waiting++;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void sl_worker_close(struct sl_worker *w, void (*cb)(void *arg), void *arg)
{
    w->closing = 1;
    w->close_cb = cb;
    w->close_arg = arg;
    maybe_closed(w);
}
