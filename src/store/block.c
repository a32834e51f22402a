/*
 * Blocks: the header, the CRC, the statistics, and the dispatch to the codec families (see
 * codec.h for the layout). Decoding checks the cheap things first -- header fields, lengths
 * against the input, the CRC -- so that a damaged block costs almost nothing to refuse, and
 * then checks what the sections say against the header (time range, codecs, exact lengths).
 */
#include "store/codec.h"
#include "util/crc.h"
#include "store/codec_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const CODEC_NAMES[GB_CODEC_MAX + 1] = {[GB_CODEC_RAW] = "raw",
                                                          [GB_CODEC_FOR] = "for",
                                                          [GB_CODEC_DELTA] = "delta",
                                                          [GB_CODEC_DOD] = "dod",
                                                          [GB_CODEC_DICT] = "dict",
                                                          [GB_CODEC_RLE] = "rle",
                                                          [GB_CODEC_GORILLA] = "gorilla",
                                                          [GB_CODEC_CHIMP] = "chimp128",
                                                          [GB_CODEC_DECIMAL] = "decimal",
                                                          [GB_CODEC_F64BITS] = "f64bits",
                                                          [GB_CODEC_STR_RAW] = "str-raw",
                                                          [GB_CODEC_STR_DICT] = "str-dict",
                                                          [GB_CODEC_DELTA_RLE] = "delta-rle"};

const char *gb_codec_name(int c)
{
    return c > 0 && c <= GB_CODEC_MAX ? CODEC_NAMES[c] : "?";
}

/* True when value codec C can hold values of type T. */
static int codec_fits(gb_vtype_t t, int c)
{
    switch (t) {
    case GB_VT_F64:
        return c >= GB_CODEC_GORILLA && c <= GB_CODEC_F64BITS;
    case GB_VT_I64:
    case GB_VT_BOOL:
        return (c >= GB_CODEC_RAW && c <= GB_CODEC_RLE) || c == GB_CODEC_DELTA_RLE;
    case GB_VT_STR:
        return c == GB_CODEC_STR_RAW || c == GB_CODEC_STR_DICT;
    }
    return 0;
}

static int check_input(const gb_block_in_t *in)
{
    if (in->n < 1 || in->n > GB_BLOCK_MAX_POINTS || !in->t) return GB_EINVAL;
    if (in->codec && !codec_fits(in->type, in->codec)) return GB_EINVAL;
    for (size_t i = 1; i < in->n; i++)
        if (in->t[i] <= in->t[i - 1]) return GB_EINVAL;
    switch (in->type) {
    case GB_VT_F64:
        return in->f64 ? 0 : GB_EINVAL;
    case GB_VT_I64:
        return in->i64 ? 0 : GB_EINVAL;
    case GB_VT_BOOL:
        return in->b ? 0 : GB_EINVAL;
    case GB_VT_STR:
        if (!in->str || (!in->arena && in->arena_len)) return GB_EINVAL;
        for (size_t i = 0; i < in->n; i++)
            if ((uint64_t)in->str[i].off + in->str[i].len > in->arena_len) return GB_EINVAL;
        return 0;
    }
    return GB_EINVAL;
}

static void stats_f64(const double *v, size_t n, gb_block_stats_t *st)
{
    /* two partial sums a quantity keep the adders busy; NaN, rare, gets a second pass */
    double mn = v[0], mx = v[0], s0 = 0, s1 = 0, q0 = 0, q1 = 0;
    size_t i = 0;
    for (; i + 2 <= n; i += 2) {
        double a = v[i], b = v[i + 1];
        mn = a < mn ? a : mn;
        mx = a > mx ? a : mx;
        mn = b < mn ? b : mn;
        mx = b > mx ? b : mx;
        s0 += a;
        s1 += b;
        q0 += a * a;
        q1 += b * b;
    }
    if (i < n) {
        mn = v[i] < mn ? v[i] : mn;
        mx = v[i] > mx ? v[i] : mx;
        s0 += v[i];
        q0 += v[i] * v[i];
    }
    uint32_t nan = 0;
    if (isnan(s0 + s1)) {
        mn = mx = NAN;
        s0 = s1 = q0 = q1 = 0;
        for (i = 0; i < n; i++) {
            double x = v[i];
            if (isnan(x)) {
                nan++;
                continue;
            }
            mn = !(x >= mn) ? x : mn; /* true while mn is NaN */
            mx = !(x <= mx) ? x : mx;
            s0 += x;
            q0 += x * x;
        }
    }
    st->min = mn;
    st->max = mx;
    st->sum = nan == n ? NAN : s0 + s1;
    st->sumsq = nan == n ? NAN : q0 + q1;
    st->first = v[0];
    st->last = v[n - 1];
    st->nan_count = nan;
}

