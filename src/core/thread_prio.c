#include "core/thread_prio.h"

#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

enum mode { MODE_IDLE, MODE_NICE, MODE_NONE };

static _Thread_local int has_role; /* 0: as created (SL_THREAD_NORMAL) */
static _Thread_local enum sl_thread_role current;

static int set_nice(int nice)
{
    return setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), nice);
}

/* The kernel's struct sched_attr as first published (48 bytes; glibc
 * 2.36 has no wrapper, and linux/sched/types.h clashes with sched.h). */
struct sched_attr_v0 {
    uint32_t size, policy;
    uint64_t flags;
    int32_t nice;
    uint32_t priority;
    uint64_t runtime, deadline, period;
};

#define SHORT_SLICE_US 100 /* Linux's shortest */

/* The calling thread's policy (a custom slice is kept: Linux 6.12+ carries
 * it over). */
static int set_policy(int policy)
{
    struct sched_param p = {0};
    return sched_setscheduler(0, policy, &p); /* 0: the calling thread */
}

/* Whether this process may leave SCHED_IDLE again: Linux checks that the
 * thread could set nice 0 (CAP_SYS_NICE, or RLIMIT_NICE >= 20). */
static int may_undo_idle(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NICE, &rl) == 0 && (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= 20))
        return 1;
    /* try it on this thread: nice 1 and back to 0 needs the same right */
    if (set_nice(1) != 0)
        return 0;
    return set_nice(0) == 0;
}

static enum mode mode;
static pthread_once_t mode_once = PTHREAD_ONCE_INIT;

/* SLUICE_SCHED=none: every thread as started, for benchmarks. */
static int sched_left_alone(void)
{
    const char *env = getenv("SLUICE_SCHED");
    return env && strcmp(env, "none") == 0;
}

static void decide_mode(void)
{
    const char *env = getenv("SLUICE_SCHED");
    if (sched_left_alone())
        mode = MODE_NONE;
    else if (env && strcmp(env, "idle") == 0 && may_undo_idle())
        mode = MODE_IDLE;
    else
        mode = MODE_NICE;
}

void sl_thread_short_slice(void)
{
    /* not decide_mode(): its SCHED_IDLE probe changes the calling thread's
     * nice, and this one is the loop, before any other thread exists */
    if (sched_left_alone())
        return;
    uint64_t us = SHORT_SLICE_US;
    const char *env = getenv("SLUICE_SLICE_US");
    if (env && *env) {
        char *end;
        unsigned long v = strtoul(env, &end, 10);
        if (*end == '\0' && v <= 100000)
            us = v;
    }
    struct sched_attr_v0 a = {.size = sizeof(a)};
    if (syscall(SYS_sched_getattr, 0, &a, sizeof(a), 0) != 0 || a.policy != SCHED_OTHER)
        return;
    a.size = sizeof(a);
    a.flags = 0;
    a.runtime = us * 1000; /* nice as read: setattr sets it too */
    syscall(SYS_sched_setattr, 0, &a, 0);
}

void sl_thread_role(enum sl_thread_role role)
{
    if (role == (has_role ? current : SL_THREAD_NORMAL))
        return;
    pthread_once(&mode_once, decide_mode);
    if (mode == MODE_NONE)
        return;
    if (role == SL_THREAD_MIDDLE) {
        if (set_nice(5) == 0) {
            has_role = 1;
            current = role;
        }
        return;
    }
    if (mode == MODE_NICE) {
        if (role == SL_THREAD_BACKGROUND)
            set_nice(10); /* once: nice 10 is kept when the thread falls behind */
        has_role = 1;
        current = SL_THREAD_BACKGROUND;
        return;
    }
    if (set_policy(role == SL_THREAD_BACKGROUND ? SCHED_IDLE : SCHED_OTHER) == 0) {
        has_role = 1;
        current = role;
    }
}
