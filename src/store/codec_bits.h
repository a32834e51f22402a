/*
 * Bits and bytes for the block codecs: little-endian loads and stores, zigzag, LEB128 varints, a
 * bit writer, a bounded bit reader, a bounded byte reader, and bit-packing of whole arrays.
 *
 * Writers trust their caller: the encoder reserves the worst case in its gb_buf_t first and then
 * writes without checks (the bit writer may store up to 8 bytes past its last whole byte, so the
 * reservation includes GB_BITW_SLACK). Readers trust nothing: every read is checked against the
 * end of its input, a failed read sets a sticky error (the bit reader) or returns GB_EPROTO (the
 * byte reader), and nothing is ever loaded from outside [p, p + n).
 *
 * Bits are packed LSB first: bit i of the stream is bit (i % 8) of byte i / 8, so a 64-bit
 * little-endian load at byte i / 8 shifted right by i % 8 yields the next bits.
 */
#ifndef GB_STORE_CODEC_BITS_H
#define GB_STORE_CODEC_BITS_H

#include "gemba/error.h"
#include "util/buf.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define GB_BITW_SLACK 8u /* bytes a bit writer may touch past its last whole byte */

static inline uint64_t gb_load64le(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static inline void gb_store64le(uint8_t *p, uint64_t v)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    memcpy(p, &v, 8);
}

static inline uint32_t gb_load32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void gb_store32le(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* The bit pattern of a double, and the double of a bit pattern. */
static inline uint64_t gb_f2u(double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    return u;
}

static inline double gb_u2f(uint64_t u)
{
    double v;
    memcpy(&v, &u, 8);
    return v;
}

/* ---- decimals: a double as digits d / 10^e, the way short decimals are kept ---- */

#define GB_DEC_EXP_MAX 18               /* 10^18 < 2^63 and exact as a double */
#define GB_DEC_ROUND 6755399441055744.0 /* 2^52 + 2^51: adding it rounds to integer */
#define GB_DEC_LIMIT 2251799813685248.0 /* 2^51: the rounding works below this */
static const double GB_P10[GB_DEC_EXP_MAX + 1] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,
                                                  1e7,  1e8,  1e9,  1e10, 1e11, 1e12, 1e13,
                                                  1e14, 1e15, 1e16, 1e17, 1e18};

/* d = v * 10^e rounded; 1 when d / 10^e (one correctly rounded division, as a decoder does it)
 * gives v back bit for bit, 0 when not, -1 when v * 10^e is too large (or NaN, infinite). */
static inline int gb_dec_digits(double v, unsigned e, int64_t *d, double *back)
{
    double x = v * GB_P10[e];
    if (!(__builtin_fabs(x) < GB_DEC_LIMIT)) return -1;
    *d = (int64_t)((x + GB_DEC_ROUND) - GB_DEC_ROUND);
    *back = (double)*d / GB_P10[e];
    return gb_f2u(*back) == gb_f2u(v);
}

