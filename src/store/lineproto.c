/*
 * Line protocol in and out, and gemba's canonical series names.
 *
 * The parser walks the line once, left to right. Each name is unescaped as it is read, writing
 * behind the read position inside the same element, so a span's start is still the column where
 * the element began in the input: error columns come for free and nothing is copied. Every step
 * checks the end pointer before it looks at a byte; counts are checked against GB_LP_MAX_* before
 * a slot is filled.
 *
 * Escapes are written minimally (a backslash is doubled only where the reader would otherwise take
 * it as an escape), so names with ordinary backslashes, such as Windows paths, come out as InfluxDB
 * 1.x writers and readers expect them. Series names escape every special character and every
 * backslash, so each (measurement, tags, field) has exactly one name and each name one meaning.
 */
#include "store/lineproto.h"
#include "gemba/error.h"
#include "util/str.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef gb_textio_span_t span_t;

/* Characters escaped in series names (besides the backslash itself). */
static const char SERIES_SPECIALS[] = ",= #";

static const int64_t precision_ns[] = {
    1, 1000, 1000000, 1000000000, INT64_C(60000000000), INT64_C(3600000000000)};

int gb_lp_precision_parse(const char *s, size_t n, gb_lp_precision_t *out)
{
    static const struct {
        const char *word;
        gb_lp_precision_t p;
    } words[] = {{"n", GB_LP_NS},  {"ns", GB_LP_NS}, {"u", GB_LP_US}, {"us", GB_LP_US},
                 {"ms", GB_LP_MS}, {"s", GB_LP_S},   {"m", GB_LP_M},  {"h", GB_LP_H}};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        if (gb_textio_eq((span_t){s, n}, words[i].word)) {
            *out = words[i].p;
            return 0;
        }
    }
    return GB_EINVAL;
}

/* True when C is one of SET (NUL is never). */
static bool in(char c, const char *set)
{
    return c != 0 && strchr(set, c) != NULL;
}

static int span_cmp(span_t a, span_t b)
{
    size_t n = a.n < b.n ? a.n : b.n;
    int c = n ? memcmp(a.p, b.p, n) : 0;
    return c ? c : (a.n > b.n) - (a.n < b.n);
}

__attribute__((format(printf, 4, 5))) static int fail(gb_lp_err_t *err, const char *line,
                                                      const char *at, const char *fmt, ...)
{
    if (err) {
        err->column = (size_t)(at - line) + 1;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->why, sizeof err->why, fmt, ap);
        va_end(ap);
    }
    return GB_EPROTO;
}

/* "WHAT 'TEXT'", the text cut to fit a message. */
static int fail_text(gb_lp_err_t *err, const char *line, const char *at, const char *what,
                     span_t text)
{
    int n = text.n > 40 ? 40 : (int)text.n;
    return fail(err, line, at, "%s '%.*s%s'", what, n, text.p, text.n > 40 ? "..." : "");
}

static char *skip_spaces(char *p, const char *end)
{
    while (p < end && *p == ' ')
        p++;
    return p;
}

static int unexpected(gb_lp_err_t *err, const char *line, const char *at, const char *where)
{
    if (*at == '\n') return fail(err, line, at, "unexpected line break %s", where);
    return fail(err, line, at, "unexpected '%c' %s", *at, where);
}

/*
 * Reads a name from P up to the first unescaped byte of ESC (or a line break, or END), undoing
 * escapes in place: a backslash before a byte of ESC or before a backslash stands for that byte.
 */
static span_t take(char *p, const char *end, const char *esc, char **next)
{
    char *w = p, *r = p;
    while (r < end && *r != '\n' && !in(*r, esc)) {
        if (*r == '\\' && r + 1 < end && (r[1] == '\\' || in(r[1], esc))) r++;
        *w++ = *r++;
    }
    *next = r;
    return (span_t){p, (size_t)(w - p)};
}

