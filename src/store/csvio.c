/*
 * The time,tag,value CSV: a byte-at-a-time RFC 4180 state machine, the value typing rule, and
 * the writer that inverts both.
 *
 * Why a state machine of our own rather than libcsv: the reader must stop at a fixed row size
 * while the row is still arriving (libcsv grows its field buffer without bound), must know the
 * line each row started on, and must know whether a field was quoted (a blank line is skipped, a
 * quoted empty field is not). The machine takes input in pieces of any size, so `gemba import`
 * reads a file of any length in fixed memory.
 *
 * Times are our own RFC 3339 reader and writer rather than gb_time_parse_rfc3339: the historian
 * must take back every time it can hold, and int64 nanoseconds reach from 1677 to 2262. Civil
 * dates are counted with Howard Hinnant's days_from_civil, which is exact for any year.
 */
#include "store/csvio.h"
#include "gemba/error.h"
#include "util/str.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef gb_textio_span_t span_t;

enum {
    S_START, /* at the start of a field */
    S_UNQ,   /* inside an unquoted field */
    S_Q,     /* inside a quoted field */
    S_QQ,    /* a quote inside a quoted field: doubled, or the field's end */
    S_QCR,   /* a CR after a closing quote: a LF must follow */
    S_SKIP   /* after a malformed row: up to the next line feed */
};

static const unsigned char BOM[3] = {0xEF, 0xBB, 0xBF};

/* ---- times ---- */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* N decimal digits at S. */
static bool fixed_digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static int month_days(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return days[m - 1] + (m == 2 && leap);
}

/* The zone at S[0..N): "Z", "z" or "+hh:mm"/"-hh:mm", as seconds east of UTC. */
static bool zone(const char *s, size_t n, int64_t *off)
{
    int h, m;
    if (n == 1 && (s[0] == 'Z' || s[0] == 'z')) {
        *off = 0;
        return true;
    }
    if (n != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':' || !fixed_digits(s + 1, 2, &h) ||
        !fixed_digits(s + 4, 2, &m) || h > 23 || m > 59)
        return false;
    *off = (h * 3600 + m * 60) * (s[0] == '-' ? -1 : 1);
    return true;
}

static int rfc3339(const char *s, size_t n, gb_time_t *out)
{
    int y, mo, d, h, mi, sec;
    if (n < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        s[13] != ':' || s[16] != ':')
        return GB_EINVAL;
    if (!fixed_digits(s, 4, &y) || !fixed_digits(s + 5, 2, &mo) || !fixed_digits(s + 8, 2, &d) ||
        !fixed_digits(s + 11, 2, &h) || !fixed_digits(s + 14, 2, &mi) ||
        !fixed_digits(s + 17, 2, &sec))
        return GB_EINVAL;
    if (mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) || h > 23 || mi > 59 || sec > 60)
        return GB_EINVAL;
    size_t p = 19;
    int64_t frac = 0;
    if (p < n && s[p] == '.') {
        size_t first = ++p;
        while (p < n && s[p] >= '0' && s[p] <= '9') {
            if (p - first == 9) return GB_EINVAL; /* finer than a nanosecond */
            frac = frac * 10 + (s[p++] - '0');
        }
        if (p == first) return GB_EINVAL;
        for (size_t i = p - first; i < 9; i++)
            frac *= 10;
    }
    int64_t off;
    if (!zone(s + p, n - p, &off)) return GB_EINVAL;
    if (sec == 60) sec = 59; /* a leap second is held at :59, as gb_time_parse_rfc3339 does */
    int64_t secs =
        days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec - off;
    /* before 1970 borrow the fraction from the next second, so the very first nanosecond
     * int64 holds (1677-09-21T00:12:43.145224192Z) does not overflow on the way */
    if (secs < 0 && frac > 0) {
        secs += 1;
        frac -= GB_NS_PER_S;
    }
    int64_t ns;
    if (__builtin_mul_overflow(secs, GB_NS_PER_S, &ns) || __builtin_add_overflow(ns, frac, out))
        return GB_ERANGE;
    return 0;
}

int gb_csv_time_parse(const char *s, size_t n, gb_time_t *out)
{
    int rc = gb_textio_i64_parse(s, n, 0, out);
    return rc == GB_EINVAL ? rfc3339(s, n, out) : rc;
}

