/*
 * Query results as CSV or JSON text. The text is made a piece at a time as the reader asks for it
 * (gb_query_read), from a cursor per series, so an answer of any length passes through a buffer
 * of about CHUNK bytes; gb_query_run pushes the same pieces through a callback.
 *
 * Every point becomes a row, so the row is where the time goes: the float is
 * gb_textio_f64_format's exact shortest form, the time is the date worked out once a day and the
 * rest from digit pairs, and the tag column, the same in every row of a series, is quoted once.
 */
#include "store/export.h"
#include "gemba/error.h"
#include "gemba/time.h"
#include "store/csvio.h"
#include "store/textio.h"
#include "util/str.h"

#include <assert.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK (64u << 10)
#define DAY_NS (86400 * GB_NS_PER_S)
#define ROOM 96u /* the most one call of room() asks for: a time, a number and punctuation */

/* Text being made: buf[off, len) is not read yet. */
typedef struct out {
    char *buf;
    size_t off, len, cap;
    const char *tag;
    char *field; /* CSV: the tag column as gb_csv_format_row writes it, and the comma after it */
    size_t field_len;
    bool borrowed;  /* BUF is the reader's, of a size that will do (see direct) */
    uint64_t read;  /* bytes handed out so far */
    uint64_t limit; /* the query's (0: none) */
    bool json;
    bool first_point;
    gb_time_t day;  /* when the day whose date is in DATE began */
    char date[11];  /* "2026-01-02T"; empty: none yet */
    gb_time_t sec;  /* when the second whose stamp is in STAMP began */
    char stamp[20]; /* "2026-01-02T03:04:05."; empty: none yet */
} out_t;

/* Room for N more bytes at the end of the text; the caller writes there and adds to LEN. */
static char *room(out_t *o, size_t n)
{
    if (o->len + n > o->cap) {
        assert(!o->borrowed);
        while (o->len + n > o->cap)
            o->cap = o->cap ? o->cap * 2 : CHUNK + ROOM;
        o->buf = gb_xrealloc(o->buf, o->cap);
    }
    return o->buf + o->len;
}

static void put(out_t *o, const char *p, size_t n)
{
    memcpy(room(o, n), p, n);
    o->len += n;
}

static void puts_(out_t *o, const char *s)
{
    put(o, s, strlen(s));
}

/* A string literal: its length is known where it is written. */
#define PUTS(o, lit) put(o, lit, sizeof lit - 1)

static const char DIGITS2[] = "00010203040506070809101112131415161718192021222324252627282930313233"
                              "34353637383940414243444546474849505152535455565758596061626364656667"
                              "6869707172737475767778798081828384858687888990919293949596979899";

static char *two(char *p, unsigned v)
{
    memcpy(p, DIGITS2 + 2 * v, 2);
    return p + 2;
}

/*
 * Makes O's stamp the second T falls in, "2026-01-02T03:04:05.". The date, the costly part, is
 * worked out once a day. False for the first day int64 time holds, which began before it can be
 * said in ns: its times are written in full.
 */
static bool new_second(out_t *o, gb_time_t t)
{
    if (!o->date[0] || t < o->day || (uint64_t)t - (uint64_t)o->day >= DAY_NS) {
        char full[GB_CSV_TIME_MAX];
        gb_csv_time_format(t, full);
        memcpy(o->date, full, sizeof o->date);
        int64_t clock = ((full[11] - '0') * 10 + (full[12] - '0')) * 3600 +
                        ((full[14] - '0') * 10 + (full[15] - '0')) * 60 + (full[17] - '0') * 10 +
                        (full[18] - '0');
        int64_t frac = 0;
        for (int i = 20; i < 29; i++)
            frac = frac * 10 + (full[i] - '0');
        if (__builtin_sub_overflow(t, clock * GB_NS_PER_S + frac, &o->day)) {
            o->date[0] = o->stamp[0] = 0;
            return false;
        }
    }
    int64_t sod = (t - o->day) / GB_NS_PER_S;
    char *q = o->stamp;
    memcpy(q, o->date, sizeof o->date);
    q = two(q + sizeof o->date, (unsigned)(sod / 3600));
    *q++ = ':';
    q = two(q, (unsigned)(sod / 60 % 60));
    *q++ = ':';
    q = two(q, (unsigned)(sod % 60));
    *q = '.';
    o->sec = o->day + sod * GB_NS_PER_S;
    return true;
}

