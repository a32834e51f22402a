/*
 * The out-of-line half of codec_bits.h: the byte reader's varints and spans, and array unpacking.
 * Unpacking is the inner loop of every integer decode, so it has a loop for each width that runs
 * on unaligned 64-bit loads as long as they stay inside the input, and a byte-wise tail.
 */
#include "store/codec_bits.h"

int gb_rd_varint(gb_rd_t *r, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned i = 0; i < 10; i++) {
        if (r->pos >= r->n) return GB_EPROTO;
        uint8_t b = r->p[r->pos++];
        if (i == 9 && b > 1) return GB_EPROTO; /* bits past 64 */
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return GB_EPROTO;
}

int gb_rd_count(gb_rd_t *r, uint64_t max, uint64_t *v)
{
    int rc = gb_rd_varint(r, v);
    if (rc) return rc;
    return *v > max ? GB_EPROTO : 0;
}

int gb_rd_bytes(gb_rd_t *r, size_t n, const uint8_t **p)
{
    if (n > gb_rd_left(r)) return GB_EPROTO;
    *p = r->p + r->pos;
    r->pos += n;
    return 0;
}

/*
 * Groups of 8 values of a constant width W take exactly W bytes, so with W known at compile time
 * every load offset and shift in a group is a constant: one copy of this loop per width.
 */
static inline __attribute__((always_inline)) size_t
unpack_groups(const uint8_t *p, size_t groups, unsigned w, uint64_t base, uint64_t *out)
{
    const uint64_t mask = w == 64 ? ~UINT64_C(0) : (UINT64_C(1) << w) - 1;
    for (size_t gi = 0; gi < groups; gi++, p += w, out += 8) {
        for (unsigned i = 0; i < 8; i++) {
            unsigned bit = i * w, sh = bit % 8;
            uint64_t v = gb_load64le(p + bit / 8) >> sh;
            if (sh + w > 64) v |= (uint64_t)p[bit / 8 + 8] << (64 - sh);
            out[i] = base + (v & mask);
        }
    }
    return groups * 8;
}

#define W1(w)                                                                                      \
    case w:                                                                                        \
        i = unpack_groups(p, groups, w, base, out);                                                \
        break;
#define W8(w) W1(w) W1(w + 1) W1(w + 2) W1(w + 3) W1(w + 4) W1(w + 5) W1(w + 6) W1(w + 7)

void gb_unpack(const uint8_t *p, size_t avail, size_t cnt, unsigned w, uint64_t base, uint64_t *out)
{
    size_t i = 0;
    if (w == 0) {
        for (; i < cnt; i++)
            out[i] = base;
        return;
    }
    /* whole groups whose every load (up to 9 bytes past the group's start + W) stays inside */
    size_t groups = avail >= 9 ? (avail - 9) / w : 0;
    groups = groups > cnt / 8 ? cnt / 8 : groups;
    switch (w) {
        W8(1) W8(9) W8(17) W8(25) W8(33) W8(41) W8(49) W8(57)
    }
    for (size_t pos = i * w; i < cnt; i++, pos += w)
        out[i] = base + gb_bits_at(p, avail, pos, w);
}

gb_radix_t gb_radix_of(uint64_t r)
{
    gb_radix_t x = {.r = r, .k = 1, .b = gb_bits(r - 1)};
    if (r < 3 || !(r & (r - 1))) return x; /* a power of two fills its bits already */
    uint64_t p = r;
    for (unsigned k = 2; k <= 16 && p <= GB_RADIX_MAX / r; k++) {
        p *= r;
        unsigned b = gb_bits(p - 1);
        if ((uint64_t)b * x.k < (uint64_t)x.b * k) { /* fewer bits a value */
            x.k = k;
            x.b = b;
        }
    }
    return x;
}

unsigned gb_radix_bits(const gb_radix_t *x, size_t j)
{
    uint64_t p = 1;
    while (j--)
        p *= x->r;
    return gb_bits(p - 1);
}

size_t gb_radix_len(size_t cnt, const gb_radix_t *x)
{
    return ((cnt / x->k) * x->b + gb_radix_bits(x, cnt % x->k) + 7) / 8;
}

