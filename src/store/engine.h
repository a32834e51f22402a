/*
 * The store's internals shared by its files: the series table with each series' in-memory head
 * and its blocks on disk, and the block-file format. Not a public interface.
 *
 * A block holds up to GB_STORE_BLOCK_POINTS points of one series, sorted by time with no two at
 * the same time, and carries statistics (count, time range, min, max, sum, sum of squares, first,
 * last) kept in its file's footer, so aggregates over whole blocks need no decoding.
 *
 * A rollup sums up one series' points in one window of a fixed width (1 min, 1 h) with the same
 * statistics, plus what a time-weighted average needs; rollups outlive the points (rollup.c).
 */
#ifndef GB_STORE_ENGINE_H
#define GB_STORE_ENGINE_H

#include "gemba/sample.h"
#include "gemba/store.h"
#include "util/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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
/* Frees the points; P stays an empty gb_pts_t of its type. */
void gb_pts_clear(gb_pts_t *p);
void gb_pts_reset(gb_pts_t *p);
/* Appends one point; V's string (if any) is copied. */
void gb_pts_add(gb_pts_t *p, gb_time_t t, gb_quality_t q, const gb_value_t *v);
/* Makes room for N points in all (strings' arena aside). */
void gb_pts_reserve(gb_pts_t *p, size_t n);

/* The slot of V taken as a number or boolean of TYPE (not a string). */
static inline gb_slot_t gb_slot_of(gb_vtype_t type, const gb_value_t *v)
{
    gb_slot_t s = 0;
    switch (type) {
    case GB_VT_F64:
        memcpy(&s, &v->f64, 8);
        break;
    case GB_VT_I64:
        s = (gb_slot_t)v->i64;
        break;
    case GB_VT_BOOL:
        s = v->b ? 1 : 0;
        break;
    case GB_VT_STR:
        break;
    }
    return s;
}
/* Appends point I of SRC. */
void gb_pts_add_from(gb_pts_t *p, const gb_pts_t *src, size_t i);
/* Appends SRC's N points from FROM (of P's type). */
void gb_pts_add_range(gb_pts_t *p, const gb_pts_t *src, size_t from, size_t n);
/* The value of point I (a string borrows the arena). */
gb_value_t gb_pts_value(const gb_pts_t *p, size_t i);
/*
 * Sorts P by time, keeping arrival order among equal times, then keeps only the last of each run
 * of equal times: a second sample for the same time replaces the first.
 */
void gb_pts_sort_dedupe(gb_pts_t *p);
/* Memory kept between sorts by a caller that sorts often (the flush): keys and sorted points,
 * and the shorter side of a run merge. */
typedef struct gb_pts_scratch {
    void *k;       /* keys, and as many again for the merge */
    size_t *start; /* the runs' starts */
    gb_time_t *t;  /* room for CAP times, then values and qualities */
    size_t cap;
    gb_time_t *mt; /* a run merge's shorter side: MCAP times, then values and qualities */
    size_t mcap;
} gb_pts_scratch_t;
/* The same, with SC's memory for the keys and the sorted points, which go back to P's own
 * arrays: no memory is taken when SC has room. */
void gb_pts_sort_dedupe_in(gb_pts_t *p, gb_pts_scratch_t *sc);
void gb_pts_scratch_free(gb_pts_scratch_t *sc);
/* True when P's times strictly increase. */
bool gb_pts_sorted(const gb_pts_t *p);

/*
 * A series' points in memory as the store's heads keep them: encoded as they come, 2 to 3 bytes a
 * point for a sensor's short decimals against the 17 of a time, a value and a quality as they
 * are (see pts.c for the encoding). The encoding is in segments that never move; a head grows by
 * a new one, twice the size of the one before up to 64 KiB. Each segment decodes on its own.
 * Strings are in one arena, as in gb_pts_t, the segments holding their slots.
 */
typedef struct gb_seg {
    struct gb_seg *next;
    uint32_t n;     /* points */
    uint32_t len;   /* bytes of encoding, after this header */
    uint32_t cap;   /* bytes of room for it */
    unsigned shift; /* the block is 1 << shift bytes, this header first */
} gb_seg_t;
/* Where a segment's encoding starts, after its header. */
#define GB_SEG_HDR ((sizeof(gb_seg_t) + 15) & ~(size_t)15)
typedef struct gb_head {
    gb_vtype_t type;
    gb_seg_t *first, *last;
    size_t n;
    char *arena;
    size_t alen, acap;
    struct gb_pool *pool; /* where the segments come from */
    gb_time_t tlast;      /* the time of the last point added */
    bool unsorted;        /* a point came at or before the time of the one before it */
    /* the encoding's state after LAST's last point: its time and step, its value (an integer:
     * a slot, a decimal's digits or a float's bits) and, for floats, the form values take */
    struct gb_head_enc {
        uint64_t t, step, m;
        uint8_t mode;
        uint8_t raw_run; /* floats kept raw since the last search for a decimal form */
    } enc;
} gb_head_t;

