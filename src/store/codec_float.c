/*
 * Float values. Four codecs, chosen per block:
 *
 * DECIMAL (after ALP, Afroozeh & Boncz, SIGMOD 2024). Sensor values are mostly short decimals
 * printed by an instrument -- 0.0265878, 233.062 -- held as the nearest double. Such a value v
 * is d / 10^e for an integer d, so the block stores one exponent e and the integers d through the
 * integer codec (FOR, delta, dictionary ... whichever is smallest), which is where the real
 * compression happens. Unlike ALP, which decodes d * 10^-f * 10^-e with an inexact reciprocal,
 * we decode with one correctly rounded division d / 10^e: both d and 10^e (e <= 18) are exact
 * doubles, so the quotient is the double nearest to the decimal -- precisely what parsing the
 * decimal text gave. Every short decimal therefore round-trips; ALP's second factor and its
 * search over (e, f) pairs are not needed. Each value is checked bit for bit at encode time; the
 * ones that fail are exceptions:
 *   near  d / 10^e misses v by a few units in the last place (values like 74.93588199999998,
 *         left over from arithmetic on a decimal): stored as a position and a small signed
 *         difference of the bit patterns, so they cost a dozen bits, not 64;
 *   far   NaN, infinities, -0.0, values too large for e: stored as a position and the raw bits
 *         (through the integer codec, so a run of NaN costs almost nothing).
 * The exponent is picked on a sample: each sampled value's smallest working e, then the e that
 * minimises the estimated bits (3.3 bits per value per extra digit against the price of the
 * exceptions a smaller e leaves: a dozen bits for near ones, 70 for far ones).
 *
 * GORILLA (Pelkonen et al., VLDB 2015): XOR with the previous value, leading/trailing zero
 * window. The baseline, and a fallback for values that are not decimals.
 *
 * CHIMP (Chimp128, Liakos et al., VLDB 2022): XOR with whichever of the last 128 values shares
 * the most trailing bits (found through a table keyed by the low 14 bits), rounded leading-zero
 * counts in 3 bits, and a cheaper code when the leading zeros repeat.
 *
 * F64BITS: the IEEE bit patterns as integers through the integer codec, which wins for constant
 * or few-valued series that are not decimals (a stuck 1/3, repeated NaN).
 *
 * Choosing: DECIMAL is encoded in full when the sample says it applies; Gorilla and Chimp are
 * estimated on sample slices and encoded only when the estimate beats what we have; F64BITS is
 * sized only when DECIMAL had exceptions or did not apply. The smallest result is kept.
 *
 * Section layouts (after the block header, which names the codec):
 *   DECIMAL  u8 e | n_near | n_far | digits stream | [near positions, near differences]
 *            | [far positions, far bits]          (streams are integer streams, codec_int.c)
 *   GORILLA  bits: v0 in 64; then '0' (same) | '10' + bits inside the previous window
 *            | '11' + 5 bits leading zeros + 6 bits length (0 = 64) + the bits
 *   CHIMP    bits: v0 in 64; then 2-bit flag: 00 + 7-bit ring slot (same value)
 *            | 01 + slot + 3-bit leading code + 6-bit length + bits (many trailing zeros)
 *            | 10 + 64-lead bits (leading zeros as before) | 11 + 3-bit leading code + bits
 *   F64BITS  one integer stream of the bit patterns
 */
#include "store/codec_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define NEAR_LIMIT (INT64_C(1) << 20) /* |bit difference| of a near exception */
#define NEAR_BITS 12  /* estimated cost of a near exception, besides its difference */
#define FAR_BITS 72   /* and of a far one */
#define XOR_SLICE 128 /* values per sampled slice for Gorilla/Chimp */

/* ---- Gorilla ---- */

