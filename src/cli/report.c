#include "cli/report.h"

#include <string.h>

#include "http/json_scan.h"

static void json_string(FILE *out, const char *s)
{
    char esc[8192];
    sl_json_escape(esc, sizeof(esc), s);
    fprintf(out, "\"%s\"", esc);
}

void sl_report_text(FILE *out, const struct sl_stats *s, const char *db_path)
{
    fprintf(out, "run %lld (%s), database %s\n", (long long)s->run_id, s->run_status, db_path);
    fprintf(out, "  requests        %llu (rows in database: %llu)\n",
            (unsigned long long)s->requests, (unsigned long long)s->db_rows);
    fprintf(out, "  succeeded       %llu\n", (unsigned long long)s->succeeded);
    fprintf(out, "  failed          %llu\n", (unsigned long long)s->failed);
    if (s->cancelled)
        fprintf(out, "  cancelled       %llu\n", (unsigned long long)s->cancelled);
    fprintf(out, "  retries         %llu\n", (unsigned long long)s->retries);
    fprintf(out, "  processing      avg %.1f ms  p50 %.1f ms  p95 %.1f ms  p99 %.1f ms\n",
            s->avg_processing_ms, s->p50_ms, s->p95_ms, s->p99_ms);
    fprintf(out, "  queue wait      avg %.1f ms\n", s->avg_queue_ms);
    fprintf(out, "  max in flight   %u (limit %u)\n", s->max_in_flight, s->concurrency);
    fprintf(out, "  makespan        %.3f s (ideal %.3f s, efficiency %.3f)\n", s->makespan_s,
            s->ideal_makespan_s, s->efficiency);
}

void sl_report_json(FILE *out, const struct sl_stats *s, const char *db_path,
                    const char *extra_json)
{
    fprintf(out, "{\"run_id\":%lld,\"status\":", (long long)s->run_id);
    json_string(out, s->run_status);
    fprintf(out, ",\"db\":");
    json_string(out, db_path);
    fprintf(out,
            ",\"requests\":%llu,\"succeeded\":%llu,\"failed\":%llu,\"cancelled\":%llu,"
            "\"retries\":%llu,\"avg_processing_ms\":%.3f,\"p50_ms\":%.3f,\"p95_ms\":%.3f,"
            "\"p99_ms\":%.3f,\"avg_queue_ms\":%.3f,\"makespan_s\":%.6f,"
            "\"ideal_makespan_s\":%.6f,\"efficiency\":%.4f,\"max_in_flight\":%u,"
            "\"concurrency\":%u,\"db_rows\":%llu",
            (unsigned long long)s->requests, (unsigned long long)s->succeeded,
            (unsigned long long)s->failed, (unsigned long long)s->cancelled,
            (unsigned long long)s->retries, s->avg_processing_ms, s->p50_ms, s->p95_ms, s->p99_ms,
            s->avg_queue_ms, s->makespan_s, s->ideal_makespan_s, s->efficiency, s->max_in_flight,
            s->concurrency, (unsigned long long)s->db_rows);
    if (extra_json && *extra_json)
        fputs(extra_json, out);
    fputs("}\n", out);
}
