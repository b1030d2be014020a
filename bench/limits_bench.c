/* The cost of a limit check: (a) the local sliding window (window.c) per
 * take, with the time passed in; (b) sl_redis_admit against a Redis on
 * loopback, 1 op (an RPM window) and 4 ops (RPM + TPM windows, a budget, a
 * semaphore lease), one call at a time and 64 in flight: p50/p99 latency
 * from the call to its callback, and the CPU time of this process (user +
 * system, getrusage) per call, which is what the gateway would pay.
 * bench/limits.sh starts the redis-server and runs this.
 *
 *   limits_bench local [TAKES]
 *   limits_bench redis URL [CALLS] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <uv.h>

#include "limits/redis_limits.h"
#include "limits/window.h"

#define MAX_SECONDS 20 /* a bound on each redis run */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* This process's CPU time so far: user and system. */
static void cpu_s(double *user, double *sys)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
    *sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* ---- (a) the local window ----------------------------------------------------- */

static int local(long takes)
{
    struct sl_window w;
    int64_t cell;
    uint64_t retry, now = 1000000000000ull, ok = 0;
    /* 120 per minute, a take every 100 µs: after the first burst nearly all
     * are refused, as a hammering client would be */
    sl_window_init(&w, 120, 60000000);
    double t0 = now_s();
    for (long i = 0; i < takes; i++, now += 100)
        ok += sl_window_take(&w, now, 1, &cell, &retry) == 0;
    double refusing = now_s() - t0;
    sl_window_release(&w);
    /* a limit never reached: every take adds to a cell, cells roll every
     * 100 ms */
    sl_window_init(&w, UINT64_MAX / 2, 60000000);
    t0 = now_s();
    for (long i = 0; i < takes; i++, now += 100)
        ok += sl_window_take(&w, now, 1, &cell, &retry) == 0;
    double taking = now_s() - t0;
    sl_window_release(&w);
    printf("local window (window.c), %ld takes each: %.1f ns per take (all taken), "
           "%.1f ns per take (120/min hammered, mostly refused) [%llu taken]\n",
           takes, taking * 1e9 / (double)takes, refusing * 1e9 / (double)takes,
           (unsigned long long)ok);
    return 0;
}

/* ---- (b) admit through Redis --------------------------------------------------- */

struct run {
    struct sl_redis_link *link;
    long calls, issued, done, failed;
    int nops;
    double *lat; /* seconds, per call */
    double deadline;
};

struct slot {
    struct run *run;
    long i;
    double sent;
    char lease[32];
};

static void issue(struct slot *s);

static void on_admit(void *arg, enum sl_redis_result r, size_t refused, uint64_t retry,
                     const int64_t *cells)
{
    struct slot *s = arg;
    struct run *run = s->run;
    (void)refused, (void)retry, (void)cells;
    run->lat[s->i] = now_s() - s->sent;
    run->done++;
    if (r != SL_REDIS_TAKEN)
        run->failed++;
    if (run->issued < run->calls && now_s() < run->deadline)
        issue(s);
}

static void issue(struct slot *s)
{
    struct run *run = s->run;
    s->i = run->issued++;
    snprintf(s->lease, sizeof s->lease, "bench-%ld", s->i);
    struct sl_redis_op ops[4] = {
        {.kind = SL_REDIS_WINDOW,
         .key = "bench:{k}:rpm",
         .limit = UINT64_MAX / 4,
         .window_us = 60000000,
         .units = 1},
        {.kind = SL_REDIS_WINDOW,
         .key = "bench:{k}:tpm",
         .limit = UINT64_MAX / 4,
         .window_us = 60000000,
         .units = 700},
        {.kind = SL_REDIS_BUDGET, .key = "bench:{k}:usd", .budget = 1e12},
        {.kind = SL_REDIS_SEMAPHORE,
         .key = "bench:dep",
         .limit = 1000000000,
         .lease = s->lease,
         .lease_ms = 60000},
    };
    s->sent = now_s();
    sl_redis_admit(run->link, ops, (size_t)run->nops, on_admit, s);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void one_run(uv_loop_t *loop, struct sl_redis_link *link, int nops, int in_flight,
                    long calls, int quiet)
{
    struct run run = {.link = link, .calls = calls, .nops = nops};
    run.lat = calloc((size_t)calls, sizeof *run.lat);
    struct slot *slots = calloc((size_t)in_flight, sizeof *slots);
    if (!run.lat || !slots) {
        fprintf(stderr, "limits_bench: out of memory\n");
        exit(1);
    }
    double u0, s0, u1, s1, t0 = now_s();
    cpu_s(&u0, &s0);
    run.deadline = t0 + MAX_SECONDS;
    for (int i = 0; i < in_flight && run.issued < calls; i++) {
        slots[i].run = &run;
        issue(&slots[i]);
    }
    while (run.done < run.issued)
        uv_run(loop, UV_RUN_ONCE);
    double wall = now_s() - t0, n = (double)run.done;
    cpu_s(&u1, &s1);
    qsort(run.lat, (size_t)run.done, sizeof *run.lat, cmp);
    if (!quiet)
        printf("redis admit, %d op%s, %2d in flight: %ld calls in %.2f s (%.0f/s), "
               "p50 %.1f µs, p99 %.1f µs, CPU %.2f µs per call (user %.2f, system %.2f)%s\n",
               nops, nops > 1 ? "s" : " ", in_flight, run.done, wall, n / wall,
               run.lat[run.done / 2] * 1e6, run.lat[run.done * 99 / 100] * 1e6,
               (u1 - u0 + s1 - s0) * 1e6 / n, (u1 - u0) * 1e6 / n, (s1 - s0) * 1e6 / n,
               run.failed ? " (some failed!)" : "");
    free(run.lat);
    free(slots);
}

static void on_closed(void *arg)
{
    *(int *)arg = 1;
}

static int redis(const char *url, long calls)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct sl_redis_link *link;
    char err[256];
    struct sl_redis_link_options o = {.url = url, .timeout_ms = 1000};
    if (sl_redis_link_new(&loop, &o, &link, err, sizeof err) < 0) {
        fprintf(stderr, "limits_bench: %s\n", err);
        return 1;
    }
    double until = now_s() + 5;
    while (!sl_redis_link_up(link) && now_s() < until)
        uv_run(&loop, UV_RUN_ONCE);
    if (!sl_redis_link_up(link)) {
        fprintf(stderr, "limits_bench: redis is down: %s\n", sl_redis_link_why(link));
        return 1;
    }
    one_run(&loop, link, 4, 64, calls / 10, 1); /* warm up: the keys exist, the script is hot */
    int nops[] = {1, 4}, flights[] = {1, 64};
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++)
            one_run(&loop, link, nops[a], flights[b], calls, 0);
    int closed = 0;
    sl_redis_link_close(link, on_closed, &closed);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return closed ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "local") == 0)
        return local(argc > 2 ? atol(argv[2]) : 20000000);
    if (argc >= 3 && strcmp(argv[1], "redis") == 0) {
        long calls = argc > 3 ? atol(argv[3]) : 50000;
        if (calls < 10) {
            fprintf(stderr, "limits_bench: CALLS must be at least 10\n");
            return 2;
        }
        return redis(argv[2], calls);
    }
    fprintf(stderr, "usage: limits_bench local [TAKES] | limits_bench redis URL [CALLS]\n");
    return 2;
}
