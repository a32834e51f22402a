/*
 * libFuzzer target: line protocol on arbitrary bytes. Beyond "no crash, no read past the end",
 * it checks the codec's promises: every span lies in its line; a parsed field, named by its
 * series and formatted again, parses to the same series, value and time; a series name that
 * splits builds back to the same bytes; and a line the quick reader takes is read the same by the
 * full parser, to the byte and the bit.
 */
#include "store/lineproto.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NAME_MAX_ (1u << 17)

static gb_lp_line_t line, again;
static gb_lp_series_t series;
static char name[NAME_MAX_], name2[NAME_MAX_], text[NAME_MAX_ * 2];

static void inside(gb_textio_span_t s, const char *buf, size_t len)
{
    if (s.n && (s.p < buf || s.p + s.n > buf + len)) __builtin_trap();
}

static bool same_value(const gb_lp_value_t *a, const gb_lp_value_t *b)
{
    if (a->type != b->type) return false;
    switch (a->type) {
    case GB_LP_FLOAT:
        return memcmp(&a->v.f, &b->v.f, sizeof a->v.f) == 0;
    case GB_LP_INT:
        return a->v.i == b->v.i;
    case GB_LP_UINT:
        return a->v.u == b->v.u;
    case GB_LP_BOOL:
        return a->v.b == b->v.b;
    case GB_LP_STRING:
        return a->v.s.n == b->v.s.n && (a->v.s.n == 0 || memcmp(a->v.s.p, b->v.s.p, a->v.s.n) == 0);
    }
    return false;
}

/* Field F of LINE: name it, format it, parse that, and compare. */
static void reformat(size_t f)
{
    size_t n, m, cut;
    if (gb_lp_series_name(&line, f, name, sizeof name, &n)) __builtin_trap();
    gb_time_t t = line.has_time ? line.t : 0;
    if (gb_lp_format(name, n, &line.fields[f].value, t, text, sizeof text, &m)) __builtin_trap();
    /* the formatted line is one line, even with line breaks inside a string */
    if (gb_lp_line_end(text, m, sizeof text, &cut) || cut != m) __builtin_trap();
    if (gb_lp_parse(text, m, GB_LP_NS, &again, NULL) || again.nfields != 1 || !again.has_time ||
        again.t != t)
        __builtin_trap();
    if (gb_lp_series_name(&again, 0, name2, sizeof name2, &m) || m != n || memcmp(name, name2, n))
        __builtin_trap();
    if (!same_value(&line.fields[f].value, &again.fields[0].value)) __builtin_trap();
}

/* The input as a series name: if it splits, it builds back to itself. */
static void series_round_trip(const uint8_t *data, size_t size)
{
    if (size > NAME_MAX_ / 4) return;
    memcpy(name2, data, size);
    if (gb_lp_series_split(name2, size, &series)) return;
    static gb_lp_line_t l;
    l.measurement = series.measurement;
    memcpy(l.tags, series.tags, series.ntags * sizeof series.tags[0]);
    l.ntags = series.ntags;
    l.fields[0].key = series.field;
    l.nfields = 1;
    size_t n;
    if (gb_lp_series_name(&l, 0, name, sizeof name, &n) || n != size || memcmp(name, data, size))
        __builtin_trap();
}

static gb_lp_fast_t fast;
static char fast_names[GB_LP_FAST_FIELDS][4096];
static size_t fast_len[GB_LP_FAST_FIELDS];

static bool same_sample(const gb_value_t *a, const gb_value_t *b)
{
    if (a->type != b->type) return false;
    switch (a->type) {
    case GB_VT_F64:
        return memcmp(&a->f64, &b->f64, sizeof a->f64) == 0;
    case GB_VT_I64:
        return a->i64 == b->i64;
    case GB_VT_BOOL:
        return a->b == b->b;
    default:
        return false; /* the quick reader takes no strings */
    }
}

/* When gb_lp_fast takes the line at BUF[0..LEN), remembers what it read (before the full parser
 * unescapes in place); true then. */
static bool quick(const char *buf, size_t len, gb_lp_precision_t prec)
{
    if (!gb_lp_fast(buf, len, true, prec, &fast)) return false;
    if (fast.len == 0 || fast.len > len || fast.nfields == 0) __builtin_trap();
    for (size_t f = 0; f < fast.nfields; f++) {
        size_t n = fast.keylen + 1 + fast.fields[f].key.n;
        if (n >= sizeof fast_names[f]) __builtin_trap(); /* inputs are shorter */
        memcpy(fast_names[f], buf, fast.keylen);
        fast_names[f][fast.keylen] = '#';
        memcpy(fast_names[f] + fast.keylen + 1, fast.fields[f].key.p, fast.fields[f].key.n);
        fast_len[f] = n;
    }
    return true;
}

/* The full parser agrees with what quick() remembered about the line it parsed into LINE. */
static void agrees(void)
{
    if (line.comment || line.nfields != fast.nfields || line.has_time != fast.has_time ||
        (line.has_time && line.t != fast.t))
        __builtin_trap();
    for (size_t f = 0; f < line.nfields; f++) {
        size_t n;
        gb_value_t v;
        if (gb_lp_series_name(&line, f, name, sizeof name, &n) || n != fast_len[f] ||
            memcmp(name, fast_names[f], n))
            __builtin_trap();
        if (gb_lp_value_to_sample(&line.fields[f].value, &v) || !same_sample(&v, &fast.fields[f].v))
            __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    series_round_trip(data, size);
    char *buf = malloc(size + 1);
    memcpy(buf, data, size);
    gb_lp_precision_t prec = (gb_lp_precision_t)(size % 6);
    size_t pos = 0;
    while (pos < size) {
        size_t n;
        bool took = size - pos < 4000 && quick(buf + pos, size - pos, prec);
        int rc = gb_lp_line_end(buf + pos, size - pos, 4096, &n);
        if (n == 0 || n > size - pos) __builtin_trap();
        if (took && (rc != 0 || n != fast.len)) __builtin_trap();
        int prc = rc == 0 ? gb_lp_parse(buf + pos, n, prec, &line, NULL) : -1;
        if (took && prc != 0) __builtin_trap();
        if (took) agrees();
        if (prc == 0 && !line.comment) {
            inside(line.measurement, buf + pos, n);
            for (size_t i = 0; i < line.ntags; i++) {
                inside(line.tags[i].key, buf + pos, n);
                inside(line.tags[i].value, buf + pos, n);
            }
            for (size_t i = 0; i < line.nfields; i++) {
                inside(line.fields[i].key, buf + pos, n);
                if (line.fields[i].value.type == GB_LP_STRING)
                    inside(line.fields[i].value.v.s, buf + pos, n);
            }
            for (size_t i = 0; i < line.nfields && i < 8; i++)
                reformat(i);
        }
        pos += n;
    }
    free(buf);
    return 0;
}
