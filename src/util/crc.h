/*
 * CRC-32 (the polynomial of zlib and IEEE 802.3): the checksum of every frame the store writes --
 * log records, blocks, file footers. libdeflate's implementation, which uses the CPU's carry-less
 * multiply where it has one: several times zlib's speed, and the same checksum, so files written
 * with either read with the other.
 */
#ifndef GB_UTIL_CRC_H
#define GB_UTIL_CRC_H

#include <libdeflate.h>
#include <stddef.h>
#include <stdint.h>

static inline uint32_t gb_crc32(const void *p, size_t n)
{
    return libdeflate_crc32(0, p, n);
}

#endif
