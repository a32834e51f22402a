/*
 * Blocks: the compressed, immutable unit of the historian. A block holds 1 to GB_BLOCK_MAX_POINTS
 * points of ONE series -- strictly increasing timestamps and values of one type -- and describes
 * itself: a reader needs nothing but its bytes. This layer is pure functions: no I/O, no globals,
 * no threads; any number of threads may encode and decode at once on their own buffers.
 *
 * Layout (version 2, written since; integers little-endian, varints LEB128, zz zigzag):
 *   u8 version (2) | u8 value type (gb_vtype_t) | u8 time codec | u8 value codec (gb_codec_t)
 *   | count | zz first time | last time - first time | time section bytes | value section bytes
 *   | time section | value section | u32 CRC-32 (zlib) of every byte before it
 * The time section holds the times less the first time, so that its integer stream starts at 0
 * and the first time, which the header has, is not stored twice.
 * Version 1 (read only) had a fixed header of 32 bytes and the times as they are:
 *   0  u8  format version (1)
 *   1  u8  value type (gb_vtype_t)
 *   2  u8  time codec          3  u8  value codec        (gb_codec_t)
 *   4  u32 count               8  i64 first time        16  i64 last time
 *  24  u32 time section bytes 28  u32 value section bytes
 *  32  time section, value section
 *  ..  u32 CRC-32 (zlib) of every byte before it
 * Either way gb_block_info answers "what and when" from the header, without decoding.
 *
 * Codecs. Every integer sequence -- timestamps, integer values, booleans, the digits of decimal
 * floats, dictionary ids, run lengths -- goes through one integer codec that tries frame of
 * reference (FOR), delta and delta-of-delta over bit-packed mini-blocks with a common divisor,
 * a dictionary, run lengths and a raw fallback, and keeps the smallest. Floats try an ALP-style
 * decimal codec (value = integer / 10^e, with exceptions kept aside), Gorilla and Chimp128 XOR
 * codecs, and the raw bit patterns through the integer codec. Strings are a dictionary with
 * integer-coded ids, or raw lengths and bytes. The choice is made per block by measuring (exactly
 * where that is cheap, on samples where it is not); see codec_int.c and codec_float.c.
 *
 * Decoding distrusts every byte: bad CRC, lengths past the end, counts over the limits, bit widths
 * over 64, timestamps that do not increase, ids outside their dictionary -- all come back as
 * GB_EPROTO, and nothing is read outside [p, p + n).
 */
#ifndef GB_STORE_CODEC_H
#define GB_STORE_CODEC_H

#include "gemba/sample.h"
#include "util/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GB_BLOCK_VERSION 2             /* written; version 1 is still read */
#define GB_BLOCK_MAX_POINTS 65536u     /* points in one block */
#define GB_BLOCK_MAX_BYTES (64u << 20) /* an encoded block (strings make the large ones) */
#define GB_BLOCK_MIN_BYTES 13u         /* the smallest header and the CRC */

/* Codec ids, as stored in block headers (never renumber; add at the end). */
typedef enum {
    GB_CODEC_RAW = 1,       /* integers (or float bits) as 8 bytes each */
    GB_CODEC_FOR = 2,       /* frame of reference: bit-packed offsets from a mini-block minimum */
    GB_CODEC_DELTA = 3,     /* FOR over the differences */
    GB_CODEC_DOD = 4,       /* FOR over the differences of differences */
    GB_CODEC_DICT = 5,      /* sorted distinct integers + ids */
    GB_CODEC_RLE = 6,       /* run values + run lengths */
    GB_CODEC_GORILLA = 7,   /* floats: XOR with the previous value (Facebook's Gorilla) */
    GB_CODEC_CHIMP = 8,     /* floats: XOR with the best of the last 128 values (Chimp128) */
    GB_CODEC_DECIMAL = 9,   /* floats: integers scaled by 10^-e, exceptions aside (ALP-style) */
    GB_CODEC_F64BITS = 10,  /* floats: the IEEE bit patterns through the integer codec */
    GB_CODEC_STR_RAW = 11,  /* strings: lengths + bytes */
    GB_CODEC_STR_DICT = 12, /* strings: distinct strings + ids */
    GB_CODEC_DELTA_RLE = 13 /* runs of equal steps: steady timestamps with hiccups, counters */
} gb_codec_t;
#define GB_CODEC_MAX 13

/* Short lower-case name of codec C ("gorilla", "decimal", ...), or "?" for an unknown id. */
const char *gb_codec_name(int c);

/* A string value: LEN bytes at OFF in an arena. */
typedef struct gb_block_str {
    uint32_t off, len;
} gb_block_str_t;