static bool bool_word(span_t s, bool *out)
{
    static const char *const yes[] = {"t", "T", "true", "True", "TRUE"};
    static const char *const no[] = {"f", "F", "false", "False", "FALSE"};
    for (size_t i = 0; i < 5; i++) {
        if (gb_textio_eq(s, yes[i])) return *out = true, true;
        if (gb_textio_eq(s, no[i])) return *out = false, true;
    }
    return false;
}

/* A number or boolean field value TEXT (it starts at the line's byte TEXT.p). */
static int scalar(const char *line, span_t text, gb_lp_value_t *v, gb_lp_err_t *err)
{
    const char *s = text.p;
    size_t n = text.n;
    int rc;
    if (s[0] == 't' || s[0] == 'T' || s[0] == 'f' || s[0] == 'F') {
        v->type = GB_LP_BOOL;
        return bool_word(text, &v->v.b) ? 0 : fail_text(err, line, s, "bad boolean", text);
    }
    if (!(s[0] == '-' || s[0] == '.' || (s[0] >= '0' && s[0] <= '9')))
        return fail_text(err, line, s, "bad field value", text);
    const char *kind;
    if (s[n - 1] == 'i') {
        v->type = GB_LP_INT;
        kind = "integer";
        rc = gb_textio_i64_parse(s, n - 1, 0, &v->v.i);
    } else if (s[n - 1] == 'u') {
        v->type = GB_LP_UINT;
        kind = "unsigned integer";
        rc = gb_textio_u64_parse(s, n - 1, &v->v.u);
    } else {
        v->type = GB_LP_FLOAT;
        kind = "float";
        rc = gb_textio_f64_parse(s, n, 0, &v->v.f);
    }
    if (rc) {
        char what[40];
        snprintf(what, sizeof what, rc == GB_ERANGE ? "%s out of range" : "bad %s", kind);
        return fail_text(err, line, s, what, text);
    }
    return 0;
}

/* The field value at *PP; *PP moves past it. */
static int value(const char *line, char **pp, const char *end, gb_lp_value_t *v, gb_lp_err_t *err)
{
    char *p = *pp;
    if (p == end || *p == ' ' || *p == ',' || *p == '\n')
        return fail(err, line, p, "missing field value");
    if (*p == '"') {
        char *w = p + 1, *r = p + 1;
        while (r < end && *r != '"') {
            if (*r == '\\' && r + 1 < end && (r[1] == '"' || r[1] == '\\')) r++;
            *w++ = *r++;
        }
        if (r == end) return fail(err, line, p, "unterminated string");
        v->type = GB_LP_STRING;
        v->v.s = (span_t){p + 1, (size_t)(w - (p + 1))};
        *pp = r + 1;
        return 0;
    }
    char *s = p;
    while (p < end && *p != ',' && *p != ' ' && *p != '\n')
        p++;
    *pp = p;
    return scalar(line, (span_t){s, (size_t)(p - s)}, v, err);
}

static int tag_cmp(const void *a, const void *b)
{
    return span_cmp(((const gb_lp_tag_t *)a)->key, ((const gb_lp_tag_t *)b)->key);
}

static int field_ptr_cmp(const void *a, const void *b)
{
    return span_cmp((*(const gb_lp_field_t *const *)a)->key,
                    (*(const gb_lp_field_t *const *)b)->key);
}

/* Sorts the tags and refuses a repeated tag or field key (reported where it appears second). */
static int unique_keys(const char *line, gb_lp_line_t *out, gb_lp_err_t *err)
{
    qsort(out->tags, out->ntags, sizeof out->tags[0], tag_cmp);
    for (size_t i = 1; i < out->ntags; i++) {
        span_t a = out->tags[i - 1].key, b = out->tags[i].key;
        if (span_cmp(a, b) == 0)
            return fail_text(err, line, a.p > b.p ? a.p : b.p, "duplicate tag", b);
    }
    if (out->nfields < 2) return 0;
    const gb_lp_field_t *by_key[GB_LP_MAX_FIELDS];
    for (size_t i = 0; i < out->nfields; i++)
        by_key[i] = &out->fields[i];
    qsort(by_key, out->nfields, sizeof by_key[0], field_ptr_cmp);
    for (size_t i = 1; i < out->nfields; i++) {
        span_t a = by_key[i - 1]->key, b = by_key[i]->key;
        if (span_cmp(a, b) == 0)
            return fail_text(err, line, a.p > b.p ? a.p : b.p, "duplicate field", b);
    }
    return 0;
}

