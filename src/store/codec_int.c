/*
 * Integer streams: the workhorse under every block. Timestamps, integer values, booleans, the
 * digits of decimal floats, dictionary ids and run lengths all end up here.
 *
 * The plain codecs transform the sequence and bit-pack the result:
 *   FOR    y = x                    (frame of reference)
 *   DELTA  y = x[i] - x[i-1]        (counters, smooth signals)
 *   DOD    y = delta[i] - delta[i-1] (timestamps: regular sampling gives y = 0)
 * y is cut into mini-blocks of 32 << shift values; each mini-block stores its minimum and packs
 * (y - minimum) / g in just enough bits, where g is the greatest common divisor of all y - min(y)
 * over the stream. The divisor is what makes timestamps cheap: samples stamped in whole seconds
 * differ by multiples of 10^9 ns, so a one-second hiccup in a 1 Hz series costs one bit instead
 * of thirty. Mini-blocks let a long stream adapt to local ranges; their size is chosen per stream.
 * A mini-block whose values span R levels, R not a power of two, may instead pack them in mixed
 * radix (codec_bits.h): a random walk's steps of -1, 0 and 1 take 1.6 bits each, not 2.
 * All arithmetic wraps modulo 2^64, so any int64 sequence round-trips, INT64_MIN next to
 * INT64_MAX included.
 *
 * Stream layout (varints LEB128; zz = zigzag):
 *   RAW    u8 codec | n x u64
 *   FOR..  u8 codec | [zz x0 if DELTA/DOD] [zz x1-x0 if DOD] | u8 shift | zz base | g
 *          then per mini-block: u8 width | zz(q - previous q) | packed (y - min) / g
 *          where a mini-block's minimum is base + q * g; or, in mixed radix,
 *          u8 0x80 | zz(q - previous q) | R | groups of (y - min) / g < R
 *          (streams written before mixed radix never have a width byte above 64)
 *   DICT   u8 codec | k | plain stream of the k distinct values, ascending | plain stream of ids
 *   RLE    u8 codec | k | plain stream of the k run values | plain stream of the k run lengths
 *   DELTA_RLE  u8 codec | zz x0 | RLE's body for the n - 1 steps x[i] - x[i-1] (k = 0 if n = 1)
 * Dictionary ids follow the values' order, so a smooth signal keeps smooth ids.
 *
 * Choosing: the size of every plain candidate is computed exactly and cheaply from per-32-value
 * minima and maxima gathered for all orders in one pass (no trial encoding); a long stream first
 * compares the orders on a prefix and drops the clear losers. DICT and the run codecs are sized
 * exactly too, but only tried when a quick look (a sample's distinct values, a prefix's runs)
 * says they may win. Exact division by g uses the multiplicative inverse of its odd part
 * (Granlund-Montgomery), so the divisor costs a multiply per value, not a division.
 *
 * Decoding DELTA runs its sum a mini-block at a time, and fills a mini-block of one step (width
 * 0: regular times) without a sum at all. It also tells whether the values rise (every step at
 * least 1, all of them below 2^63), which spares a block of times its check that each time is
 * above the one before.
 */
#include "store/codec_impl.h"
#include "util/clones.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 32u        /* values per chunk, the grain of mini-block statistics */
#define RADIX_MARK 0x80u /* a mini-block's width byte for mixed radix (its range follows q) */
#define MAX_SHIFT 5u     /* mini-blocks of 32 << 0..5 values */
#define DICT_MAX 16384   /* distinct values a dictionary may hold */
#define SAMPLE 128       /* values looked at to decide whether a dictionary or runs may pay */
#define PRUNE_SAMPLE 256 /* values a long stream's orders are first compared on */

/* ---- exact division by a divisor known to divide ---- */

typedef struct divisor {
    uint64_t inv;  /* inverse of the odd part modulo 2^64 */
    uint64_t lim;  /* UINT64_MAX / odd part: the divisibility bound */
    uint64_t mask; /* the low bits that must be zero */
    unsigned tz;   /* trailing zero bits of g */
} divisor_t;

/* G 0 makes a divisor that only 0 passes. */
static void divisor_init(divisor_t *d, uint64_t g)
{
    if (!g) {
        *d = (divisor_t){.inv = 0, .lim = UINT64_MAX, .mask = UINT64_MAX, .tz = 0};
        return;
    }
    d->tz = (unsigned)__builtin_ctzll(g);
    d->mask = (UINT64_C(1) << d->tz) - 1;
    uint64_t odd = g >> d->tz, inv = odd; /* correct to 3 bits; Newton doubles that */
    for (int i = 0; i < 5; i++)
        inv *= 2 - odd * inv;
    d->inv = inv;
    d->lim = UINT64_MAX / odd;
}

/* 0 when D divides V; branch-free so that a whole pass can be checked at once. */
static inline uint64_t not_divides(const divisor_t *d, uint64_t v)
{
    return (v & d->mask) | ((v >> d->tz) * d->inv > d->lim);
}

static inline int divides(const divisor_t *d, uint64_t v)
{
    return !not_divides(d, v);
}

static inline uint64_t exact_div(const divisor_t *d, uint64_t v)
{
    return (v >> d->tz) * d->inv;
}

static uint64_t gcd64(uint64_t a, uint64_t b)
{
    if (!a) return b;
    if (!b) return a;
    unsigned s = (unsigned)__builtin_ctzll(a | b);
    a >>= __builtin_ctzll(a);
    do {
        b >>= __builtin_ctzll(b);
        if (a > b) {
            uint64_t t = a;
            a = b;
            b = t;
        }
        b -= a;
    } while (b);
    return a << s;
}

/* ---- planning ---- */

typedef struct forplan {
    uint8_t codec;  /* RAW, FOR, DELTA or DOD */
    unsigned order; /* 0, 1, 2 */
    unsigned shift;
    uint64_t base, g;
    size_t bytes; /* the whole stream */
} forplan_t;

typedef struct plan {
    uint8_t codec;
    size_t bytes;
    forplan_t f, f2; /* the plain plan, or DICT's values and ids, RLE's values and lengths */
    int64_t *a, *b;  /* owned by DICT and RLE plans */
    size_t k;
    int64_t x0; /* DELTA_RLE: the first value */
} plan_t;

