/*
 * Rollups as values: building them from a series' points, and the chunk they are stored in.
 * Pure functions, no I/O (rollup.c keeps them in files).
 *
 * A chunk holds up to GB_ROLLUP_CHUNK_MAX rollups of one series and one width, column by column,
 * each column through the block codecs (codec_impl.h), so the regular parts -- window starts one
 * width apart, equal counts, first and last points at the same offsets -- cost next to nothing:
 *   u8 format (1) | u8 type | u8 width | u32 n
 *   integer streams: start | count | nnum | tmin - start | tmax - tmin | area_ns
 *   float sections (u8 codec | section): min | max | sum | sumsq | area
 *   first, last: float sections for a float series, integer streams otherwise
 * Decoding trusts nothing: every column must decode to exactly N values and use up the chunk, and
 * every rollup must make sense on its own (see check()), so a damaged chunk is GB_EPROTO and never
 * a wrong answer later.
 */
#include "gemba/error.h"
#include "store/codec_impl.h"
#include "store/engine.h"
#include "util/str.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FORMAT 1
#define HEADER 7

const int64_t gb_rollup_width[GB_ROLLUP_WIDTHS] = {60 * GB_NS_PER_S, 3600 * GB_NS_PER_S};

gb_time_t gb_floor_to(gb_time_t t, int64_t w)
{
    gb_time_t r = t % w;
    if (r >= 0) return t - r;
    /* t - r - w, but never below INT64_MIN: the earliest times of all share one window */
    return t - r >= INT64_MIN + w ? t - r - w : INT64_MIN;
}

void gb_rollup_build(const gb_pts_t *p, int w, gb_time_t since, gb_rollups_t *out)
{
    int64_t width = gb_rollup_width[w];
    for (size_t i = 0; i < p->n;) {
        gb_time_t start = gb_floor_to(p->t[i], width);
        size_t j = i + 1;
        while (j < p->n && p->t[j] - start < width)
            j++;
        /* start + width <= since, written so that neither side can overflow */
        bool gone = since > INT64_MIN + width && start <= since - width;
        if (!gone) {
            if (out->n == out->cap)
                out->r =
                    gb_xrealloc(out->r, (out->cap = out->cap ? out->cap * 2 : 64) * sizeof *out->r);
            gb_rollup_t *r = &out->r[out->n++];
            memset(r, 0, sizeof *r);
            r->start = start;
            gb_bstats_of(p, i, j - i, &r->st);
            for (size_t k = i; k + 1 < j; k++) {
                double x = gb_slot_number(p->type, p->v[k]);
                int64_t dt = p->t[k + 1] - p->t[k];
                if (isnan(x)) continue; /* no value: the span counts for nothing, as in a query */
                r->area += x * (double)dt;
                r->area_ns += dt;
            }
        }
        i = j;
    }
}