size_t gb_csv_time_format(gb_time_t t, char *buf)
{
    int64_t secs = t / GB_NS_PER_S, ns = t % GB_NS_PER_S;
    if (ns < 0) {
        ns += GB_NS_PER_S;
        secs--;
    }
    int64_t days = secs / 86400, sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        days--;
    }
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    int n = snprintf(buf, GB_CSV_TIME_MAX, "%04" PRId64 "-%02u-%02uT%02d:%02d:%02d.%09" PRId64 "Z",
                     y, m, d, (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), ns);
    return n > 0 ? (size_t)n : 0;
}

/* ---- values ---- */

typedef enum { K_BOOL, K_NONFINITE, K_INT, K_FLOAT, K_QUOTED, K_STRING } kind_t;

static bool ieq(const char *s, size_t n, const char *word)
{
    return strlen(word) == n && strncasecmp(s, word, n) == 0;
}

static kind_t classify(const char *s, size_t n)
{
    int64_t i;
    if (ieq(s, n, "true") || ieq(s, n, "false")) return K_BOOL;
    if (ieq(s, n, "nan") || ieq(s, n, "inf") || ieq(s, n, "+inf") || ieq(s, n, "-inf"))
        return K_NONFINITE;
    if (n >= 2 && s[n - 1] == 'i' && gb_textio_i64_parse(s, n - 1, GB_TEXTIO_PLUS, &i) != GB_EINVAL)
        return K_INT;
    if (gb_textio_is_f64(s, n, GB_TEXTIO_PLUS)) return K_FLOAT;
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') return K_QUOTED;
    return K_STRING;
}

int gb_csv_value_parse(const char *s, size_t n, gb_value_t *out)
{
    memset(out, 0, sizeof *out);
    switch (classify(s, n)) {
    case K_BOOL:
        out->type = GB_VT_BOOL;
        out->b = s[0] == 't' || s[0] == 'T';
        return 0;
    case K_NONFINITE:
        out->type = GB_VT_F64;
        out->f64 = (s[0] == 'n' || s[0] == 'N') ? NAN : s[0] == '-' ? -INFINITY : INFINITY;
        return 0;
    case K_INT:
        out->type = GB_VT_I64;
        return gb_textio_i64_parse(s, n - 1, GB_TEXTIO_PLUS, &out->i64);
    case K_FLOAT:
        out->type = GB_VT_F64;
        return gb_textio_f64_parse(s, n, GB_TEXTIO_PLUS, &out->f64);
    case K_QUOTED:
        out->type = GB_VT_STR;
        out->str = s + 1;
        out->len = n - 2;
        return 0;
    case K_STRING:
        break;
    }
    out->type = GB_VT_STR;
    out->str = s;
    out->len = n;
    return 0;
}

/* ---- writer ---- */

/* A CSV field, quoted when it must be; WRAP puts the text itself in quotes first. */
static void put_field(gb_textio_out_t *o, const char *s, size_t n, bool wrap)
{
    bool quote = wrap;
    for (size_t i = 0; i < n && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
    if (!quote) {
        gb_textio_put(o, s, n);
        return;
    }
    gb_textio_putc(o, '"');
    if (wrap) gb_textio_put(o, "\"\"", 2);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"') gb_textio_putc(o, '"');
        gb_textio_putc(o, s[i]);
    }
    if (wrap) gb_textio_put(o, "\"\"", 2);
    gb_textio_putc(o, '"');
}

int gb_csv_format_row(gb_time_t t, const char *series, size_t series_len, const gb_value_t *v,
                      char *buf, size_t size, size_t *len)
{
    if (!series_len) return GB_EINVAL;
    gb_textio_out_t o;
    gb_textio_out_init(&o, buf, size);
    char tmp[GB_TEXTIO_F64_MAX > GB_CSV_TIME_MAX ? GB_TEXTIO_F64_MAX : GB_CSV_TIME_MAX];
    gb_textio_put(&o, tmp, gb_csv_time_format(t, tmp));
    gb_textio_putc(&o, ',');
    put_field(&o, series, series_len, false);
    gb_textio_putc(&o, ',');
    switch (v->type) {
    case GB_VT_F64:
        gb_textio_put(&o, tmp, gb_textio_f64_format(v->f64, tmp));
        break;
    case GB_VT_I64:
        gb_textio_put(&o, tmp, (size_t)snprintf(tmp, sizeof tmp, "%" PRId64 "i", v->i64));
        break;
    case GB_VT_BOOL:
        gb_textio_put(&o, v->b ? "true" : "false", v->b ? 4 : 5);
        break;
    case GB_VT_STR:
        put_field(&o, v->str, v->len, classify(v->str, v->len) != K_STRING);
        break;
    default:
        return GB_EINVAL;
    }
    gb_textio_putc(&o, '\n');
    return gb_textio_out_end(&o, len);
}

