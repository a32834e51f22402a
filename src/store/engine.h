/*
 * The store's internals shared by its files: the series table with each series' in-memory head
 * and its blocks on disk, and the block-file format. Not a public interface.
 *
 * A block holds up to GB_STORE_BLOCK_POINTS points of one series, sorted by time with no two at
 * the same time, and carries statistics (count, time range, min, max, sum, sum of squares, first,
 * last) kept in its file's footer, so aggregates over whole blocks need no decoding.
 */
#ifndef GB_STORE_ENGINE_H
#define GB_STORE_ENGINE_H

#include "gemba/sample.h"
#include "gemba/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GB_STORE_BLOCK_POINTS 4096u
#define GB_STORE_COMPACT_FILES 8 /* files of one level merged into one of the next */

/* A value in 8 bytes: f64 bits, i64, bool 0/1, or a string as (offset << 24 | length). */
typedef uint64_t gb_slot_t;

/* Points of one series in memory: times, values, qualities, and an arena for strings. */
typedef struct gb_pts {
    gb_vtype_t type;
    gb_time_t *t;
    gb_slot_t *v;
    uint8_t *q;
    size_t n, cap;
    char *arena;
    size_t alen, acap;
} gb_pts_t;

void gb_pts_init(gb_pts_t *p, gb_vtype_t type);
void gb_pts_clear(gb_pts_t *p);
void gb_pts_reset(gb_pts_t *p);
/* Appends one point; V's string (if any) is copied. */
void gb_pts_add(gb_pts_t *p, gb_time_t t, gb_quality_t q, const gb_value_t *v);
/* Appends point I of SRC. */
void gb_pts_add_from(gb_pts_t *p, const gb_pts_t *src, size_t i);
/* The value of point I (a string borrows the arena). */
gb_value_t gb_pts_value(const gb_pts_t *p, size_t i);
/*
 * Sorts P by time, keeping arrival order among equal times, then keeps only the last of each run
 * of equal times: a second sample for the same time replaces the first.
 */
void gb_pts_sort_dedupe(gb_pts_t *p);
/* True when P's times strictly increase. */
bool gb_pts_sorted(const gb_pts_t *p);

typedef struct gb_bstats {
    uint32_t count;
    uint32_t nnum; /* points with a number (not NaN): what min, max and sums cover */
    gb_time_t tmin, tmax;
    double min, max, sum, sumsq; /* numbers only (bools as 0/1); 0 for strings */
    gb_slot_t first, last;       /* values at tmin and tmax (strings: not kept, 0) */
} gb_bstats_t;

/* Where a block lies and what it holds. */
typedef struct gb_bref {
    uint32_t file; /* index into the store's files */
    uint32_t len;
    uint64_t off;
    uint8_t codec;
    gb_bstats_t st;
} gb_bref_t;

/*
 * Encodes points [FROM, FROM+N) of P (sorted, distinct times) as one block appended to OUT
 * (*OUTLEN bytes used of *OUTCAP, grown as needed); fills ST and *CODEC.
 */
void gb_blockio_write(const gb_pts_t *p, size_t from, size_t n, unsigned char **out, size_t *outlen,
                      size_t *outcap, gb_bstats_t *st, uint8_t *codec);
/* Decodes a block of LEN bytes, appending its points to OUT (of the block's type). GB_EPROTO. */
int gb_blockio_read(const unsigned char *buf, size_t len, gb_pts_t *out);
/*
 * Reads block R from the block file open as FD into *BUF (malloc'd, the caller frees it, also on
 * error): the 8-byte frame (length, CRC-32) and the block after it, checked against the frame.
 * 0, GB_EIO (short read) or GB_EPROTO (the frame does not match).
 */
int gb_blockio_load(int fd, const gb_bref_t *r, unsigned char **buf);

/*
 * Decodes a block of LEN bytes straight into O (the codec layer's arrays, reused between calls;
 * quality is not returned), for scans that need only times and values. GB_EPROTO, GB_ENOMEM.
 */
struct gb_block_out;
int gb_blockio_decode(const unsigned char *buf, size_t len, gb_vtype_t type,
                      struct gb_block_out *o);
/* The name of codec id C, for statistics. */
const char *gb_blockio_codec_name(uint8_t c);

#endif
