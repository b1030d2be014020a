/* Fuzz target: a virtual key's create/update body (src/store/key_record.c,
 * on the JSON scanner and walker), which the admin API reads from clients,
 * and the pure helpers the gateway runs on client input (model patterns,
 * times).
 *
 * Checked: a body is accepted (0) or refused (-1) with a one-line reason;
 * an accepted record passes the record checks for the fields it set and
 * renders as JSON that the scanner accepts; model matching and time
 * parsing answer for any bytes. */
#include <string.h>

#include "fuzz.h"
#include "http/json_scan.h"
#include "store/key_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct sl_key_record rec;
    char err[256] = "";
    unsigned mask = 0;
    sl_key_record_init(&rec);
    int rc = sl_key_update_parse_json(text, size, &rec, &mask, err, sizeof(err));
    FUZZ_CHECK(rc == 0 || rc == -1);
    if (rc == -1) {
        FUZZ_CHECK(err[0] != '\0' && strchr(err, '\n') == NULL);
        FUZZ_CHECK(mask == 0);
    } else {
        char e2[256];
        FUZZ_CHECK(sl_key_record_check(&rec, mask, e2, sizeof(e2)) == 0);
        struct sl_buf b;
        sl_buf_init(&b, 1 << 20);
        FUZZ_CHECK(sl_key_record_json(&rec, &b) == 0);
        struct sl_json_doc doc;
        FUZZ_CHECK(sl_json_scan(b.ptr, b.len, &doc) == 0 && doc.type == SL_JSON_OBJECT);
        sl_buf_release(&b);
    }
    /* the input split at its first NUL-free newline: patterns, then a model */
    char patterns[SL_KEY_MODELS_MAX + 1];
    const char *nl = memchr(text, '\n', size);
    size_t plen = nl ? (size_t)(nl - text) : size;
    if (plen <= SL_KEY_MODELS_MAX && memchr(text, '\0', plen) == NULL) {
        memcpy(patterns, text, plen);
        patterns[plen] = '\0';
        const char *model = nl ? nl + 1 : text + size;
        int allowed = sl_key_models_allow(patterns, model, (size_t)(text + size - model));
        FUZZ_CHECK(allowed == 0 || allowed == 1);
        if (plen == 0)
            FUZZ_CHECK(allowed == 1);
    }
    int64_t us = 0;
    if (sl_key_time_parse(text, size, 1700000000000000, &us) == 0)
        FUZZ_CHECK(us >= 0);
    return 0;
}