/* ---- reader ---- */

void gb_csv_reader_init(gb_csv_reader_t *r)
{
    memset(r, 0, sizeof *r);
    r->buf = gb_xmalloc(GB_CSV_ROW_MAX);
    r->nfields = 1;
    r->line = r->row_line = 1;
}

void gb_csv_reader_clear(gb_csv_reader_t *r)
{
    free(r->buf);
    r->buf = NULL;
}

__attribute__((format(printf, 3, 4))) static int fail(gb_csv_err_t *err, size_t line,
                                                      const char *fmt, ...)
{
    if (err) {
        err->line = line;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->why, sizeof err->why, fmt, ap);
        va_end(ap);
    }
    return GB_EPROTO;
}

static void reset_row(gb_csv_reader_t *r)
{
    r->len = 0;
    r->nfields = 1;
    r->fstart[0] = 0;
    r->quoted = false;
    r->too_long = false;
    r->state = S_START;
    r->row_line = r->line;
}

static void push(gb_csv_reader_t *r, char c)
{
    if (r->nfields > 3) return;
    if (r->len == GB_CSV_ROW_MAX) {
        r->too_long = true;
        return;
    }
    r->buf[r->len++] = c;
}

static int next_field(gb_csv_reader_t *r)
{
    if (++r->nfields <= 3) r->fstart[r->nfields - 1] = r->len;
    r->quoted = false;
    r->state = S_START;
    return 0;
}

/* A malformed byte: the rest of the line is skipped; before the header, everything is. */
static int syntax(gb_csv_reader_t *r, gb_csv_err_t *err, const char *why)
{
    r->state = S_SKIP;
    if (!r->header_done) r->failed = true;
    return fail(err, r->line, "%s", why);
}

static int bad_text(gb_csv_err_t *err, size_t line, const char *what, span_t s)
{
    int n = s.n > 60 ? 60 : (int)s.n;
    return fail(err, line, "%s '%.*s%s'", what, n, s.p, s.n > 60 ? "..." : "");
}

static int check_header(gb_csv_reader_t *r, const span_t *f, size_t nf, size_t line,
                        gb_csv_err_t *err)
{
    static const char *const names[3] = {"time", "tag", "value"};
    bool ok = nf == 3;
    for (size_t i = 0; ok && i < 3; i++)
        ok = ieq(f[i].p, f[i].n, names[i]);
    if (ok) {
        r->header_done = true;
        return 0;
    }
    r->failed = true;
    return fail(err, line, "the first row must be the header time,tag,value");
}

/* The row is complete: hand it out, or skip it (a blank line, the header), or refuse it. */
static int finish_row(gb_csv_reader_t *r, gb_csv_row_t *row, gb_csv_err_t *err)
{
    /* an unquoted field before a CRLF took the CR as data: give it back */
    size_t last = r->nfields <= 3 ? r->fstart[r->nfields - 1] : r->len;
    if (!r->quoted && r->state != S_QQ && r->state != S_QCR && r->len > last &&
        r->buf[r->len - 1] == '\r')
        r->len--;
    span_t f[3];
    size_t nf = r->nfields, line = r->row_line;
    bool blank = nf == 1 && r->len == 0 && !r->quoted, too_long = r->too_long;
    for (size_t i = 0; i < nf && i < 3; i++) {
        size_t end = i + 1 < nf && i + 1 < 3 ? r->fstart[i + 1] : r->len;
        f[i] = (span_t){r->buf + r->fstart[i], end - r->fstart[i]};
    }
    reset_row(r); /* the bytes stay until the next call: ROW points at them */
    if (blank) return 0;
    if (too_long) {
        if (!r->header_done) r->failed = true;
        fail(err, line, "row longer than %u bytes", (unsigned)GB_CSV_ROW_MAX);
        return GB_ERANGE;
    }
    if (!r->header_done) return check_header(r, f, nf, line, err);
    if (nf != 3) return fail(err, line, "expected 3 fields (time,tag,value), got %zu", nf);
    int rc = gb_csv_time_parse(f[0].p, f[0].n, &row->t);
    if (rc) return bad_text(err, line, rc == GB_ERANGE ? "time out of range" : "bad time", f[0]);
    if (!f[1].n) return fail(err, line, "empty tag");
    /* names and text values go out in JSON and to the dashboard: UTF-8, as the file should be */
    if (gb_utf8_valid(f[1].p, f[1].n) < f[1].n)
        return fail(err, line, "a tag that is not UTF-8 text (convert the file, e.g. with iconv)");
    if (gb_csv_value_parse(f[2].p, f[2].n, &row->value))
        return bad_text(err, line, "value out of range", f[2]);
    if (row->value.type == GB_VT_STR && gb_utf8_valid(f[2].p, f[2].n) < f[2].n)
        return fail(err, line, "a value that is not UTF-8 text (convert the file, e.g. with iconv)");
    row->line = line;
    row->series = f[1];
    row->text = f[2];
    return GB_CSV_ROW;
}

