#include "store/conv_page.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

void sl__conv_builder_init(struct sl__conv_builder *b)
{
    memset(b, 0, sizeof(*b));
}

void sl__conv_builder_release(struct sl__conv_builder *b)
{
    free(b->convs);
    free(b->msgs);
    free(b->msg_conv);
    free(b->text);
    memset(b, 0, sizeof(*b));
}

/* Appends a string (with its NUL) to the text arena; returns its offset
 * (+1, so that 0 can stand for NULL) or 0 when the arena is full. */
static size_t add_text(struct sl__conv_builder *b, const char *s, size_t len)
{
    if (b->text_len + len + 1 > SL__CONV_MAX_BYTES)
        return 0;
    if (b->text_len + len + 1 > b->text_cap) {
        size_t cap = b->text_cap ? b->text_cap * 2 : 4096;
        while (cap < b->text_len + len + 1)
            cap *= 2;
        char *t = realloc(b->text, cap);
        if (t == NULL)
            return 0;
        b->text = t;
        b->text_cap = cap;
    }
    size_t off = b->text_len;
    memcpy(b->text + off, s, len);
    b->text[off + len] = '\0';
    b->text_len += len + 1;
    return off + 1;
}

int sl__conv_add(struct sl__conv_builder *b, int64_t id, const char *title, size_t title_len,
                 int64_t created_us)
{
    if (b->n_convs == SL_CONV_PAGE_MAX)
        return UV_E2BIG;
    if (b->n_convs == b->cap_convs) {
        unsigned cap = b->cap_convs ? b->cap_convs * 2 : 16;
        struct sl_conversation *c = realloc(b->convs, cap * sizeof(*c));
        if (c == NULL)
            return UV_ENOMEM;
        b->convs = c;
        b->cap_convs = cap;
    }
    size_t off = add_text(b, title ? title : "", title ? title_len : 0);
    if (off == 0)
        return UV_E2BIG;
    b->convs[b->n_convs++] = (struct sl_conversation){
        .id = id, .title = (const char *)(uintptr_t)off, .created_us = created_us};
    return 0;
}

int sl__conv_add_message(struct sl__conv_builder *b, int64_t conv_id, int seq, const char *role,
                         size_t role_len, const char *content, size_t content_len,
                         int64_t created_us)
{
    if (b->n_msgs == SL__CONV_MAX_MESSAGES)
        return UV_E2BIG;
    if (b->n_msgs == b->cap_msgs) {
        size_t cap = b->cap_msgs ? b->cap_msgs * 2 : 64;
        struct sl_message *m = realloc(b->msgs, cap * sizeof(*m));
        if (m == NULL)
            return UV_ENOMEM;
        b->msgs = m;
        int64_t *mc = realloc(b->msg_conv, cap * sizeof(*mc));
        if (mc == NULL)
            return UV_ENOMEM;
        b->msg_conv = mc;
        b->cap_msgs = cap;
    }
    size_t r = add_text(b, role, role_len);
    size_t c = r ? add_text(b, content, content_len) : 0;
    if (c == 0)
        return UV_E2BIG;
    b->msg_conv[b->n_msgs] = conv_id;
    b->msgs[b->n_msgs++] = (struct sl_message){.seq = seq,
                                               .role = (const char *)(uintptr_t)r,
                                               .content = (const char *)(uintptr_t)c,
                                               .created_us = created_us};
    return 0;
}

int sl__conv_finish(struct sl__conv_builder *b, struct sl_conv_page **out)
{
    size_t head = sizeof(struct sl_conv_page);
    size_t convs = (size_t)b->n_convs * sizeof(struct sl_conversation);
    size_t msgs = b->n_msgs * sizeof(struct sl_message);
    char *block = malloc(head + convs + msgs + b->text_len + 1);
    if (block == NULL) {
        sl__conv_builder_release(b);
        return UV_ENOMEM;
    }
    struct sl_conv_page *page = (struct sl_conv_page *)block;
    page->n = b->n_convs;
    page->convs = (struct sl_conversation *)(block + head);
    struct sl_message *m = (struct sl_message *)(block + head + convs);
    char *text = block + head + convs + msgs;
    if (b->text_len)
        memcpy(text, b->text, b->text_len);
#define TEXT(p) (text + ((uintptr_t)(p)-1))
    size_t k = 0;
    for (unsigned i = 0; i < b->n_convs; i++) {
        struct sl_conversation *c = &page->convs[i];
        *c = b->convs[i];
        c->title = TEXT(c->title);
        c->n_messages = 0;
        /* messages come ordered by conversation id, like the page */
        while (k < b->n_msgs && b->msg_conv[k] < c->id)
            k++; /* a message of no listed conversation: skip it */
        c->messages = m + k;
        while (k < b->n_msgs && b->msg_conv[k] == c->id) {
            m[k] = b->msgs[k];
            m[k].role = TEXT(m[k].role);
            m[k].content = TEXT(m[k].content);
            c->n_messages++;
            k++;
        }
    }
#undef TEXT
    sl__conv_builder_release(b);
    *out = page;
    return 0;
}