static int timestamp(const char *line, char *p, const char *end, gb_lp_precision_t prec,
                     gb_lp_line_t *out, gb_lp_err_t *err)
{
    char *ts = p;
    while (p < end && *p != ' ' && *p != '\n')
        p++;
    span_t text = {ts, (size_t)(p - ts)};
    p = skip_spaces(p, end);
    if (p < end) return unexpected(err, line, p, "after the timestamp");
    int64_t raw;
    int rc = gb_textio_i64_parse(text.p, text.n, 0, &raw);
    if (rc == GB_EINVAL) return fail_text(err, line, ts, "bad timestamp", text);
    if (rc || __builtin_mul_overflow(raw, precision_ns[prec], &out->t))
        return fail_text(err, line, ts, "timestamp out of range", text);
    out->has_time = true;
    return 0;
}

int gb_lp_parse(char *line, size_t len, gb_lp_precision_t prec, gb_lp_line_t *out, gb_lp_err_t *err)
{
    out->comment = false;
    out->measurement = (span_t){line, 0};
    out->ntags = out->nfields = 0;
    out->has_time = false;
    out->t = 0;
    if ((unsigned)prec > GB_LP_H) return GB_EINVAL;
    char *end = line + len;
    if (end > line && end[-1] == '\n') end--;
    if (end > line && end[-1] == '\r') end--;
    char *p = line;
    p = skip_spaces(p, end);
    if (p == end || *p == '#') {
        out->comment = true;
        return 0;
    }
    char *start = p;
    /* names and strings go out in JSON and to the dashboard: text, as line protocol says */
    size_t good = gb_utf8_valid(start, (size_t)(end - start));
    if (good < (size_t)(end - start))
        return fail(err, line, start + good,
                    "a byte that is not UTF-8 (line protocol is UTF-8 text)");
    out->measurement = take(start, end, ", ", &p);
    if (!out->measurement.n) return fail(err, line, start, "missing measurement");
    while (p < end && *p == ',') {
        if (out->ntags == GB_LP_MAX_TAGS)
            return fail(err, line, p, "too many tags (the limit is %d)", GB_LP_MAX_TAGS);
        gb_lp_tag_t *t = &out->tags[out->ntags];
        start = ++p;
        t->key = take(start, end, ",= ", &p);
        if (!t->key.n) return fail(err, line, start, "missing tag key");
        if (p == end || *p != '=')
            return fail_text(err, line, p, "missing '=' after tag key", t->key);
        start = ++p;
        t->value = take(start, end, ",= ", &p);
        if (!t->value.n) return fail_text(err, line, start, "missing value of tag", t->key);
        if (p < end && *p == '=') return fail(err, line, p, "unescaped '=' in a tag value");
        out->ntags++;
    }
    if (p < end && *p != ' ') return unexpected(err, line, p, "after the measurement and tags");
    p = skip_spaces(p, end);
    if (p == end) return fail(err, line, p, "missing field");
    for (;;) {
        if (out->nfields == GB_LP_MAX_FIELDS)
            return fail(err, line, p, "too many fields (the limit is %d)", GB_LP_MAX_FIELDS);
        gb_lp_field_t *f = &out->fields[out->nfields];
        start = p;
        f->key = take(start, end, ",= ", &p);
        if (!f->key.n) return fail(err, line, start, "missing field key");
        if (p == end || *p != '=')
            return fail_text(err, line, p, "missing '=' after field key", f->key);
        p++;
        int rc = value(line, &p, end, &f->value, err);
        if (rc) return rc;
        out->nfields++;
        if (p == end || *p == ' ') break;
        if (*p != ',') return unexpected(err, line, p, "after a field value");
        p++;
    }
    p = skip_spaces(p, end);
    if (p < end) {
        int rc = timestamp(line, p, end, prec, out, err);
        if (rc) return rc;
    }
    return unique_keys(line, out, err);
}