static int cmp_start(const void *a, const void *b)
{
    const gb_rollup_t *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

void gb_rollups_sort(gb_rollups_t *r)
{
    if (r->n > 1) qsort(r->r, r->n, sizeof *r->r, cmp_start);
}

/* ---- the chunk ------------------------------------------------------------------------------ */

static void put_ints(gb_buf_t *out, const int64_t *x, size_t n, unsigned allowed)
{
    if (gb_icodec_encode(x, n, allowed, out, NULL) != 0) abort(); /* out of memory */
}

static void put_floats(gb_buf_t *out, const double *x, size_t n)
{
    if (gb_buf_reserve(out, 1) != 0) abort();
    size_t at = out->len++;
    uint8_t codec;
    if (gb_fcodec_encode(x, n, 0, out, &codec) != 0) abort();
    out->p[at] = codec;
}

void gb_rollup_encode(gb_vtype_t type, int w, const gb_rollup_t *r, size_t n, gb_buf_t *out)
{
    int64_t *c = gb_xmalloc(n * sizeof *c);
    double *f = gb_xmalloc(n * sizeof *f);
    if (gb_buf_reserve(out, HEADER) != 0) abort();
    uint32_t n32 = (uint32_t)n;
    out->p[out->len++] = FORMAT;
    out->p[out->len++] = (uint8_t)type;
    out->p[out->len++] = (uint8_t)w;
    memcpy(out->p + out->len, &n32, 4);
    out->len += 4;
#define INTS(expr, allowed)                                                                        \
    do {                                                                                           \
        for (size_t i = 0; i < n; i++)                                                             \
            c[i] = (expr);                                                                         \
        put_ints(out, c, n, allowed);                                                              \
    } while (0)
#define FLOATS(expr)                                                                               \
    do {                                                                                           \
        for (size_t i = 0; i < n; i++)                                                             \
            f[i] = (expr);                                                                         \
        put_floats(out, f, n);                                                                     \
    } while (0)
    INTS(r[i].start, GB_IC_TIME);
    INTS(r[i].st.count, GB_IC_ALL);
    INTS(r[i].st.nnum, GB_IC_ALL);
    INTS(r[i].st.tmin - r[i].start, GB_IC_ALL);
    INTS(r[i].st.tmax - r[i].st.tmin, GB_IC_ALL);
    INTS(r[i].area_ns, GB_IC_ALL);
    FLOATS(r[i].st.min);
    FLOATS(r[i].st.max);
    FLOATS(r[i].st.sum);
    FLOATS(r[i].st.sumsq);
    FLOATS(r[i].area);
    if (type == GB_VT_F64) { /* the slots hold the doubles' bits */
        for (size_t i = 0; i < n; i++)
            memcpy(&f[i], &r[i].st.first, 8);
        put_floats(out, f, n);
        for (size_t i = 0; i < n; i++)
            memcpy(&f[i], &r[i].st.last, 8);
        put_floats(out, f, n);
    } else {
        INTS((int64_t)r[i].st.first, GB_IC_ALL);
        INTS((int64_t)r[i].st.last, GB_IC_ALL);
    }
#undef INTS
#undef FLOATS
    free(c);
    free(f);
}

static int get_ints(gb_rd_t *r, size_t n, unsigned allowed, int64_t *x)
{
    return gb_icodec_decode(r, n, allowed, x, NULL);
}

static int get_floats(gb_rd_t *r, size_t n, double *x, int64_t *tmp)
{
    uint8_t codec;
    int rc = gb_rd_u8(r, &codec);
    return rc ? rc : gb_fcodec_decode(codec, r, n, x, tmp, NULL);
}

/* Whether rollup R (after one starting at PREV) adds up; its columns were checked one by one. */
static bool check(const gb_rollup_t *r, gb_vtype_t type, gb_time_t prev)
{
    const gb_bstats_t *st = &r->st;
    if (r->start <= prev) return false;
    if ((st->count == 1) != (st->tmin == st->tmax)) return false;
    if (r->area_ns < 0 || r->area_ns > st->tmax - st->tmin) return false;
    if (type == GB_VT_BOOL && (st->first > 1 || st->last > 1)) return false;
    return true;
}

int gb_rollup_decode(const unsigned char *buf, size_t len, gb_vtype_t type, int w, gb_rollup_t *out,
                     size_t *n)
{
    *n = 0;
    if (w < 0 || w >= GB_ROLLUP_WIDTHS || type == GB_VT_STR || len < HEADER || buf[0] != FORMAT ||
        buf[1] != (unsigned char)type || buf[2] != w)
        return GB_EPROTO;
    int64_t width = gb_rollup_width[w];
    uint32_t cnt;
    memcpy(&cnt, buf + 3, 4);
    if (cnt == 0 || cnt > GB_ROLLUP_CHUNK_MAX) return GB_EPROTO;
    int64_t *c = malloc(cnt * 3 * sizeof *c);
    double *f = malloc(cnt * sizeof *f);
    int rc = GB_ENOMEM;
    if (!c || !f) goto out;
    int64_t *tmp = c + cnt; /* the float decoders' scratch: 2 integers a value */
    gb_rd_t r;
    gb_rd_init(&r, buf + HEADER, len - HEADER);
    memset(out, 0, cnt * sizeof *out);
    /* each integer column is checked before it is used, so nothing below can overflow */
    if ((rc = get_ints(&r, cnt, GB_IC_TIME, c))) goto out;
    rc = GB_EPROTO;
    for (size_t i = 0; i < cnt; i++) {
        if (c[i] > INT64_MAX - width || gb_floor_to(c[i], width) != c[i]) goto out;
        out[i].start = c[i];
    }
    if ((rc = get_ints(&r, cnt, GB_IC_ALL, c))) goto out;
    rc = GB_EPROTO;
    for (size_t i = 0; i < cnt; i++) {
        if (c[i] < 1 || c[i] > UINT32_MAX) goto out;
        out[i].st.count = (uint32_t)c[i];
    }
    if ((rc = get_ints(&r, cnt, GB_IC_ALL, c))) goto out;
    rc = GB_EPROTO;
    for (size_t i = 0; i < cnt; i++) {
        if (c[i] < 0 || c[i] > out[i].st.count) goto out;
        out[i].st.nnum = (uint32_t)c[i];
    }
    if ((rc = get_ints(&r, cnt, GB_IC_ALL, c))) goto out;
    rc = GB_EPROTO;
    for (size_t i = 0; i < cnt; i++) {
        if (c[i] < 0 || c[i] >= width) goto out;
        out[i].st.tmin = out[i].start + c[i];
    }
    if ((rc = get_ints(&r, cnt, GB_IC_ALL, c))) goto out;
    rc = GB_EPROTO;
    for (size_t i = 0; i < cnt; i++) {
        if (c[i] < 0 || c[i] >= width - (out[i].st.tmin - out[i].start)) goto out;
        out[i].st.tmax = out[i].st.tmin + c[i];
    }
    if ((rc = get_ints(&r, cnt, GB_IC_ALL, c))) goto out;
    for (size_t i = 0; i < cnt; i++)
        out[i].area_ns = c[i];
    for (int k = 0; k < 5; k++) {
        if ((rc = get_floats(&r, cnt, f, tmp))) goto out;
        for (size_t i = 0; i < cnt; i++) {
            double *d[] = {&out[i].st.min, &out[i].st.max, &out[i].st.sum, &out[i].st.sumsq,
                           &out[i].area};
            *d[k] = f[i];
        }
    }
    for (int k = 0; k < 2; k++) {
        if (type == GB_VT_F64)
            rc = get_floats(&r, cnt, f, tmp);
        else
            rc = get_ints(&r, cnt, GB_IC_ALL, c);
        if (rc) goto out;
        for (size_t i = 0; i < cnt; i++) {
            gb_slot_t v = (gb_slot_t)c[i];
            if (type == GB_VT_F64) memcpy(&v, &f[i], 8);
            *(k ? &out[i].st.last : &out[i].st.first) = v;
        }
    }
    rc = GB_EPROTO;
    if (gb_rd_left(&r)) goto out;
    for (size_t i = 0; i < cnt; i++)
        if (!check(&out[i], type, i ? out[i - 1].start : INT64_MIN)) goto out;
    *n = cnt;
    rc = 0;
out:
    free(c);
    free(f);
    return rc == GB_ENOMEM ? rc : rc ? GB_EPROTO : 0;
}

/* ---- the footer of a rollup file ------------------------------------------------------------ */

int gb_rollup_footer(const unsigned char *f, size_t flen, uint64_t foff,
                     int (*series)(void *ctx, const char *path, size_t plen, gb_vtype_t type,
                                   gb_time_t rolled),
                     int (*chunk)(void *ctx, const gb_rref_t *r), void *ctx)
{
    if (flen < 4) return GB_EPROTO;
    uint32_t nser;
    memcpy(&nser, f, 4);
    size_t p = 4;
    for (uint32_t i = 0; i < nser; i++) {
        uint16_t pl;
        if (flen - p < 2) return GB_EPROTO;
        memcpy(&pl, f + p, 2);
        p += 2;
        if (flen - p < (size_t)pl + 1 + 8 + 4) return GB_EPROTO;
        const char *path = (const char *)f + p;
        p += pl;
        gb_vtype_t type = (gb_vtype_t)f[p++];
        gb_time_t rolled;
        uint32_t nc;
        memcpy(&rolled, f + p, 8);
        memcpy(&nc, f + p + 8, 4);
        p += 12;
        if (type < GB_VT_F64 || type >= GB_VT_STR || (flen - p) / GB_ROLLUP_ENTRY < nc)
            return GB_EPROTO;
        int rc = series(ctx, path, pl, type, rolled);
        if (rc) return rc;
        for (uint32_t c = 0; c < nc; c++, p += GB_ROLLUP_ENTRY) {
            const unsigned char *e = f + p;
            gb_rref_t r = {0};
            memcpy(&r.off, e, 8);
            memcpy(&r.len, e + 8, 4);
            r.width = e[12];
            memcpy(&r.n, e + 13, 4);
            memcpy(&r.tmin, e + 17, 8);
            memcpy(&r.tmax, e + 25, 8);
            if (r.width >= GB_ROLLUP_WIDTHS || r.n == 0 || r.n > GB_ROLLUP_CHUNK_MAX || r.off < 8 ||
                r.off > foff || foff - r.off < (uint64_t)r.len + 8 || r.tmin > r.tmax ||
                gb_floor_to(r.tmin, gb_rollup_width[r.width]) != r.tmin ||
                gb_floor_to(r.tmax, gb_rollup_width[r.width]) != r.tmax ||
                r.tmax > INT64_MAX - gb_rollup_width[r.width])
                return GB_EPROTO;
            if ((rc = chunk(ctx, &r))) return rc;
        }
    }
    return p == flen ? 0 : GB_EPROTO;
}
