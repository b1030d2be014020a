#include "cli/progress.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

static void draw(struct sl_progress *p)
{
    struct sl_progress_sample s = {0};
    p->sample(p, &s);
    double secs = (double)(uv_hrtime() - p->start_ns) / 1e9;
    const char *label = s.retries_label ? s.retries_label : "retries";
    char done[64];
    if (s.total || s.duration_s <= 0)
        snprintf(done, sizeof(done), "%llu/%llu", (unsigned long long)s.done,
                 (unsigned long long)s.total);
    else
        snprintf(done, sizeof(done), "%llu", (unsigned long long)s.done);
    if (p->tty) {
        enum { WIDTH = 30 };
        int filled = WIDTH;
        if (s.total)
            filled = (int)(WIDTH * s.done / s.total);
        else if (s.duration_s > 0)
            filled = secs >= s.duration_s ? WIDTH : (int)(WIDTH * secs / s.duration_s);
        char bar[WIDTH + 1];
        for (int i = 0; i < WIDTH; i++)
            bar[i] = i < filled ? '#' : '.';
        bar[WIDTH] = '\0';
        fprintf(stderr, "\r\033[K[%s] %s done  %llu in flight  %llu %s  %.1fs", bar, done,
                (unsigned long long)s.in_flight, (unsigned long long)s.retries, label, secs);
        p->drawn = 1;
    } else {
        fprintf(stderr, "progress: %s done, %llu in flight, %llu %s, %.1fs\n", done,
                (unsigned long long)s.in_flight, (unsigned long long)s.retries, label, secs);
    }
    fflush(stderr);
}

static void on_tick(uv_timer_t *timer)
{
    struct sl_progress *p = timer->data;
    draw(p);
}

void sl_progress_init(uv_loop_t *loop, struct sl_progress *p, int enabled,
                      void (*sample)(struct sl_progress *, struct sl_progress_sample *), void *data)
{
    p->tty = isatty(STDERR_FILENO);
    p->enabled = enabled;
    p->drawn = 0;
    p->finished = 0;
    p->sample = sample;
    p->data = data;
    p->start_ns = uv_hrtime();
    uv_timer_init(loop, &p->timer);
    p->timer.data = p;
    /* Off a terminal, stderr is written in blocks (a log file or a pipe),
     * not one write(2) per line; each tick and the end flush it. */
    if (!p->tty)
        setvbuf(stderr, NULL, _IOFBF, 1 << 16);
}

void sl_progress_start(struct sl_progress *p)
{
    p->start_ns = uv_hrtime();
    if (p->enabled) {
        uint64_t every = p->tty ? 100 : 1000;
        uv_timer_start(&p->timer, on_tick, every, every);
    }
}

void sl_progress_log(struct sl_progress *p, const char *fmt, ...)
{
    va_list ap;
    if (p->tty && p->drawn) {
        fputs("\r\033[K", stderr);
        p->drawn = 0;
    }
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void sl_progress_finish(struct sl_progress *p)
{
    if (p->finished)
        return;
    p->finished = 1;
    uv_timer_stop(&p->timer);
    if (p->enabled && p->tty) {
        draw(p);
        fputc('\n', stderr);
        p->drawn = 0;
    }
    fflush(stderr);
}

void sl_progress_close(struct sl_progress *p)
{
    uv_close((uv_handle_t *)&p->timer, NULL);
}
