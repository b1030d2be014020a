/* The load run's report; see report.h. */
#include "load/report.h"

#include "http/json_scan.h"

static double ms(uint64_t us)
{
    return (double)us / 1000.0;
}

static const char *bytes_text(uint64_t n, char *buf, size_t cap)
{
    if (n < 10000)
        snprintf(buf, cap, "%llu bytes", (unsigned long long)n);
    else if (n < 10000000)
        snprintf(buf, cap, "%.1f kB", (double)n / 1e3);
    else if (n < 10000000000ULL)
        snprintf(buf, cap, "%.1f MB", (double)n / 1e6);
    else
        snprintf(buf, cap, "%.1f GB", (double)n / 1e9);
    return buf;
}

static double elapsed_s(const struct sl_load_result *r)
{
    return r->end_ns > r->start_ns ? (double)(r->end_ns - r->start_ns) / 1e9 : 0;
}

void sl_load_report_text(FILE *o, const struct sl_load_report_run *run,
                         const struct sl_load_result *r)
{
    double secs = elapsed_s(r);
    fprintf(o, "%s %s%s\n", run->method ? run->method : "POST", run->url,
            run->stream ? " (streaming)" : "");
    if (run->cfg->rate > 0)
        fprintf(o, "  mode          open loop, %g requests/s, %u connections, %.3f s\n",
                run->cfg->rate, run->cfg->concurrency, secs);
    else
        fprintf(o, "  mode          closed loop, %u connections, %.3f s\n", run->cfg->concurrency,
                secs);
    fprintf(o, "  requests      %llu (%llu responses, %llu errors", (unsigned long long)r->requests,
            (unsigned long long)r->responses, (unsigned long long)r->errors);
    if (r->cancelled)
        fprintf(o, "; %llu cancelled in flight", (unsigned long long)r->cancelled);
    fprintf(o, ")\n");
    fprintf(o, "  throughput    %.1f responses/s\n", secs > 0 ? (double)r->responses / secs : 0);
    fprintf(o, "  status       ");
    int any = 0;
    for (int s = 0; s < SL_LOAD_STATUS_MAX; s++)
        if (r->status[s]) {
            fprintf(o, " %d: %llu", s, (unsigned long long)r->status[s]);
            any = 1;
        }
    if (r->status_other) {
        fprintf(o, " other: %llu", (unsigned long long)r->status_other);
        any = 1;
    }
    fprintf(o, "%s\n", any ? "" : " none");
    fprintf(o, "  errors        %llu", (unsigned long long)r->errors);
    if (r->errors) {
        const char *sep = " (";
        for (int e = 0; e < SL_LOAD_E__COUNT; e++)
            if (r->errors_by[e]) {
                fprintf(o, "%s%s %llu", sep, sl_load_err_name((enum sl_load_err)e),
                        (unsigned long long)r->errors_by[e]);
                sep = ", ";
            }
        fprintf(o, ")");
    }
    fprintf(o, "\n");
    const struct sl_hist *h = &r->latency;
    if (sl_hist_count(h))
        fprintf(o,
                "  latency       p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  p99.9 %.3f ms  max %.3f "
                "ms  (mean %.3f ms)\n",
                ms(sl_hist_percentile(h, 50)), ms(sl_hist_percentile(h, 90)),
                ms(sl_hist_percentile(h, 99)), ms(sl_hist_percentile(h, 99.9)), ms(sl_hist_max(h)),
                sl_hist_mean(h) / 1000.0);
    if (run->stream && sl_hist_count(&r->ttft) == 0) {
        fprintf(o, "  first token   none: no SSE `data:` event in any response\n");
    } else if (run->stream) {
        h = &r->ttft;
        fprintf(o,
                "  first token   p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  max %.3f ms  (%llu "
                "streams)\n",
                ms(sl_hist_percentile(h, 50)), ms(sl_hist_percentile(h, 90)),
                ms(sl_hist_percentile(h, 99)), ms(sl_hist_max(h)),
                (unsigned long long)sl_hist_count(h));
        h = &r->gap;
        fprintf(o,
                "  token gap     p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  max %.3f ms  (%llu "
                "tokens)\n",
                ms(sl_hist_percentile(h, 50)), ms(sl_hist_percentile(h, 90)),
                ms(sl_hist_percentile(h, 99)), ms(sl_hist_max(h)), (unsigned long long)r->tokens);
    }
    if (run->cfg->rate > 0)
        fprintf(o, "  queue         at most %llu due requests waiting for a connection\n",
                (unsigned long long)r->max_queue);
    char bytes[32];
    fprintf(o, "  connections   %llu opened; %s of response bodies\n",
            (unsigned long long)r->connects, bytes_text(r->body_bytes, bytes, sizeof(bytes)));
}