/* ---- the quick way ---------------------------------------------------------------------------- */

/* Byte classes for gb_lp_fast: separators, the line's end, and what sends a line the slow way. */
enum { K_SPACE = 1, K_COMMA = 2, K_EQ = 4, K_NL = 8, K_SLOW = 16 };
/* clang-format off */
#define SLOW8 K_SLOW, K_SLOW, K_SLOW, K_SLOW, K_SLOW, K_SLOW, K_SLOW, K_SLOW,
static const uint8_t KIND[256] = {
    [0] = K_SLOW,   [' '] = K_SPACE, [','] = K_COMMA, ['='] = K_EQ,  ['\n'] = K_NL,
    ['\r'] = K_SLOW, ['#'] = K_SLOW,  ['\\'] = K_SLOW, ['"'] = K_SLOW,
    /* beyond ASCII, 0x80 to 0xff: the slow way, which checks that it is UTF-8 */
    [0x80] = SLOW8 SLOW8 SLOW8 SLOW8 SLOW8 SLOW8 SLOW8 SLOW8
             SLOW8 SLOW8 SLOW8 SLOW8 SLOW8 SLOW8 SLOW8 SLOW8
};
#undef SLOW8
/* clang-format on */

/* Skips ordinary bytes from P; returns the first that is not (END: past the buffer). */
static const char *plain_run(const char *p, const char *end)
{
    while (p < end && !KIND[(unsigned char)*p])
        p++;
    return p;
}

/* Whether the eight bytes W (as loaded, little-endian) are all decimal digits. */
static inline bool eight_digits(uint64_t w)
{
    return ((w & 0xf0f0f0f0f0f0f0f0u) | (((w + 0x0606060606060606u) & 0xf0f0f0f0f0f0f0f0u) >> 4)) ==
           0x3333333333333333u;
}

/* The value of eight digit bytes W, a few multiplications instead of a chain of eight. */
static inline uint32_t eight_value(uint64_t w)
{
    w -= 0x3030303030303030u;
    w = w * 10 + (w >> 8);
    return (uint32_t)(((w & 0x000000ff000000ffu) * 0x000f424000000064u +
                       ((w >> 16) & 0x000000ff000000ffu) * 0x0000271000000001u) >>
                      32);
}

/* The digits from P (1..19 of them, up to END or a byte that is not one) into *V; where they end,
 * or NULL. Timestamps have 19: eight at a time saves most of the work. */
static const char *fast_uint(const char *p, const char *end, uint64_t *v)
{
    const char *s = p;
    uint64_t a = 0, w;
    while (end - p >= 8 && p - s <= 11) {
        memcpy(&w, p, 8);
        if (!eight_digits(w)) break;
        a = a * 100000000u + eight_value(w);
        p += 8;
    }
    while (p < end && (unsigned)(*p - '0') <= 9 && p - s < 19)
        a = a * 10 + (unsigned)(*p++ - '0');
    if (p == s || (p < end && (unsigned)(*p - '0') <= 9)) return NULL; /* none, or over 19 */
    *v = a;
    return p;
}

/* The digits of an unsigned decimal S[0..N) (1..19 of them) into *V. */
static bool fast_digits(const char *s, size_t n, uint64_t *v)
{
    return n && fast_uint(s, s + n, v) == s + n;
}