/*
 * T as gb_csv_time_format writes it, at P (30 bytes). A query's points come in time order, so the
 * second's stamp is made once a second, and a row adds only the fraction, from digit pairs.
 */
static size_t put_time(out_t *o, char *p, gb_time_t t)
{
    if ((!o->stamp[0] || t < o->sec || (uint64_t)t - (uint64_t)o->sec >= GB_NS_PER_S) &&
        !new_second(o, t))
        return gb_csv_time_format(t, p);
    memcpy(p, o->stamp, sizeof o->stamp);
    char *q = p + sizeof o->stamp;
    unsigned f = (unsigned)(t - o->sec);
    *q++ = (char)('0' + f / 100000000);
    f %= 100000000;
    q = two(q, f / 1000000);
    q = two(q, f / 10000 % 100);
    q = two(q, f / 100 % 100);
    q = two(q, f % 100);
    *q++ = 'Z';
    return (size_t)(q - p);
}

/* V in decimal at P; returns the length. */
static size_t put_i64(char *p, int64_t v)
{
    char tmp[20];
    size_t n = 0, len = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) p[len++] = '-';
    while (n)
        p[len++] = tmp[--n];
    return len;
}

/* Whether one of the eight bytes W needs a look: a control byte, '"', '\\', or one past ASCII. */
static inline bool escape_in8(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101u, high = ones * 0x80;
    uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
    /* (x - 1) & ~x has a byte's top bit set where x's byte is 0 (or below N, for x - N * ones,
     * N <= 0x80); a borrow can set another, but only above a byte that is one. W's own top bits
     * are the bytes past ASCII. */
    return (((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b) | w) & high;
}

/*
 * A JSON string (quotes included): the runs between characters to escape go out whole. Bytes
 * that are not UTF-8 (a device's Latin-1 text, say: the store keeps bytes as they came) become
 * U+FFFD, so that the answer is JSON still; CSV gives them back as they are.
 */
static void json_str(out_t *o, const char *s, size_t n)
{
    put(o, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n;) {
        uint64_t w;
        if (n - i >= 8 && (memcpy(&w, s + i, 8), !escape_in8(w))) { /* names: eight at a time */
            i += 8;
            continue;
        }
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            size_t k = gb_utf8_char(s + i, n - i);
            if (k) {
                i += k;
                continue;
            }
            put(o, s + run, i - run);
            put(o, "\xef\xbf\xbd", 3);
            run = ++i;
            continue;
        }
        i++;
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        put(o, s + run, i - 1 - run);
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(o, esc, 2);
        } else {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            put(o, esc, 6);
        }
        run = i;
    }
    put(o, s + run, n - run);
    put(o, "\"", 1);
}

/* A value as JSON: NaN and the infinities, which JSON has no numbers for, are null. */
static void json_value(out_t *o, const gb_value_t *v)
{
    char *p = room(o, ROOM);
    size_t n = 0;
    switch (v->type) {
    case GB_VT_F64:
        if (isfinite(v->f64)) {
            n = gb_textio_f64_format(v->f64, p);
        } else {
            memcpy(p, "null", 4);
            n = 4;
        }
        break;
    case GB_VT_I64:
        n = put_i64(p, v->i64);
        break;
    case GB_VT_BOOL:
        n = v->b ? 4 : 5;
        memcpy(p, v->b ? "true" : "false", n);
        break;
    case GB_VT_STR:
        json_str(o, v->str, v->len);
        break;
    }
    o->len += n;
}

static void json_point(out_t *o, gb_time_t t, const gb_value_t *v)
{
    char *p = room(o, ROOM), *q = p;
    if (!o->first_point) *q++ = ',';
    o->first_point = false;
    memcpy(q, "[\"", 2);
    q += 2;
    q += put_time(o, q, t);
    memcpy(q, "\",", 2);
    q += 2;
    o->len += (size_t)(q - p);
    json_value(o, v);
    *room(o, 1) = ']';
    o->len++;
}