/* One byte of input. Returns 0 to go on, GB_CSV_ROW or an error when a row ends. */
static int step(gb_csv_reader_t *r, char c, gb_csv_row_t *row, gb_csv_err_t *err)
{
    switch (r->state) {
    case S_SKIP:
        if (c == '\n') reset_row(r);
        return 0;
    case S_START:
        if (c == '"') {
            r->quoted = true;
            r->state = S_Q;
            return 0;
        }
        r->state = S_UNQ;
        /* fall through */
    case S_UNQ:
        if (c == ',') return next_field(r);
        if (c == '\n') return finish_row(r, row, err);
        if (c == '"') return syntax(r, err, "a quote inside an unquoted field");
        push(r, c);
        return 0;
    case S_Q:
        if (c == '"')
            r->state = S_QQ;
        else
            push(r, c);
        return 0;
    case S_QQ:
        if (c == '"') {
            push(r, c);
            r->state = S_Q;
            return 0;
        }
        if (c == ',') return next_field(r);
        if (c == '\n') return finish_row(r, row, err);
        if (c == '\r') {
            r->state = S_QCR;
            return 0;
        }
        return syntax(r, err, "text after a closing quote");
    default: /* S_QCR */
        if (c == '\n') return finish_row(r, row, err);
        return syntax(r, err, "a carriage return after a closing quote without a line feed");
    }
}

/* The input has ended: the last row may lack its line end. */
static int at_eof(gb_csv_reader_t *r, gb_csv_row_t *row, gb_csv_err_t *err)
{
    r->done = true;
    if (r->state == S_SKIP) return 0;
    if (r->state == S_Q) {
        if (!r->header_done) r->failed = true;
        return fail(err, r->row_line, "a quoted field is not closed");
    }
    if (r->state == S_START && r->nfields == 1 && r->len == 0 && !r->quoted) {
        if (r->header_done) return 0;
        r->failed = true;
        return fail(err, r->line, "no header: the first row must be time,tag,value");
    }
    return finish_row(r, row, err);
}

int gb_csv_read(gb_csv_reader_t *r, const char *in, size_t len, bool eof, size_t *used,
                gb_csv_row_t *row, gb_csv_err_t *err)
{
    *used = 0;
    if (r->failed) {
        *used = len;
        return fail(err, 1, "the header is wrong: nothing after it is read");
    }
    if (r->done) return 0;
    size_t i = 0;
    while (i < len) {
        char c = in[i++];
        if (r->bom < 3) {
            /* only the first bytes get here: any other byte ends the matching for good */
            if ((unsigned char)c == BOM[r->bom]) {
                r->bom++;
                continue;
            }
            /* no byte-order mark after all: what looked like one is data */
            for (unsigned k = 0; k < r->bom; k++)
                push(r, (char)BOM[k]);
            if (r->bom) r->state = S_UNQ;
            r->bom = 3;
        }
        if (c == '\n') r->line++;
        int rc = step(r, c, row, err);
        if (rc) {
            *used = i;
            return rc;
        }
    }
    *used = len;
    return eof ? at_eof(r, row, err) : 0;
}