typedef struct scratch {
    int64_t *y;                 /* n: the differences being checked */
    int64_t *cmin[3], *cmax[3]; /* per order: minima and maxima of each chunk */
    /* per order: the minima and maxima of the best mini-blocks found for stream X of N values,
     * kept for the writer (nested plans of other streams may replace them) */
    int64_t *mbmin[3], *mbmax[3];
    const int64_t *mb_x[3];
    size_t mb_n[3];
    unsigned mb_shift[3];
} scratch_t;

/* Forgets cached mini-block statistics of X, which is about to be freed (its address may
 * come back for another stream). */
static void scratch_forget(scratch_t *s, const int64_t *x)
{
    for (int k = 0; k < 3; k++)
        if (s->mb_x[k] == x) s->mb_x[k] = NULL;
}

static int scratch_init(scratch_t *s, size_t n)
{
    size_t nch = n / CHUNK + 1;
    s->y = malloc((n + 12 * nch) * sizeof(int64_t));
    if (!s->y) return GB_ENOMEM;
    for (int k = 0; k < 3; k++) {
        s->cmin[k] = s->y + n + 4 * k * nch;
        s->cmax[k] = s->cmin[k] + nch;
        s->mbmin[k] = s->cmax[k] + nch;
        s->mbmax[k] = s->mbmin[k] + nch;
        s->mb_x[k] = NULL;
    }
    return 0;
}

static inline int64_t wsub(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a - (uint64_t)b);
}

/* The ORDER-th difference at J (J + ORDER < n), wrapping. */
static inline int64_t diff_at(const int64_t *x, size_t j, unsigned order)
{
    if (order == 0) return x[j];
    if (order == 1) return wsub(x[j + 1], x[j]);
    return wsub(wsub(x[j + 2], x[j + 1]), wsub(x[j + 1], x[j]));
}

/* y = the ORDER-th differences of x: n - order values. */
static void diffs(const int64_t *x, size_t n, unsigned order, int64_t *y)
{
    for (size_t j = 0; j + order < n; j++)
        y[j] = diff_at(x, j, order);
}

/* |a - b| as the true (unwrapped) distance, which always fits in 64 bits. */
static inline uint64_t distance(int64_t a, int64_t b)
{
    uint64_t d = (uint64_t)a - (uint64_t)b;
    return a < b ? 0 - d : d;
}

/* What one pass learns about the differences of one order. */
typedef struct ordstat {
    int64_t y0;   /* the first difference */
    uint64_t g;   /* a candidate divisor of every |y - y0| (0: all equal), from a prefix */
    divisor_t d;  /* of g */
    int check;    /* g is not 1 and must be checked over the whole pass */
    uint64_t bad; /* nonzero when some y broke the candidate */
} ordstat_t;

/* Chunk C (values J0..J1) of the differences of order K: minimum, maximum, divisor check. */
static inline __attribute__((always_inline)) void chunk_of(const int64_t *x, size_t j0, size_t j1,
                                                           size_t n, unsigned k, int check,
                                                           ordstat_t *o, scratch_t *s, size_t c)
{
    if (j0 + k >= n) return;
    size_t end = j1 + k <= n ? j1 : n - k, j = j0;
    /* two of each running value, so that the compare-and-move chains overlap -- unless the
     * divisor is checked too, which needs the registers */
    int64_t mn = INT64_MAX, mx = INT64_MIN, mn2 = INT64_MAX, mx2 = INT64_MIN;
    uint64_t bad = 0;
    for (; !check && j + 2 <= end; j += 2) {
        int64_t y = diff_at(x, j, k), y2 = diff_at(x, j + 1, k);
        mn = y < mn ? y : mn;
        mx = y > mx ? y : mx;
        mn2 = y2 < mn2 ? y2 : mn2;
        mx2 = y2 > mx2 ? y2 : mx2;
    }
    for (; j < end; j++) {
        int64_t y = diff_at(x, j, k);
        mn2 = y < mn2 ? y : mn2;
        mx2 = y > mx2 ? y : mx2;
        if (check) bad |= not_divides(&o->d, distance(y, o->y0));
    }
    o->bad |= bad;
    s->cmin[k][c] = mn2 < mn ? mn2 : mn;
    s->cmax[k][c] = mx2 > mx ? mx2 : mx;
}

/*
 * The chunk minima and maxima of the differences of every order in MASK (bit k: order k, which
 * must be below N), and a check of each order's candidate divisor -- in one pass over X, so
 * that each chunk is read from memory once. The divisor of all y - min(y) equals that of all
 * |y - y0|, so the candidate can be checked before the minimum is known.
 */
GB_CLONES static void chunk_stats(const int64_t *x, size_t n, unsigned mask, scratch_t *s,
                                  ordstat_t *os)
{
    for (unsigned k = 0; k <= 2; k++) {
        if (!(mask >> k & 1)) continue;
        ordstat_t *o = &os[k];
        o->y0 = diff_at(x, 0, k);
        o->g = 0;
        for (size_t j = 1; j + k < n && j < 16 && o->g != 1; j++)
            o->g = gcd64(o->g, distance(diff_at(x, j, k), o->y0));
        o->check = o->g != 1;
        o->bad = 0;
        divisor_init(&o->d, o->g);
    }
    for (size_t j0 = 0, c = 0; j0 < n; j0 += CHUNK, c++) {
        size_t j1 = n - j0 < CHUNK ? n : j0 + CHUNK;
        /* constant orders and flags, so that each inlined copy is a tight loop */
        if (mask & 1)
            os[0].check ? chunk_of(x, j0, j1, n, 0, 1, &os[0], s, c)
                        : chunk_of(x, j0, j1, n, 0, 0, &os[0], s, c);
        if (mask & 2)
            os[1].check ? chunk_of(x, j0, j1, n, 1, 1, &os[1], s, c)
                        : chunk_of(x, j0, j1, n, 1, 0, &os[1], s, c);
        if (mask & 4)
            os[2].check ? chunk_of(x, j0, j1, n, 2, 1, &os[2], s, c)
                        : chunk_of(x, j0, j1, n, 2, 0, &os[2], s, c);
    }
}

