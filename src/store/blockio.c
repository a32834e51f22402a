/*
 * One block of one series as the engine stores it: the runs of the points' quality, then the
 * points themselves as a self-describing compressed block of the codec layer (codec.h), which
 * picks the smallest codec for the block's times and values.
 *   format 2: u8 2 | runs (varint; 0 when every point is good) | runs x (varint length | u8
 *             quality) | codec block
 *   format 1 (read only): u8 1 | u32 runs | runs x (u32 length | u8 quality) | codec block
 * A reader trusts nothing: counts and lengths are checked against the bytes that remain before
 * they are used; a block that does not add up is GB_EPROTO.
 *
 * Also here: the footer entry of a block in a block file of version 2 (gb_bentry_put/get), which
 * keeps the block's statistics exactly but small. Each entry is written relative to the one
 * before it (offset, first time), and the numbers of a series of short decimals are written as
 * decimals: min, max, first and last as integers D with value = D / 10^E, bit for bit; the sums,
 * which carry rounding, as such an integer and the difference of the bit patterns.
 */
#include "store/codec.h"
#include "store/codec_bits.h"
#include "util/crc.h"
#include "store/engine.h"
#include "gemba/error.h"
#include "util/buf.h"
#include "util/str.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FORMAT_V1 1
#define FORMAT_V2 2

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

static void put_varint(unsigned char **out, size_t *len, size_t *cap, uint64_t v)
{
    uint8_t b[10];
    put(out, len, cap, b, gb_put_varint(b, v));
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
    double mn = INFINITY, mx = -INFINITY, sum = 0, sumc = 0, sumsq = 0;
    uint32_t nnum = 0;
    if (p->type == GB_VT_F64) { /* the usual type, its loop without a switch a point */
        for (size_t i = from; i < from + n; i++) {
            double x;
            memcpy(&x, &p->v[i], sizeof x);
            if (isnan(x)) continue; /* NaN (no value) takes no part in min, max or sums */
            nnum++;
            mn = x < mn ? x : mn;
            mx = x > mx ? x : mx;
            gb_sum_add(&sum, &sumc, x);
            sumsq += x * x;
        }
    } else {
        for (size_t i = from; i < from + n; i++) {
            double x = gb_slot_number(p->type, p->v[i]);
            nnum++; /* integers and bools are never NaN */
            mn = x < mn ? x : mn;
            mx = x > mx ? x : mx;
            gb_sum_add(&sum, &sumc, x);
            sumsq += x * x;
        }
    }
    st->nnum = nnum;
    st->min = mn;
    st->max = mx;
    st->sum = sum + sumc;
    st->sumsq = sumsq;
}

