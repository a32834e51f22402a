/*
 * The out-of-line half of codec_bits.h: the byte reader's varints and spans, and array unpacking.
 * Unpacking is the inner loop of every integer decode, so it runs on unaligned 64-bit loads as
 * long as a whole load stays inside the input and falls back to byte-wise reads for the tail.
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

void gb_unpack(const uint8_t *p, size_t avail, size_t cnt, unsigned w, uint64_t *out)
{
    if (w == 0) {
        memset(out, 0, cnt * sizeof *out);
        return;
    }
    const uint64_t mask = w == 64 ? ~UINT64_C(0) : (UINT64_C(1) << w) - 1;
    size_t i = 0, pos = 0;
    if (w <= 57) {
        /* sh + w <= 64: one load holds the value */
        for (; i < cnt && (pos >> 3) + 8 <= avail; i++, pos += w)
            out[i] = (gb_load64le(p + (pos >> 3)) >> (pos & 7)) & mask;
    } else {
        for (; i < cnt && (pos >> 3) + 9 <= avail; i++, pos += w) {
            size_t byte = pos >> 3;
            unsigned sh = (unsigned)(pos & 7);
            uint64_t v = gb_load64le(p + byte) >> sh;
            if (sh + w > 64) v |= (uint64_t)p[byte + 8] << (64 - sh);
            out[i] = v & mask;
        }
    }
    for (; i < cnt; i++, pos += w) out[i] = gb_bits_at(p, avail, pos, w);
}
