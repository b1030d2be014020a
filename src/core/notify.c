#include "core/notify.h"

#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

static void on_readable(uv_poll_t *poll, int status, int events)
{
    (void)status;
    (void)events;
    struct sl_notify *n = poll->data;
    uint64_t v;
    ssize_t rc = read(n->fd, &v, sizeof(v));
    (void)rc; /* EAGAIN: a spurious wake-up; the callback finds nothing new */
    /* cleared before the callback looks: a send from now on writes again */
    atomic_store(&n->armed, 0);
    n->cb(n);
}

int sl_notify_init(uv_loop_t *loop, struct sl_notify *n, void (*cb)(struct sl_notify *n))
{
    n->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (n->fd < 0)
        return -errno;
    atomic_init(&n->armed, 0);
    n->cb = cb;
    n->close_cb = NULL;
    int rc = uv_poll_init(loop, &n->poll, n->fd);
    if (rc == 0)
        rc = uv_poll_start(&n->poll, UV_READABLE, on_readable);
    if (rc != 0) {
        close(n->fd);
        return rc;
    }
    n->poll.data = n;
    return 0;
}

void sl_notify_send(struct sl_notify *n)
{
    if (atomic_exchange(&n->armed, 1) != 0)
        return;
    uint64_t one = 1;
    ssize_t rc;
    do
        rc = write(n->fd, &one, sizeof(one));
    while (rc < 0 && errno == EINTR);
    /* EAGAIN: the counter is full, so the loop has a wake-up coming */
}

static void on_closed(uv_handle_t *handle)
{
    struct sl_notify *n = handle->data;
    close(n->fd);
    n->fd = -1;
    if (n->close_cb)
        n->close_cb(n);
}

void sl_notify_close(struct sl_notify *n, void (*close_cb)(struct sl_notify *n))
{
    n->close_cb = close_cb;
    uv_close((uv_handle_t *)&n->poll, on_closed);
}
