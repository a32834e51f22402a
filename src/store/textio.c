/*
 * Spans, a bounded output buffer and numbers as text, for the line-protocol and CSV codecs.
 *
 * The shortest float is defined by printf: %.*e with 1 to 17 significant digits, keeping the
 * fewest that strtod reads back to the same double (17 always do for binary64). "Reads back" is
 * monotone in the number of digits P -- the P-digit decimal is itself a (P+1)-digit decimal, and
 * the nearest (P+1)-digit one is no farther from V -- and for a normal double 15 digits settle it
 * in one try (see gb_textio_f64_format_printf); subnormals, with fewer bits, are searched by
 * bisection. strtod and snprintf work in the C locale, which gemba never changes.
 *
 * That definition costs a microsecond or more a number (printf's big-number arithmetic and a
 * strtod per try), which is most of a raw export. So the usual numbers, 1e-7 <= |V| < 1e20, take
 * the same steps in exact integer arithmetic instead: V = M * 2^E, times 10^k, is a fraction
 * whose numerator and denominator fit in 128 bits over that range, so the P-digit rounding
 * (half to even, as printf rounds) and the test "reads back" (the decimal lies within half a unit
 * in the last place of V, the bound included when M is even, as strtod rounds ties to even; the
 * gap below a power of two is half the one above) are exact. The rest -- subnormals, huge and
 * tiny numbers -- go through printf as before; tests compare the two on many doubles.
 */
#include "store/textio.h"
#include "gemba/error.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool gb_textio_eq(gb_textio_span_t s, const char *t)
{
    size_t n = strlen(t);
    return s.n == n && (n == 0 || memcmp(s.p, t, n) == 0);
}

void gb_textio_out_init(gb_textio_out_t *o, char *buf, size_t size)
{
    o->p = buf;
    o->size = size;
    o->len = 0;
    o->full = false;
}

void gb_textio_put(gb_textio_out_t *o, const char *s, size_t n)
{
    if (o->full || n > o->size - o->len) {
        o->full = true;
        return;
    }
    if (n) memcpy(o->p + o->len, s, n);
    o->len += n;
}

void gb_textio_putc(gb_textio_out_t *o, char c)
{
    gb_textio_put(o, &c, 1);
}

int gb_textio_out_end(gb_textio_out_t *o, size_t *len)
{
    if (o->full || o->len == o->size) return GB_ERANGE;
    o->p[o->len] = 0;
    if (len) *len = o->len;
    return 0;
}

static size_t put_word(char *buf, const char *w)
{
    size_t n = strlen(w);
    memcpy(buf, w, n + 1);
    return n;
}

/* Writes DIGITS[0..ND) with decimal exponent EXP10 as the notation rule says. */
static size_t put_number(char *buf, bool neg, const char *digits, int nd, int exp10)
{
    char *p = buf;
    if (neg) *p++ = '-';
    if (exp10 < -7 || exp10 >= 21) { /* as %e prints it: d.ddde+XX */
        *p++ = digits[0];
        if (nd > 1) {
            *p++ = '.';
            memcpy(p, digits + 1, (size_t)nd - 1);
            p += nd - 1;
        }
        int x = exp10 < 0 ? -exp10 : exp10;
        *p++ = 'e';
        *p++ = exp10 < 0 ? '-' : '+';
        if (x >= 100) *p++ = (char)('0' + x / 100);
        *p++ = (char)('0' + x / 10 % 10);
        *p++ = (char)('0' + x % 10);
    } else if (exp10 < 0) { /* 0.000ddd */
        memcpy(p, "0.000000", (size_t)(1 - exp10));
        p += 1 - exp10;
        memcpy(p, digits, (size_t)nd);
        p += nd;
    } else if (nd <= exp10 + 1) { /* ddd000 */
        memcpy(p, digits, (size_t)nd);
        memset(p + nd, '0', (size_t)(exp10 + 1 - nd));
        p += exp10 + 1;
    } else { /* ddd.ddd */
        memcpy(p, digits, (size_t)exp10 + 1);
        p += exp10 + 1;
        *p++ = '.';
        memcpy(p, digits + exp10 + 1, (size_t)(nd - exp10 - 1));
        p += nd - exp10 - 1;
    }
    *p = 0;
    return (size_t)(p - buf);
}