static void json_str(FILE *o, const char *s)
{
    char esc[8192];
    sl_json_escape(esc, sizeof(esc), s);
    fprintf(o, "\"%s\"", esc);
}

static void json_hist(FILE *o, const char *prefix, const struct sl_hist *h)
{
    fprintf(o, ",\"%sp50_ms\":%.3f,\"%sp90_ms\":%.3f,\"%sp99_ms\":%.3f,\"%sp999_ms\":%.3f", prefix,
            ms(sl_hist_percentile(h, 50)), prefix, ms(sl_hist_percentile(h, 90)), prefix,
            ms(sl_hist_percentile(h, 99)), prefix, ms(sl_hist_percentile(h, 99.9)));
    fprintf(o, ",\"%smax_ms\":%.3f,\"%smean_ms\":%.3f", prefix, ms(sl_hist_max(h)), prefix,
            sl_hist_mean(h) / 1000.0);
}

void sl_load_report_json(FILE *o, const struct sl_load_report_run *run,
                         const struct sl_load_result *r)
{
    double secs = elapsed_s(r);
    fprintf(o, "{\"url\":");
    json_str(o, run->url);
    fprintf(o, ",\"method\":");
    json_str(o, run->method ? run->method : "POST");
    fprintf(o, ",\"mode\":\"%s\",\"concurrency\":%u", run->cfg->rate > 0 ? "open" : "closed",
            run->cfg->concurrency);
    if (run->cfg->rate > 0)
        fprintf(o, ",\"rate\":%g", run->cfg->rate);
    fprintf(o, ",\"duration_s\":%.6f,\"requests\":%llu,\"responses\":%llu,\"status\":{", secs,
            (unsigned long long)r->requests, (unsigned long long)r->responses);
    const char *sep = "";
    for (int s = 0; s < SL_LOAD_STATUS_MAX; s++)
        if (r->status[s]) {
            fprintf(o, "%s\"%d\":%llu", sep, s, (unsigned long long)r->status[s]);
            sep = ",";
        }
    if (r->status_other)
        fprintf(o, "%s\"other\":%llu", sep, (unsigned long long)r->status_other);
    fprintf(o, "},\"errors\":%llu,\"errors_by_kind\":{", (unsigned long long)r->errors);
    for (int e = 0; e < SL_LOAD_E__COUNT; e++)
        fprintf(o, "%s\"%s\":%llu", e ? "," : "", sl_load_err_name((enum sl_load_err)e),
                (unsigned long long)r->errors_by[e]);
    fprintf(o, "},\"cancelled\":%llu,\"rps\":%.1f", (unsigned long long)r->cancelled,
            secs > 0 ? (double)r->responses / secs : 0);
    json_hist(o, "", &r->latency);
    fprintf(o, ",\"min_ms\":%.3f", ms(sl_hist_min(&r->latency)));
    if (run->stream) {
        json_hist(o, "ttft_", &r->ttft);
        json_hist(o, "gap_", &r->gap);
        fprintf(o, ",\"streams\":%llu,\"tokens\":%llu", (unsigned long long)sl_hist_count(&r->ttft),
                (unsigned long long)r->tokens);
    }
    if (run->cfg->rate > 0)
        fprintf(o, ",\"max_queue\":%llu", (unsigned long long)r->max_queue);
    fprintf(o, ",\"connections\":%llu,\"body_bytes\":%llu,\"unreachable\":%s,\"interrupted\":%s}\n",
            (unsigned long long)r->connects, (unsigned long long)r->body_bytes,
            r->unreachable ? "true" : "false", r->stopped ? "true" : "false");
}