static void stats_i64(const int64_t *v, size_t n, gb_block_stats_t *st)
{
    int64_t mn = v[0], mx = v[0];
    double sum = 0, sq = 0;
    for (size_t i = 0; i < n; i++) {
        mn = v[i] < mn ? v[i] : mn;
        mx = v[i] > mx ? v[i] : mx;
        sum += (double)v[i];
        sq += (double)v[i] * (double)v[i];
    }
    st->imin = mn;
    st->imax = mx;
    st->ifirst = v[0];
    st->ilast = v[n - 1];
    st->min = (double)mn;
    st->max = (double)mx;
    st->sum = sum;
    st->sumsq = sq;
    st->first = (double)v[0];
    st->last = (double)v[n - 1];
}

/* Appends the value section for IN to OUT; *CODEC gets the codec. */
static int encode_values(const gb_block_in_t *in, gb_buf_t *out, uint8_t *codec,
                         gb_block_stats_t *st)
{
    unsigned allowed = in->codec ? GB_IC(in->codec) : GB_IC_ALL;
    int rc;
    switch (in->type) {
    case GB_VT_F64:
        stats_f64(in->f64, in->n, st);
        return gb_fcodec_encode(in->f64, in->n, in->codec, out, codec);
    case GB_VT_I64:
        stats_i64(in->i64, in->n, st);
        return gb_icodec_encode(in->i64, in->n, allowed, out, codec);
    case GB_VT_BOOL: {
        int64_t *v = malloc(in->n * sizeof *v);
        if (!v) return GB_ENOMEM;
        for (size_t i = 0; i < in->n; i++)
            v[i] = in->b[i] != 0;
        stats_i64(v, in->n, st);
        rc = gb_icodec_encode(v, in->n, allowed, out, codec);
        free(v);
        return rc;
    }
    case GB_VT_STR:
        return gb_scodec_encode(in->str, in->n, in->arena, in->codec, out, codec);
    }
    return GB_EINVAL;
}

/* Bytes of the version 2 header of a block of N points from T0 to T1 with sections TB and VB. */
static size_t header_len(size_t n, int64_t t0, int64_t t1, size_t tb, size_t vb)
{
    return 4 + gb_varint_len(n) + gb_varint_len(gb_zz(t0)) +
           gb_varint_len((uint64_t)t1 - (uint64_t)t0) + gb_varint_len(tb) + gb_varint_len(vb);
}

int gb_block_encode(const gb_block_in_t *in, gb_buf_t *out, gb_block_stats_t *stats)
{
    gb_block_stats_t st = {0};
    size_t start = out->len;
    uint8_t tc = 0, vc = 0;
    int rc = check_input(in);
    if (rc) return rc;
    /* the sections first, after room for the longest header; the header then goes in front */
    enum { HEAD_MAX = 4 + 5 * 10 };
    int64_t *rel = malloc(in->n * sizeof *rel);
    if (!rel) return GB_ENOMEM;
    for (size_t i = 0; i < in->n; i++)
        rel[i] = (int64_t)((uint64_t)in->t[i] - (uint64_t)in->t[0]);
    if ((rc = gb_buf_reserve(out, HEAD_MAX))) goto fail;
    out->len += HEAD_MAX;
    rc = gb_icodec_encode(rel, in->n, GB_IC_TIME, out, &tc);
    if (rc) goto fail;
    size_t tb = out->len - start - HEAD_MAX;
    if ((rc = encode_values(in, out, &vc, &st))) goto fail;
    size_t vb = out->len - start - HEAD_MAX - tb;
    int64_t t0 = in->t[0], t1 = in->t[in->n - 1];
    size_t hl = header_len(in->n, t0, t1, tb, vb);
    rc = GB_ERANGE;
    if (hl + tb + vb + 4 > GB_BLOCK_MAX_BYTES) goto fail;
    if ((rc = gb_buf_reserve(out, 4))) goto fail;

    uint8_t *h = out->p + start;
    memmove(h + hl, h + HEAD_MAX, tb + vb);
    h[0] = GB_BLOCK_VERSION;
    h[1] = (uint8_t)in->type;
    h[2] = tc;
    h[3] = vc;
    size_t at = 4;
    at += gb_put_varint(h + at, in->n);
    at += gb_put_varint(h + at, gb_zz(t0));
    at += gb_put_varint(h + at, (uint64_t)t1 - (uint64_t)t0);
    at += gb_put_varint(h + at, tb);
    at += gb_put_varint(h + at, vb);
    out->len = start + hl + tb + vb;
    uint32_t crc = gb_crc32(h, out->len - start);
    gb_store32le(out->p + out->len, (uint32_t)crc);
    out->len += 4;
    free(rel);

    if (stats) {
        st.count = (uint32_t)in->n;
        st.t_first = t0;
        st.t_last = t1;
        st.time_codec = tc;
        st.value_codec = vc;
        st.time_bytes = (uint32_t)tb;
        st.value_bytes = (uint32_t)vb;
        st.bytes = (uint32_t)(out->len - start);
        *stats = st;
    }
    return 0;
fail:
    free(rel);
    out->len = start;
    return rc;
}