size_t gb_textio_f64_format_printf(double v, char *buf)
{
    if (isnan(v)) return put_word(buf, "NaN");
    if (isinf(v)) return put_word(buf, v > 0 ? "+Inf" : "-Inf");
    if (v == 0) return put_word(buf, signbit(v) ? "-0" : "0");
    /*
     * The fewest digits that read back: if 15 do, the 15-digit rounding is the shortest decimal
     * padded with zeros (a shorter decimal that reads back lies within half a unit of the double's
     * last place, far closer than half the spacing of 15-digit decimals), so dropping its zeros
     * gives it; else 16 digits, else 17, which always do. One or two tries for the usual value,
     * instead of a search.
     */
    char e[GB_TEXTIO_F64_MAX];
    int lo = 17;
    if (fabs(v) < DBL_MIN) { /* subnormal: fewer bits, so search the digits the long way */
        int a = 1, b = 17;
        while (a < b) {
            int mid = (a + b) / 2;
            snprintf(e, sizeof e, "%.*e", mid - 1, v);
            if (strtod(e, NULL) == v) b = mid;
            else a = mid + 1;
        }
        lo = a;
    } else if (snprintf(e, sizeof e, "%.14e", v), strtod(e, NULL) == v) {
        const char *x = strchr(e, 'e');
        int nd = 0, last = 0;
        for (const char *q = e; q < x; q++)
            if (*q >= '0' && *q <= '9') {
                nd++;
                if (*q != '0') last = nd;
            }
        lo = last ? last : 1;
    } else {
        snprintf(e, sizeof e, "%.15e", v);
        if (strtod(e, NULL) == v) lo = 16;
    }
    snprintf(e, sizeof e, "%.*e", lo - 1, v);
    char *x = strchr(e, 'e');
    char digits[20];
    int nd = 0;
    for (const char *p = e; p < x; p++)
        if (*p >= '0' && *p <= '9') digits[nd++] = *p;
    return put_number(buf, v < 0, digits, nd, atoi(x + 1));
}

__extension__ typedef unsigned __int128 u128;

/* clang-format off */
static const uint64_t POW10[] = {1u, 10u, 100u, 1000u, 10000u, 100000u, 1000000u, 10000000u,
    100000000u, 1000000000u, 10000000000u, 100000000000u, 1000000000000u, 10000000000000u,
    100000000000000u, 1000000000000000u, 10000000000000000u, 100000000000000000u};
static const uint64_t POW5[] = {1u, 5u, 25u, 125u, 625u, 3125u, 15625u, 78125u, 390625u, 1953125u,
    9765625u, 48828125u, 244140625u, 1220703125u, 6103515625u, 30517578125u, 152587890625u,
    762939453125u, 3814697265625u, 19073486328125u, 95367431640625u, 476837158203125u,
    2384185791015625u, 11920928955078125u, 59604644775390625u, 298023223876953125u,
    1490116119384765625u, 7450580596923828125u};
/* 10^-8 .. 10^21, nearest doubles */
static const double POW10D[] = {1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1e0, 1e1,
    1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18,
    1e19, 1e20, 1e21};
/* clang-format on */

static const char DIGITS2[] = "00010203040506070809101112131415161718192021222324252627282930313233"
                              "34353637383940414243444546474849505152535455565758596061626364656667"
                              "6869707172737475767778798081828384858687888990919293949596979899";

/* A double as M * 2^E, M < 2^53; LOW_HALF: the gap below it is half the one above. */
typedef struct binary {
    uint64_t m;
    int e;
    bool low_half;
} binary_t;