/* Counts the bits for V[0..N), writing them to W unless W is NULL. */
static uint64_t gorilla_run(const double *v, size_t n, gb_bitw_t *w)
{
    uint64_t bits = 64, prev = gb_f2u(v[0]);
    unsigned plead = 65, ptrail = 0; /* no window yet */
    if (w) gb_bitw_put(w, prev, 64);
    for (size_t i = 1; i < n; i++) {
        uint64_t cur = gb_f2u(v[i]), x = cur ^ prev;
        prev = cur;
        if (!x) {
            bits += 1;
            if (w) gb_bitw_put(w, 0, 1);
            continue;
        }
        unsigned lead = (unsigned)__builtin_clzll(x), trail = (unsigned)__builtin_ctzll(x);
        if (lead > 31) lead = 31;
        if (lead >= plead && trail >= ptrail) {
            unsigned sig = 64 - plead - ptrail;
            bits += 2 + sig;
            if (w) {
                gb_bitw_put(w, 1, 2);
                gb_bitw_put(w, x >> ptrail, sig);
            }
        } else {
            unsigned sig = 64 - lead - trail;
            bits += 13 + sig;
            if (w) {
                gb_bitw_put(w, 3 | lead << 2 | (sig & 63) << 7, 13);
                gb_bitw_put(w, x >> trail, sig);
            }
            plead = lead;
            ptrail = trail;
        }
    }
    return bits;
}

static int gorilla_decode(gb_bitr_t *r, size_t n, double *v)
{
    uint64_t prev = gb_bitr_get(r, 64);
    unsigned plead = 65, ptrail = 0;
    v[0] = gb_u2f(prev);
    for (size_t i = 1; i < n && !r->bad; i++) {
        if (gb_bitr_get(r, 1)) {
            if (gb_bitr_get(r, 1)) {
                unsigned lead = (unsigned)gb_bitr_get(r, 5), sig = (unsigned)gb_bitr_get(r, 6);
                if (!sig) sig = 64;
                if (lead + sig > 64) return GB_EPROTO;
                plead = lead;
                ptrail = 64 - lead - sig;
            } else if (plead == 65) {
                return GB_EPROTO;
            }
            prev ^= gb_bitr_get(r, 64 - plead - ptrail) << ptrail;
        }
        v[i] = gb_u2f(prev);
    }
    return r->bad ? GB_EPROTO : 0;
}

/* ---- Chimp128 ---- */

#define CHIMP_RING 128
#define CHIMP_KEY_BITS 14
#define CHIMP_TRAIL_MIN 13 /* more trailing zeros than this: worth naming a ring slot */

static const uint8_t LEAD_ROUND[65] = {
    0,  0,  0,  0,  0,  0,  0,  0,  8,  8,  8,  8,  12, 12, 12, 12, 16, 16, 18, 18, 20, 20,
    22, 22, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24,
    24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24};
static const uint8_t LEAD_CODE[25] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2,
                                      0, 0, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7};
static const uint8_t LEAD_VALUE[8] = {0, 8, 12, 16, 18, 20, 22, 24};

static uint64_t chimp_run(const double *v, size_t n, gb_bitw_t *w, int32_t *last)
{
    uint64_t ring[CHIMP_RING] = {0}, bits = 64;
    const uint64_t keymask = (UINT64_C(1) << CHIMP_KEY_BITS) - 1;
    unsigned plead = 65;
    memset(last, 0xff, sizeof(int32_t) << CHIMP_KEY_BITS);
    ring[0] = gb_f2u(v[0]);
    last[ring[0] & keymask] = 0;
    if (w) gb_bitw_put(w, ring[0], 64);
    for (size_t i = 1; i < n; i++) {
        uint64_t cur = gb_f2u(v[i]);
        unsigned slot = (unsigned)((i - 1) % CHIMP_RING);
        uint64_t x = cur ^ ring[slot];
        int32_t c = last[cur & keymask];
        if (c >= 0 && i - (size_t)c <= CHIMP_RING) {
            uint64_t t = cur ^ ring[c % CHIMP_RING];
            if (!t || __builtin_ctzll(t) > CHIMP_TRAIL_MIN) {
                slot = (unsigned)(c % CHIMP_RING);
                x = t;
            }
        }
        if (!x) {
            bits += 9;
            if (w) gb_bitw_put(w, (uint64_t)slot << 2, 9);
            plead = 65;
        } else {
            unsigned lead = LEAD_ROUND[__builtin_clzll(x)], trail = (unsigned)__builtin_ctzll(x);
            if (trail > CHIMP_TRAIL_MIN) {
                unsigned sig = 64 - lead - trail;
                bits += 18 + sig;
                if (w) {
                    gb_bitw_put(
                        w, 1 | slot << 2 | (uint64_t)LEAD_CODE[lead] << 9 | (uint64_t)sig << 12,
                        18);
                    gb_bitw_put(w, x >> trail, sig);
                }
                plead = 65;
            } else if (lead == plead) {
                /* from here on x is against the previous value: a slot's has > 13 trailing zeros */
                bits += 2 + 64 - lead;
                if (w) {
                    gb_bitw_put(w, 2, 2);
                    gb_bitw_put(w, x, 64 - lead);
                }
            } else {
                bits += 5 + 64 - lead;
                if (w) {
                    gb_bitw_put(w, 3 | (uint64_t)LEAD_CODE[lead] << 2, 5);
                    gb_bitw_put(w, x, 64 - lead);
                }
                plead = lead;
            }
        }
        ring[i % CHIMP_RING] = cur;
        last[cur & keymask] = (int32_t)i;
    }
    return bits;
}

