#include "cli/report.h"

#include <string.h>

#include "http/json_scan.h"

static void json_string(FILE *out, const char *s)
{
    char esc[8192];
    sl_json_escape(esc, sizeof(esc), s);
    fprintf(out, "\"%s\"", esc);
}

/* ---- serve runs ---------------------------------------------------------- */

static unsigned long long u(uint64_t v)
{
    return (unsigned long long)v;
}

static void text_dist(FILE *out, const char *label, const struct sl_serve_dist *d)
{
    if (d->n == 0) {
        fprintf(out, "  %-15s none\n", label);
        return;
    }
    fprintf(out, "  %-15s p50 %.1f ms  p95 %.1f ms  p99 %.1f ms  max %.1f ms  (%llu requests)\n",
            label, d->p50, d->p95, d->p99, d->max, u(d->n));
}

static void text_groups(FILE *out, const char *label, const struct sl_serve_group *g, unsigned n,
                        unsigned more)
{
    fprintf(out, "  by %s\n", label);
    for (unsigned i = 0; i < n; i++) {
        fprintf(out, "    %-24s %llu", g[i].key[0] ? g[i].key : "(none)", u(g[i].requests));
        if (g[i].failed)
            fprintf(out, "  failed %llu", u(g[i].failed));
        if (g[i].cancelled)
            fprintf(out, "  cancelled %llu", u(g[i].cancelled));
        if (g[i].retries)
            fprintf(out, "  retries %llu", u(g[i].retries));
        if (g[i].fallbacks)
            fprintf(out, "  fallbacks %llu", u(g[i].fallbacks));
        fputc('\n', out);
    }
    if (more)
        fprintf(out, "    (%u more)\n", more);
}

static void report_serve_text(FILE *out, const struct sl_stats *st, const char *db_path)
{
    const struct sl_serve_stats *s = &st->serve;
    const struct sl_serve_group *t = &s->total;
    fprintf(out, "run %lld (serve, %s), database %s\n", (long long)st->run_id, st->run_status,
            db_path);
    fprintf(out, "  requests        %llu (streamed %llu) over %.3f s\n", u(t->requests),
            u(s->streamed), s->span_s);
    fprintf(out, "  succeeded       %llu\n", u(t->succeeded));
    fprintf(out, "  failed          %llu\n", u(t->failed));
    fprintf(out, "  cancelled       %llu\n", u(t->cancelled));
    fprintf(out, "  retries         %llu\n", u(t->retries));
    fprintf(out, "  fallbacks       %llu\n", u(t->fallbacks));
    fprintf(out, "  tokens          prompt %llu  completion %llu\n", u(t->prompt_tokens),
            u(t->completion_tokens));
    text_dist(out, "latency", &s->latency);
    text_dist(out, "ttfb", &s->ttfb);
    fprintf(out, "  max in flight   %u\n", st->max_in_flight);
    text_groups(out, "status", s->status, s->n_status, s->status_more);
    text_groups(out, "model", s->model, s->n_model, s->model_more);
    text_groups(out, "deployment", s->deployment, s->n_deployment, s->deployment_more);
}

static void json_group_fields(FILE *out, const struct sl_serve_group *g)
{
    fprintf(out,
            "\"requests\":%llu,\"succeeded\":%llu,\"failed\":%llu,\"cancelled\":%llu,"
            "\"retries\":%llu,\"fallbacks\":%llu,\"prompt_tokens\":%llu,"
            "\"completion_tokens\":%llu",
            u(g->requests), u(g->succeeded), u(g->failed), u(g->cancelled), u(g->retries),
            u(g->fallbacks), u(g->prompt_tokens), u(g->completion_tokens));
}

static void json_groups(FILE *out, const char *name, const struct sl_serve_group *g, unsigned n)
{
    fprintf(out, ",\"by_%s\":[", name);
    for (unsigned i = 0; i < n; i++) {
        fprintf(out, "%s{\"%s\":", i ? "," : "", name);
        json_string(out, g[i].key);
        fputc(',', out);
        json_group_fields(out, &g[i]);
        fputc('}', out);
    }
    fputc(']', out);
}

static void json_dist(FILE *out, const char *name, const struct sl_serve_dist *d)
{
    fprintf(out,
            ",\"%s_ms\":{\"n\":%llu,\"p50\":%.3f,\"p95\":%.3f,\"p99\":%.3f,\"avg\":%.3f,"
            "\"max\":%.3f}",
            name, u(d->n), d->p50, d->p95, d->p99, d->avg, d->max);
}

static void report_serve_json(FILE *out, const struct sl_stats *st, const char *db_path,
                              const char *extra_json)
{
    const struct sl_serve_stats *s = &st->serve;
    fprintf(out, "{\"run_id\":%lld,\"command\":\"serve\",\"status\":", (long long)st->run_id);
    json_string(out, st->run_status);
    fprintf(out, ",\"db\":");
    json_string(out, db_path);
    fputc(',', out);
    json_group_fields(out, &s->total);
    fprintf(out, ",\"streamed\":%llu,\"span_s\":%.6f,\"max_in_flight\":%u", u(s->streamed),
            s->span_s, st->max_in_flight);
    json_dist(out, "latency", &s->latency);
    json_dist(out, "ttfb", &s->ttfb);
    json_groups(out, "status", s->status, s->n_status);
    json_groups(out, "model", s->model, s->n_model);
    json_groups(out, "deployment", s->deployment, s->n_deployment);
    if (extra_json && *extra_json)
        fputs(extra_json, out);
    fputs("}\n", out);
}

static int is_serve(const struct sl_stats *s)
{
    return strcmp(s->command, "serve") == 0;
}

/* ---- simulate runs (and the default) ------------------------------------- */

void sl_report_text(FILE *out, const struct sl_stats *s, const char *db_path)
{
    if (is_serve(s)) {
        report_serve_text(out, s, db_path);
        return;
    }
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
    if (is_serve(s)) {
        report_serve_json(out, s, db_path, extra_json);
        return;
    }
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