/*
 * Rounds |V| * 10^(P-1-X) to the integer *N, half to even, and says in *BACK whether the decimal
 * N * 10^(X+1-P) reads back as V. Returns 0; 1 when |V| >= 10^(X+1), -1 when |V| < 10^X (X is
 * not V's decimal exponent: nothing is set). P <= 17 and the range of the fast path keep every
 * number below 2^120.
 */
static int round_to(const binary_t *b, int p, int x, uint64_t *n, bool *back)
{
    int k = p - 1 - x, a = b->e + k;
    /* |V| * 10^k = M * 2^a * 5^k = M * F / D */
    u128 f = k >= 0 ? POW5[k] : 1, d = k < 0 ? POW5[-k] : 1;
    int shift = 0;
    if (a >= 0)
        f <<= a;
    else if (d == 1)
        shift = -a;
    else
        d <<= -a;
    u128 num = (u128)b->m * f, q, r;
    if (d == 1) {
        q = num >> shift;
        r = num & (((u128)1 << shift) - 1);
        d = (u128)1 << shift;
    } else {
        q = num / d;
        r = num % d;
    }
    if (q >= POW10[p]) return 1;
    if (q < POW10[p - 1]) return -1;
    /* & and | rather than && and ||: no branch to guess wrong, as which way it goes depends on
     * the number */
    bool up = (2 * r > d) | ((2 * r == d) & (bool)(q & 1));
    /* within half a gap: |N - |V| * 10^k| <= F / 2, or F / 4 below a power of two; "<=" for an
     * even M is "< F + 1" */
    u128 dist = up ? d - r : r, twice = (!up && b->low_half ? 4 : 2) * dist;
    *back = twice < f + !(b->m & 1);
    *n = (uint64_t)q + up;
    return 0;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/*
 * V < 10^8 as its eight digits (0..9, not yet text), one a byte, the first in the lowest byte: a
 * little-endian store writes them in order. The halves, then quarters, then pairs are split in
 * lanes of one word at once (x / 100 is x * 10486 >> 20 for x < 10^4, x / 10 is x * 103 >> 10
 * for x < 100).
 */
static uint64_t digits8(uint32_t v)
{
    uint64_t x = v / 10000 | (uint64_t)(v % 10000) << 32;
    uint64_t h = (x * 10486 >> 20) & 0x0000007F0000007Fu;
    x = h | (x - h * 100) << 16;
    h = (x * 103 >> 10) & 0x000F000F000F000Fu;
    return h | (x - h * 10) << 8;
}

static int clz128(u128 x)
{
    uint64_t hi = (uint64_t)(x >> 64), lo = (uint64_t)x;
    return hi ? __builtin_clzll(hi) : 64 + __builtin_clzll(lo);
}

/*
 * The usual case of gb_textio_f64_format without a trip through memory: the P (15 or 16) digits
 * of N are text in a 128-bit register, where the point goes in by shifting, and one store writes
 * the number. With 15, trailing zeros are dropped, as the fewest digits have none. Returns the
 * length, or 0 when the number does not fit in 16 bytes that way (the caller writes it).
 */
static size_t put_plain(char *buf, bool neg, uint64_t n, int p, int exp10)
{
    uint64_t hi = n / 100000000, lo = n % 100000000;
    /* no more than 7 digits (the usual sensor value): one half of the work */
    u128 r = p == 16 ? (u128)digits8((uint32_t)hi) | (u128)digits8((uint32_t)lo) << 64
             : lo    ? (u128)(digits8((uint32_t)hi) >> 8) | (u128)digits8((uint32_t)lo) << 56
                     : (u128)(digits8((uint32_t)hi) >> 8);
    int nd = p == 15 ? 16 - clz128(r) / 8 : 16; /* after the last digit that is not 0 */
    u128 zeros = (u128)0x3030303030303030u << 64 | 0x3030303030303030u;
    u128 text = r + zeros; /* every byte past the digits is '0' too */
    char *o = buf + neg;
    buf[0] = '-';
    size_t len;
    if (exp10 < 0) { /* 0.000ddd */
        memcpy(o, "0.000000", 8);
        memcpy(o + 1 - exp10, &text, 16);
        len = (size_t)(1 - exp10 + nd);
    } else if (nd <= exp10 + 1) { /* ddd000 */
        if (exp10 >= 16) return 0;
        memcpy(o, &text, 16);
        len = (size_t)exp10 + 1;
    } else { /* ddd.ddd */
        if (nd == 16) return 0;
        int at = 8 * (exp10 + 1);
        u128 mask = ((u128)1 << at) - 1;
        text = (text & mask) | (u128)'.' << at | (text & ~mask) << 8;
        memcpy(o, &text, 16);
        len = (size_t)nd + 1;
    }
    o[len] = 0;
    return len + neg;
}
#endif

size_t gb_textio_f64_format(double v, char *buf)
{
    if (isnan(v)) return put_word(buf, "NaN");
    if (isinf(v)) return put_word(buf, v > 0 ? "+Inf" : "-Inf");
    if (v == 0) return put_word(buf, signbit(v) ? "-0" : "0");
    double av = fabs(v);
    if (!(av >= 1e-7 && av < 1e20)) return gb_textio_f64_format_printf(v, buf);
    uint64_t bits;
    memcpy(&bits, &av, sizeof bits);
    int be = (int)(bits >> 52);
    uint64_t frac = bits & ((UINT64_C(1) << 52) - 1);
    binary_t b = {frac | UINT64_C(1) << 52, be - 1075, frac == 0};
    /* the decimal exponent: floor(log10(2) * (be - 1023)) is it or one less; round_to checks */
    int l2 = (be - 1023) * 78913; /* log10(2) is 78913 / 2^18 closely enough here */
    int x = l2 >= 0 ? l2 >> 18 : -((-l2 + (1 << 18) - 1) >> 18), rc;
    if (av >= POW10D[x + 9]) x++;
    uint64_t n;
    bool back;
    while ((rc = round_to(&b, 15, x, &n, &back)) != 0)
        x += rc;
    int p = 15;
    if (!back) {
        round_to(&b, 16, x, &n, &back);
        p = 16;
        if (!back) {
            round_to(&b, 17, x, &n, &back);
            p = 17;
        }
    }
    if (n == POW10[p]) { /* rounded up to the next power of ten */
        n /= 10;
        x++;
    }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (p <= 16) {
        size_t len = put_plain(buf, v < 0, n, p, x);
        if (len) return len;
    }
#endif
    if (p == 15) /* the fewest digits: the 15 without their trailing zeros */
        while (n % 10 == 0) {
            n /= 10;
            p--;
        }
    char d[17];
    for (int i = p; i > 1; i -= 2, n /= 100)
        memcpy(d + i - 2, DIGITS2 + 2 * (n % 100), 2);
    if (p & 1) d[0] = (char)('0' + n);
    return put_number(buf, v < 0, d, p, x);
}

static bool digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Skips a run of digits from *I; returns how many there were. */
static size_t digits(const char *s, size_t n, size_t *i)
{
    size_t start = *i;
    while (*i < n && digit(s[*i]))
        (*i)++;
    return *i - start;
}

bool gb_textio_is_f64(const char *s, size_t n, unsigned flags)
{
    size_t i = 0;
    if (i < n && (s[i] == '-' || (s[i] == '+' && (flags & GB_TEXTIO_PLUS)))) i++;
    size_t mant = digits(s, n, &i);
    if (i < n && s[i] == '.') {
        i++;
        mant += digits(s, n, &i);
    }
    if (mant == 0) return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        if (digits(s, n, &i) == 0) return false;
    }
    return i == n;
}