static int chimp_decode(gb_bitr_t *r, size_t n, double *v)
{
    uint64_t ring[CHIMP_RING] = {0};
    unsigned plead = 65;
    ring[0] = gb_bitr_get(r, 64);
    v[0] = gb_u2f(ring[0]);
    for (size_t i = 1; i < n && !r->bad; i++) {
        uint64_t cur, prev = ring[(i - 1) % CHIMP_RING];
        switch (gb_bitr_get(r, 2)) {
        case 0:
            cur = ring[gb_bitr_get(r, 7)];
            plead = 65;
            break;
        case 1: {
            uint64_t ref = ring[gb_bitr_get(r, 7)];
            unsigned lead = LEAD_VALUE[gb_bitr_get(r, 3)], sig = (unsigned)gb_bitr_get(r, 6);
            if (!sig || lead + sig > 64) return GB_EPROTO;
            cur = ref ^ gb_bitr_get(r, sig) << (64 - lead - sig);
            plead = 65;
            break;
        }
        case 2:
            if (plead == 65) return GB_EPROTO;
            cur = prev ^ gb_bitr_get(r, 64 - plead);
            break;
        default:
            plead = LEAD_VALUE[gb_bitr_get(r, 3)];
            cur = prev ^ gb_bitr_get(r, 64 - plead);
            break;
        }
        ring[i % CHIMP_RING] = cur;
        v[i] = gb_u2f(cur);
    }
    return r->bad ? GB_EPROTO : 0;
}

static int32_t *chimp_table(void)
{
    return malloc(sizeof(int32_t) << CHIMP_KEY_BITS);
}

uint64_t gb_gorilla_bits(const double *v, size_t n)
{
    return gorilla_run(v, n, NULL);
}

uint64_t gb_chimp_bits(const double *v, size_t n)
{
    int32_t *last = chimp_table();
    uint64_t bits = last ? chimp_run(v, n, NULL, last) : UINT64_MAX;
    free(last);
    return bits;
}

/* Appends the XOR codec's bits (GORILLA or CHIMP) for V to OUT. */
static int xor_encode(int codec, const double *v, size_t n, gb_buf_t *out)
{
    int32_t *last = NULL;
    if (codec == GB_CODEC_CHIMP && !(last = chimp_table())) return GB_ENOMEM;
    /* worst case: 82 bits a value */
    int rc = gb_buf_reserve(out, n * 11 + 8 + GB_BITW_SLACK);
    if (!rc) {
        gb_bitw_t w;
        gb_bitw_init(&w, out->p + out->len);
        if (codec == GB_CODEC_CHIMP)
            chimp_run(v, n, &w, last);
        else
            gorilla_run(v, n, &w);
        out->len = (size_t)(gb_bitw_finish(&w) - out->p);
    }
    free(last);
    return rc;
}

static int xor_decode(int codec, gb_rd_t *r, size_t n, double *v)
{
    gb_bitr_t br;
    gb_bitr_init(&br, r->p + r->pos, gb_rd_left(r));
    int rc = codec == GB_CODEC_CHIMP ? chimp_decode(&br, n, v) : gorilla_decode(&br, n, v);
    if (!rc) r->pos += (br.pos + 7) / 8;
    return rc;
}

