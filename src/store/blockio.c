/*
 * One block of one series as the engine stores it: the runs of the points' quality (one run for
 * a block of all-good values), then the points themselves as a self-describing compressed block
 * of the codec layer (codec.h), which picks the smallest codec for the block's times and values.
 *   u8 format (1) | u32 runs | runs x (u32 length | u8 quality) | codec block
 * A reader trusts nothing: counts and lengths are checked against the bytes that remain before
 * they are used; a block that does not add up is GB_EPROTO.
 */
#include "store/codec.h"
#include "util/crc.h"
#include "store/engine.h"
#include "gemba/error.h"
#include "util/buf.h"
#include "util/str.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FORMAT_CODEC 1

const char *gb_blockio_codec_name(uint8_t c)
{
    return gb_codec_name(c);
}

static void put(unsigned char **out, size_t *len, size_t *cap, const void *p, size_t n)
{
    if (!n) return;
    if (*len + n > *cap) {
        size_t c = *cap ? *cap : 1 << 16;
        while (c < *len + n)
            c *= 2;
        *out = gb_xrealloc(*out, c);
        *cap = c;
    }
    memcpy(*out + *len, p, n);
    *len += n;
}

double gb_slot_number(gb_vtype_t type, gb_slot_t s)
{
    double d;
    switch (type) {
    case GB_VT_F64:
        memcpy(&d, &s, sizeof d);
        return d;
    case GB_VT_I64:
        return (double)(int64_t)s;
    case GB_VT_BOOL:
        return s ? 1 : 0;
    default:
        return NAN;
    }
}

void gb_bstats_of(const gb_pts_t *p, size_t from, size_t n, gb_bstats_t *st)
{
    memset(st, 0, sizeof *st);
    st->count = (uint32_t)n;
    st->tmin = p->t[from];
    st->tmax = p->t[from + n - 1];
    if (p->type == GB_VT_STR) return;
    st->first = p->v[from];
    st->last = p->v[from + n - 1];
    st->min = INFINITY;
    st->max = -INFINITY;
    for (size_t i = from; i < from + n; i++) {
        double x = gb_slot_number(p->type, p->v[i]);
        if (isnan(x)) continue; /* NaN (no value) takes no part in min, max or sums */
        st->nnum++;
        if (x < st->min) st->min = x;
        if (x > st->max) st->max = x;
        st->sum += x;
        st->sumsq += x * x;
    }
}

void gb_blockio_write(const gb_pts_t *p, size_t from, size_t n, unsigned char **out, size_t *outlen,
                      size_t *outcap, gb_bstats_t *st, uint8_t *codec)
{
    gb_bstats_of(p, from, n, st);
    /* quality runs */
    unsigned char fmt = FORMAT_CODEC;
    put(out, outlen, outcap, &fmt, 1);
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
    /* the points, through the codec layer */
    gb_block_in_t in = {.type = p->type, .n = n, .t = p->t + from};
    double *f = NULL;
    uint8_t *b = NULL;
    gb_block_str_t *str = NULL;
    switch (p->type) {
    case GB_VT_F64:
        f = gb_xmalloc(n * sizeof *f);
        memcpy(f, p->v + from, n * sizeof *f); /* the slots hold the doubles' bits */
        in.f64 = f;
        break;
    case GB_VT_I64:
        in.i64 = (const int64_t *)(p->v + from);
        break;
    case GB_VT_BOOL:
        b = gb_xmalloc(n);
        for (size_t i = 0; i < n; i++)
            b[i] = p->v[from + i] != 0;
        in.b = b;
        break;
    case GB_VT_STR:
        str = gb_xmalloc(n * sizeof *str);
        for (size_t i = 0; i < n; i++)
            str[i] = (gb_block_str_t){(uint32_t)(p->v[from + i] >> 24),
                                      (uint32_t)(p->v[from + i] & 0xffffff)};
        in.str = str;
        in.arena = p->arena ? p->arena : "";
        in.arena_len = p->alen;
        break;
    }
    gb_buf_t buf;
    gb_buf_init(&buf);
    gb_block_stats_t cs;
    if (gb_block_encode(&in, &buf, &cs) != 0)
        abort(); /* sorted, distinct, sized input: cannot fail */
    put(out, outlen, outcap, buf.p, buf.len);
    *codec = cs.value_codec;
    gb_buf_clear(&buf);
    free(f);
    free(b);
    free(str);
}

