/* Progress display for long runs: on a terminal, a bar redrawn in place
 * (done / in flight / retries); off a terminal, a plain line each second.
 * Log lines go through sl_progress_log() so they scroll above the bar.
 * Owns one timer: close it with sl_progress_close(). */
#ifndef SL_PROGRESS_H
#define SL_PROGRESS_H

#include <stdint.h>
#include <uv.h>

struct sl_progress_sample {
    uint64_t done, total, in_flight, retries;
    /* Optional, zero when unused: a run bounded by time instead of a count
     * (total 0) fills the bar by elapsed / duration_s; retries_label
     * replaces "retries". */
    double duration_s;
    const char *retries_label;
};

struct sl_progress {
    uv_timer_t timer;
    int tty, enabled, drawn, finished;
    uint64_t start_ns;
    void (*sample)(struct sl_progress *p, struct sl_progress_sample *out);
    void *data;
};

/* enabled = 0: only log lines are printed (no bar, no periodic lines). */
void sl_progress_init(uv_loop_t *loop, struct sl_progress *p, int enabled,
                      void (*sample)(struct sl_progress *, struct sl_progress_sample *),
                      void *data);
void sl_progress_start(struct sl_progress *p);
void sl_progress_log(struct sl_progress *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Draws the final state, ends the bar's line, stops the timer. */
void sl_progress_finish(struct sl_progress *p);
void sl_progress_close(struct sl_progress *p);

#endif
