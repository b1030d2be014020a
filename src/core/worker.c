#include "core/worker.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/notify.h"

/* jobs waiting behind the one about to run that make a background worker
 * "behind" */
#define BEHIND 4

/* The loop and the thread share no lock: a background thread at idle
 * priority holding a mutex the loop waits for would stall the loop for as
 * long as anything else keeps that thread off the CPU (measured: p99 of
 * +600 ms with a linker running on the loop's core). Both queues are
 * lock-free stacks that one side pushes to and the other empties whole,
 * then reverses into submission order. */
struct sl_worker {
    uv_loop_t *loop;
    char name[16];
    enum sl_thread_role role;
    struct sl_notify wake; /* thread -> loop: jobs are done */
    int todo_fd;           /* loop -> thread: jobs are waiting (an eventfd) */
    uv_thread_t thread;
    _Atomic(struct sl_worker_job *) todo; /* pushed by the loop, newest first */
    _Atomic(struct sl_worker_job *) done; /* pushed by the thread, newest first */
    atomic_int sleeping;                  /* the thread waits on todo_fd */
    atomic_int stop;                      /* the thread exits once todo is empty */
    atomic_size_t waiting;                /* jobs submitted and not yet started */
    /* loop thread only */
    int closing, stopped;
    size_t out; /* submitted, done() not yet run */
    void (*close_cb)(void *);
    void *close_arg;
};

static void push(_Atomic(struct sl_worker_job *) *stack, struct sl_worker_job *job)
{
    struct sl_worker_job *head = atomic_load(stack);
    do
        job->next = head;
    while (!atomic_compare_exchange_weak(stack, &head, job));
}

/* Everything pushed so far, oldest first. */
static struct sl_worker_job *take_all(_Atomic(struct sl_worker_job *) *stack)
{
    struct sl_worker_job *list = atomic_exchange(stack, NULL), *fifo = NULL;
    while (list) {
        struct sl_worker_job *next = list->next;
        list->next = fifo;
        fifo = list;
        list = next;
    }
    return fifo;
}

static void kick(int fd)
{
    uint64_t one = 1;
    ssize_t rc;
    do
        rc = write(fd, &one, sizeof(one));
    while (rc < 0 && errno == EINTR);
}

/* Blocks until the loop pushed something or asked to stop. */
static void wait_for_work(struct sl_worker *w)
{
    atomic_store(&w->sleeping, 1);
    if (atomic_load(&w->todo) != NULL || atomic_load(&w->stop)) {
        /* raced with a push: whoever clears the flag owns the wake-up (an
         * extra one only makes the next wait return at once) */
        atomic_store(&w->sleeping, 0);
        return;
    }
    uint64_t v;
    while (read(w->todo_fd, &v, sizeof(v)) < 0 && errno == EINTR)
        ;
}

static void thread_main(void *arg)
{
    struct sl_worker *w = arg;
    pthread_setname_np(pthread_self(), w->name);
    if (w->role == SL_THREAD_MIDDLE)
        sl_thread_role(SL_THREAD_MIDDLE); /* kept, behind or not */
    for (;;) {
        struct sl_worker_job *job = take_all(&w->todo);
        if (job == NULL) {
            if (atomic_load(&w->stop))
                return;
            wait_for_work(w);
            continue;
        }
        while (job) {
            struct sl_worker_job *next = job->next;
            size_t waiting = atomic_fetch_sub(&w->waiting, 1) - 1;
            /* a background worker that fell behind works at normal
             * priority until it caught up: the loop first, but not at any
             * price */
            if (w->role == SL_THREAD_BACKGROUND)
                sl_thread_role(waiting >= BEHIND ? SL_THREAD_NORMAL : SL_THREAD_BACKGROUND);
            job->work(job);
            push(&w->done, job);
            sl_notify_send(&w->wake); /* the last step: no window for the loop to wait on */
            job = next;
        }
    }
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
    close(w->todo_fd);
    free(w);
    cb(arg);
}

static void maybe_closed(struct sl_worker *w)
{
    if (!w->closing || w->out > 0 || w->stopped)
        return;
    w->stopped = 1;
    atomic_store(&w->stop, 1);
    kick(w->todo_fd);
    uv_thread_join(&w->thread);
    sl_notify_close(&w->wake, on_wake_closed);
}

static void on_wake(struct sl_notify *n)
{
    struct sl_worker *w = n->data;
    struct sl_worker_job *list = take_all(&w->done);
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
    atomic_init(&w->todo, NULL);
    atomic_init(&w->done, NULL);
    atomic_init(&w->sleeping, 0);
    atomic_init(&w->stop, 0);
    atomic_init(&w->waiting, 0);
    w->todo_fd = eventfd(0, EFD_CLOEXEC);
    if (w->todo_fd < 0) {
        int rc = -errno;
        free(w);
        return rc;
    }
    int rc = sl_notify_init(loop, &w->wake, on_wake);
    if (rc != 0) {
        close(w->todo_fd);
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
    w->out++;
    atomic_fetch_add(&w->waiting, 1);
    push(&w->todo, job);
    if (atomic_exchange(&w->sleeping, 0))
        kick(w->todo_fd);
}

void sl_worker_close(struct sl_worker *w, void (*cb)(void *arg), void *arg)
{
    w->closing = 1;
    w->close_cb = cb;
    w->close_arg = arg;
    maybe_closed(w);
}
