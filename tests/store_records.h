/* The records the store tests write: deterministic, so that analytics can
 * be checked exactly. Request i (from 0): processing (i % 100 + 1) ms,
 * prompt_tokens i % 200, attempts 1 + i % 3, every tenth one failed. */
#ifndef SL_TEST_STORE_RECORDS_H
#define SL_TEST_STORE_RECORDS_H

#include <stdio.h>

#include "store/store.h"

/* When set, records carry their own metadata JSON, as serve's do:
 * {"i": request_id, "pad": 200 zeros}, about 250 bytes. */
static int custom_metadata;
static char meta_buf[512];

static inline void record_for(uint64_t i, struct sl_record *rec)
{
    int64_t base = 1700000000000000;
    *rec = (struct sl_record){
        .request_id = i + 1,
        .created_us = base,
        .started_us = base + 1000,
        .finished_us = base + 1000 + (int64_t)(i % 100 + 1) * 1000,
        .model = "gpt-4o-mini",
        .prompt_tokens = (uint32_t)(i % 200),
        .attempts = (uint16_t)(1 + i % 3),
        .status = i % 10 == 0 ? SL_REQ_FAILED : SL_REQ_SUCCEEDED,
        .error = i % 10 == 0 ? SL_E_UNAVAILABLE : SL_OK,
    };
    if (custom_metadata) {
        int n = snprintf(meta_buf, sizeof(meta_buf), "{\"i\":%llu,\"pad\":\"%0200d\"}",
                         (unsigned long long)(i + 1), 0);
        rec->metadata = meta_buf; /* append copies it: reusing the buffer is fine */
        rec->metadata_len = (uint32_t)n;
    }
}

#endif