/* A field value S[0..N) of gb_lp_fast: a number or boolean word into *V. */
static bool fast_value(const char *s, size_t n, gb_value_t *v)
{
    memset(v, 0, sizeof *v);
    if (n == 0) return false;
    char c = s[0];
    if (c == 't' || c == 'T' || c == 'f' || c == 'F') {
        v->type = GB_VT_BOOL;
        return bool_word((span_t){s, n}, &v->b);
    }
    if (!(c == '-' || c == '.' || (c >= '0' && c <= '9'))) return false;
    char last = s[n - 1];
    if (last == 'i' || last == 'u') {
        bool neg = c == '-';
        uint64_t m;
        if (neg && last == 'u') return false;
        if (!fast_digits(s + neg, n - 1 - neg, &m) || m > (uint64_t)INT64_MAX) return false;
        v->type = GB_VT_I64;
        v->i64 = neg ? -(int64_t)m : (int64_t)m;
        return true;
    }
    v->type = GB_VT_F64;
    return gb_textio_f64_parse(s, n, 0, &v->f64) == 0;
}

bool gb_lp_fast(const char *buf, size_t len, bool eof, gb_lp_precision_t prec, gb_lp_fast_t *out)
{
    const char *end = buf + len, *p = buf;
    if ((unsigned)prec > GB_LP_H) return false;
    /* the measurement: no '=' in it (a canonical name escapes it) */
    const char *q = plain_run(p, end);
    if (q == p || q == end || KIND[(unsigned char)*q] & (K_EQ | K_SLOW | K_NL)) return false;
    p = q;
    /* tags: key=value, keys in order */
    const char *pk = NULL;
    size_t pkn = 0;
    while (*p == ',') {
        const char *k = p + 1;
        q = plain_run(k, end);
        if (q == k || q == end || *q != '=') return false;
        size_t kn = (size_t)(q - k);
        if (pk) {
            size_t m = kn < pkn ? kn : pkn;
            int c = memcmp(pk, k, m);
            if (c > 0 || (c == 0 && pkn >= kn)) return false; /* out of order, or twice */
        }
        pk = k;
        pkn = kn;
        const char *val = q + 1;
        q = plain_run(val, end);
        if (q == val || q == end || KIND[(unsigned char)*q] & (K_EQ | K_SLOW | K_NL)) return false;
        p = q;
    }
    if (*p != ' ') return false;
    out->keylen = (size_t)(p - buf);
    p++;
    /* fields: key=value[,key=value...] */
    size_t nf = 0;
    for (;;) {
        const char *k = p;
        q = plain_run(k, end);
        if (q == k || q == end || *q != '=' || nf == GB_LP_FAST_FIELDS) return false;
        span_t key = {k, (size_t)(q - k)};
        for (size_t j = 0; j < nf; j++)
            if (span_cmp(out->fields[j].key, key) == 0) return false;
        const char *val = q + 1;
        q = plain_run(val, end);
        if (q < end && KIND[(unsigned char)*q] & (K_EQ | K_SLOW)) {
            if (!(*q == '\r' && q + 1 < end && q[1] == '\n')) return false;
        }
        out->fields[nf].key = key;
        if (!fast_value(val, (size_t)(q - val), &out->fields[nf].v)) return false;
        nf++;
        p = q;
        if (p == end || *p != ',') break;
        p++;
    }
    out->nfields = nf;
    out->has_time = false;
    if (p < end && *p == ' ') { /* the timestamp */
        const char *ts = ++p;
        bool neg = p < end && *p == '-';
        uint64_t m;
        q = fast_uint(ts + neg, end, &m);
        if (!q || m > (uint64_t)INT64_MAX + neg) return false;
        int64_t raw = neg ? (int64_t)(0 - m) : (int64_t)m;
        if (__builtin_mul_overflow(raw, precision_ns[prec], &out->t)) return false;
        out->has_time = true;
        p = q;
    }
    /* the line's end */
    if (p < end && *p == '\r') p++;
    if (p < end) {
        if (*p != '\n') return false;
        p++;
    } else if (!eof || p[-1] == '\r') {
        return false; /* the rest may come with the next piece; a lone CR is for the slow way */
    }
    out->len = (size_t)(p - buf);
    return true;
}

