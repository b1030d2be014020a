#include "core/sem.h"

#include <assert.h>

void sl_sem_init(struct sl_sem *sem, unsigned permits)
{
    sem->capacity = permits;
    sem->available = permits;
    sem->max_held = 0;
    sem->queued = 0;
    sl_list_init(&sem->waiters);
}

static void take_permit(struct sl_sem *sem)
{
    sem->available--;
    unsigned held = sl_sem_held(sem);
    if (held > sem->max_held)
        sem->max_held = held;
}

int sl_sem_try_acquire(struct sl_sem *sem)
{
    if (sem->available == 0 || sem->queued > 0)
        return UV_EAGAIN;
    take_permit(sem);
    return 0;
}

static int enqueue(struct sl_sem *sem, struct sl_sem_waiter *waiter, sl_sem_cb cb)
{
    waiter->node.next = waiter->node.prev = NULL;
    if (sl_sem_try_acquire(sem) == 0)
        return 0;
    waiter->cb = cb;
    waiter->sem = sem;
    sl_list_push_back(&sem->waiters, &waiter->node);
    sem->queued++;
    return 1;
}

int sl_sem_acquire(struct sl_sem *sem, struct sl_sem_waiter *waiter, sl_sem_cb cb)
{
    waiter->timed = NULL;
    return enqueue(sem, waiter, cb);
}

static void stop_timeout(struct sl_sem_waiter *waiter)
{
    struct sl_sem_timed_waiter *tw = waiter->timed;
    if (tw == NULL)
        return;
    if (tw->set)
        sl_deadline_stop(&tw->deadline);
    else
        uv_timer_stop(&tw->timer);
}

static void unlink_waiter(struct sl_sem_waiter *waiter)
{
    sl_list_remove(&waiter->node);
    waiter->sem->queued--;
    stop_timeout(waiter);
}

static void timed_out(struct sl_sem_timed_waiter *tw)
{
    if (!sl_list_linked(&tw->base.node))
        return;
    unlink_waiter(&tw->base);
    tw->base.cb(&tw->base, UV_ETIMEDOUT);
}

static void on_wait_timeout(uv_timer_t *timer)
{
    timed_out(sl_container_of(timer, struct sl_sem_timed_waiter, timer));
}

static void on_wait_deadline(struct sl_deadline *d)
{
    timed_out(sl_container_of(d, struct sl_sem_timed_waiter, deadline));
}

int sl_sem_timed_init(uv_loop_t *loop, struct sl_sem_timed_waiter *tw)
{
    tw->base.node.next = tw->base.node.prev = NULL;
    tw->base.timed = tw;
    tw->set = NULL;
    return uv_timer_init(loop, &tw->timer);
}

void sl_sem_timed_close(struct sl_sem_timed_waiter *tw, uv_close_cb close_cb)
{
    assert(tw->set == NULL);
    if (sl_list_linked(&tw->base.node))
        unlink_waiter(&tw->base);
    uv_close((uv_handle_t *)&tw->timer, close_cb);
}

void sl_sem_timed_init_on(struct sl_deadlines *set, struct sl_sem_timed_waiter *tw)
{
    tw->base.node.next = tw->base.node.prev = NULL;
    tw->base.timed = tw;
    tw->set = set;
    sl_deadline_init(&tw->deadline);
}

void sl_sem_timed_release(struct sl_sem_timed_waiter *tw)
{
    assert(tw->set != NULL);
    if (sl_list_linked(&tw->base.node))
        unlink_waiter(&tw->base);
    sl_deadline_stop(&tw->deadline);
}

int sl_sem_acquire_timeout(struct sl_sem *sem, struct sl_sem_timed_waiter *tw, uint64_t timeout_ms,
                           sl_sem_cb cb)
{
    tw->base.timed = tw;
    int rc = enqueue(sem, &tw->base, cb);
    if (rc == 1 && tw->set)
        sl_deadline_start(tw->set, &tw->deadline, timeout_ms, on_wait_deadline);
    else if (rc == 1)
        uv_timer_start(&tw->timer, on_wait_timeout, timeout_ms, 0);
    return rc;
}

int sl_sem_cancel(struct sl_sem_waiter *waiter)
{
    if (!sl_list_linked(&waiter->node))
        return UV_ENOENT;
    unlink_waiter(waiter);
    return 0;
}

void sl_sem_release(struct sl_sem *sem)
{
    assert(sl_sem_held(sem) > 0);
    struct sl_list *node = sl_list_pop_front(&sem->waiters);
    if (node == NULL) {
        sem->available++;
        return;
    }
    /* Hand-over: the permit goes from the releaser to the waiter directly,
     * so `available` does not change. */
    struct sl_sem_waiter *waiter = sl_container_of(node, struct sl_sem_waiter, node);
    sem->queued--;
    stop_timeout(waiter);
    waiter->cb(waiter, 0);
}

size_t sl_sem_drain(struct sl_sem *sem, sl_sem_cb cb)
{
    size_t n = 0;
    struct sl_list *node;
    while ((node = sem->waiters.next) != &sem->waiters) {
        struct sl_sem_waiter *waiter = sl_container_of(node, struct sl_sem_waiter, node);
        unlink_waiter(waiter);
        cb(waiter, UV_ECANCELED);
        n++;
    }
    return n;
}
