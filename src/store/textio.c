/*
 * Spans, a bounded output buffer and numbers as text, for the line-protocol and CSV codecs.
 *
 * The shortest float: %.*e with 1 to 17 significant digits, keeping the fewest that strtod reads
 * back to the same double (17 always do for binary64). "Reads back" is monotone in the number of
 * digits P -- the P-digit decimal is itself a (P+1)-digit decimal, and the nearest (P+1)-digit one
 * is no farther from V -- and for a normal double 15 digits settle it in one try (see
 * gb_textio_f64_format); subnormals, with fewer bits, are searched by bisection.
 * strtod and snprintf work in the C locale, which gemba never changes.
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

size_t gb_textio_f64_format(double v, char *buf)
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
    int n = snprintf(e, sizeof e, "%.*e", lo - 1, v);
    char *x = strchr(e, 'e');
    int exp10 = atoi(x + 1);
    if (exp10 < -7 || exp10 >= 21) {
        memcpy(buf, e, (size_t)n + 1);
        return (size_t)n;
    }
    /* the same digits in plain notation: placed around the point, padded with zeros */
    char digits[20];
    int nd = 0;
    for (const char *p = e; p < x; p++)
        if (*p >= '0' && *p <= '9') digits[nd++] = *p;
    size_t len = 0;
    if (v < 0) buf[len++] = '-';
    if (exp10 < 0) {
        buf[len++] = '0';
        buf[len++] = '.';
        for (int i = -1; i > exp10; i--)
            buf[len++] = '0';
    }
    for (int i = 0; i < nd || i <= exp10; i++) {
        if (i == exp10 + 1 && exp10 >= 0) buf[len++] = '.';
        buf[len++] = i < nd ? digits[i] : '0';
    }
    buf[len] = 0;
    return len;
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

int gb_textio_f64_parse(const char *s, size_t n, unsigned flags, double *out)
{
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
