/* core/thread_prio: the roles' nice values, and the short scheduler slice
 * serve gives its threads: the calling thread's, inherited by the threads
 * it creates, its nice kept. The slice is read back with sched_getattr;
 * a kernel older than 6.12 keeps no slice for normal threads, and there
 * the test asserts only that nothing else changed (it says which it ran). */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../support.h"
#include "core/thread_prio.h"

struct attr { /* struct sched_attr, first version */
    uint32_t size, policy;
    uint64_t flags;
    int32_t nice;
    uint32_t priority;
    uint64_t runtime, deadline, period;
};

/* The calling thread's attributes; zero where sched_getattr is refused
 * (a seccomp filter): then no slice is seen to change. */
static struct attr get_attr(void)
{
    struct attr a = {.size = sizeof(a)};
    if (syscall(SYS_sched_getattr, 0, &a, sizeof(a), 0) != 0)
        return (struct attr){0};
    return a;
}

static int my_nice(void)
{
    return getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
}

/* Whether this kernel keeps a normal thread's slice: tried on a thread of
 * its own, so the test's threads start from the default. */
static void *probe_slices(void *arg)
{
    struct attr a = get_attr();
    if (a.size == 0) {
        *(int *)arg = 0;
        return NULL;
    }
    a.size = sizeof(a);
    a.runtime = 300000;
    *(int *)arg = syscall(SYS_sched_setattr, 0, &a, 0) == 0 && get_attr().runtime == 300000;
    return NULL;
}

static int kernel_keeps_slices(void)
{
    int keeps = 0;
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, probe_slices, &keeps), 0);
    pthread_join(t, NULL);
    return keeps;
}

struct seen {
    uint64_t runtime;
    int nice;
};

static void *report(void *arg)
{
    struct seen *s = arg;
    s->runtime = get_attr().runtime;
    s->nice = my_nice();
    return NULL;
}

struct outcome {
    uint64_t before, after; /* the thread's slice */
    int nice_set, nice_after;
    struct seen child; /* a thread it created afterwards */
};

/* A nice above the one the test runs at (raising it needs no privilege),
 * so that one reset to the start would show. */
static int nice_to_set(void)
{
    int base = my_nice();
    return base < 3 ? 3 : base < 19 ? base + 1 : 19;
}

static void *short_slice_then_spawn(void *arg)
{
    struct outcome *o = arg;
    o->nice_set = nice_to_set();
    cr_assert_eq(setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), o->nice_set), 0);
    o->before = get_attr().runtime;
    sl_thread_short_slice();
    o->after = get_attr().runtime;
    o->nice_after = my_nice();
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, report, &o->child), 0);
    pthread_join(t, NULL);
    return NULL;
}

static struct outcome run_short_slice(void)
{
    struct outcome o = {0};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, short_slice_then_spawn, &o), 0);
    pthread_join(t, NULL);
    return o;
}

Test(thread_prio, the_short_slice_is_100_us_inherited_and_keeps_nice)
{
    int keeps = kernel_keeps_slices();
    unsetenv("SLUICE_SLICE_US");
    unsetenv("SLUICE_SCHED");
    struct outcome o = run_short_slice();
    cr_assert_eq(o.nice_after, o.nice_set, "nice changed from %d to %d", o.nice_set, o.nice_after);
    cr_assert_eq(o.child.nice, o.nice_set);
    if (!keeps) {
        cr_log_info("this kernel keeps no slice for normal threads: only nice checked");
        cr_assert_eq(o.after, o.before);
        return;
    }
    cr_assert_neq(o.before, 100000, "the default slice should not be the short one");
    cr_assert_eq(o.after, 100000, "slice %llu ns", (unsigned long long)o.after);
    cr_assert_eq(o.child.runtime, 100000, "a thread created afterwards: %llu ns",
                 (unsigned long long)o.child.runtime);
}

Test(thread_prio, sluice_slice_us_sets_another_slice)
{
    if (!kernel_keeps_slices()) {
        cr_log_info("this kernel keeps no slice for normal threads: nothing to check");
        return;
    }
    unsetenv("SLUICE_SCHED");
    setenv("SLUICE_SLICE_US", "250", 1);
    cr_assert_eq(run_short_slice().after, 250000);
    setenv("SLUICE_SLICE_US", "not a number", 1); /* ignored: the default */
    cr_assert_eq(run_short_slice().after, 100000);
}

static void *role_nice(void *arg)
{
    sl_thread_role(*(enum sl_thread_role *)arg);
    *(int *)arg = my_nice();
    return NULL;
}

static int nice_of_role(enum sl_thread_role role)
{
    int v = (int)role;
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, role_nice, &v), 0);
    pthread_join(t, NULL);
    return v;
}

Test(thread_prio, background_threads_at_nice_10_the_counter_at_nice_5)
{
    unsetenv("SLUICE_SCHED");
    if (my_nice() > 5) {
        cr_log_info("the test runs at nice %d: lowering it needs a privilege", my_nice());
        return;
    }
    cr_assert_eq(nice_of_role(SL_THREAD_BACKGROUND), 10);
    cr_assert_eq(nice_of_role(SL_THREAD_MIDDLE), 5);
}

Test(thread_prio, sluice_sched_none_changes_nothing)
{
    setenv("SLUICE_SCHED", "none", 1);
    cr_assert_eq(nice_of_role(SL_THREAD_BACKGROUND), my_nice());
    struct outcome o = run_short_slice();
    cr_assert_eq(o.after, o.before);
}
