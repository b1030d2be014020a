#include "core/offload.h"

#include <stdlib.h>

struct sl_offload {
    uv_work_t req;
    sl_offload_work_fn work;
    sl_offload_done_fn done;
    void *data;
};

static void run_work(uv_work_t *req)
{
    struct sl_offload *job = req->data;
    job->work(job->data);
}

static void after_work(uv_work_t *req, int status)
{
    struct sl_offload *job = req->data;
    job->done(job->data, status);
    free(job);
}

int sl_offload(uv_loop_t *loop, sl_offload_work_fn work, sl_offload_done_fn done, void *data,
               struct sl_offload **job_out)
{
    struct sl_offload *job = malloc(sizeof(*job));
    if (job == NULL)
        return UV_ENOMEM;
    *job = (struct sl_offload){.work = work, .done = done, .data = data};
    job->req.data = job;
    int rc = uv_queue_work(loop, &job->req, run_work, after_work);
    if (rc != 0) {
        free(job);
        return rc;
    }
    if (job_out)
        *job_out = job;
    return 0;
}

int sl_offload_cancel(struct sl_offload *job)
{
    return uv_cancel((uv_req_t *)&job->req) == 0 ? 0 : UV_EBUSY;
}
