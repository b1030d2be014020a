/* See names.h. */
#include "report/names.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

static uint64_t hash(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

void sl_names_free(struct sl_names *t)
{
    for (unsigned i = 0; i < t->n; i++)
        free(t->name[i]);
    free(t->name);
    free(t->len);
    free(t->slot);
}

static int rehash(struct sl_names *t, size_t n_slots)
{
    uint32_t *slot = calloc(n_slots, sizeof(*slot));
    if (slot == NULL)
        return UV_ENOMEM;
    for (unsigned i = 0; i < t->n; i++) {
        size_t k = hash(t->name[i], t->len[i]) & (n_slots - 1);
        while (slot[k])
            k = (k + 1) & (n_slots - 1);
        slot[k] = i + 1;
    }
    free(t->slot);
    t->slot = slot;
    t->n_slots = n_slots;
    return 0;
}

long sl_names_get(struct sl_names *t, const char *s, size_t len, unsigned max, int *added, int *rc)
{
    *added = 0;
    if (t->n_slots == 0 && (*rc = rehash(t, 64)) != 0)
        return -1;
    size_t k = hash(s, len) & (t->n_slots - 1);
    for (; t->slot[k]; k = (k + 1) & (t->n_slots - 1)) {
        unsigned i = t->slot[k] - 1;
        if (t->len[i] == len && memcmp(t->name[i], s, len) == 0)
            return i;
    }
    if (t->n == max) {
        *rc = UV_E2BIG;
        return -1;
    }
    if (t->n == t->cap) {
        unsigned cap = t->cap ? t->cap * 2 : 16;
        char **name = realloc(t->name, cap * sizeof(*name));
        if (name)
            t->name = name;
        size_t *l = name ? realloc(t->len, cap * sizeof(*l)) : NULL;
        if (l == NULL) {
            *rc = UV_ENOMEM;
            return -1;
        }
        t->len = l;
        t->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (copy == NULL) {
        *rc = UV_ENOMEM;
        return -1;
    }
    memcpy(copy, s, len);
    copy[len] = '\0';
    t->name[t->n] = copy;
    t->len[t->n] = len;
    t->slot[k] = ++t->n;
    *added = 1;
    if (t->n * 2 > t->n_slots && (*rc = rehash(t, t->n_slots * 2)) != 0)
        return -1;
    return (long)t->n - 1;
}

int sl_names_grow_items(const struct sl_names *t, void **arr, size_t item)
{
    unsigned cap_before = t->items_cap, cap = t->cap;
    if (cap <= cap_before)
        return 0;
    void *p = realloc(*arr, cap * item);
    if (p == NULL)
        return UV_ENOMEM;
    memset((char *)p + cap_before * item, 0, (cap - cap_before) * item);
    *arr = p;
    return 0;
}