int gb_lp_line_end(const char *buf, size_t len, size_t max, size_t *out)
{
    /* where the reader is: in the measurement and tags, the spaces after them, a field key, the
     * first byte of a field value, the rest of an unquoted one, a string, or past the fields */
    enum { NAME, GAP, KEY, VALUE0, VALUE, STRING, REST } st = NAME;
    size_t i = 0;
    while (i < len && buf[i] == ' ')
        i++;
    if (i < len && buf[i] == '#') st = REST;
    for (; i < len; i++) {
        if (i >= max) { /* an escape may step over MAX */
            const char *nl = memchr(buf + i, '\n', len - i);
            *out = nl ? (size_t)(nl - buf) + 1 : len;
            return GB_ERANGE;
        }
        char c = buf[i];
        if (st == STRING) {
            if (c == '\\' && i + 1 < len && (buf[i + 1] == '"' || buf[i + 1] == '\\'))
                i++;
            else if (c == '"')
                st = VALUE;
            continue;
        }
        if (c == '\n') break;
        bool escape = c == '\\' && i + 1 < len && buf[i + 1] != '\n';
        switch (st) {
        case NAME:
            if (escape)
                i++;
            else if (c == ' ')
                st = GAP;
            break;
        case GAP:
            if (c != ' ') {
                st = KEY;
                i--; /* this byte starts the key */
            }
            break;
        case KEY:
            if (escape)
                i++;
            else if (c == '=')
                st = VALUE0;
            else if (c == ' ')
                st = REST;
            break;
        case VALUE0:
        case VALUE:
            if (c == '"' && st == VALUE0)
                st = STRING;
            else if (c == ',')
                st = KEY;
            else if (c == ' ')
                st = REST;
            else
                st = VALUE;
            break;
        default:
            break;
        }
    }
    *out = i < len ? i + 1 : len;
    return 0;
}

/* The byte at *I of part S, undoing a series-name escape when RAW; *I moves past it. */
static char next_byte(span_t s, bool raw, size_t *i)
{
    if (raw && s.p[*i] == '\\' && *i + 1 < s.n) (*i)++;
    return s.p[(*i)++];
}

/*
 * Writes part S (canonically escaped when RAW) with every byte of SPECIALS escaped. A backslash is
 * doubled always when CANON (series names), else only where a reader would take it as an escape:
 * before a special, before another backslash, or at the end of the part.
 */
static void put_part(gb_textio_out_t *o, span_t s, bool raw, const char *specials, bool canon)
{
    size_t i = 0;
    while (i < s.n) {
        char c = next_byte(s, raw, &i);
        size_t j = i;
        char after = j < s.n ? next_byte(s, raw, &j) : 0;
        bool escaped_after = j > i && (after == '\\' || in(after, specials));
        if (in(c, specials) || (c == '\\' && (canon || j == i || escaped_after)))
            gb_textio_putc(o, '\\');
        gb_textio_putc(o, c);
    }
}

int gb_lp_series_name(const gb_lp_line_t *l, size_t field, char *buf, size_t size, size_t *len)
{
    if (field >= l->nfields || !l->measurement.n || !l->fields[field].key.n) return GB_EINVAL;
    for (size_t i = 0; i < l->ntags; i++) {
        if (!l->tags[i].key.n || !l->tags[i].value.n) return GB_EINVAL;
        if (i && span_cmp(l->tags[i - 1].key, l->tags[i].key) >= 0) return GB_EINVAL;
    }
    gb_textio_out_t o;
    gb_textio_out_init(&o, buf, size);
    put_part(&o, l->measurement, false, SERIES_SPECIALS, true);
    for (size_t i = 0; i < l->ntags; i++) {
        gb_textio_putc(&o, ',');
        put_part(&o, l->tags[i].key, false, SERIES_SPECIALS, true);
        gb_textio_putc(&o, '=');
        put_part(&o, l->tags[i].value, false, SERIES_SPECIALS, true);
    }
    gb_textio_putc(&o, '#');
    put_part(&o, l->fields[field].key, false, SERIES_SPECIALS, true);
    return gb_textio_out_end(&o, len);
}