/* The greatest common divisor of all y - lo (1 when they are all equal). */
static uint64_t common_divisor(const int64_t *y, size_t m, int64_t lo)
{
    size_t i = 0;
    uint64_t g = 0;
    while (i < m && !g)
        g = (uint64_t)wsub(y[i++], lo);
    if (!g) return 1;
    divisor_t d;
    divisor_init(&d, g);
    for (; i < m && g > 1; i++) {
        uint64_t v = (uint64_t)wsub(y[i], lo);
        if (!divides(&d, v)) {
            g = gcd64(g, v);
            divisor_init(&d, g);
        }
    }
    return g;
}

/* The divisor of the ORDER-th differences of X, given what the pass found. */
static uint64_t order_divisor(const int64_t *x, size_t n, unsigned order, int64_t lo,
                              const ordstat_t *o, scratch_t *s)
{
    if (!o->check) return 1;
    if (!o->bad) return o->g ? o->g : 1;
    diffs(x, n, order, s->y); /* the prefix misled: work it out in full */
    return common_divisor(s->y, n - order, lo);
}

/*
 * The packed values of a mini-block of CNT values whose (y - min) / g reach SPAN: their bytes, in
 * W-bit packing or in mixed radix (*X then has k > 1; its range follows the width byte as a
 * varint, which counts here) where that saves at least 15 %. Mixed radix costs up to a multiply
 * a value to decode (3 levels go by a table): it pays for 3 levels (1.6 bits for 2), 5 (2.33 for
 * 3) or 17 (4.25 for 5), not for 21 (4.4 for 5), which decodes a tenth slower than it was.
 * LAST keeps the groups of the last range looked at (zeroed at first) for the next call.
 */
static size_t mb_body(size_t cnt, uint64_t span, gb_radix_t *x, gb_radix_t *last)
{
    /* mixed radix takes log2(R) bits a value at best: it cannot save 15 % of W bits when R is
     * above 2^(0.85 W), so those ranges (most) are passed over before working out groups */
    static const uint32_t worth[18] = {1,   1,   3,   5,    10,   19,   34,   61,    111,
                                       200, 362, 652, 1176, 2120, 3821, 6888, 12416, 22381};
    unsigned w = gb_bits(span);
    size_t plain = gb_packed_len(cnt, w);
    x->k = 1;
    if (span < 2 || w >= 18 || span + 1 > worth[w]) return plain;
    if (last->r != span + 1) *last = gb_radix_of(span + 1); /* mostly the same as before */
    size_t mixed = last->k > 1 ? gb_varint_len(last->r) + gb_radix_len(cnt, last) : SIZE_MAX;
    if (mixed > plain - plain * 15 / 100) return plain;
    *x = *last;
    return mixed;
}

/* Bytes of mini-blocks of PER values, given each one's minimum and maximum. */
static size_t miniblock_bytes(const int64_t *mbmin, const int64_t *mbmax, size_t m, size_t per,
                              const divisor_t *d, uint64_t base)
{
    size_t bytes = 0;
    uint64_t qprev = 0;
    gb_radix_t rx, last = {0};
    for (size_t j0 = 0, b = 0; j0 < m; j0 += per, b++) {
        size_t cnt = m - j0 < per ? m - j0 : per;
        uint64_t span = exact_div(d, (uint64_t)mbmax[b] - (uint64_t)mbmin[b]);
        uint64_t q = exact_div(d, (uint64_t)mbmin[b] - base);
        bytes += 1 + gb_varint_len(gb_zz((int64_t)(q - qprev))) + mb_body(cnt, span, &rx, &last);
        qprev = q;
    }
    return bytes;
}

/* The plan for one order, its chunk statistics already in S and O when N > ORDER. */
static forplan_t plan_order(const int64_t *x, size_t n, unsigned order, const ordstat_t *o,
                            scratch_t *s)
{
    forplan_t p = {.codec = (uint8_t)(GB_CODEC_FOR + order), .order = order, .g = 1};
    size_t m = n > order ? n - order : 0;
    p.bytes = 2; /* codec, shift */
    if (order >= 1) p.bytes += gb_varint_len(gb_zz(x[0]));
    if (order == 2) p.bytes += gb_varint_len(gb_zz(n > 1 ? wsub(x[1], x[0]) : 0));
    if (m == 0) {
        p.bytes += 2; /* base 0, g 1 */
        return p;
    }
    int64_t *cmin = s->cmin[order], *cmax = s->cmax[order];
    size_t nch = (m + CHUNK - 1) / CHUNK;
    int64_t lo = cmin[0];
    for (size_t c = 1; c < nch; c++)
        lo = cmin[c] < lo ? cmin[c] : lo;
    p.base = (uint64_t)lo;
    p.g = order_divisor(x, n, order, lo, o, s);
    divisor_t d;
    divisor_init(&d, p.g);
    p.bytes += gb_varint_len(gb_zz(lo)) + gb_varint_len(p.g);
    /* each mini-block size in turn, merging pairs of the previous size's statistics in place
     * (the chunk statistics are not needed after this) */
    size_t best = SIZE_MAX, nb = nch;
    for (unsigned sh = 0; sh <= MAX_SHIFT; sh++) {
        size_t b = miniblock_bytes(cmin, cmax, m, (size_t)CHUNK << sh, &d, p.base);
        if (b < best) {
            best = b;
            p.shift = sh;
            memcpy(s->mbmin[order], cmin, nb * sizeof *cmin);
            memcpy(s->mbmax[order], cmax, nb * sizeof *cmax);
        }
        if (nb == 1) break; /* one mini-block already holds everything */
        for (size_t i = 0; i < nb; i += 2) {
            int64_t lo2 = i + 1 < nb && cmin[i + 1] < cmin[i] ? cmin[i + 1] : cmin[i];
            int64_t hi2 = i + 1 < nb && cmax[i + 1] > cmax[i] ? cmax[i + 1] : cmax[i];
            cmin[i / 2] = lo2;
            cmax[i / 2] = hi2;
        }
        nb = (nb + 1) / 2;
    }
    p.bytes += best;
    s->mb_x[order] = x;
    s->mb_n[order] = n;
    s->mb_shift[order] = p.shift;
    return p;
}