/* Signed to unsigned so that small magnitudes of either sign stay small. */
static inline uint64_t gb_zz(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t gb_unzz(uint64_t u)
{
    return (int64_t)((u >> 1) ^ (0 - (u & 1)));
}

/* Bits needed for V (0 for 0). */
static inline unsigned gb_bits(uint64_t v)
{
    return v ? 64u - (unsigned)__builtin_clzll(v) : 0u;
}

static inline size_t gb_varint_len(uint64_t v)
{
    return 1 + (gb_bits(v) > 7 ? (gb_bits(v) - 1) / 7 : 0);
}

/* Writes V as a LEB128 varint (1 to 10 bytes) at P; returns the bytes written. */
static inline size_t gb_put_varint(uint8_t *p, uint64_t v)
{
    size_t i = 0;
    while (v >= 0x80) {
        p[i++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[i++] = (uint8_t)v;
    return i;
}

/* Appends to B, whose room the caller has reserved. */
static inline void gb_buf_put_u8(gb_buf_t *b, uint8_t v)
{
    b->p[b->len++] = v;
}

static inline void gb_buf_put_varint(gb_buf_t *b, uint64_t v)
{
    b->len += gb_put_varint(b->p + b->len, v);
}

/* ---- the bit writer ---- */

typedef struct gb_bitw {
    uint8_t *p;   /* where the next 8 bytes of bits go */
    uint64_t acc; /* pending bits, LSB first */
    unsigned n;   /* pending bit count, < 64 */
} gb_bitw_t;

static inline void gb_bitw_init(gb_bitw_t *w, uint8_t *p)
{
    w->p = p;
    w->acc = 0;
    w->n = 0;
}

/*
 * Writes the low K bits of V (K 0..64; V must have no bits above K). Branch-free: the pending
 * word is stored every time and the pointer moves on only when it is full, so packing runs of
 * odd widths costs no mispredicted branches.
 */
static inline void gb_bitw_put(gb_bitw_t *w, uint64_t v, unsigned k)
{
    w->acc |= v << w->n;
    gb_store64le(w->p, w->acc);
    unsigned total = w->n + k, full = total >> 6;
    uint64_t rest = (v >> 1) >> (63 - w->n); /* the bits of V that did not fit: V >> (64 - n) */
    w->p += 8 * full;
    w->acc = full ? rest : w->acc;
    w->n = total & 63;
}

/* Writes out the pending bits (zero-padded to a whole byte); returns the end of the bytes. */
static inline uint8_t *gb_bitw_finish(gb_bitw_t *w)
{
    gb_store64le(w->p, w->acc);
    w->p += (w->n + 7) / 8;
    w->acc = 0;
    w->n = 0;
    return w->p;
}

/* ---- the bit reader ---- */

typedef struct gb_bitr {
    const uint8_t *p;
    size_t nbytes;
    size_t pos; /* in bits */
    int bad;    /* set by a read past the end; such reads return 0 */
} gb_bitr_t;

static inline void gb_bitr_init(gb_bitr_t *r, const uint8_t *p, size_t nbytes)
{
    r->p = p;
    r->nbytes = nbytes;
    r->pos = 0;
    r->bad = 0;
}

/* The K bits at bit POS of P (NBYTES long), K 0..64, with POS + K within the input. */
static inline uint64_t gb_bits_at(const uint8_t *p, size_t nbytes, size_t pos, unsigned k)
{
    size_t byte = pos >> 3;
    unsigned sh = (unsigned)(pos & 7);
    uint64_t v;
    if (byte + 8 <= nbytes) {
        v = gb_load64le(p + byte) >> sh;
        if (sh + k > 64) v |= (uint64_t)p[byte + 8] << (64 - sh);
    } else {
        uint64_t w = 0; /* fewer than 8 bytes remain, so sh + k <= 56 */
        for (size_t i = 0; byte + i < nbytes; i++)
            w |= (uint64_t)p[byte + i] << (8 * i);
        v = w >> sh;
    }
    return k == 64 ? v : v & ((UINT64_C(1) << k) - 1);
}

static inline uint64_t gb_bitr_get(gb_bitr_t *r, unsigned k)
{
    if (k > r->nbytes * 8 - r->pos) {
        r->bad = 1;
        r->pos = r->nbytes * 8;
        return 0;
    }
    uint64_t v = gb_bits_at(r->p, r->nbytes, r->pos, k);
    r->pos += k;
    return v;
}

/* ---- the byte reader ---- */

typedef struct gb_rd {
    const uint8_t *p;
    size_t n, pos;
} gb_rd_t;

static inline void gb_rd_init(gb_rd_t *r, const uint8_t *p, size_t n)
{
    r->p = p;
    r->n = n;
    r->pos = 0;
}

static inline size_t gb_rd_left(const gb_rd_t *r)
{
    return r->n - r->pos;
}

static inline int gb_rd_u8(gb_rd_t *r, uint8_t *v)
{
    if (r->pos >= r->n) return GB_EPROTO;
    *v = r->p[r->pos++];
    return 0;
}

/* Reads a varint of at most 10 bytes whose value fits in 64 bits. */
int gb_rd_varint(gb_rd_t *r, uint64_t *v);

/* Reads a varint that must be at most MAX. */
int gb_rd_count(gb_rd_t *r, uint64_t max, uint64_t *v);

/* Points *P at the next N bytes and skips them. */
int gb_rd_bytes(gb_rd_t *r, size_t n, const uint8_t **p);

/* ---- arrays ---- */

/* Bytes that CNT values of W bits take, packed. */
static inline size_t gb_packed_len(size_t cnt, unsigned w)
{
    return (cnt * w + 7) / 8;
}

/*
 * Unpacks CNT values of W bits (0..64) from P into OUT, adding BASE to each (wrapping). P has
 * AVAIL bytes readable, at least gb_packed_len(CNT, W) (checked by the caller).
 */
void gb_unpack(const uint8_t *p, size_t avail, size_t cnt, unsigned w, uint64_t base,
               uint64_t *out);

/*
 * Mixed radix: values below R packed K at a time as one base-R number (the first value its
 * highest digit) in B bits, the fewest that hold R^K - 1; a last group of fewer values takes the
 * bits its own R^j - 1 needs. 3 levels pack 5 values in 8 bits (1.6 bits a value where W-bit
 * packing needs 2), 21 levels 3 in 14 (4.67 for 5), 201 levels 3 in 23 (7.67 for 8).
 */
typedef struct gb_radix {
    uint64_t r;    /* values 0 .. r - 1 */
    unsigned k, b; /* values a group and its bits; k 1 when no group beats ceil(log2 r) bits */
} gb_radix_t;

#define GB_RADIX_MAX (UINT64_C(1) << 32) /* R^K stays within this, so a digit is one multiply */

/* The tightest group for values below R (2 <= R; K <= 16). */
gb_radix_t gb_radix_of(uint64_t r);

/* Bits of a group of J values (J <= X->k). */
unsigned gb_radix_bits(const gb_radix_t *x, size_t j);

/* Bytes CNT values take in X's groups. */
size_t gb_radix_len(size_t cnt, const gb_radix_t *x);

/*
 * Unpacks CNT values packed in X's groups from P (AVAIL bytes readable, at least gb_radix_len)
 * into OUT, adding BASE to each. 0, or GB_EPROTO when a group is not below R^K (its values are
 * in OUT all the same).
 */
int gb_unpack_radix(const uint8_t *p, size_t avail, size_t cnt, const gb_radix_t *x, uint64_t base,
                    uint64_t *out);

#endif
