/* Scheduling of sluice's own threads: the event loop first.
 *
 * Background threads (the SQLite writer, the token counter) share the
 * loop's core on a small machine; whenever one of them holds the core
 * while the loop has a request to move, that request waits (measured in
 * docs/benchmarks.md, issue 12: most of the loop's run-queue waits were
 * our own threads).
 *
 * Background work runs as SCHED_IDLE: it gets the core only when the loop
 * (and everything else) does not want it, and a waking loop takes the core
 * back at once. An idle thread that falls behind must be able to come back
 * to normal priority, which Linux allows only with CAP_SYS_NICE (or a
 * RLIMIT_NICE of 20): without it, background threads run at nice 10
 * instead, as before, which a falling-behind thread can keep. */
#ifndef SL_THREAD_PRIO_H
#define SL_THREAD_PRIO_H

enum sl_thread_role {
    SL_THREAD_NORMAL,     /* as created: what a background thread that fell behind gets */
    SL_THREAD_BACKGROUND, /* the loop first: SCHED_IDLE, or nice 10 (see above) */
};

/* Applies the role's scheduling to the calling thread; nothing when it
 * has it already. Best effort: what the kernel refuses is left as it was.
 * SLUICE_SCHED=nice (nice 10 only) or =none (no change) in the environment
 * override the choice, for benchmarks. */
void sl_thread_role(enum sl_thread_role role);

#endif