/* A string value: the row as gb_csv_format_row writes it, which knows when to quote. */
static void csv_str_point(out_t *o, gb_time_t t, const gb_value_t *v)
{
    size_t tl = strlen(o->tag), need = tl * 2 + v->len * 2 + 128;
    char small[1024], *row = need <= sizeof small ? small : gb_xmalloc(need);
    size_t n;
    if (gb_csv_format_row(t, o->tag, tl, v, row, need, &n) == 0) put(o, row, n);
    if (row != small) free(row);
}

static void csv_point(out_t *o, gb_time_t t, const gb_value_t *v)
{
    if (v->type == GB_VT_STR) {
        csv_str_point(o, t, v);
        return;
    }
    char *p = room(o, ROOM + o->field_len);
    size_t n = put_time(o, p, t);
    p[n++] = ',';
    memcpy(p + n, o->field, o->field_len);
    n += o->field_len;
    o->len += n;
    p += n;
    switch (v->type) {
    case GB_VT_F64:
        n = gb_textio_f64_format(v->f64, p);
        break;
    case GB_VT_I64:
        n = put_i64(p, v->i64);
        p[n++] = 'i';
        break;
    default:
        n = v->b ? 4 : 5;
        memcpy(p, v->b ? "true" : "false", n);
        break;
    }
    p[n++] = '\n';
    o->len += n;
}

/*
 * The tag column of O's series as the CSV writer quotes it, with the comma after it: the middle
 * of a row gb_csv_format_row writes for a boolean, "TIME,FIELD,true\n" (TIME is 30 bytes).
 */
static void csv_field(out_t *o)
{
    size_t tl = strlen(o->tag), need = tl * 2 + 128, n = 0;
    char *row = gb_xmalloc(need);
    gb_value_t v = {.type = GB_VT_BOOL, .b = true};
    gb_csv_format_row(0, o->tag, tl, &v, row, need, &n);
    free(o->field);
    o->field_len = n - 31 - 5;
    o->field = gb_xmalloc(o->field_len);
    memcpy(o->field, row + 31, o->field_len);
    free(row);
}

static void raw_point(out_t *o, const gb_point_t *p)
{
    if (o->json)
        json_point(o, p->t, &p->v);
    else
        csv_point(o, p->t, &p->v);
}

static int agg_point(void *ctx, gb_time_t w, const gb_value_t *v)
{
    out_t *o = ctx;
    raw_point(o, &(gb_point_t){w, GB_Q_GOOD, *v});
    /* an aggregate is made whole at once: the limit stops it */
    return o->limit && o->read + o->len - o->off > o->limit ? GB_ERANGE : 0;
}

enum { P_HEAD, P_START, P_POINTS, P_END, P_TAIL, P_DONE };

struct gb_query_stream {
    gb_store_t *s;
    gb_query_t q; /* its tags are not kept: PATHS stand for them */
    char **paths; /* full paths, so what is exported imports as the same series */
    gb_vtype_t *types;
    gb_store_cursor_t **cur; /* a raw read's cursors, one a series */
    size_t tag;              /* the series being written */
    int phase;
    int rc;
    uint64_t bound;
    out_t o;
};