/*
 * The digits come out from the top, one multiply each: a group V < R^K becomes the 64-bit fraction
 * F = V * ceil(2^64 / R^K), about V / R^K; then F * R's high word is the next digit and its low
 * word the rest. Exact because R^K < 2^32: F errs by less than V, and V * R^K < 2^64 keeps that
 * below what a digit could notice. The multiplies are the cost (about 0.6 ns a value), so the
 * commonest case, 3 levels in groups of 5 (a byte), is a table of the 243 bytes' digits.
 */
__extension__ typedef unsigned __int128 u128_t;

static inline __attribute__((always_inline)) void
radix_group(uint64_t v, uint64_t m, uint64_t r, unsigned k, uint64_t base, uint64_t *out)
{
    uint64_t f = v * m;
    for (unsigned j = 0; j < k; j++) {
        u128_t p = (u128_t)f * r;
        out[j] = base + (uint64_t)(p >> 64);
        f = (uint64_t)p;
    }
}

/*
 * The whole groups of K values (K constant in each inlined copy, so that its digits unroll);
 * returns the values done, and sets *BAD when a group is not below RK = R^K.
 */
static inline __attribute__((always_inline)) size_t
radix_groups(const uint8_t *p, size_t avail, size_t cnt, uint64_t rk, uint64_t r, unsigned k,
             unsigned b, uint64_t base, uint64_t *out, uint64_t *bad)
{
    const uint64_t m = UINT64_MAX / rk + 1;
    size_t i = 0, pos = 0;
    for (; i + k <= cnt; i += k, pos += b) {
        uint64_t v = gb_bits_at(p, avail, pos, b);
        *bad |= v >= rk;
        radix_group(v, m, r, k, base, out + i);
    }
    return i;
}

#define D5(v)                                                                                      \
    {                                                                                              \
        (v) / 81 % 3, (v) / 27 % 3, (v) / 9 % 3, (v) / 3 % 3, (v) % 3                              \
    }
#define D5X9(v)                                                                                    \
    D5(v), D5(v + 1), D5(v + 2), D5(v + 3), D5(v + 4), D5(v + 5), D5(v + 6), D5(v + 7), D5(v + 8)
#define D5X27(v) D5X9(v), D5X9(v + 9), D5X9(v + 18)
static const uint8_t DIGITS3[243][5] = {D5X27(0),   D5X27(27),  D5X27(54),  D5X27(81), D5X27(108),
                                        D5X27(135), D5X27(162), D5X27(189), D5X27(216)};

/* 3 levels, 5 values a byte: by the table. Returns the values done. */
static size_t radix3_groups(const uint8_t *p, size_t cnt, uint64_t base, uint64_t *out,
                            uint64_t *bad)
{
    size_t i = 0;
    for (; i + 5 <= cnt; i += 5, p++) {
        const uint8_t *d = DIGITS3[*p < 243 ? *p : 0];
        *bad |= *p >= 243;
        out[i] = base + d[0];
        out[i + 1] = base + d[1];
        out[i + 2] = base + d[2];
        out[i + 3] = base + d[3];
        out[i + 4] = base + d[4];
    }
    return i;
}

int gb_unpack_radix(const uint8_t *p, size_t avail, size_t cnt, const gb_radix_t *x, uint64_t base,
                    uint64_t *out)
{
    uint64_t r = x->r, rk = 1, bad = 0;
    const unsigned k = x->k, b = x->b;
    for (unsigned j = 0; j < k; j++)
        rk *= r;
    size_t i;
    if (r == 3 && k == 5)
        i = radix3_groups(p, cnt, base, out, &bad);
    else if (k == 2)
        i = radix_groups(p, avail, cnt, rk, r, 2, b, base, out, &bad);
    else if (k == 3)
        i = radix_groups(p, avail, cnt, rk, r, 3, b, base, out, &bad);
    else if (k == 5)
        i = radix_groups(p, avail, cnt, rk, r, 5, b, base, out, &bad);
    else
        i = radix_groups(p, avail, cnt, rk, r, k, b, base, out, &bad);
    if (i < cnt) { /* the last group, of fewer values */
        unsigned j = (unsigned)(cnt - i);
        for (rk = 1; j--;)
            rk *= r;
        uint64_t v = gb_bits_at(p, avail, (i / k) * b, gb_radix_bits(x, cnt - i));
        bad |= v >= rk;
        radix_group(v, UINT64_MAX / rk + 1, r, (unsigned)(cnt - i), base, out + i);
    }
    return bad ? GB_EPROTO : 0;
}