/* ---- decimal ---- */

/* True when V round-trips through exponent E. A multiplication says whether v * 10^e is close
 * to an integer; only then the division that decoding does confirms it. */
static int dec_works(double v, unsigned e)
{
    double x = v * GB_P10[e], back;
    int64_t d;
    if (!(fabs(x) < GB_DEC_LIMIT)) return 0;
    double r = (x + GB_DEC_ROUND) - GB_DEC_ROUND;
    return fabs(x - r) <= fabs(x) * 0x1p-50 && gb_dec_digits(v, e, &d, &back) == 1;
}

/*
 * The smallest exponent that makes V round-trip, or -1. Neighbouring values of a series need
 * about the same exponent, so the search starts at HINT (the previous answer) and walks down
 * while it still works, or up until it does.
 */
static int dec_smallest(double v, int hint)
{
    int e = hint;
    if (dec_works(v, (unsigned)e)) {
        while (e > 0 && dec_works(v, (unsigned)e - 1))
            e--;
        return e;
    }
    while (++e <= GB_DEC_EXP_MAX)
        if (dec_works(v, (unsigned)e)) return e;
    return -1;
}

/* Estimated bits of V as an exception at exponent E: near ones pay for their difference. */
static double exception_bits(double v, unsigned e)
{
    int64_t d;
    double back;
    if (gb_dec_digits(v, e, &d, &back) < 0) return FAR_BITS;
    int64_t diff = (int64_t)(gb_f2u(v) - gb_f2u(back));
    if (diff <= -NEAR_LIMIT || diff >= NEAR_LIMIT) return FAR_BITS;
    return NEAR_BITS + gb_bits(gb_zz(diff));
}

/*
 * The exponent for V, from a sample, or -1 when most samples are no decimal at all. Each sampled
 * value's smallest working exponent is found; then every exponent in the range they span is
 * priced: 3.32 bits a value for each digit, or the value's cost as an exception where it needs
 * more digits. (A value that needs one digit more is a near exception when it is arithmetic
 * noise, 74.93588199999998, but a far one when it is a real digit, 0.629231 at e = 5.)
 */
static int dec_exponent(const double *v, size_t n)
{
    enum { MAX_SAMPLE = 128 };
    size_t cnt = n / 32, none = 0;
    cnt = cnt < 32 ? 32 : cnt > MAX_SAMPLE ? MAX_SAMPLE : cnt;
    cnt = cnt > n ? n : cnt;
    int es[MAX_SAMPLE], hint = 0, lo = GB_DEC_EXP_MAX, hi = 0;
    for (size_t j = 0; j < cnt; j++) {
        es[j] = dec_smallest(v[j * n / cnt], hint);
        if (es[j] < 0) {
            none++;
            continue;
        }
        hint = es[j];
        lo = hint < lo ? hint : lo;
        hi = hint > hi ? hint : hi;
    }
    if (none * 2 > cnt) return -1;
    double best = 0;
    int best_e = lo;
    for (int e = lo; e <= hi; e++) {
        double cost = 0;
        for (size_t j = 0; j < cnt; j++)
            if (es[j] >= 0)
                cost += es[j] <= e ? 3.32 * e : exception_bits(v[j * n / cnt], (unsigned)e);
        if (e == lo || cost < best) {
            best = cost;
            best_e = e;
        }
    }
    return best_e;
}

/*
 * Appends the DECIMAL section for V with exponent E to OUT; *EXCEPTIONS gets their number.
 * 0 or GB_ENOMEM.
 */