/*
 * S (checked grammar) the quick way, when it can be exact: at most 15 significant digits and a
 * power of ten up to 10^22, both exact doubles, so one correctly rounded multiplication or
 * division gives the double nearest to the decimal -- what strtod gives (Clinger's fast path).
 */
static bool f64_quick(const char *s, size_t n, double *out)
{
    static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    size_t i = 0;
    bool neg = s[0] == '-';
    if (neg || s[0] == '+') i++;
    uint64_t m = 0;
    int nd = 0, e = 0;
    bool point = false;
    for (; i < n; i++) {
        if (s[i] == '.') {
            point = true;
            continue;
        }
        if (!digit(s[i])) break;
        unsigned d = (unsigned)(s[i] - '0');
        if (m || d) {
            if (++nd > 15) return false;
            m = m * 10 + d;
        }
        if (point) e--;
    }
    if (i < n) { /* the exponent */
        i++;
        bool eneg = s[i] == '-';
        if (eneg || s[i] == '+') i++;
        int x = 0;
        for (; i < n; i++) {
            if (x > 1000) return false;
            x = x * 10 + (s[i] - '0');
        }
        e += eneg ? -x : x;
    }
    double v = (double)m;
    if (m && e > 0) {
        if (e > 22) return false;
        v *= p10[e];
    } else if (m && e < 0) {
        if (e < -22) return false;
        v /= p10[-e];
    }
    *out = neg ? -v : v;
    return true;
}