/* The smallest plain codec in ALLOWED. */
static forplan_t plan_plain(const int64_t *x, size_t n, unsigned allowed, scratch_t *s)
{
    forplan_t best = {.codec = GB_CODEC_RAW, .bytes = SIZE_MAX};
    if (allowed & GB_IC(GB_CODEC_RAW)) best.bytes = 1 + 8 * n;
    unsigned mask = 0;
    for (unsigned k = 0; k <= 2; k++)
        if ((allowed & GB_IC(GB_CODEC_FOR + k)) && n > k) mask |= 1u << k;
    ordstat_t os[3];
    if (n > 2 * PRUNE_SAMPLE && (mask & (mask - 1))) {
        /* a long stream: size every order on a prefix first and drop the clear losers */
        chunk_stats(x, PRUNE_SAMPLE, mask, s, os);
        size_t sz[3], lo = SIZE_MAX;
        for (unsigned k = 0; k <= 2; k++) {
            sz[k] = mask >> k & 1 ? plan_order(x, PRUNE_SAMPLE, k, &os[k], s).bytes : SIZE_MAX;
            lo = sz[k] < lo ? sz[k] : lo;
        }
        for (unsigned k = 0; k <= 2; k++)
            if (sz[k] != SIZE_MAX && sz[k] > lo + lo / 8) mask &= ~(1u << k);
    }
    chunk_stats(x, n, mask, s, os);
    for (unsigned k = 0; k <= 2; k++) {
        if (!(allowed & GB_IC(GB_CODEC_FOR + k)) || (n > k && !(mask >> k & 1))) continue;
        forplan_t p = plan_order(x, n, k, &os[k], s);
        if (p.bytes < best.bytes) best = p;
    }
    return best;
}

/* ---- dictionary and runs ---- */

static inline size_t hash_slot(int64_t v, unsigned bits)
{
    return (size_t)(((uint64_t)v * UINT64_C(0x9E3779B97F4A7C15)) >> (64 - bits));
}

/* True when a strided sample of X has few enough distinct values for a dictionary to pay. */
static int dict_promising(const int64_t *x, size_t n)
{
    enum { TB = 9 };
    int64_t keys[1 << TB];
    uint8_t used[1 << TB] = {0};
    size_t cnt = n < SAMPLE ? n : SAMPLE, distinct = 0;
    for (size_t j = 0; j < cnt; j++) {
        int64_t v = x[j * n / cnt];
        size_t h = hash_slot(v, TB);
        while (used[h] && keys[h] != v)
            h = (h + 1) & ((1u << TB) - 1);
        if (!used[h]) {
            used[h] = 1;
            keys[h] = v;
            distinct++;
        }
    }
    return distinct * 2 <= cnt;
}

typedef struct vrank {
    int64_t v;
    uint32_t id;
} vrank_t;

static int cmp_vrank(const void *a, const void *b)
{
    const vrank_t *x = a, *y = b;
    return (x->v > y->v) - (x->v < y->v);
}

/*
 * Builds P's sorted distinct values (a, k) and ids (b) for X. 0, GB_ERANGE (more than LIMIT
 * distinct values) or GB_ENOMEM.
 */
static int build_dict(const int64_t *x, size_t n, size_t limit, plan_t *p)
{
    unsigned bits = 1;
    while (((size_t)1 << bits) < 2 * limit)
        bits++;
    size_t cap = (size_t)1 << bits;
    int64_t *keys = malloc(cap * sizeof *keys);
    int32_t *ids = malloc(cap * sizeof *ids);
    vrank_t *vr = malloc(limit * sizeof *vr);
    uint32_t *rank = malloc(limit * sizeof *rank);
    p->a = malloc(limit * sizeof *p->a);
    p->b = malloc(n * sizeof *p->b);
    int rc = GB_ENOMEM;
    if (!keys || !ids || !vr || !rank || !p->a || !p->b) goto out;
    memset(ids, 0xff, cap * sizeof *ids);
    uint32_t k = 0;
    rc = GB_ERANGE;
    for (size_t i = 0; i < n; i++) {
        size_t h = hash_slot(x[i], bits);
        while (ids[h] >= 0 && keys[h] != x[i])
            h = (h + 1) & (cap - 1);
        if (ids[h] < 0) {
            if (k == limit) goto out;
            keys[h] = x[i];
            ids[h] = (int32_t)k;
            vr[k].v = x[i];
            vr[k].id = k;
            k++;
        }
        p->b[i] = ids[h];
    }
    qsort(vr, k, sizeof *vr, cmp_vrank);
    for (uint32_t r = 0; r < k; r++) {
        rank[vr[r].id] = r;
        p->a[r] = vr[r].v;
    }
    for (size_t i = 0; i < n; i++)
        p->b[i] = rank[p->b[i]];
    p->k = k;
    rc = 0;
out:
    free(keys);
    free(ids);
    free(vr);
    free(rank);
    return rc;
}

static size_t count_runs(const int64_t *x, size_t n)
{
    size_t k = 1;
    for (size_t i = 1; i < n; i++)
        k += x[i] != x[i - 1];
    return k;
}

/* The number of runs of equal steps among X[0..N) (1 when N < 3). */
static size_t step_runs(const int64_t *x, size_t n)
{
    size_t k = 1;
    for (size_t i = 2; i < n; i++)
        k += wsub(x[i], x[i - 1]) != wsub(x[i - 1], x[i - 2]);
    return k;
}

static int build_runs(const int64_t *x, size_t n, size_t k, plan_t *p)
{
    p->a = malloc(k * sizeof *p->a);
    p->b = malloc(k * sizeof *p->b);
    if (!p->a || !p->b) return GB_ENOMEM;
    size_t r = 0;
    p->a[0] = x[0];
    p->b[0] = 1;
    for (size_t i = 1; i < n; i++) {
        if (x[i] == x[i - 1]) {
            p->b[r]++;
        } else {
            p->a[++r] = x[i];
            p->b[r] = 1;
        }
    }
    p->k = k;
    return 0;
}

static void plan_free(plan_t *p)
{
    free(p->a);
    free(p->b);
    p->a = p->b = NULL;
}

/*
 * Sizes a DICT or RLE plan P whose arrays are built (P->b has NB integers) and keeps it in BEST
 * when smaller.
 */
