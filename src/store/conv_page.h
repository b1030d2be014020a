/* Builds a chat-history page (struct sl_conv_page) from query rows, for
 * either backend: conversations first (in id order), then their messages
 * (ordered by conversation id and seq). The finished page is one
 * allocation, freed with sl_conv_page_free().
 *
 * Bounds: at most SL_CONV_PAGE_MAX conversations, SL__CONV_MAX_MESSAGES
 * messages and SL__CONV_MAX_BYTES of text per page; past them the build
 * fails with UV_E2BIG instead of growing without limit. */
#ifndef SL_CONV_PAGE_H
#define SL_CONV_PAGE_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define SL__CONV_MAX_MESSAGES 1000000
#define SL__CONV_LIMIT_TEXT   "1000001" /* SL__CONV_MAX_MESSAGES + 1, for SQL */
#define SL__CONV_MAX_BYTES    (64u << 20)

struct sl__conv_builder {
    struct sl_conversation *convs; /* strings as offsets into text until finish */
    unsigned n_convs, cap_convs;
    struct sl_message *msgs;
    int64_t *msg_conv;
    size_t n_msgs, cap_msgs;
    char *text;
    size_t text_len, text_cap;
};

void sl__conv_builder_init(struct sl__conv_builder *b);
void sl__conv_builder_release(struct sl__conv_builder *b);
int sl__conv_add(struct sl__conv_builder *b, int64_t id, const char *title, size_t title_len,
                 int64_t created_us);
int sl__conv_add_message(struct sl__conv_builder *b, int64_t conv_id, int seq, const char *role,
                         size_t role_len, const char *content, size_t content_len,
                         int64_t created_us);
/* Lays the page out in one allocation; releases the builder. */
int sl__conv_finish(struct sl__conv_builder *b, struct sl_conv_page **out);

#endif