static int dec_encode(const double *v, size_t n, unsigned e, gb_buf_t *out, size_t *exceptions)
{
    /* digits, then positions and values of exceptions: near ones from the front, far from the
     * back; then the rounded digits as doubles */
    int64_t *dig = malloc(3 * n * sizeof *dig), *pos = dig + n, *val = pos + n;
    double *rr = malloc(n * sizeof *rr);
    int rc = GB_ENOMEM;
    if (!dig || !rr) goto out;
    /* the common case first, without branches: every value's digits r (0 when out of range, so
     * that the conversion below is defined) and whether all of them divide back bit for bit.
     * The division bounds the loop, so SSE2 does two at a time. */
    const double p = GB_P10[e];
    uint64_t fails = 0;
    size_t i = 0;
#ifdef __SSE2__
    const __m128d vp = _mm_set1_pd(p), magic = _mm_set1_pd(GB_DEC_ROUND);
    const __m128d limit = _mm_set1_pd(GB_DEC_LIMIT), sign = _mm_set1_pd(-0.0);
    for (; i + 2 <= n; i += 2) {
        __m128d vv = _mm_loadu_pd(v + i), x = _mm_mul_pd(vv, vp);
        __m128d r = _mm_sub_pd(_mm_add_pd(x, magic), magic);
        r = _mm_and_pd(r, _mm_cmplt_pd(_mm_andnot_pd(sign, x), limit));
        _mm_storeu_pd(rr + i, r);
        __m128i eq = _mm_cmpeq_epi32(_mm_castpd_si128(_mm_div_pd(r, vp)), _mm_castpd_si128(vv));
        fails |= _mm_movemask_epi8(eq) != 0xffff;
    }
#endif
    for (; i < n; i++) {
        double x = v[i] * p, r = (x + GB_DEC_ROUND) - GB_DEC_ROUND;
        rr[i] = r = fabs(x) < GB_DEC_LIMIT ? r : 0;
        fails |= gb_f2u(r / p) != gb_f2u(v[i]);
    }
    for (i = 0; i < n; i++)
        dig[i] = (int64_t)rr[i];
    size_t nn = 0, nf = 0, first_ok = fails ? n : 0;
    for (i = 0; i < n && fails; i++) {
        double back = rr[i] / p;
        if (gb_f2u(back) == gb_f2u(v[i])) {
            if (first_ok == n) first_ok = i;
            continue;
        }
        int64_t diff =
            fabs(v[i] * p) < GB_DEC_LIMIT ? (int64_t)(gb_f2u(v[i]) - gb_f2u(back)) : INT64_MIN;
        if (diff > -NEAR_LIMIT && diff < NEAR_LIMIT) {
            if (first_ok == n) first_ok = i;
            pos[nn] = (int64_t)i;
            val[nn++] = diff;
            continue;
        }
        /* far: keep the digits stream smooth by repeating the previous digits */
        nf++;
        pos[n - nf] = (int64_t)i;
        val[n - nf] = (int64_t)gb_f2u(v[i]);
        dig[i] = i ? dig[i - 1] : 0;
    }
    for (i = 0; i < first_ok && first_ok < n; i++)
        dig[i] = dig[first_ok];
    for (i = 0; i < nf / 2; i++) { /* far ones went in backwards */
        int64_t tp = pos[n - nf + i], tv = val[n - nf + i];
        pos[n - nf + i] = pos[n - 1 - i];
        val[n - nf + i] = val[n - 1 - i];
        pos[n - 1 - i] = tp;
        val[n - 1 - i] = tv;
    }
    if ((rc = gb_buf_reserve(out, 21))) goto out;
    gb_buf_put_u8(out, (uint8_t)e);
    gb_buf_put_varint(out, nn);
    gb_buf_put_varint(out, nf);
    rc = gb_icodec_encode(dig, n, GB_IC_ALL, out, NULL);
    if (!rc && nn) rc = gb_icodec_encode(pos, nn, GB_IC_PLAIN, out, NULL);
    if (!rc && nn) rc = gb_icodec_encode(val, nn, GB_IC_PLAIN, out, NULL);
    if (!rc && nf) rc = gb_icodec_encode(pos + n - nf, nf, GB_IC_PLAIN, out, NULL);
    if (!rc && nf) rc = gb_icodec_encode(val + n - nf, nf, GB_IC_PLAIN, out, NULL);
    *exceptions = nn + nf;
out:
    free(dig);
    free(rr);
    return rc;
}