static void consider_pair(plan_t *p, size_t nb, plan_t *best, scratch_t *s)
{
    p->bytes = 1 + gb_varint_len(p->k);
    if (p->codec == GB_CODEC_DELTA_RLE) p->bytes += gb_varint_len(gb_zz(p->x0));
    if (p->k) {
        p->f = plan_plain(p->a, p->k, GB_IC_PLAIN, s);
        p->f2 = plan_plain(p->b, nb, GB_IC_PLAIN, s);
        p->bytes += p->f.bytes + p->f2.bytes;
    }
    if (p->bytes < best->bytes) {
        scratch_forget(s, best->a);
        scratch_forget(s, best->b);
        plan_free(best);
        *best = *p;
    } else {
        scratch_forget(s, p->a);
        scratch_forget(s, p->b);
        plan_free(p);
    }
}

/*
 * Sizes the runs of V[0..M) as CODEC (RLE, or DELTA_RLE of the values that start with X0) when
 * they are long enough to pay -- a prefix with runs shorter than 2 rules them out cheaply -- and
 * keeps the plan in BEST when smaller. 0 or GB_ENOMEM.
 */
static int consider_runs(const int64_t *v, size_t m, uint8_t codec, int64_t x0, int forced,
                         plan_t *best, scratch_t *s)
{
    size_t pre = m < SAMPLE ? m : SAMPLE, k = 0;
    if (!forced && count_runs(v, pre) * 2 > pre) return 0;
    if (m && (k = count_runs(v, m)) * 2 > m && !forced) return 0;
    plan_t p = {.codec = codec, .x0 = x0};
    if (m && build_runs(v, m, k, &p)) {
        plan_free(&p);
        return GB_ENOMEM;
    }
    consider_pair(&p, p.k, best, s);
    return 0;
}

/* Chooses the smallest codec in ALLOWED (not empty) for X. 0 or GB_ENOMEM. */
static int plan(const int64_t *x, size_t n, unsigned allowed, scratch_t *s, plan_t *best)
{
    memset(best, 0, sizeof *best);
    best->f = plan_plain(x, n, allowed, s);
    best->codec = best->f.codec;
    best->bytes = best->f.bytes;
    int forced = !(allowed & (allowed - 1)); /* a single codec: use it whatever it costs */
    if ((allowed & GB_IC(GB_CODEC_RLE)) && consider_runs(x, n, GB_CODEC_RLE, 0, forced, best, s))
        return GB_ENOMEM;
    size_t pre = n < SAMPLE ? n : SAMPLE;
    if ((allowed & GB_IC(GB_CODEC_DELTA_RLE)) && (forced || step_runs(x, pre) * 2 <= pre)) {
        /* runs of equal steps: timestamps with a hiccup now and then, steady counters */
        int64_t *d = malloc(n * sizeof *d);
        if (!d) return GB_ENOMEM;
        diffs(x, n, 1, d);
        int rc = consider_runs(d, n - 1, GB_CODEC_DELTA_RLE, x[0], forced, best, s);
        scratch_forget(s, d);
        free(d);
        if (rc) return rc;
    }
    /* ids cost bits too: a dictionary cannot beat plain codecs that are already this small */
    if ((allowed & GB_IC(GB_CODEC_DICT)) &&
        (forced || (best->bytes > n / 2 && dict_promising(x, n)))) {
        plan_t p = {.codec = GB_CODEC_DICT};
        size_t limit = forced ? n : n / 2 > DICT_MAX ? DICT_MAX : n / 2;
        int rc = build_dict(x, n, limit ? limit : 1, &p);
        if (rc == 0)
            consider_pair(&p, n, best, s);
        else
            plan_free(&p);
        if (rc == GB_ENOMEM) return rc;
    }
    if (best->bytes == SIZE_MAX) { /* nothing in ALLOWED applied */
        best->f.codec = best->codec = GB_CODEC_RAW;
        best->bytes = best->f.bytes = 1 + 8 * n;
    }
    return 0;
}

/* ---- writing ---- */

/* Packs (y - MN) / g in W bits for the ORDER-th differences Y[J0..END) of X. */
static inline __attribute__((always_inline)) void pack_run(gb_bitw_t *bw, const int64_t *x,
                                                           size_t j0, size_t end, unsigned order,
                                                           int64_t mn, const divisor_t *d, int g1,
                                                           unsigned w)
{
    for (size_t j = j0; j < end; j++) {
        uint64_t v = (uint64_t)wsub(diff_at(x, j, order), mn);
        gb_bitw_put(bw, g1 ? v : exact_div(d, v), w);
    }
}

/* Packs (y - MN) / g of the ORDER-th differences Y[J0..END) of X in RX's groups. */
static void pack_radix(gb_bitw_t *bw, const int64_t *x, size_t j0, size_t end, unsigned order,
                       int64_t mn, const divisor_t *d, const gb_radix_t *rx)
{
    for (size_t j = j0; j < end; j += rx->k) {
        size_t m = end - j < rx->k ? end - j : rx->k;
        uint64_t v = 0;
        for (size_t i = 0; i < m; i++) /* the first value is the highest digit */
            v = v * rx->r + exact_div(d, (uint64_t)wsub(diff_at(x, j + i, order), mn));
        gb_bitw_put(bw, v, m == rx->k ? rx->b : gb_radix_bits(rx, m));
    }
}

