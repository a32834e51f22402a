/*
 * One block of one series, as bytes (the engine's side of the block format): a header (codec, type, count), the points, and the runs of
 * their quality (one run for a block of all-good values). The codec decides how times and values
 * are laid out; codec 0, "plain", keeps them as they are in memory (8 bytes each, strings with a
 * length), the layout every other codec must beat and the one any block can fall back to.
 *
 * A reader trusts nothing: counts and lengths are checked against the bytes that remain before
 * they are used; a block that does not add up is GB_EPROTO.
 */
#include "store/engine.h"
#include "gemba/error.h"
#include "util/str.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { CODEC_PLAIN = 0 };

const char *gb_blockio_codec_name(uint8_t c)
{
    return c == CODEC_PLAIN ? "plain" : "unknown";
}

static void need(unsigned char **out, size_t *len, size_t *cap, size_t more)
{
    if (*len + more <= *cap) return;
    size_t c = *cap ? *cap : 1 << 16;
    while (c < *len + more)
        c *= 2;
    *out = gb_xrealloc(*out, c);
    *cap = c;
}

static void put(unsigned char **out, size_t *len, size_t *cap, const void *p, size_t n)
{
    if (!n) return;
    need(out, len, cap, n);
    memcpy(*out + *len, p, n);
    *len += n;
}

static double as_number(const gb_pts_t *p, size_t i)
{
    gb_value_t v = gb_pts_value(p, i);
    switch (p->type) {
    case GB_VT_F64:
        return v.f64;
    case GB_VT_I64:
        return (double)v.i64;
    case GB_VT_BOOL:
        return v.b ? 1.0 : 0.0;
    default:
        return 0;
    }
}

void gb_blockio_write(const gb_pts_t *p, size_t from, size_t n, unsigned char **out, size_t *outlen,
                    size_t *outcap, gb_bstats_t *st, uint8_t *codec)
{
    memset(st, 0, sizeof *st);
    st->count = (uint32_t)n;
    st->tmin = p->t[from];
    st->tmax = p->t[from + n - 1];
    if (p->type != GB_VT_STR) {
        st->first = p->v[from];
        st->last = p->v[from + n - 1];
        st->min = INFINITY;
        st->max = -INFINITY;
        for (size_t i = from; i < from + n; i++) {
            double x = as_number(p, i);
            if (isnan(x)) continue; /* NaN (no value) takes no part in min, max or sums */
            st->nnum++;
            if (x < st->min) st->min = x;
            if (x > st->max) st->max = x;
            st->sum += x;
            st->sumsq += x * x;
        }
    }
    *codec = CODEC_PLAIN;
    unsigned char hdr[6] = {CODEC_PLAIN, (unsigned char)p->type};
    uint32_t cnt = (uint32_t)n;
    memcpy(hdr + 2, &cnt, 4);
    put(out, outlen, outcap, hdr, sizeof hdr);
    put(out, outlen, outcap, p->t + from, n * sizeof *p->t);
    if (p->type == GB_VT_STR) {
        for (size_t i = from; i < from + n; i++) {
            gb_value_t v = gb_pts_value(p, i);
            uint32_t l = (uint32_t)v.len;
            put(out, outlen, outcap, &l, 4);
            put(out, outlen, outcap, v.str, v.len);
        }
    } else {
        put(out, outlen, outcap, p->v + from, n * sizeof *p->v);
    }
    /* quality as runs: u32 run count, then (u32 length, u8 quality) per run */
    size_t at = *outlen;
    uint32_t runs = 0;
    put(out, outlen, outcap, &runs, 4);
    for (size_t i = from; i < from + n;) {
        size_t j = i;
        while (j < from + n && p->q[j] == p->q[i])
            j++;
        uint32_t l = (uint32_t)(j - i);
        put(out, outlen, outcap, &l, 4);
        put(out, outlen, outcap, &p->q[i], 1);
        runs++;
        i = j;
    }
    memcpy(*out + at, &runs, 4);
}

int gb_blockio_read(const unsigned char *buf, size_t len, gb_pts_t *out)
{
    if (len < 6 || buf[0] != CODEC_PLAIN || buf[1] != (unsigned char)out->type) return GB_EPROTO;
    uint32_t n;
    memcpy(&n, buf + 2, 4);
    if (n == 0 || n > GB_STORE_BLOCK_POINTS) return GB_EPROTO;
    size_t pos = 6;
    if (len - pos < (size_t)n * 8) return GB_EPROTO;
    const unsigned char *times = buf + pos;
    pos += (size_t)n * 8;
    const unsigned char *vals = buf + pos;
    if (out->type == GB_VT_STR) {
        size_t p2 = pos;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t l;
            if (len - p2 < 4) return GB_EPROTO;
            memcpy(&l, buf + p2, 4);
            if (l > GB_SAMPLE_STR_MAX || len - p2 - 4 < l) return GB_EPROTO;
            p2 += 4 + l;
        }
        pos = p2;
    } else {
        if (len - pos < (size_t)n * 8) return GB_EPROTO;
        pos += (size_t)n * 8;
    }
    if (len - pos < 4) return GB_EPROTO;
    uint32_t runs;
    memcpy(&runs, buf + pos, 4);
    pos += 4;
    if (runs == 0 || runs > n || len - pos != (size_t)runs * 5) return GB_EPROTO;
    const unsigned char *qr = buf + pos;
    uint32_t total = 0;
    for (uint32_t r = 0; r < runs; r++) {
        uint32_t l;
        memcpy(&l, qr + r * 5, 4);
        if (l == 0 || l > n - total || qr[r * 5 + 4] > GB_Q_BAD) return GB_EPROTO;
        total += l;
    }
    if (total != n) return GB_EPROTO;
    size_t base = out->n, sp = 0;
    uint32_t r = 0, left;
    memcpy(&left, qr, 4);
    for (uint32_t i = 0; i < n; i++) {
        while (left == 0)
            memcpy(&left, qr + ++r * 5, 4);
        left--;
        gb_time_t t;
        memcpy(&t, times + (size_t)i * 8, 8);
        if (i && t <= out->t[out->n - 1]) {
            out->n = base; /* times must strictly increase within a block */
            return GB_EPROTO;
        }
        gb_value_t v = {.type = out->type};
        if (out->type == GB_VT_STR) {
            uint32_t l;
            memcpy(&l, vals + sp, 4);
            v.str = (const char *)vals + sp + 4;
            v.len = l;
            sp += 4 + l;
        } else {
            gb_slot_t s;
            memcpy(&s, vals + (size_t)i * 8, 8);
            if (out->type == GB_VT_F64)
                memcpy(&v.f64, &s, 8);
            else if (out->type == GB_VT_I64)
                v.i64 = (int64_t)s;
            else
                v.b = s != 0;
        }
        gb_pts_add(out, t, (gb_quality_t)qr[r * 5 + 4], &v);
    }
    return 0;
}
