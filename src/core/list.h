/* Intrusive doubly linked list (circular, with a sentinel head).
 *
 * Nodes live inside the objects they link, so queues of waiters and
 * subscribers cost no allocation. A node that is not on a list has
 * next == prev == NULL, which lets callers ask "am I queued?" cheaply. */
#ifndef SL_LIST_H
#define SL_LIST_H

#include <stddef.h>

struct sl_list {
    struct sl_list *next, *prev;
};

#define sl_container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

static inline void sl_list_init(struct sl_list *head)
{
    head->next = head->prev = head;
}

static inline int sl_list_empty(const struct sl_list *head)
{
    return head->next == head;
}

static inline int sl_list_linked(const struct sl_list *node)
{
    return node->next != NULL;
}

static inline void sl_list_push_back(struct sl_list *head, struct sl_list *node)
{
    node->prev = head->prev;
    node->next = head;
    head->prev->next = node;
    head->prev = node;
}

static inline void sl_list_remove(struct sl_list *node)
{
    node->prev->next = node->next;
    node->next->prev = node->prev;
    node->next = node->prev = NULL;
}

static inline struct sl_list *sl_list_pop_front(struct sl_list *head)
{
    struct sl_list *node = head->next;
    if (node == head)
        return NULL;
    sl_list_remove(node);
    return node;
}

#endif