static void write_plain(const forplan_t *p, const int64_t *x, size_t n, gb_buf_t *out, scratch_t *s)
{
    gb_buf_put_u8(out, p->codec);
    if (p->codec == GB_CODEC_RAW) {
        for (size_t i = 0; i < n; i++)
            gb_store64le(out->p + out->len + 8 * i, (uint64_t)x[i]);
        out->len += 8 * n;
        return;
    }
    unsigned k = p->order;
    if (k >= 1) gb_buf_put_varint(out, gb_zz(x[0]));
    if (k == 2) gb_buf_put_varint(out, gb_zz(n > 1 ? wsub(x[1], x[0]) : 0));
    gb_buf_put_u8(out, (uint8_t)p->shift);
    gb_buf_put_varint(out, gb_zz((int64_t)p->base));
    gb_buf_put_varint(out, p->g);
    size_t m = n > k ? n - k : 0, per = (size_t)CHUNK << p->shift;
    if (!m) return;
    /* the planner's mini-block minima and maxima, unless another stream's plan replaced them */
    if (s->mb_x[k] != x || s->mb_n[k] != n || s->mb_shift[k] != p->shift) {
        for (size_t j0 = 0, b = 0; j0 < m; j0 += per, b++) {
            size_t end = m - j0 < per ? m : j0 + per;
            int64_t mn = INT64_MAX, mx = INT64_MIN;
            for (size_t j = j0; j < end; j++) {
                int64_t y = diff_at(x, j, k);
                mn = y < mn ? y : mn;
                mx = y > mx ? y : mx;
            }
            s->mbmin[k][b] = mn;
            s->mbmax[k][b] = mx;
        }
        s->mb_x[k] = x; /* what the arrays hold now */
        s->mb_n[k] = n;
        s->mb_shift[k] = p->shift;
    }
    divisor_t d;
    divisor_init(&d, p->g);
    uint64_t qprev = 0;
    gb_radix_t last = {0};
    for (size_t j0 = 0, b = 0; j0 < m; j0 += per, b++) {
        size_t end = m - j0 < per ? m : j0 + per;
        int64_t mn = s->mbmin[k][b], mx = s->mbmax[k][b];
        uint64_t span = exact_div(&d, (uint64_t)mx - (uint64_t)mn);
        unsigned w = gb_bits(span);
        uint64_t q = exact_div(&d, (uint64_t)mn - p->base);
        gb_radix_t rx;
        mb_body((size_t)(end - j0), span, &rx, &last);
        gb_buf_put_u8(out, rx.k > 1 ? RADIX_MARK : (uint8_t)w);
        gb_buf_put_varint(out, gb_zz((int64_t)(q - qprev)));
        qprev = q;
        if (!w) continue;
        gb_bitw_t bw;
        if (rx.k > 1) {
            gb_buf_put_varint(out, rx.r);
            gb_bitw_init(&bw, out->p + out->len);
            pack_radix(&bw, x, j0, end, k, mn, &d, &rx);
            out->len = (size_t)(gb_bitw_finish(&bw) - out->p);
            continue;
        }
        gb_bitw_init(&bw, out->p + out->len);
        /* constant orders and divisor flags, so that each inlined copy is a tight loop */
        switch (k * 2 + (p->g == 1)) {
        case 0: pack_run(&bw, x, j0, end, 0, mn, &d, 0, w); break;
        case 1: pack_run(&bw, x, j0, end, 0, mn, &d, 1, w); break;
        case 2: pack_run(&bw, x, j0, end, 1, mn, &d, 0, w); break;
        case 3: pack_run(&bw, x, j0, end, 1, mn, &d, 1, w); break;
        case 4: pack_run(&bw, x, j0, end, 2, mn, &d, 0, w); break;
        default: pack_run(&bw, x, j0, end, 2, mn, &d, 1, w); break;
        }
        out->len = (size_t)(gb_bitw_finish(&bw) - out->p);
    }
}

static void write_plan(const plan_t *p, const int64_t *x, size_t n, gb_buf_t *out, scratch_t *s)
{
    if (p->codec != GB_CODEC_DICT && p->codec != GB_CODEC_RLE && p->codec != GB_CODEC_DELTA_RLE) {
        write_plain(&p->f, x, n, out, s);
        return;
    }
    gb_buf_put_u8(out, p->codec);
    if (p->codec == GB_CODEC_DELTA_RLE) gb_buf_put_varint(out, gb_zz(p->x0));
    gb_buf_put_varint(out, p->k);
    if (!p->k) return;
    write_plain(&p->f, p->a, p->k, out, s);
    write_plain(&p->f2, p->b, p->codec == GB_CODEC_DICT ? n : p->k, out, s);
}

size_t gb_icodec_size(const int64_t *x, size_t n, unsigned allowed)
{
    scratch_t s;
    plan_t p;
    if (scratch_init(&s, n)) return SIZE_MAX;
    size_t bytes = plan(x, n, allowed, &s, &p) ? SIZE_MAX : p.bytes;
    plan_free(&p);
    free(s.y);
    return bytes;
}

int gb_icodec_encode(const int64_t *x, size_t n, unsigned allowed, gb_buf_t *out, uint8_t *codec)
{
    scratch_t s;
    plan_t p;
    int rc = scratch_init(&s, n);
    if (rc) return rc;
    rc = plan(x, n, allowed, &s, &p);
    if (!rc) rc = gb_buf_reserve(out, p.bytes + GB_BITW_SLACK);
    if (!rc) {
        size_t start = out->len;
        write_plan(&p, x, n, out, &s);
        assert(out->len - start == p.bytes);
        (void)start;
        if (codec) *codec = p.codec;
    }
    plan_free(&p);
    free(s.y);
    return rc;
}

/* ---- reading ---- */

/*
 * U[i] = ACC += U[i] for i = 0 .. N - 1, four values a turn. One running sum through every value
 * is a chain of additions, a cycle a value; here the four's own partial sums come first (they
 * depend on nothing before them, so turns overlap) and the running sum takes one addition a turn.
 * (A one-value loop also ran at half speed where it straddled a fetch boundary: where the linker
 * put it decided a quarter of the time a float block took to decode.) Returns the last sum.
 */
static uint64_t prefix_sum(uint64_t *u, size_t n, uint64_t acc)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        uint64_t a = u[i], b = a + u[i + 1], c = b + u[i + 2], d = c + u[i + 3];
        u[i] = acc + a;
        u[i + 1] = acc + b;
        u[i + 2] = acc + c;
        u[i + 3] = acc += d;
    }
    for (; i < n; i++)
        u[i] = acc += u[i];
    return acc;
}

/*
 * Whether the values a stream of differences makes rise without wrapping: every step at least 1,
 * and all of them together below 2^63, so that from the first value on they only go up (as long
 * as the last is above the first, which the caller knows). Then a decoder of times need not
 * compare each time with the one before.
 */
typedef struct rise {
    bool ok;
    uint64_t sum; /* of the largest steps so far */
} rise_t;

/* CNT steps between LO and HI (wrapping values; the step is LO + v * G for v <= VMAX). */
static void rise_add(rise_t *s, size_t cnt, uint64_t lo, uint64_t vmax, uint64_t g)
{
    uint64_t hi, all;
    s->ok = s->ok && (int64_t)lo >= 1 && !__builtin_mul_overflow(vmax, g, &hi) &&
            !__builtin_add_overflow(hi, lo, &hi) && !__builtin_mul_overflow(hi, cnt, &all) &&
            !__builtin_add_overflow(s->sum, all, &s->sum) && s->sum < UINT64_C(1) << 63;
}

