/* CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320): the checksum of
 * zlib's crc32(), gzip and PNG, and the one AWS event streams carry. zlib is
 * not linked, so this is a small table implementation. */
#ifndef SL_CRC32_H
#define SL_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Continues `crc` (0 to start) over `len` bytes, like zlib's crc32():
 * sl_crc32(sl_crc32(0, a, n), b, m) == sl_crc32(0, a||b, n + m). */
uint32_t sl_crc32(uint32_t crc, const void *data, size_t len);

#endif
