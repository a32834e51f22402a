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