/*
 * Reads a plain stream into X, each value plus BASE (wrapping); *RISING (DELTA only, else false)
 * says whether the values rise by steps of at least 1 without wrapping (see rise_t).
 */
static int read_plain(gb_rd_t *r, uint8_t codec, size_t n, uint64_t base0, int64_t *x, bool *rising)
{
    int rc;
    *rising = false;
    if (codec == GB_CODEC_RAW) {
        const uint8_t *p;
        if ((rc = gb_rd_bytes(r, 8 * n, &p))) return rc;
        for (size_t i = 0; i < n; i++)
            x[i] = (int64_t)(gb_load64le(p + 8 * i) + base0);
        return 0;
    }
    unsigned order = codec - GB_CODEC_FOR;
    uint64_t x0 = 0, d0 = 0, base, g;
    uint8_t shift;
    if (order >= 1 && (rc = gb_rd_varint(r, &x0))) return rc;
    if (order == 2 && (rc = gb_rd_varint(r, &d0))) return rc;
    if ((rc = gb_rd_u8(r, &shift)) || (rc = gb_rd_varint(r, &base)) || (rc = gb_rd_varint(r, &g)))
        return rc;
    if (shift > MAX_SHIFT || g == 0) return GB_EPROTO;
    base = (uint64_t)gb_unzz(base);
    size_t m = n > order ? n - order : 0, per = (size_t)CHUNK << shift;
    uint64_t *u = (uint64_t *)x, *y = u + order, q = 0;
    /* DELTA sums each mini-block as it comes: a running value, and the steps' bounds */
    uint64_t last = (uint64_t)gb_unzz(x0) + base0;
    rise_t rise = {.ok = order == 1};
    if (order >= 1) u[0] = last;
    for (size_t j0 = 0; j0 < m; j0 += per) {
        size_t cnt = m - j0 < per ? m - j0 : per;
        uint8_t w;
        uint64_t dq;
        const uint8_t *p;
        gb_radix_t rx = {.k = 1};
        if ((rc = gb_rd_u8(r, &w)) || (rc = gb_rd_varint(r, &dq))) return rc;
        if (w == RADIX_MARK) {
            uint64_t range;
            if ((rc = gb_rd_varint(r, &range))) return rc;
            if (range < 3 || range > GB_RADIX_MAX || (rx = gb_radix_of(range)).k == 1)
                return GB_EPROTO;
        } else if (w > 64) {
            return GB_EPROTO;
        }
        size_t avail = gb_rd_left(r);
        size_t len = rx.k > 1 ? gb_radix_len(cnt, &rx) : gb_packed_len(cnt, w);
        if ((rc = gb_rd_bytes(r, len, &p))) return rc;
        q += (uint64_t)gb_unzz(dq);
        uint64_t ref = base + q * g;
        if (order == 1) {
            uint64_t vmax = rx.k > 1  ? (UINT64_C(1) << rx.b) - 1
                            : w == 64 ? UINT64_MAX
                                      : (UINT64_C(1) << w) - 1;
            rise_add(&rise, cnt, ref, vmax, g);
        }
        if (order == 1 && w == 0) { /* one step throughout: regular times, a steady counter */
            for (size_t j = 0; j < cnt; j++)
                y[j0 + j] = last + (j + 1) * ref;
            last += cnt * ref;
            continue;
        }
        if (rx.k > 1) {
            if ((rc = gb_unpack_radix(p, avail, cnt, &rx, g == 1 ? ref : 0, y + j0))) return rc;
        } else {
            gb_unpack(p, avail, cnt, w, g == 1 ? ref : 0, y + j0);
        }
        if (g != 1)
            for (size_t j = j0; j < j0 + cnt; j++)
                y[j] = ref + y[j] * g;
        if (order == 1) last = prefix_sum(y + j0, cnt, last);
    }
    if (order == 0 && base0) /* the differences start from it: base0 costs nothing there */
        for (size_t i = 0; i < n; i++)
            u[i] += base0;
    if (order == 2 && n > 1) {
        uint64_t d = (uint64_t)gb_unzz(d0);
        u[1] = u[0] + d;
        for (size_t i = 2; i < n; i++) {
            d += u[i];
            u[i] = u[i - 1] + d;
        }
    }
    *rising = rise.ok;
    return 0;
}

/* Reads the two plain streams of a DICT or RLE stream: K values into A, NB integers into B. */
static int read_pair(gb_rd_t *r, size_t k, int64_t *a, size_t nb, int64_t *b)
{
    int rc = gb_icodec_decode(r, k, GB_IC_PLAIN, a, NULL);
    return rc ? rc : gb_icodec_decode(r, nb, GB_IC_PLAIN, b, NULL);
}

static int read_dict(gb_rd_t *r, size_t n, int64_t *x)
{
    uint64_t k;
    int rc = gb_rd_count(r, n, &k);
    if (rc) return rc;
    if (k == 0) return GB_EPROTO;
    int64_t *vals = malloc(k * sizeof *vals);
    if (!vals) return GB_ENOMEM;
    if ((rc = read_pair(r, k, vals, n, x))) goto out;
    for (size_t i = 1; i < k; i++)
        if (vals[i] <= vals[i - 1]) {
            rc = GB_EPROTO;
            goto out;
        }
    for (size_t i = 0; i < n; i++) {
        if ((uint64_t)x[i] >= k) {
            rc = GB_EPROTO;
            goto out;
        }
        x[i] = vals[x[i]];
    }
out:
    free(vals);
    return rc;
}

static int read_runs(gb_rd_t *r, size_t n, int64_t *x)
{
    uint64_t k;
    int rc = gb_rd_count(r, n, &k);
    if (rc) return rc;
    if (k == 0) return GB_EPROTO;
    int64_t *vals = malloc(2 * k * sizeof *vals), *lens = vals + k;
    if (!vals) return GB_ENOMEM;
    if ((rc = read_pair(r, k, vals, k, lens))) goto out;
    size_t at = 0;
    for (size_t i = 0; i < k; i++) {
        if (lens[i] <= 0 || (uint64_t)lens[i] > n - at) {
            rc = GB_EPROTO;
            goto out;
        }
        for (size_t j = 0; j < (size_t)lens[i]; j++)
            x[at++] = vals[i];
    }
    if (at != n) rc = GB_EPROTO;
out:
    free(vals);
    return rc;
}