/* What to encode: N points of one series. All arrays are borrowed for the call. */
typedef struct gb_block_in {
    gb_vtype_t type;
    size_t n;                  /* 1 .. GB_BLOCK_MAX_POINTS */
    const int64_t *t;          /* ns since the epoch, strictly increasing */
    const double *f64;         /* GB_VT_F64 */
    const int64_t *i64;        /* GB_VT_I64 */
    const uint8_t *b;          /* GB_VT_BOOL: 0 is false, anything else true */
    const gb_block_str_t *str; /* GB_VT_STR: each inside ARENA */
    const char *arena;
    size_t arena_len;
    int codec; /* 0: choose; else force this value codec (tests, benchmarks) */
} gb_block_in_t;

/* Filled by gb_block_encode: what the engine keeps per block in its index. */
typedef struct gb_block_stats {
    uint32_t count;
    int64_t t_first, t_last;
    /* f64: over the values that are not NaN (NaN when all are); i64 and bool: every value. */
    double min, max, sum, sumsq;
    double first, last; /* the first and last value, whatever they are (NaN too) */
    int64_t imin, imax; /* i64 and bool, exact */
    int64_t ifirst, ilast;
    uint32_t nan_count; /* f64 */
    uint8_t time_codec, value_codec;
    uint32_t time_bytes, value_bytes; /* section sizes */
    uint32_t bytes;                   /* the whole block */
} gb_block_stats_t;

/*
 * Encodes IN as one block appended to OUT (which keeps what it held before). STATS (may be NULL)
 * gets the block's statistics. Returns 0; GB_EINVAL when IN is unusable (n out of range, times not
 * strictly increasing, a string outside its arena, a forced codec that does not fit the type);
 * GB_ERANGE when the block would exceed GB_BLOCK_MAX_BYTES; GB_ENOMEM. On failure OUT->len is as
 * before the call.
 */
int gb_block_encode(const gb_block_in_t *in, gb_buf_t *out, gb_block_stats_t *stats);

/* A block's header, read without decoding. */
typedef struct gb_block_info {
    uint8_t version;
    gb_vtype_t type;
    uint32_t count;
    int64_t t_first, t_last;
    uint8_t time_codec, value_codec;
    uint32_t time_bytes, value_bytes;
    uint32_t header_bytes; /* where the time section starts */
    uint32_t bytes;        /* the whole block, header and CRC included */
} gb_block_info_t;

/*
 * Reads the header of the block starting at P (N bytes available; the block may be followed by
 * others, INFO->bytes says where it ends). Checks the header's own consistency and that the block
 * fits in N, but not the CRC or the sections. 0 or GB_EPROTO.
 */
int gb_block_info(const uint8_t *p, size_t n, gb_block_info_t *info);

/*
 * Decoded points. Caller storage: gb_block_out_init before the first decode, gb_block_out_clear
 * after the last. The arrays are owned by OUT and reused (grown when needed) by the next decode
 * into it, so decoding many blocks allocates only for the largest.
 */
typedef struct gb_block_out {
    gb_vtype_t type;
    uint32_t n;
    uint8_t time_codec, value_codec;
    int64_t *t;  /* n times (NULL when want_step, below, gave a step instead) */
    double *f64; /* n values of the block's type; the other pointers are NULL */
    int64_t *i64;
    uint8_t *b;          /* 0 or 1 */
    gb_block_str_t *str; /* into arena */
    char *arena;         /* not NULL after a string block, even when every string is empty */
    size_t arena_len;
    /* set by the caller before a decode: a DECIMAL float block without exceptions then gives its
     * digits instead of its values. F64 is NULL and value i is (double)DIG[i] / DSCALE (a power
     * of ten), correctly rounded: what F64[i] would have been. A damaged block the checksum let
     * through may hold any digits: sum them with care. */
    bool want_digits;
    const int64_t *dig;
    double dscale;
    /* the same for times: a block of regular times (one step throughout) may then leave T NULL;
     * time i is T0 + i * TSTEP (TSTEP >= 1, no overflow) */
    bool want_step;
    int64_t t0, tstep;
    /* storage */
    void *tbuf_, *vbuf_, *sbuf_; /* times, values, scratch (2 integers a point) */
    size_t cap_;
    gb_buf_t abuf_;
} gb_block_out_t;

void gb_block_out_init(gb_block_out_t *o);
void gb_block_out_clear(gb_block_out_t *o);

/*
 * Decodes the block of exactly N bytes at P into OUT. Returns 0, GB_EPROTO when the bytes are not
 * a valid block (OUT then holds no points), or GB_ENOMEM.
 */
int gb_block_decode(const uint8_t *p, size_t n, gb_block_out_t *out);

#endif