/* Reads K exception positions (strictly increasing, below N) and values into TMP[0..2K). */
static int read_exceptions(gb_rd_t *r, size_t k, size_t n, int64_t *tmp)
{
    int rc = gb_icodec_decode(r, k, GB_IC_PLAIN, tmp, NULL);
    if (!rc) rc = gb_icodec_decode(r, k, GB_IC_PLAIN, tmp + k, NULL);
    for (size_t i = 0; !rc && i < k; i++)
        if ((uint64_t)tmp[i] >= n || (i && tmp[i] <= tmp[i - 1])) rc = GB_EPROTO;
    return rc;
}

/* Reads a DECIMAL section of N values into V (TMP: scratch for 2N integers). With DIGITS_E (-1
 * on the way in), a section without exceptions leaves V alone and gives its exponent there, the
 * digits in TMP[0..N); otherwise V gets the values. */
static int dec_decode(gb_rd_t *r, size_t n, double *v, int64_t *tmp, int *digits_e)
{
    uint8_t e;
    uint64_t nn, nf;
    int rc;
    if ((rc = gb_rd_u8(r, &e)) || (rc = gb_rd_count(r, n, &nn)) ||
        (rc = gb_rd_count(r, n - nn, &nf)))
        return rc;
    if (e > GB_DEC_EXP_MAX) return GB_EPROTO;
    if ((rc = gb_icodec_decode(r, n, GB_IC_ALL, tmp, NULL))) return rc;
    if (digits_e && nn + nf == 0) {
        *digits_e = e;
        return 0;
    }
    const double p = GB_P10[e];
    size_t i = 0;
#ifdef __SSE2__
    const __m128d vp = _mm_set1_pd(p); /* the division bounds the loop: two at a time */
    for (; i + 2 <= n; i += 2)
        _mm_storeu_pd(v + i, _mm_div_pd(_mm_set_pd((double)tmp[i + 1], (double)tmp[i]), vp));
#endif
    for (; i < n; i++)
        v[i] = (double)tmp[i] / p;
    if (nn) {
        if ((rc = read_exceptions(r, nn, n, tmp))) return rc;
        for (i = 0; i < nn; i++)
            v[tmp[i]] = gb_u2f(gb_f2u(v[tmp[i]]) + (uint64_t)tmp[nn + i]);
    }
    if (nf) {
        if ((rc = read_exceptions(r, nf, n, tmp))) return rc;
        for (i = 0; i < nf; i++)
            v[tmp[i]] = gb_u2f((uint64_t)tmp[nf + i]);
    }
    return 0;
}

/* ---- bit patterns ---- */

static int64_t *f64_bits(const double *v, size_t n)
{
    int64_t *b = malloc(n * sizeof *b);
    if (b) memcpy(b, v, n * sizeof *b);
    return b;
}

static int bits_encode(const double *v, size_t n, gb_buf_t *out)
{
    int64_t *b = f64_bits(v, n);
    if (!b) return GB_ENOMEM;
    int rc = gb_icodec_encode(b, n, GB_IC_ALL, out, NULL);
    free(b);
    return rc;
}

/* ---- choosing ---- */

static int encode_as(int codec, const double *v, size_t n, gb_buf_t *out)
{
    size_t exc;
    int e;
    switch (codec) {
    case GB_CODEC_GORILLA:
    case GB_CODEC_CHIMP:
        return xor_encode(codec, v, n, out);
    case GB_CODEC_F64BITS:
        return bits_encode(v, n, out);
    case GB_CODEC_DECIMAL:
        e = dec_exponent(v, n);
        return dec_encode(v, n, e < 0 ? 0 : (unsigned)e, out, &exc);
    }
    return GB_EINVAL;
}

/*
 * Estimated bytes of codec C (GORILLA or CHIMP) for V, from up to three slices of XOR_SLICE
 * values (the start, the middle, the end). UINT64_MAX when memory ran out.
 */
