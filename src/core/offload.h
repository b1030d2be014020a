/* Offload: run a CPU-heavy function on the libuv thread pool and get the
 * completion back on the loop thread (asyncio's run_in_executor).
 *
 * `work` runs on a pool thread and must not touch the loop or any handle;
 * `done` runs on the loop thread with status 0, or UV_ECANCELED when the
 * job was cancelled before it started. The job frees itself after done. */
#ifndef SL_OFFLOAD_H
#define SL_OFFLOAD_H

#include <uv.h>

struct sl_offload;
typedef void (*sl_offload_work_fn)(void *data);
typedef void (*sl_offload_done_fn)(void *data, int status);

/* Returns 0, or a negative uv error (nothing was queued, done won't run).
 * If job_out is non-NULL it receives a handle for sl_offload_cancel(). */
int sl_offload(uv_loop_t *loop, sl_offload_work_fn work, sl_offload_done_fn done, void *data,
               struct sl_offload **job_out);

/* Cancels a job that has not started yet: returns 0 (done will run with
 * UV_ECANCELED) or UV_EBUSY when it is already running. Only valid before
 * done ran: the job frees itself right after done. */
int sl_offload_cancel(struct sl_offload *job);

#endif
