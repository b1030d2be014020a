/* Shared by the provider adapters' fuzz targets (fuzz_anthropic.c,
 * fuzz_gemini.c): reading a translated stream back through the SSE parser,
 * every event is one JSON object or [DONE], nothing follows [DONE] or an
 * error event. */
#ifndef SL_FUZZ_CHUNKS_H
#define SL_FUZZ_CHUNKS_H

#include <string.h>

#include "fuzz.h"
#include "http/json_scan.h"
#include "http/sse.h"

struct check {
    int done, failed, events;
};

static inline void on_translated(void *arg, const struct sl_sse_event *ev)
{
    struct check *c = arg;
    FUZZ_CHECK(!c->done && !c->failed);
    c->events++;
    if (ev->data_len == 6 && memcmp(ev->data, "[DONE]", 6) == 0) {
        c->done = 1;
        return;
    }
    struct sl_json_doc doc;
    FUZZ_CHECK(sl_json_scan(ev->data, ev->data_len, &doc) == 0 && doc.type == SL_JSON_OBJECT);
    struct sl_json_member m;
    if (sl_json_get(&doc, "error", &m))
        c->failed = 1;
}

#endif