void gb_head_init(gb_head_t *h, gb_vtype_t type, struct gb_pool *pool);
/* Gives the segments back; H stays an empty head of its type and pool. */
void gb_head_clear(gb_head_t *h);
/* Appends one point; V's string (if any) is copied. */
void gb_head_add(gb_head_t *h, gb_time_t t, gb_quality_t q, const gb_value_t *v);
/* Appends the N points T[i], V[i], Q[i] (V holds slots: numbers or booleans); returns the index
 * of the newest, the later of those at one time. */
uint32_t gb_head_add_run(gb_head_t *h, const gb_time_t *t, const gb_slot_t *v, const uint8_t *q,
                         uint32_t n);
/* Segment G of H decoded into SCRATCH's arrays and seen as point arrays (read only; strings in
 * H's arena). SCRATCH is a gb_pts_t of any type, kept by the caller for the next segment. */
gb_pts_t gb_head_seg_view(const gb_head_t *h, const gb_seg_t *g, gb_pts_t *scratch);
/* Appends H's points to P (of H's type). */
void gb_pts_add_head(gb_pts_t *p, const gb_head_t *h);
/* Appends the points of H's segment G to P (of H's type, not strings). */
void gb_pts_add_seg(gb_pts_t *p, const gb_head_t *h, const gb_seg_t *g);
/* Drops P's first N points (N <= P->n; not strings). */
void gb_pts_drop_front(gb_pts_t *p, size_t n);
/* H becomes FRONT's points, then its own; FRONT is left empty. */
void gb_head_take_front(gb_head_t *h, gb_head_t *front);
/* H's segments put on the list *DONE (to be given back with gb_head_free_list) and its strings
 * freed; H is left empty. */
void gb_head_detach(gb_head_t *h, gb_seg_t **done);
/* Gives back the segments of list L to POOL. */
void gb_head_free_list(struct gb_pool *pool, gb_seg_t *l);

/*
 * *S += X, the addition's rounding error gathered in *C (Neumaier's compensated sum): *S + *C is
 * then the exact sum correctly rounded, but for rare cancellations. Sixty 0.1 add up to 6, not
 * 5.999999999999995 -- the sum of their decimals, as a decimal block's digits give it. Not past
 * an infinity (its error would be NaN).
 */
static inline void gb_sum_add(double *s, double *c, double x)
{
    double t = *s + x;
    if (__builtin_isfinite(t))
        *c += __builtin_fabs(*s) >= __builtin_fabs(x) ? (*s - t) + x : (x - t) + *s;
    *s = t;
}

typedef struct gb_bstats {
    uint32_t count;
    uint32_t nnum; /* points with a number (not NaN): what min, max and sums cover */
    gb_time_t tmin, tmax;
    double min, max, sum, sumsq; /* numbers only (bools as 0/1); 0 for strings; SUM compensated */
    gb_slot_t first, last;       /* values at tmin and tmax (strings: not kept, 0) */
} gb_bstats_t;

