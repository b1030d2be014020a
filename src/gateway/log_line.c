/* The gateway's log lines on stderr: one per request, one per retry; text,
 * or with --log-format json every line one JSON object. */
#include "gateway/log_line.h"

#include <stdio.h>
#include <time.h>

#include "http/json_scan.h"

static void timestamp(char ts[32])
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* One line per request on stderr, text or JSON (every line JSON: the
 * refused ones too). A success has no error field. */
void sl_gw_log_request(int json, const struct sl_gw_log_row *w)
{
    char ts[32];
    timestamp(ts);
    const char *dep = w->deployment && w->deployment[0] ? w->deployment : "";
    if (json) {
        char model[800], deployment[400], error[64] = "";
        sl_json_escape(model, sizeof(model), w->model ? w->model : "");
        sl_json_escape(deployment, sizeof(deployment), dep);
        if (w->error != SL_OK)
            snprintf(error, sizeof(error), ",\"error\":\"%s\"", sl_err_name(w->error));
        fprintf(stderr,
                "{\"ts\":\"%s\",\"event\":\"request\",\"id\":\"%s\",\"model\":\"%s\","
                "\"deployment\":\"%s\",\"endpoint\":\"%s\",\"stream\":%s,\"status\":%d,"
                "\"outcome\":\"%s\"%s,\"attempts\":%u,\"queue_ms\":%.3f,"
                "\"ttfb_ms\":%.3f,\"total_ms\":%.3f,\"prompt_tokens\":%u,"
                "\"completion_tokens\":%u}\n",
                ts, w->id, model, deployment, w->endpoint, w->stream ? "true" : "false", w->status,
                sl_gw_outcome_name(w->outcome), error, w->attempts, w->queue_ms, w->ttfb_ms,
                w->total_ms, w->prompt_tokens, w->completion_tokens);
    } else {
        fprintf(stderr,
                "%s request id=%s model=%s deployment=%s status=%d outcome=%s%s%s attempts=%u "
                "queue_ms=%.1f ttfb_ms=%.1f total_ms=%.1f\n",
                ts, w->id, w->model && w->model[0] ? w->model : "-", dep[0] ? dep : "-", w->status,
                sl_gw_outcome_name(w->outcome), w->error != SL_OK ? " error=" : "",
                w->error != SL_OK ? sl_err_name(w->error) : "", w->attempts, w->queue_ms,
                w->ttfb_ms, w->total_ms);
    }
}

void sl_gw_log_retry(int json, const char *id, const char *deployment, unsigned attempt,
                     unsigned max_attempts, enum sl_err error, double wait_ms)
{
    if (json) {
        char ts[32], dep[400];
        timestamp(ts);
        sl_json_escape(dep, sizeof(dep), deployment);
        fprintf(stderr,
                "{\"ts\":\"%s\",\"event\":\"retry\",\"id\":\"%s\",\"deployment\":\"%s\","
                "\"attempt\":%u,\"max_attempts\":%u,\"error\":\"%s\",\"wait_ms\":%.0f}\n",
                ts, id, dep, attempt, max_attempts, sl_err_name(error), wait_ms);
    } else
        fprintf(stderr, "retry id=%s deployment=%s attempt=%u/%u error=%s wait_ms=%.0f\n", id,
                deployment, attempt, max_attempts, sl_err_name(error), wait_ms);
}