void gb_blockio_write(const gb_pts_t *p, size_t from, size_t n, unsigned char **out, size_t *outlen,
                      size_t *outcap, gb_bstats_t *st, uint8_t *codec)
{
    gb_bstats_of(p, from, n, st);
    /* quality runs; none at all when every point is good */
    unsigned char fmt = FORMAT_V2;
    put(out, outlen, outcap, &fmt, 1);
    bool good = true;
    size_t runs = 0;
    for (size_t i = from; i < from + n; i++) {
        good &= p->q[i] == GB_Q_GOOD;
        runs += i == from || p->q[i] != p->q[i - 1];
    }
    put_varint(out, outlen, outcap, good ? 0 : runs);
    for (size_t i = from; i < from + n && !good;) {
        size_t j = i;
        while (j < from + n && p->q[j] == p->q[i])
            j++;
        put_varint(out, outlen, outcap, j - i);
        put(out, outlen, outcap, &p->q[i], 1);
        i = j;
    }
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

int gb_frame_check(const unsigned char *frame, uint32_t len)
{
    uint32_t flen, crc;
    memcpy(&flen, frame, 4);
    memcpy(&crc, frame + 4, 4);
    return flen != len || gb_crc32(frame + 8, len) != crc ? GB_EPROTO : 0;
}

int gb_frame_load(int fd, uint64_t off, uint32_t len, unsigned char **buf)
{
    *buf = gb_xmalloc((size_t)len + 8);
    if (pread(fd, *buf, (size_t)len + 8, (off_t)off) != (ssize_t)len + 8) return GB_EIO;
    return gb_frame_check(*buf, len);
}

int gb_blockio_load(int fd, const gb_bref_t *r, unsigned char **buf)
{
    return gb_frame_load(fd, r->off, r->len, buf);
}

/* The quality runs at the front of a block record, checked. */
typedef struct qruns {
    uint8_t fmt;
    uint32_t k;     /* runs (format 2: 0 when every point is good) */
    size_t at, end; /* where the runs are; END is where the codec block starts */
    uint64_t total; /* points they cover */
} qruns_t;

static int runs_parse(const unsigned char *buf, size_t len, qruns_t *q)
{
    memset(q, 0, sizeof *q);
    if (len < 2) return GB_EPROTO;
    q->fmt = buf[0];
    if (q->fmt == FORMAT_V1) {
        uint32_t runs;
        if (len < 5) return GB_EPROTO;
        memcpy(&runs, buf + 1, 4);
        if (runs == 0 || runs > GB_STORE_BLOCK_POINTS || (len - 5) / 5 < runs) return GB_EPROTO;
        q->k = runs;
        q->at = 5;
        q->end = 5 + (size_t)runs * 5;
        for (uint32_t r = 0; r < runs; r++) {
            uint32_t l;
            memcpy(&l, buf + 5 + (size_t)r * 5, 4);
            if (l == 0 || buf[5 + (size_t)r * 5 + 4] > GB_Q_BAD) return GB_EPROTO;
            q->total += l;
        }
        return 0;
    }
    if (q->fmt != FORMAT_V2) return GB_EPROTO;
    gb_rd_t r;
    uint64_t k, l;
    uint8_t qv;
    gb_rd_init(&r, buf, len);
    r.pos = 1;
    if (gb_rd_count(&r, GB_STORE_BLOCK_POINTS, &k)) return GB_EPROTO;
    q->k = (uint32_t)k;
    q->at = r.pos;
    for (uint64_t i = 0; i < k; i++) {
        if (gb_rd_count(&r, GB_STORE_BLOCK_POINTS, &l) || l == 0 || gb_rd_u8(&r, &qv) ||
            qv > GB_Q_BAD)
            return GB_EPROTO;
        q->total += l;
    }
    q->end = r.pos;
    return 0;
}

/* The next run of Q (checked by runs_parse): its length and quality. */
static void run_next(const unsigned char *buf, qruns_t *q, uint32_t *len, uint8_t *qual)
{
    if (q->fmt == FORMAT_V1) {
        memcpy(len, buf + q->at, 4);
        *qual = buf[q->at + 4];
        q->at += 5;
        return;
    }
    gb_rd_t r;
    uint64_t l = 0;
    gb_rd_init(&r, buf, q->end);
    r.pos = q->at;
    gb_rd_varint(&r, &l);
    gb_rd_u8(&r, qual);
    *len = (uint32_t)l;
    q->at = r.pos;
}

/* Whether the codec block's N points are what the runs Q cover. */
static bool runs_cover(const qruns_t *q, uint32_t n)
{
    return n <= GB_STORE_BLOCK_POINTS && (q->k ? q->total == n : q->fmt == FORMAT_V2);
}

int gb_blockio_decode(const unsigned char *buf, size_t len, gb_vtype_t type, gb_block_out_t *o)
{
    qruns_t q;
    if (runs_parse(buf, len, &q)) return GB_EPROTO;
    int rc = gb_block_decode(buf + q.end, len - q.end, o);
    if (rc) return rc == GB_ENOMEM ? rc : GB_EPROTO;
    return o->type != type || !runs_cover(&q, o->n) ? GB_EPROTO : 0;
}

int gb_blockio_read(const unsigned char *buf, size_t len, gb_pts_t *out)
{
    qruns_t q;
    if (runs_parse(buf, len, &q)) return GB_EPROTO;
    gb_block_out_t o;
    gb_block_out_init(&o);
    int rc = gb_block_decode(buf + q.end, len - q.end, &o);
    if (!rc && (o.type != out->type || !runs_cover(&q, o.n))) rc = GB_EPROTO;
    if (rc) {
        gb_block_out_clear(&o);
        return rc == GB_ENOMEM ? rc : GB_EPROTO;
    }
    uint32_t left = q.k ? 0 : o.n;
    uint8_t qual = GB_Q_GOOD;
    for (uint32_t i = 0; i < o.n; i++) {
        while (left == 0)
            run_next(buf, &q, &left, &qual);
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
        gb_pts_add(out, o.t[i], (gb_quality_t)qual, &v);
    }
    gb_block_out_clear(&o);
    return 0;
}

/* ---- footer entries -------------------------------------------------------------------------- */

#define STAT_EXP_MAX 18                 /* as for decimal floats: 10^18 is an exact double */
#define STAT_D_LIMIT 9007199254740992.0 /* 2^53: D converts to a double exactly below it */

enum { S_MIN, S_MAX, S_SUM, S_SUMSQ, S_FIRST, S_LAST, S_FIELDS };

static double p10(unsigned e)
{
    double p = 1;
    while (e--)
        p *= 10; /* exact up to 10^22 */
    return p;
}

/* V as D / 10^E plus a difference of bit patterns; false when V * 10^E is out of range. */
static bool as_decimal(double v, unsigned e, int64_t *d, int64_t *diff)
{
    double x = v * p10(e);
    if (!(fabs(x) < STAT_D_LIMIT)) return false;
    *d = (int64_t)round(x);
    *diff = (int64_t)(gb_f2u(v) - gb_f2u((double)*d / p10(e)));
    return true;
}

/* The smallest exponent at which V is exactly D / 10^E, or -1. */
static int exact_exp(double v)
{
    int64_t d, diff;
    for (unsigned e = 0; e <= STAT_EXP_MAX; e++)
        if (as_decimal(v, e, &d, &diff) && diff == 0) return (int)e;
    return -1;
}

size_t gb_bentry_put(uint8_t *p, gb_vtype_t type, const gb_bref_t *r, gb_bentry_ctx_t *c)
{
    const gb_bstats_t *st = &r->st;
    size_t at = 0;
    at += gb_put_varint(p + at, gb_zz((int64_t)(r->off - c->next_off)));
    at += gb_put_varint(p + at, r->len);
    p[at++] = r->codec;
    at += gb_put_varint(p + at, st->count);
    at += gb_put_varint(p + at, gb_zz((int64_t)((uint64_t)st->tmin - (uint64_t)c->tmin)));
    at += gb_put_varint(p + at, (uint64_t)st->tmax - (uint64_t)st->tmin);
    c->next_off = r->off + 8 + r->len;
    c->tmin = st->tmin;
    if (type == GB_VT_STR) return at;
    at += gb_put_varint(p + at, st->count - st->nnum);
    bool ints = type != GB_VT_F64;
    double v[S_FIELDS] = {st->min,   st->max,           st->sum,
                          st->sumsq, gb_u2f(st->first), gb_u2f(st->last)};
    /* the exponent: the largest that one of min, max, first and last needs */
    int e = 0;
    for (int f = 0; f < S_FIELDS && !ints; f++) {
        int ef = f == S_SUM || f == S_SUMSQ ? -1 : exact_exp(v[f]);
        e = ef > e ? ef : e;
    }
    unsigned e2 = 2 * (unsigned)e <= STAT_EXP_MAX ? 2 * (unsigned)e : (unsigned)e;
    int64_t d[S_FIELDS], diff[S_FIELDS];
    uint8_t raw = 0;
    for (int f = 0; f < S_FIELDS; f++) {
        if (ints && (f == S_FIRST || f == S_LAST)) continue; /* exact integers, below */
        bool sums = f == S_SUM || f == S_SUMSQ;
        if (!as_decimal(v[f], f == S_SUMSQ ? e2 : (unsigned)e, &d[f], &diff[f]) ||
            (sums ? gb_varint_len(gb_zz(d[f])) + gb_varint_len(gb_zz(diff[f])) > 8 : diff[f] != 0))
            raw |= (uint8_t)(1u << f);
    }
    p[at++] = (uint8_t)e;
    p[at++] = raw;
    for (int f = 0; f < S_FIELDS; f++) {
        if (ints && (f == S_FIRST || f == S_LAST)) {
            at += gb_put_varint(p + at, gb_zz((int64_t)(f == S_FIRST ? st->first : st->last)));
        } else if (raw >> f & 1) {
            gb_store64le(p + at, gb_f2u(v[f]));
            at += 8;
        } else {
            at += gb_put_varint(p + at, gb_zz(d[f]));
            if (f == S_SUM || f == S_SUMSQ) at += gb_put_varint(p + at, gb_zz(diff[f]));
        }
    }
    return at;
}

int gb_bentry_get(gb_rd_t *rd, gb_vtype_t type, gb_bref_t *r, gb_bentry_ctx_t *c)
{
    uint64_t off, len, count, tmin, span, missing;
    uint8_t codec, e, raw;
    gb_bstats_t *st = &r->st;
    memset(st, 0, sizeof *st);
    if (gb_rd_varint(rd, &off) || gb_rd_count(rd, UINT32_MAX, &len) || gb_rd_u8(rd, &codec) ||
        gb_rd_count(rd, GB_STORE_BLOCK_POINTS, &count) || count == 0 || gb_rd_varint(rd, &tmin) ||
        gb_rd_varint(rd, &span))
        return GB_EPROTO;
    r->off = c->next_off + (uint64_t)gb_unzz(off);
    r->len = (uint32_t)len;
    r->codec = codec;
    st->count = (uint32_t)count;
    st->tmin = (gb_time_t)((uint64_t)c->tmin + (uint64_t)gb_unzz(tmin));
    st->tmax = (gb_time_t)((uint64_t)st->tmin + span);
    if (st->tmax < st->tmin || r->off > UINT64_MAX - 8 - r->len) return GB_EPROTO;
    c->next_off = r->off + 8 + r->len;
    c->tmin = st->tmin;
    if (type == GB_VT_STR) return 0;
    if (gb_rd_count(rd, count, &missing) || gb_rd_u8(rd, &e) || gb_rd_u8(rd, &raw) ||
        e > STAT_EXP_MAX || raw >> S_FIELDS)
        return GB_EPROTO;
    st->nnum = (uint32_t)(count - missing);
    bool ints = type != GB_VT_F64;
    if (ints && (e != 0 || raw >> S_FIRST)) return GB_EPROTO;
    unsigned e2 = 2u * e <= STAT_EXP_MAX ? 2u * e : e;
    double v[S_FIELDS];
    for (int f = 0; f < S_FIELDS; f++) {
        uint64_t x, dx = 0;
        const uint8_t *b;
        if (ints && (f == S_FIRST || f == S_LAST)) {
            if (gb_rd_varint(rd, &x)) return GB_EPROTO;
            *(f == S_FIRST ? &st->first : &st->last) = (gb_slot_t)gb_unzz(x);
            continue;
        }
        if (raw >> f & 1) {
            if (gb_rd_bytes(rd, 8, &b)) return GB_EPROTO;
            v[f] = gb_u2f(gb_load64le(b));
            continue;
        }
        bool sums = f == S_SUM || f == S_SUMSQ;
        if (gb_rd_varint(rd, &x) || (sums && gb_rd_varint(rd, &dx))) return GB_EPROTO;
        int64_t d = gb_unzz(x);
        if (!(fabs((double)d) < STAT_D_LIMIT)) return GB_EPROTO;
        v[f] = gb_u2f(gb_f2u((double)d / p10(f == S_SUMSQ ? e2 : e)) + (uint64_t)gb_unzz(dx));
    }
    st->min = v[S_MIN];
    st->max = v[S_MAX];
    st->sum = v[S_SUM];
    st->sumsq = v[S_SUMSQ];
    if (!ints) {
        st->first = gb_f2u(v[S_FIRST]);
        st->last = gb_f2u(v[S_LAST]);
    }
    return 0;
}
