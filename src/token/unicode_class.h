/* The code point classes the tokenizer's pre-tokenization rules test: a
 * letter's case group, marks, numbers and White_Space, at the Unicode
 * version of the reference tokenizer (see tools/unicode/gen_classes.js). */
#ifndef SL_UNICODE_CLASS_H
#define SL_UNICODE_CLASS_H

#include <stdint.h>

enum {
    SL_UC_UPPER = 1,        /* Lu, Lt */
    SL_UC_LOWER = 2,        /* Ll */
    SL_UC_OTHER_LETTER = 4, /* Lm, Lo */
    SL_UC_MARK = 8,         /* M */
    SL_UC_NUMBER = 16,      /* N */
    SL_UC_SPACE = 32,       /* White_Space */
};
#define SL_UC_LETTER (SL_UC_UPPER | SL_UC_LOWER | SL_UC_OTHER_LETTER)

/* One of the bits above, or 0 (anything else, unassigned included). */
unsigned sl_uc_class(uint32_t cp);

#endif