/* The most text one point of a series of TYPE can make (UINT64_MAX: no bound, for strings). */
static uint64_t row_max(const out_t *o, gb_vtype_t type)
{
    if (type == GB_VT_STR) return UINT64_MAX;
    /* JSON: ,["TIME",VALUE]  CSV: TIME,FIELD,VALUE\n */
    return GB_CSV_TIME_MAX + GB_TEXTIO_F64_MAX + (o->json ? 6 : o->field_len + 2);
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t mul_sat(uint64_t a, uint64_t b)
{
    return a && b > UINT64_MAX / a ? UINT64_MAX : a * b;
}

void gb_query_close(gb_query_stream_t *qs)
{
    if (!qs) return;
    for (size_t i = 0; i < qs->q.ntags; i++) {
        free(qs->paths[i]);
        if (qs->cur) gb_store_cursor_close(qs->cur[i]);
    }
    free(qs->paths);
    free(qs->types);
    free(qs->cur);
    free(qs->o.buf);
    free(qs->o.field);
    free(qs);
}

int gb_query_open(gb_store_t *s, const gb_query_t *q, gb_query_stream_t **out, size_t *missing)
{
    gb_query_stream_t *qs = gb_xcalloc(1, sizeof *qs);
    qs->s = s;
    qs->q = *q;
    qs->q.tags = NULL;
    qs->paths = gb_xcalloc(q->ntags ? q->ntags : 1, sizeof *qs->paths);
    qs->types = gb_xcalloc(q->ntags ? q->ntags : 1, sizeof *qs->types);
    if (!q->aggregate) qs->cur = gb_xcalloc(q->ntags ? q->ntags : 1, sizeof *qs->cur);
    qs->o = (out_t){.json = q->json, .limit = q->limit};
    /* the header, the tail and a little slack */
    qs->bound = 64;
    int rc = 0;
    for (size_t i = 0; i < q->ntags && !rc; i++) {
        rc = gb_store_resolve(s, q->tags[i], &qs->paths[i]);
        if (!rc) rc = gb_store_series_type(s, qs->paths[i], &qs->types[i]);
        if (!rc && q->aggregate && qs->types[i] == GB_VT_STR && q->agg != GB_AGG_COUNT &&
            q->agg != GB_AGG_FIRST && q->agg != GB_AGG_LAST)
            rc = GB_EINVAL;
        if (!rc && qs->cur) { /* the points are taken now, the text made as it is read */
            rc = gb_store_cursor_open(s, qs->paths[i], q->from, q->to, &qs->cur[i]);
            if (!rc) {
                qs->types[i] = gb_store_cursor_type(qs->cur[i]);
                qs->o.tag = qs->paths[i];
                if (!q->json) csv_field(&qs->o);
                /* the points, and the series' own text around them: the tag (escaped), its type */
                uint64_t pts =
                    mul_sat(gb_store_cursor_bound(qs->cur[i]), row_max(&qs->o, qs->types[i]));
                qs->bound = add_sat(add_sat(qs->bound, pts), 64 + 6 * strlen(qs->paths[i]));
            }
        }
        if (rc && missing) *missing = i;
    }
    if (q->aggregate) qs->bound = UINT64_MAX; /* one row a window with data: not known before */
    if (rc) {
        gb_query_close(qs);
        return rc;
    }
    *out = qs;
    return 0;
}

uint64_t gb_query_windows(const gb_query_t *q)
{
    if (q->step <= 0 || q->to <= q->from) return 0;
    uint64_t span = (uint64_t)q->to - (uint64_t)q->from, step = (uint64_t)q->step;
    return span / step + (span % step != 0);
}

uint64_t gb_query_bound(const gb_query_stream_t *qs)
{
    return qs->bound;
}

/* The series' opening: its JSON object up to the points' array. */
static void series_start(gb_query_stream_t *qs)
{
    out_t *o = &qs->o;
    const gb_query_t *q = &qs->q;
    o->tag = qs->paths[qs->tag];
    o->first_point = true;
    if (!q->json) {
        csv_field(o);
        return;
    }
    puts_(o, qs->tag ? ",{\"tag\":" : "{\"tag\":");
    json_str(o, o->tag, strlen(o->tag));
    PUTS(o, ",\"type\":\"");
    gb_vtype_t type = qs->types[qs->tag];
    puts_(o, gb_vtype_name(q->aggregate ? gb_agg_type(q->agg, type) : type));
    PUTS(o, "\"");
    if (q->aggregate) {
        char d[32];
        gb_duration_format(q->step, d, sizeof d);
        PUTS(o, ",\"agg\":\"");
        puts_(o, gb_agg_name(q->agg));
        PUTS(o, "\",\"step\":\"");
        puts_(o, d);
        PUTS(o, "\"");
    }
    PUTS(o, ",\"points\":[");
}

/* Makes the next piece of text: points until WANT bytes are unread, or the text between them. */
static void produce(gb_query_stream_t *qs, size_t want)
{
    out_t *o = &qs->o;
    const gb_query_t *q = &qs->q;
    switch (qs->phase) {
    case P_HEAD:
        puts_(o, q->json ? "{\"series\":[" : "time,tag,value\n");
        qs->phase = q->ntags ? P_START : P_TAIL;
        break;
    case P_START:
        series_start(qs);
        qs->phase = P_POINTS;
        break;
    case P_POINTS:
        if (q->aggregate) { /* the windows come through a callback: all of them at once */
            qs->rc =
                gb_store_aggregate(qs->s, o->tag, q->from, q->to, q->step, q->agg, agg_point, o);
            qs->phase = P_END;
            break;
        }
        for (gb_point_t p; o->len - o->off < want;) {
            if (!gb_store_cursor_next(qs->cur[qs->tag], &p)) {
                qs->phase = P_END;
                break;
            }
            raw_point(o, &p);
        }
        break;
    case P_END:
        if (q->json) PUTS(o, "]}");
        qs->phase = ++qs->tag < q->ntags ? P_START : P_TAIL;
        break;
    case P_TAIL:
        if (q->json) PUTS(o, "]}\n");
        qs->phase = P_DONE;
        break;
    }
}

/* Makes text until at least WANT bytes are unread or the text is done; false on an error. */
static bool fill(gb_query_stream_t *qs, size_t want)
{
    out_t *o = &qs->o;
    if (o->off == o->len) o->off = o->len = 0;
    while (!qs->rc && qs->phase != P_DONE && o->len - o->off < want)
        produce(qs, want);
    return !qs->rc;
}

/*
 * The rows of a raw read of numbers written straight into BUF (MAX bytes), as many as surely fit:
 * the usual piece of a long scan, spared a copy. Returns their length; 0 when this cannot be
 * done here (text pending, not amid such points, a limit near) or the points are done.
 */
static size_t direct(gb_query_stream_t *qs, char *buf, size_t max)
{
    out_t *o = &qs->o;
    size_t row = 2 * ROOM + o->field_len; /* a row asks room() for no more than this */
    if (o->off != o->len || qs->phase != P_POINTS || qs->q.aggregate ||
        qs->types[qs->tag] == GB_VT_STR || max < 2 * row || (o->limit && o->read + max > o->limit))
        return 0;
    out_t own = *o;
    o->buf = buf;
    o->cap = max;
    o->off = o->len = 0;
    o->borrowed = true;
    gb_point_t p;
    while (o->len + row <= max) {
        if (!gb_store_cursor_next(qs->cur[qs->tag], &p)) {
            qs->phase = P_END;
            break;
        }
        raw_point(o, &p);
    }
    size_t n = o->len;
    o->buf = own.buf;
    o->cap = own.cap;
    o->off = o->len = 0;
    o->borrowed = false;
    o->read += n;
    return n;
}

int64_t gb_query_read(gb_query_stream_t *qs, char *buf, size_t max)
{
    out_t *o = &qs->o;
    size_t n = direct(qs, buf, max);
    if (n) return (int64_t)n;
    if (o->off && o->len - o->off < max) { /* keep the unread text at the front */
        memmove(o->buf, o->buf + o->off, o->len - o->off);
        o->len -= o->off;
        o->off = 0;
    }
    if (!fill(qs, max) && o->len == o->off) return qs->rc;
    n = o->len - o->off < max ? o->len - o->off : max;
    if (o->limit && o->read + n > o->limit) return qs->rc = GB_ERANGE;
    memcpy(buf, o->buf + o->off, n);
    o->off += n;
    o->read += n;
    return (int64_t)n;
}

int gb_query_run(gb_store_t *s, const gb_query_t *q, gb_query_write_fn write, void *ctx,
                 size_t *missing)
{
    gb_query_stream_t *qs;
    int rc = gb_query_open(s, q, &qs, missing);
    if (rc) return rc;
    out_t *o = &qs->o;
    while (!rc && fill(qs, CHUNK) && o->len > o->off) {
        size_t n = o->len - o->off;
        if (o->limit && o->read + n > o->limit) {
            rc = GB_ERANGE;
            break;
        }
        rc = write(ctx, o->buf + o->off, n);
        o->off = o->len;
        o->read += n;
    }
    if (!rc) rc = qs->rc;
    gb_query_close(qs);
    return rc;
}

/* ---- the newest points ---- */

static int latest_entry(void *ctx, const char *path, const gb_point_t *p)
{
    static const char *const quality[] = {"good", "uncertain", "bad"};
    out_t *o = ctx;
    if (!o->first_point) PUTS(o, ",");
    o->first_point = false;
    PUTS(o, "{\"tag\":");
    json_str(o, path, strlen(path));
    char *b = room(o, ROOM), *q = b;
    memcpy(q, ",\"time\":\"", 9);
    q += 9;
    q += put_time(o, q, p->t);
    memcpy(q, "\",\"value\":", 10);
    q += 10;
    o->len += (size_t)(q - b);
    json_value(o, &p->v);
    PUTS(o, ",\"quality\":\"");
    puts_(o, quality[p->q % 3]);
    PUTS(o, "\"}");
    return 0;
}

/* A match pattern, and how it is tried: most are a name's beginning and a '*' ("plant,*"). */
typedef struct pattern {
    const char *p;
    size_t lit; /* the bytes before its first wildcard or backslash */
    enum { P_EXACT, P_PREFIX, P_GLOB } how;
} pattern_t;

typedef struct latest_match {
    out_t *o;
    pattern_t *match;
    size_t n;
} latest_match_t;

/* latest_entry for the series whose path matches a pattern. */
static int latest_matching(void *ctx, const char *path, const gb_point_t *p)
{
    const latest_match_t *m = ctx;
    for (size_t i = 0; i < m->n; i++) {
        const pattern_t *x = &m->match[i];
        bool hit = x->how == P_GLOB     ? fnmatch(x->p, path, 0) == 0
                   : x->how == P_PREFIX ? strncmp(path, x->p, x->lit) == 0
                                        : strcmp(path, x->p) == 0;
        if (hit) return latest_entry(m->o, path, p);
    }
    return 0;
}

int gb_query_latest(gb_store_t *s, const char *const *tags, size_t ntags, const char *const *match,
                    size_t nmatch, char **text, size_t *len, size_t *missing)
{
    out_t o = {.json = true, .first_point = true};
    PUTS(&o, "{\"series\":[");
    int rc = 0;
    /* fnmatch without flags: a trailing '*' matches any rest, '/' too: a prefix compare does */
    latest_match_t m = {&o, gb_xcalloc(nmatch ? nmatch : 1, sizeof *m.match), nmatch};
    for (size_t i = 0; i < nmatch; i++) {
        pattern_t *x = &m.match[i];
        x->p = match[i];
        x->lit = strcspn(x->p, "*?[\\");
        x->how = !x->p[x->lit]                              ? P_EXACT
                 : x->p[x->lit] == '*' && !x->p[x->lit + 1] ? P_PREFIX
                                                            : P_GLOB;
    }
    if (!ntags) /* every series (that matches), from memory */
        rc = nmatch ? gb_store_each_latest(s, latest_matching, &m)
                    : gb_store_each_latest(s, latest_entry, &o);
    for (size_t i = 0; i < ntags && !rc; i++) {
        char *path = NULL;
        gb_point_t p;
        rc = gb_store_resolve(s, tags[i], &path);
        if (!rc) rc = gb_store_latest(s, path, &p);
        if (!rc)
            latest_entry(&o, path, &p);
        else if (missing)
            *missing = i;
        free(path);
    }
    PUTS(&o, "]}");
    free(m.match);
    free(o.field);
    if (rc) {
        free(o.buf);
        return rc;
    }
    *text = o.buf;
    *len = o.len;
    return 0;
}

/* "-DURATION" (a negative ns count ends in a digit) */
static bool before_now(const char *s)
{
    return s[0] == '-' && s[1] && !strchr("0123456789", s[strlen(s) - 1]);
}

int gb_query_time_parse(const char *s, gb_time_t now, gb_time_t *out)
{
    if (!strcmp(s, "now")) {
        *out = now;
        return 0;
    }
    if (before_now(s)) {
        int64_t d;
        if (gb_duration_parse(s + 1, &d) != 0) return GB_EINVAL;
        *out = now - d;
        return 0;
    }
    return gb_csv_time_parse(s, strlen(s), out) == 0 ? 0 : GB_EINVAL;
}

void gb_query_align_from(gb_query_t *q, const char *from)
{
    if (!q->aggregate || !from || q->step <= 0 || (strcmp(from, "now") && !before_now(from)))
        return;
    gb_time_t r = q->from % q->step;
    if (q->from >= INT64_MIN + q->step)
        q->from -= r < 0 ? r + q->step : r; /* down; before 1970 too */
}
