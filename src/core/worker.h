/* A background worker: one thread of its own, a FIFO of jobs, and their
 * completions back on the loop thread.
 *
 * Design
 *  - Jobs run strictly in submission order on the worker's thread; each
 *    job's done() runs on the loop thread, in the same order. Jobs are
 *    intrusive: the submitter owns the memory until done() (which may free
 *    it).
 *  - The thread runs with the role it was given (core/thread_prio.h): a
 *    background worker yields its core to the loop, except while it is
 *    behind (BEHIND jobs waiting), when it runs at normal priority.
 *  - Completions come back through an sl_notify (core/notify.h), not a
 *    uv_async_t, so a worker on the loop's core never makes the loop spin.
 *    One wake-up delivers every job finished by then.
 *  - sl_worker_close() lets the jobs already submitted run and complete,
 *    then joins the thread and frees the worker before calling back. */
#ifndef SL_WORKER_H
#define SL_WORKER_H

#include <uv.h>

#include "core/thread_prio.h"

struct sl_worker_job {
    struct sl_worker_job *next;
    void (*work)(struct sl_worker_job *job); /* the worker's thread */
    void (*done)(struct sl_worker_job *job); /* the loop's thread */
};

struct sl_worker;

/* name: the thread's name (at most 15 characters). Returns 0 or a negative
 * uv error. */
int sl_worker_new(uv_loop_t *loop, const char *name, enum sl_thread_role role,
                  struct sl_worker **out);
/* Loop thread. work and done must be set. */
void sl_worker_submit(struct sl_worker *w, struct sl_worker_job *job);
/* Loop thread: after every job submitted so far completed, the worker is
 * freed and cb(arg) runs. Nothing may be submitted after this. */
void sl_worker_close(struct sl_worker *w, void (*cb)(void *arg), void *arg);

#endif