static uint64_t xor_estimate(int c, const double *v, size_t n)
{
    size_t m = n < XOR_SLICE ? n : XOR_SLICE, at[3] = {0, (n - m) / 2, n - m}, seen = 0;
    uint64_t bits = 0;
    int32_t *last = NULL;
    if (c == GB_CODEC_CHIMP && !(last = chimp_table())) return UINT64_MAX;
    for (int s = 0; s < 3; s++) {
        if (s && at[s] == at[s - 1]) continue;
        bits += last ? chimp_run(v + at[s], m, NULL, last) : gorilla_run(v + at[s], m, NULL);
        seen += m;
    }
    free(last);
    return bits * n / seen / 8 + 1;
}

typedef struct pick {
    gb_buf_t *out;
    size_t start; /* where the section begins in OUT */
    size_t bytes; /* of the best so far (SIZE_MAX: none) */
    uint8_t codec;
    gb_buf_t tmp;
} pick_t;

/* Encodes V with CODEC into the scratch buffer and keeps it when smaller than the best so far. */
static int pick_try(pick_t *pk, int codec, const double *v, size_t n)
{
    pk->tmp.len = 0;
    int rc = encode_as(codec, v, n, &pk->tmp);
    if (rc || pk->tmp.len >= pk->bytes) return rc;
    pk->out->len = pk->start;
    if ((rc = gb_buf_append(pk->out, pk->tmp.p, pk->tmp.len))) return rc;
    pk->bytes = pk->tmp.len;
    pk->codec = (uint8_t)codec;
    return 0;
}

static int choose(const double *v, size_t n, gb_buf_t *out, uint8_t *codec)
{
    pick_t pk = {.out = out, .start = out->len, .bytes = SIZE_MAX};
    gb_buf_init(&pk.tmp);
    int rc = 0, e = dec_exponent(v, n);
    size_t exc = n;
    if (e >= 0) {
        if ((rc = dec_encode(v, n, (unsigned)e, out, &exc))) goto out;
        pk.bytes = out->len - pk.start;
        pk.codec = GB_CODEC_DECIMAL;
    }
    /* XOR codecs spend a dozen bits or more on every value that changes, and repeats are cheap
     * for the decimal codec too: when it is under 12 bits a value they cannot win, so they are
     * not even estimated. Chimp, which needs a 64 KiB table, only when Gorilla comes close. */
    if (pk.bytes >= n + n / 2) {
        uint64_t g = xor_estimate(GB_CODEC_GORILLA, v, n), c = UINT64_MAX;
        if (g < pk.bytes + pk.bytes / 4) c = xor_estimate(GB_CODEC_CHIMP, v, n);
        if ((g < c ? g : c) < pk.bytes &&
            (rc = pick_try(&pk, g < c ? GB_CODEC_GORILLA : GB_CODEC_CHIMP, v, n)))
            goto out;
    }
    if (exc) {
        int64_t *b = f64_bits(v, n);
        if (!b) {
            rc = GB_ENOMEM;
            goto out;
        }
        size_t sz = gb_icodec_size(b, n, GB_IC_ALL);
        free(b);
        if (sz < pk.bytes && (rc = pick_try(&pk, GB_CODEC_F64BITS, v, n))) goto out;
    }
    *codec = pk.codec;
out:
    gb_buf_clear(&pk.tmp);
    if (rc) out->len = pk.start;
    return rc;
}

int gb_fcodec_encode(const double *v, size_t n, int force, gb_buf_t *out, uint8_t *codec)
{
    if (!force) return choose(v, n, out, codec);
    size_t start = out->len;
    int rc = encode_as(force, v, n, out);
    if (rc)
        out->len = start;
    else
        *codec = (uint8_t)force;
    return rc;
}

int gb_fcodec_decode(uint8_t codec, gb_rd_t *r, size_t n, double *v, int64_t *tmp, int *digits_e)
{
    if (digits_e) *digits_e = -1;
    switch (codec) {
    case GB_CODEC_GORILLA:
    case GB_CODEC_CHIMP:
        return xor_decode(codec, r, n, v);
    case GB_CODEC_DECIMAL:
        return dec_decode(r, n, v, tmp, digits_e);
    case GB_CODEC_F64BITS: {
        int rc = gb_icodec_decode(r, n, GB_IC_ALL, tmp, NULL);
        if (!rc) memcpy(v, tmp, n * sizeof *v);
        return rc;
    }
    }
    return GB_EPROTO;
}