/*
 * Reads one part of a series name from *I, escapes left in: up to the next unescaped special,
 * which goes to *STOP (0 at the end of the name). Refuses an empty part and a backslash that
 * does not escape a special or a backslash.
 */
static int series_part(const char *s, size_t n, size_t *i, span_t *out, char *stop)
{
    size_t start = *i;
    *stop = 0;
    while (*i < n) {
        char c = s[*i];
        if (c == '\\') {
            if (*i + 1 == n || !(s[*i + 1] == '\\' || in(s[*i + 1], SERIES_SPECIALS)))
                return GB_EINVAL;
            *i += 2;
        } else if (in(c, SERIES_SPECIALS)) {
            *stop = c;
            break;
        } else {
            (*i)++;
        }
    }
    *out = (span_t){s + start, *i - start};
    if (*stop) (*i)++;
    return out->n ? 0 : GB_EINVAL;
}

/* Compares two escaped parts by their unescaped bytes. */
static int escaped_cmp(span_t a, span_t b)
{
    size_t i = 0, j = 0;
    while (i < a.n && j < b.n) {
        unsigned char x = (unsigned char)next_byte(a, true, &i);
        unsigned char y = (unsigned char)next_byte(b, true, &j);
        if (x != y) return x < y ? -1 : 1;
    }
    return (i < a.n) - (j < b.n);
}

/* Cuts a canonical series name into its parts, escapes still in. */
static int series_scan(const char *name, size_t len, gb_lp_series_t *out)
{
    size_t i = 0;
    char stop;
    out->ntags = 0;
    if (series_part(name, len, &i, &out->measurement, &stop)) return GB_EINVAL;
    while (stop == ',') {
        if (out->ntags == GB_LP_MAX_TAGS) return GB_EINVAL;
        gb_lp_tag_t *t = &out->tags[out->ntags];
        if (series_part(name, len, &i, &t->key, &stop) || stop != '=') return GB_EINVAL;
        if (series_part(name, len, &i, &t->value, &stop)) return GB_EINVAL;
        if (out->ntags && escaped_cmp(out->tags[out->ntags - 1].key, t->key) >= 0) return GB_EINVAL;
        out->ntags++;
    }
    if (stop != '#') return GB_EINVAL;
    if (series_part(name, len, &i, &out->field, &stop) || stop) return GB_EINVAL;
    return 0;
}

/* Undoes the escapes of part S of NAME in place. */
static span_t unescape_part(char *name, span_t s)
{
    char *w = name + (s.p - name);
    const char *start = w;
    size_t i = 0;
    while (i < s.n)
        *w++ = next_byte(s, true, &i);
    return (span_t){start, (size_t)(w - start)};
}

int gb_lp_series_split(char *name, size_t len, gb_lp_series_t *out)
{
    if (series_scan(name, len, out)) return GB_EINVAL;
    out->measurement = unescape_part(name, out->measurement);
    for (size_t i = 0; i < out->ntags; i++) {
        out->tags[i].key = unescape_part(name, out->tags[i].key);
        out->tags[i].value = unescape_part(name, out->tags[i].value);
    }
    out->field = unescape_part(name, out->field);
    return 0;
}