/*
 * DELTA_RLE: the first value (plus BASE), then the runs of the N - 1 steps (none when N is 1).
 * *RISING as for read_plain.
 */
static int read_delta_runs(gb_rd_t *r, size_t n, uint64_t base, int64_t *x, bool *rising)
{
    uint64_t x0, k;
    rise_t rise = {.ok = true};
    *rising = false;
    int rc = gb_rd_varint(r, &x0);
    if (rc) return rc;
    x[0] = (int64_t)((uint64_t)gb_unzz(x0) + base);
    if (n == 1) return (rc = gb_rd_count(r, 0, &k)) ? rc : 0;
    /* expand each run of equal steps straight into values: base + j * step has no chain of
     * dependent additions (regular sampling is one long run), unlike a prefix sum */
    if ((rc = gb_rd_count(r, n - 1, &k))) return rc;
    if (k == 0) return GB_EPROTO;
    int64_t *vals = malloc(2 * k * sizeof *vals), *lens = vals + k;
    if (!vals) return GB_ENOMEM;
    if ((rc = read_pair(r, k, vals, k, lens))) goto out;
    uint64_t *u = (uint64_t *)x, cur = u[0];
    size_t at = 1;
    for (size_t i = 0; i < k; i++) {
        if (lens[i] <= 0 || (uint64_t)lens[i] > n - at) {
            rc = GB_EPROTO;
            goto out;
        }
        uint64_t d = (uint64_t)vals[i], d2 = 2 * d, d3 = 3 * d, d4 = 4 * d;
        size_t len = (size_t)lens[i], j = 0;
        rise_add(&rise, len, d, 0, 1);
        /* four values from one product each: no chain of additions through the run. (Four
         * interleaved running sums, the obvious form, are miscompiled by GCC 12's loop
         * vectorizer at -O3: values two apart came out equal.) */
        for (; j + 4 <= len; j += 4) {
            uint64_t b = cur + (uint64_t)j * d;
            u[at + j] = b + d;
            u[at + j + 1] = b + d2;
            u[at + j + 2] = b + d3;
            u[at + j + 3] = b + d4;
        }
        for (; j < len; j++) u[at + j] = cur + (uint64_t)(j + 1) * d;
        cur = u[at + len - 1];
        at += len;
    }
    if (at != n) rc = GB_EPROTO;
    *rising = !rc && rise.ok;
out:
    free(vals);
    return rc;
}

int gb_icodec_decode_from(gb_rd_t *r, size_t n, unsigned allowed, int64_t base, int64_t *x,
                          uint8_t *codec, bool *rising)
{
    uint8_t c;
    bool up = false;
    int rc = gb_rd_u8(r, &c);
    if (rc) return rc;
    if (n == 0 || c >= 32 || !(allowed & GB_IC(c))) return GB_EPROTO;
    if (codec) *codec = c;
    if (c == GB_CODEC_DELTA_RLE) {
        rc = read_delta_runs(r, n, (uint64_t)base, x, &up);
    } else if (c != GB_CODEC_DICT && c != GB_CODEC_RLE) {
        rc = read_plain(r, c, n, (uint64_t)base, x, &up);
    } else {
        rc = c == GB_CODEC_DICT ? read_dict(r, n, x) : read_runs(r, n, x);
        for (size_t i = 0; !rc && base && i < n; i++)
            x[i] = (int64_t)((uint64_t)x[i] + (uint64_t)base);
    }
    if (rising) *rising = !rc && up;
    return rc;
}

/* The one step of a DELTA stream at R (after its codec byte) of N >= 2 values whose every
 * mini-block has width 0 and the same step; false at the first that does not. */
static bool plain_step(gb_rd_t *r, size_t n, uint64_t *x0, uint64_t *step)
{
    uint64_t base, g, q = 0, dq;
    uint8_t shift, w;
    if (gb_rd_varint(r, x0) || gb_rd_u8(r, &shift) || gb_rd_varint(r, &base) ||
        gb_rd_varint(r, &g) || shift > MAX_SHIFT || g == 0)
        return false;
    base = (uint64_t)gb_unzz(base);
    *x0 = (uint64_t)gb_unzz(*x0);
    size_t m = n - 1, per = (size_t)CHUNK << shift;
    for (size_t j0 = 0; j0 < m; j0 += per) {
        if (gb_rd_u8(r, &w) || w != 0 || gb_rd_varint(r, &dq)) return false;
        q += (uint64_t)gb_unzz(dq);
        uint64_t ref = base + q * g;
        if (j0 && ref != *step) return false;
        *step = ref;
    }
    return true;
}

/* The same for a DELTA_RLE stream of one run. */
static bool runs_step(gb_rd_t *r, size_t n, uint64_t *x0, uint64_t *step)
{
    uint64_t k;
    int64_t val, len;
    if (gb_rd_varint(r, x0) || gb_rd_count(r, n - 1, &k) || k != 1 ||
        read_pair(r, 1, &val, 1, &len))
        return false;
    *x0 = (uint64_t)gb_unzz(*x0);
    *step = (uint64_t)val;
    return (uint64_t)len == n - 1;
}

bool gb_icodec_regular(gb_rd_t *r, size_t n, unsigned allowed, int64_t base, int64_t *first,
                       int64_t *step, uint8_t *codec)
{
    gb_rd_t at = *r;
    uint8_t c;
    uint64_t x0 = 0, d = 0;
    if (n < 2 || gb_rd_u8(&at, &c) || c >= 32 || !(allowed & GB_IC(c))) return false;
    if (!(c == GB_CODEC_DELTA ? plain_step(&at, n, &x0, &d)
                              : c == GB_CODEC_DELTA_RLE && runs_step(&at, n, &x0, &d)))
        return false;
    /* rising without wrapping, as gb_icodec_decode_from's *RISING says */
    uint64_t all;
    if ((int64_t)d < 1 || __builtin_mul_overflow(d, n - 1, &all) || all >= UINT64_C(1) << 63)
        return false;
    *r = at;
    *first = (int64_t)(x0 + (uint64_t)base);
    *step = (int64_t)d;
    if (codec) *codec = c;
    return true;
}

int gb_icodec_decode(gb_rd_t *r, size_t n, unsigned allowed, int64_t *x, uint8_t *codec)
{
    return gb_icodec_decode_from(r, n, allowed, 0, x, codec, NULL);
}