/* Where a block lies and what it holds. */
typedef struct gb_bref {
    uint32_t file; /* index into the store's files */
    uint32_t len;
    uint64_t off;
    uint8_t codec;
    uint8_t entry; /* bytes of its footer entry (for statistics) */
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
/*
 * The footer entry of a block in a block file of version 2: where it is, its codec, and its
 * statistics, exactly. Entries are written in the order of the file's footer, each relative to
 * the one before it; a context starts zeroed, with NEXT_OFF at the first block's offset.
 */
typedef struct gb_bentry_ctx {
    uint64_t next_off; /* where the block after the last entry's would start */
    gb_time_t tmin;    /* the last entry's first time */
} gb_bentry_ctx_t;
#define GB_BENTRY_MAX 128 /* bytes an entry takes at most */
/* Writes block R's entry (a block of a series of TYPE) at P; returns its length. */
size_t gb_bentry_put(uint8_t *p, gb_vtype_t type, const gb_bref_t *r, gb_bentry_ctx_t *c);
/*
 * Reads an entry of a series of TYPE from RD into R (all but R->file). Checks the fields' own
 * limits (the caller checks the offset against the file). 0 or GB_EPROTO.
 */
struct gb_rd;
int gb_bentry_get(struct gb_rd *rd, gb_vtype_t type, gb_bref_t *r, gb_bentry_ctx_t *c);

/* The name of codec id C, for statistics. */
const char *gb_blockio_codec_name(uint8_t c);
/* Slot S of a series of TYPE as a number: bools 0/1, NaN for strings. */
double gb_slot_number(gb_vtype_t type, gb_slot_t s);
/* The statistics of points [FROM, FROM+N) of P (N >= 1; sorted, distinct times). */
void gb_bstats_of(const gb_pts_t *p, size_t from, size_t n, gb_bstats_t *st);
/*
 * Reads the frame at OFF (u32 length, u32 CRC-32, then LEN bytes) of the file open as FD into
 * *BUF (malloc'd, the caller frees it, also on error), checked against LEN and the CRC.
 * 0, GB_EIO (short read) or GB_EPROTO.
 */
int gb_frame_load(int fd, uint64_t off, uint32_t len, unsigned char **buf);
/* Whether FRAME (8 bytes, then LEN more) holds a frame of LEN bytes whose CRC matches: 0 or
 * GB_EPROTO. */
int gb_frame_check(const unsigned char *frame, uint32_t len);

/* ---- rollups (rollupio.c) ---- */

#define GB_ROLLUP_WIDTHS 2        /* 0: 1 min, 1: 1 h */
#define GB_ROLLUP_CHUNK_MAX 4096u /* rollups in one chunk */
extern const int64_t gb_rollup_width[GB_ROLLUP_WIDTHS];

/*
 * One window [start, start + width) of one series: ST as for a block (count, the times of the
 * first and last point, min, max, sum, sum of squares, first and last value), and the integral
 * of the value over time from the first point to the last, each value holding until the next
 * point: AREA (value x ns) over AREA_NS ns (the spans whose value is a number). With the last
 * point of the window before, that is all a time-weighted average needs.
 */
typedef struct gb_rollup {
    gb_time_t start;
    gb_bstats_t st;
    double area;
    int64_t area_ns;
} gb_rollup_t;

/* A chunk of one series' rollups of one width in a rollup file. */
typedef struct gb_rref {
    uint32_t file; /* index into the store's rollup files (set by the store) */
    uint32_t len;
    uint64_t off;
    uint32_t n;           /* rollups in it */
    uint8_t width;        /* index into gb_rollup_width */
    gb_time_t tmin, tmax; /* the starts of its first and last window */
} gb_rref_t;

/*
 * Parses the footer F (FLEN bytes) of a rollup file whose chunks end at FOFF, calling SERIES for
 * each series entry (its path is PLEN bytes, not terminated) and CHUNK for each of its chunks.
 * Checks every length against what remains and every chunk against FOFF; a callback's non-zero
 * return stops it and is returned. 0 or GB_EPROTO.
 */
int gb_rollup_footer(const unsigned char *f, size_t flen, uint64_t foff,
                     int (*series)(void *ctx, const char *path, size_t plen, gb_vtype_t type,
                                   gb_time_t rolled),
                     int (*chunk)(void *ctx, const gb_rref_t *r), void *ctx);
#define GB_ROLLUP_ENTRY 33 /* bytes of a chunk's footer entry */

/* A growing array of rollups. */
typedef struct gb_rollups {
    gb_rollup_t *r;
    size_t n, cap;
} gb_rollups_t;

/* Sorts R by window start. */
void gb_rollups_sort(gb_rollups_t *r);

/* T rounded down to a multiple of W (also before the epoch). */
gb_time_t gb_floor_to(gb_time_t t, int64_t w);

/*
 * Appends to OUT the rollups of width W (an index into gb_rollup_width) of the points of P
 * (numbers or bools; sorted, distinct times), leaving out windows that end at or before SINCE.
 */
void gb_rollup_build(const gb_pts_t *p, int w, gb_time_t since, gb_rollups_t *out);

/*
 * Encodes the N rollups R (1..GB_ROLLUP_CHUNK_MAX, of a series of TYPE, width W, starts
 * increasing) as one chunk appended to OUT (column by column through the block codecs).
 */
void gb_rollup_encode(gb_vtype_t type, int w, const gb_rollup_t *r, size_t n, gb_buf_t *out);

/*
 * Decodes a chunk of LEN bytes that must hold rollups of TYPE and width W into OUT (room for
 * GB_ROLLUP_CHUNK_MAX), *N their number. Every value is checked: starts on the width and
 * increasing, point times inside their window, counts that add up. 0, GB_EPROTO or GB_ENOMEM.
 */
int gb_rollup_decode(const unsigned char *buf, size_t len, gb_vtype_t type, int w, gb_rollup_t *out,
                     size_t *n);

#endif
