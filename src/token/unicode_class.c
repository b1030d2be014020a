#include "token/unicode_class.h"

#include <stddef.h>

struct uc_range {
    uint32_t first, last;
    uint8_t bits;
};

static const struct uc_range ranges[] = {
#include "token/unicode_classes.inc"
};

static const uint8_t ascii[128] = {
    ['\t'] = SL_UC_SPACE,
    ['\n'] = SL_UC_SPACE,
    [0x0b] = SL_UC_SPACE,
    [0x0c] = SL_UC_SPACE,
    ['\r'] = SL_UC_SPACE,
    [' '] = SL_UC_SPACE,
    ['0'] = SL_UC_NUMBER,
    ['1'] = SL_UC_NUMBER,
    ['2'] = SL_UC_NUMBER,
    ['3'] = SL_UC_NUMBER,
    ['4'] = SL_UC_NUMBER,
    ['5'] = SL_UC_NUMBER,
    ['6'] = SL_UC_NUMBER,
    ['7'] = SL_UC_NUMBER,
    ['8'] = SL_UC_NUMBER,
    ['9'] = SL_UC_NUMBER,
#define U(c) [c] = SL_UC_UPPER, [c + 32] = SL_UC_LOWER
    U('A'),
    U('B'),
    U('C'),
    U('D'),
    U('E'),
    U('F'),
    U('G'),
    U('H'),
    U('I'),
    U('J'),
    U('K'),
    U('L'),
    U('M'),
    U('N'),
    U('O'),
    U('P'),
    U('Q'),
    U('R'),
    U('S'),
    U('T'),
    U('U'),
    U('V'),
    U('W'),
    U('X'),
    U('Y'),
    U('Z'),
#undef U
};

unsigned sl_uc_class(uint32_t cp)
{
    if (cp < 128)
        return ascii[cp];
    size_t lo = 0, hi = sizeof ranges / sizeof ranges[0];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < ranges[mid].first)
            hi = mid;
        else if (cp > ranges[mid].last)
            lo = mid + 1;
        else
            return ranges[mid].bits;
    }
    return 0;
}