/* The version 1 header: 32 bytes at fixed places. */
static int info_v1(const uint8_t *p, size_t n, gb_block_info_t *x)
{
    if (n < 36) return GB_EPROTO;
    *x = (gb_block_info_t){
        .version = 1,
        .type = (gb_vtype_t)p[1],
        .time_codec = p[2],
        .value_codec = p[3],
        .count = gb_load32le(p + 4),
        .t_first = (int64_t)gb_load64le(p + 8),
        .t_last = (int64_t)gb_load64le(p + 16),
        .time_bytes = gb_load32le(p + 24),
        .value_bytes = gb_load32le(p + 28),
        .header_bytes = 32,
    };
    return 0;
}

/* The version 2 header: varints, each checked against its limit as it is read. */
static int info_v2(const uint8_t *p, size_t n, gb_block_info_t *x)
{
    gb_rd_t r;
    uint64_t count, t0, span, tb, vb;
    gb_rd_init(&r, p, n);
    r.pos = 4;
    if (gb_rd_count(&r, GB_BLOCK_MAX_POINTS, &count) || gb_rd_varint(&r, &t0) ||
        gb_rd_varint(&r, &span) || gb_rd_count(&r, GB_BLOCK_MAX_BYTES, &tb) ||
        gb_rd_count(&r, GB_BLOCK_MAX_BYTES, &vb))
        return GB_EPROTO;
    *x = (gb_block_info_t){
        .version = 2,
        .type = (gb_vtype_t)p[1],
        .time_codec = p[2],
        .value_codec = p[3],
        .count = (uint32_t)count,
        .t_first = gb_unzz(t0),
        .t_last = (int64_t)((uint64_t)gb_unzz(t0) + span),
        .time_bytes = (uint32_t)tb,
        .value_bytes = (uint32_t)vb,
        .header_bytes = (uint32_t)r.pos,
    };
    return 0;
}

int gb_block_info(const uint8_t *p, size_t n, gb_block_info_t *info)
{
    gb_block_info_t x;
    if (n < GB_BLOCK_MIN_BYTES) return GB_EPROTO;
    if (p[0] == 1 ? info_v1(p, n, &x) : p[0] == 2 ? info_v2(p, n, &x) : GB_EPROTO) return GB_EPROTO;
    uint64_t total = (uint64_t)x.header_bytes + x.time_bytes + x.value_bytes + 4;
    if (x.type < GB_VT_F64 || x.type > GB_VT_STR || !codec_fits(x.type, x.value_codec))
        return GB_EPROTO;
    if (x.time_codec > 31 || !(GB_IC_TIME & GB_IC(x.time_codec))) return GB_EPROTO;
    if (x.count < 1 || x.count > GB_BLOCK_MAX_POINTS) return GB_EPROTO;
    if (x.count == 1 ? x.t_first != x.t_last : x.t_first >= x.t_last) return GB_EPROTO;
    if (total > GB_BLOCK_MAX_BYTES || total > n) return GB_EPROTO;
    x.bytes = (uint32_t)total;
    *info = x;
    return 0;
}

void gb_block_out_init(gb_block_out_t *o)
{
    memset(o, 0, sizeof *o);
    gb_buf_init(&o->abuf_);
}

void gb_block_out_clear(gb_block_out_t *o)
{
    free(o->tbuf_);
    free(o->vbuf_);
    free(o->sbuf_);
    gb_buf_clear(&o->abuf_);
    gb_block_out_init(o);
}

/* Makes room for N points in O. */
static int out_reserve(gb_block_out_t *o, size_t n)
{
    if (n <= o->cap_) return 0;
    void *t = realloc(o->tbuf_, n * 8);
    if (t) o->tbuf_ = t;
    void *v = realloc(o->vbuf_, n * 8);
    if (v) o->vbuf_ = v;
    void *s = realloc(o->sbuf_, n * 16);
    if (s) o->sbuf_ = s;
    if (!t || !v || !s) return GB_ENOMEM;
    o->cap_ = n;
    return 0;
}

