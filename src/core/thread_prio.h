/* Scheduling of sluice's own threads: the event loop first.
 *
 * Background threads (the SQLite writer, the token counter) share the
 * loop's core on a small machine; whenever one of them holds the core
 * while the loop has a request to move, that request waits (measured in
 * docs/benchmarks.md, issue 12: most of the loop's run-queue waits were
 * our own threads).
 *
 * Background threads run at nice 10: the loop gets about nine tenths of a
 * shared core when both want it. SCHED_IDLE (the thread runs only when
 * nothing else wants the core, and a waking loop takes it back at once)
 * was measured too (docs/benchmarks.md, issue 12): fewer of the loop's
 * waits were ours at 5,000 requests/s, but with the loop saturating its
 * core the background threads starved, their work piled up and went to
 * the thread pool, and serve spent 10 µs more per request at half the
 * throughput. It stays available with SLUICE_SCHED=idle, used only when
 * an idle thread that falls behind can come back to normal priority
 * (Linux allows it with CAP_SYS_NICE or a RLIMIT_NICE of 20).
 *
 * The token counter runs at nice 5 (SL_THREAD_MIDDLE): at normal priority
 * it was what kept the loop waiting for its core most; at nice 5 it still
 * keeps up with a saturated loop (docs/benchmarks.md, issue 12).
 *
 * Nice sets how much of the core each thread gets; the scheduler's slice
 * sets how long a thread may keep it once it runs (Linux's EEVDF, 6.6+:
 * 1.4 ms by default on this machine; a waking thread that is owed the core
 * waits out the running one's slice, or the next tick). With the loop
 * saturating its core and the background threads busy, that wait was the
 * closed-loop tail: the loop's waits for its core p99 4.0 ms, its
 * requests' p99 5.4-7.5 ms against nginx's 1.9-3.4. serve gives all its
 * threads a 100 µs slice (sl_thread_short_slice, the shortest Linux
 * allows): a background thread's turn ends sooner (the scheduler still
 * acts on it only at a wake-up or a tick), and the loop's waits went to
 * p99 1.2-1.9 ms, the requests' p99 to 4.0-5.2 ms (docs/benchmarks.md,
 * issue 12). Linux 6.12+ reads the slice from
 * sched_attr.sched_runtime for normal threads; older kernels ignore it. */
#ifndef SL_THREAD_PRIO_H
#define SL_THREAD_PRIO_H

enum sl_thread_role {
    SL_THREAD_NORMAL,     /* as created: what a background thread that fell behind gets */
    SL_THREAD_BACKGROUND, /* the loop first: nice 10, or SCHED_IDLE (see above) */
    SL_THREAD_MIDDLE,     /* nice 5, in either mode: work that must keep up with a
                           * saturated loop (the token counter), yet not hold the
                           * loop's core for its whole slice when the loop wakes */
};

/* Applies the role's scheduling to the calling thread; nothing when it
 * has it already. Best effort: what the kernel refuses is left as it was.
 * SLUICE_SCHED=idle or =none (no change) in the environment override the
 * choice, for benchmarks. */
void sl_thread_role(enum sl_thread_role role);

/* A 100 µs scheduler slice for the calling thread, and so for every thread
 * it creates afterwards (threads inherit it): called by a command before
 * it starts any thread. Policy and nice are left as they are. Best
 * effort; SLUICE_SLICE_US in the environment sets another slice (0: the
 * kernel's default), and SLUICE_SCHED=none leaves it alone, for
 * benchmarks. */
void sl_thread_short_slice(void);

#endif