/*
 * The usual sensor value, "[-]digits[.digits]" with at most 15 digits, checked and read in one
 * pass: the same arithmetic as f64_quick, so the same double. False for anything else.
 */
static inline bool f64_short(const char *s, size_t n, double *out)
{
    static const double p10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6, 1e7,
                                 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    size_t i = s[0] == '-';
    if (n - i > 16) return false;
    uint64_t m = 0;
    size_t nd = 0, frac = 0;
    for (; i < n && digit(s[i]); i++, nd++)
        m = m * 10 + (unsigned)(s[i] - '0');
    if (i < n && s[i] == '.')
        for (i++; i < n && digit(s[i]); i++, nd++, frac++)
            m = m * 10 + (unsigned)(s[i] - '0');
    if (i != n || nd == 0 || nd > 15) return false;
    double v = (double)m;
    if (m && frac) v /= p10[frac];
    *out = s[0] == '-' ? -v : v;
    return true;
}

int gb_textio_f64_parse(const char *s, size_t n, unsigned flags, double *out)
{
    if (n && f64_short(s, n, out)) return 0;
    char buf[1025];
    if (n >= sizeof buf || !gb_textio_is_f64(s, n, flags)) return GB_EINVAL;
    if (f64_quick(s, n, out)) return 0;
    memcpy(buf, s, n);
    buf[n] = 0;
    double v = strtod(buf, NULL);
    /* the grammar has no "inf", so an infinity here means the number was too large */
    if (isinf(v)) return GB_ERANGE;
    *out = v;
    return 0;
}

/* Accumulates the digits of S[I..N) into *V, refusing a value above LIMIT. */
static int accumulate(const char *s, size_t n, size_t i, uint64_t limit, uint64_t *v)
{
    if (i == n) return GB_EINVAL;
    uint64_t acc = 0;
    for (; i < n; i++) {
        if (!digit(s[i])) return GB_EINVAL;
        unsigned d = (unsigned)(s[i] - '0');
        if (acc > (limit - d) / 10) return GB_ERANGE;
        acc = acc * 10 + d;
    }
    *v = acc;
    return 0;
}

int gb_textio_i64_parse(const char *s, size_t n, unsigned flags, int64_t *out)
{
    size_t i = 0;
    bool neg = n > 0 && s[0] == '-';
    if (neg || (n > 0 && s[0] == '+' && (flags & GB_TEXTIO_PLUS))) i = 1;
    uint64_t mag;
    int rc = accumulate(s, n, i, neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, &mag);
    if (rc) return rc;
    /* -2^63 has no positive twin: negate in unsigned arithmetic */
    *out = neg ? (int64_t)(0 - mag) : (int64_t)mag;
    return 0;
}

int gb_textio_u64_parse(const char *s, size_t n, uint64_t *out)
{
    return accumulate(s, n, 0, UINT64_MAX, out);
}