static int decode_values(const gb_block_info_t *h, gb_rd_t *r, gb_block_out_t *o)
{
    int64_t *tmp = o->sbuf_;
    uint8_t c;
    int rc;
    switch (h->type) {
    case GB_VT_F64: {
        int e;
        o->f64 = o->vbuf_;
        rc = gb_fcodec_decode(h->value_codec, r, h->count, o->f64, tmp, o->want_digits ? &e : NULL);
        if (!rc && o->want_digits && e >= 0) {
            o->f64 = NULL;
            o->dig = tmp;
            o->dscale = GB_P10[e];
        }
        return rc;
    }
    case GB_VT_I64:
        o->i64 = o->vbuf_;
        rc = gb_icodec_decode(r, h->count, GB_IC_ALL, o->i64, &c);
        return rc ? rc : c == h->value_codec ? 0 : GB_EPROTO;
    case GB_VT_BOOL:
        o->b = o->vbuf_;
        if ((rc = gb_icodec_decode(r, h->count, GB_IC_ALL, tmp, &c))) return rc;
        if (c != h->value_codec) return GB_EPROTO;
        for (size_t i = 0; i < h->count; i++) {
            if ((uint64_t)tmp[i] > 1) return GB_EPROTO;
            o->b[i] = (uint8_t)tmp[i];
        }
        return 0;
    case GB_VT_STR:
        o->str = o->vbuf_;
        if ((rc = gb_scodec_decode(h->value_codec, r, h->count, o->str, &o->abuf_, tmp))) return rc;
        if (!o->abuf_.p && (rc = gb_buf_reserve(&o->abuf_, 1))) return rc; /* never NULL */
        o->arena = (char *)o->abuf_.p;
        o->arena_len = o->abuf_.len;
        return 0;
    }
    return GB_EPROTO;
}

static int decode(const uint8_t *p, size_t n, gb_block_out_t *o)
{
    gb_block_info_t h;
    int rc = gb_block_info(p, n, &h);
    if (rc) return rc;
    if (h.bytes != n) return GB_EPROTO;
    if (gb_crc32(p, n - 4) != gb_load32le(p + n - 4)) return GB_EPROTO;
    if ((rc = out_reserve(o, h.count))) return rc;

    gb_rd_t r;
    uint8_t tc;
    o->t = o->tbuf_;
    gb_rd_init(&r, p + h.header_bytes, h.time_bytes);
    /* version 2 holds the times less the first, which the header has */
    int64_t base = h.version >= 2 ? h.t_first : 0, t0, step;
    if (o->want_step && gb_icodec_regular(&r, h.count, GB_IC_TIME, base, &t0, &step, &tc)) {
        /* checked as the times would be; rising, the stream says */
        if (tc != h.time_codec || gb_rd_left(&r) || t0 != h.t_first ||
            (uint64_t)t0 + (h.count - 1) * (uint64_t)step != (uint64_t)h.t_last)
            return GB_EPROTO;
        o->t = NULL;
        o->t0 = t0;
        o->tstep = step;
    } else {
        bool rising;
        rc = gb_icodec_decode_from(&r, h.count, GB_IC_TIME, base, o->t, &tc, &rising);
        if (rc) return rc;
        if (tc != h.time_codec || gb_rd_left(&r)) return GB_EPROTO;
        if (o->t[0] != h.t_first || o->t[h.count - 1] != h.t_last) return GB_EPROTO;
        /* the header has the last time above the first: steps the stream showed to be at least
         * 1, adding up to less than 2^63, make every time above the one before */
        for (size_t i = 1; i < h.count && !rising; i++)
            if (o->t[i] <= o->t[i - 1]) return GB_EPROTO;
    }

    gb_rd_init(&r, p + h.header_bytes + h.time_bytes, h.value_bytes);
    if ((rc = decode_values(&h, &r, o))) return rc;
    if (gb_rd_left(&r)) return GB_EPROTO;
    o->type = h.type;
    o->n = h.count;
    o->time_codec = h.time_codec;
    o->value_codec = h.value_codec;
    return 0;
}

/* Leaves O holding no points (its storage stays for the next decode). */
static void out_empty(gb_block_out_t *o)
{
    o->n = 0;
    o->t = NULL;
    o->t0 = o->tstep = 0;
    o->f64 = NULL;
    o->dig = NULL;
    o->i64 = NULL;
    o->b = NULL;
    o->str = NULL;
    o->arena = NULL;
    o->arena_len = 0;
}

int gb_block_decode(const uint8_t *p, size_t n, gb_block_out_t *out)
{
    out_empty(out);
    int rc = decode(p, n, out);
    if (rc) out_empty(out);
    return rc;
}