int gb_frame_load(int fd, uint64_t off, uint32_t len, unsigned char **buf)
{
    *buf = gb_xmalloc((size_t)len + 8);
    if (pread(fd, *buf, (size_t)len + 8, (off_t)off) != (ssize_t)len + 8) return GB_EIO;
    uint32_t flen, crc;
    memcpy(&flen, *buf, 4);
    memcpy(&crc, *buf + 4, 4);
    return flen != len || gb_crc32(*buf + 8, len) != crc ? GB_EPROTO : 0;
}

int gb_blockio_load(int fd, const gb_bref_t *r, unsigned char **buf)
{
    return gb_frame_load(fd, r->off, r->len, buf);
}

/* Checks the quality runs of a block record; the offset of its codec block, or 0 when bad. */
static size_t runs_end(const unsigned char *buf, size_t len, uint64_t *total)
{
    if (len < 5 || buf[0] != FORMAT_CODEC) return 0;
    uint32_t runs;
    memcpy(&runs, buf + 1, 4);
    if (runs == 0 || runs > GB_STORE_BLOCK_POINTS || (len - 5) / 5 < runs) return 0;
    *total = 0;
    for (uint32_t r = 0; r < runs; r++) {
        uint32_t l;
        memcpy(&l, buf + 5 + (size_t)r * 5, 4);
        if (l == 0 || buf[5 + (size_t)r * 5 + 4] > GB_Q_BAD) return 0;
        *total += l;
    }
    return 5 + (size_t)runs * 5;
}

int gb_blockio_decode(const unsigned char *buf, size_t len, gb_vtype_t type, gb_block_out_t *o)
{
    uint64_t total;
    size_t pos = runs_end(buf, len, &total);
    if (!pos) return GB_EPROTO;
    int rc = gb_block_decode(buf + pos, len - pos, o);
    if (rc) return rc == GB_ENOMEM ? rc : GB_EPROTO;
    return o->type != type || o->n != total || o->n > GB_STORE_BLOCK_POINTS ? GB_EPROTO : 0;
}

int gb_blockio_read(const unsigned char *buf, size_t len, gb_pts_t *out)
{
    if (len < 5 || buf[0] != FORMAT_CODEC) return GB_EPROTO;
    uint32_t runs;
    memcpy(&runs, buf + 1, 4);
    if (runs == 0 || runs > GB_STORE_BLOCK_POINTS || (len - 5) / 5 < runs) return GB_EPROTO;
    const unsigned char *qr = buf + 5;
    size_t pos = 5 + (size_t)runs * 5;
    uint64_t total = 0;
    for (uint32_t r = 0; r < runs; r++) {
        uint32_t l;
        memcpy(&l, qr + (size_t)r * 5, 4);
        if (l == 0 || qr[(size_t)r * 5 + 4] > GB_Q_BAD) return GB_EPROTO;
        total += l;
    }
    gb_block_out_t o;
    gb_block_out_init(&o);
    int rc = gb_block_decode(buf + pos, len - pos, &o);
    if (!rc && (o.type != out->type || o.n != total || o.n > GB_STORE_BLOCK_POINTS)) rc = GB_EPROTO;
    if (rc) {
        gb_block_out_clear(&o);
        return rc == GB_ENOMEM ? rc : GB_EPROTO;
    }
    uint32_t r = 0, left;
    memcpy(&left, qr, 4);
    for (uint32_t i = 0; i < o.n; i++) {
        while (left == 0)
            memcpy(&left, qr + (size_t)++r * 5, 4);
        left--;
        gb_value_t v = {.type = out->type};
        switch (out->type) {
        case GB_VT_F64:
            v.f64 = o.f64[i];
            break;
        case GB_VT_I64:
            v.i64 = o.i64[i];
            break;
        case GB_VT_BOOL:
            v.b = o.b[i] != 0;
            break;
        case GB_VT_STR:
            v.str = o.arena + o.str[i].off;
            v.len = o.str[i].len;
            break;
        }
        gb_pts_add(out, o.t[i], (gb_quality_t)qr[(size_t)r * 5 + 4], &v);
    }
    gb_block_out_clear(&o);
    return 0;
}