static void put_value(gb_textio_out_t *o, const gb_lp_value_t *v)
{
    char num[GB_TEXTIO_F64_MAX];
    size_t n = 0;
    switch (v->type) {
    case GB_LP_FLOAT:
        n = gb_textio_f64_format(v->v.f, num);
        break;
    case GB_LP_INT:
        n = (size_t)snprintf(num, sizeof num, "%" PRId64 "i", v->v.i);
        break;
    case GB_LP_UINT:
        n = (size_t)snprintf(num, sizeof num, "%" PRIu64 "u", v->v.u);
        break;
    case GB_LP_BOOL:
        n = (size_t)snprintf(num, sizeof num, "%s", v->v.b ? "true" : "false");
        break;
    case GB_LP_STRING:
        gb_textio_putc(o, '"');
        put_part(o, v->v.s, false, "\"", false);
        gb_textio_putc(o, '"');
        return;
    }
    gb_textio_put(o, num, n);
}

int gb_lp_format(const char *series, size_t series_len, const gb_lp_value_t *v, gb_time_t t,
                 char *buf, size_t size, size_t *len)
{
    gb_lp_series_t s;
    if (series_scan(series, series_len, &s)) return GB_EINVAL;
    /* a leading '#' would make a comment, and line protocol cannot escape it; nor a line break */
    if ((s.measurement.n >= 2 && s.measurement.p[0] == '\\' && s.measurement.p[1] == '#') ||
        memchr(series, '\n', series_len))
        return GB_EINVAL;
    if (v->type < GB_LP_FLOAT || v->type > GB_LP_STRING) return GB_EINVAL;
    if (v->type == GB_LP_FLOAT && !isfinite(v->v.f)) return GB_EINVAL;
    gb_textio_out_t o;
    gb_textio_out_init(&o, buf, size);
    put_part(&o, s.measurement, true, ", ", false);
    for (size_t i = 0; i < s.ntags; i++) {
        gb_textio_putc(&o, ',');
        put_part(&o, s.tags[i].key, true, ",= ", false);
        gb_textio_putc(&o, '=');
        put_part(&o, s.tags[i].value, true, ",= ", false);
    }
    gb_textio_putc(&o, ' ');
    put_part(&o, s.field, true, ",= ", false);
    gb_textio_putc(&o, '=');
    put_value(&o, v);
    char ts[24];
    int n = snprintf(ts, sizeof ts, " %" PRId64, t);
    gb_textio_put(&o, ts, (size_t)n);
    return gb_textio_out_end(&o, len);
}

int gb_lp_value_to_sample(const gb_lp_value_t *v, gb_value_t *out)
{
    memset(out, 0, sizeof *out);
    switch (v->type) {
    case GB_LP_FLOAT:
        out->type = GB_VT_F64;
        out->f64 = v->v.f;
        return 0;
    case GB_LP_INT:
        out->type = GB_VT_I64;
        out->i64 = v->v.i;
        return 0;
    case GB_LP_UINT:
        if (v->v.u > (uint64_t)INT64_MAX) return GB_ERANGE;
        out->type = GB_VT_I64;
        out->i64 = (int64_t)v->v.u;
        return 0;
    case GB_LP_BOOL:
        out->type = GB_VT_BOOL;
        out->b = v->v.b;
        return 0;
    case GB_LP_STRING:
        out->type = GB_VT_STR;
        out->str = v->v.s.p;
        out->len = v->v.s.n;
        return 0;
    }
    return GB_EINVAL;
}

void gb_lp_value_from_sample(const gb_value_t *v, gb_lp_value_t *out)
{
    memset(out, 0, sizeof *out);
    switch (v->type) {
    case GB_VT_F64:
        out->type = GB_LP_FLOAT;
        out->v.f = v->f64;
        break;
    case GB_VT_I64:
        out->type = GB_LP_INT;
        out->v.i = v->i64;
        break;
    case GB_VT_BOOL:
        out->type = GB_LP_BOOL;
        out->v.b = v->b;
        break;
    case GB_VT_STR:
        out->type = GB_LP_STRING;
        out->v.s = (span_t){v->str, v->len};
        break;
    }
}
