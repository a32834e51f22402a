/*
 * Line protocol and CSV into the store, in batches of up to BATCH points per log record.
 */
#include "store/ingest.h"
#include "gemba/error.h"
#include "util/map.h"
#include "util/str.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 8192
#define IN_PLACE SIZE_MAX /* at[i] of a point whose name is in the caller's buffer */

void gb_ingest_init(gb_ingest_t *in, gb_store_t *s)
{
    memset(in, 0, sizeof *in);
    in->store = s;
}

void gb_ingest_clear(gb_ingest_t *in)
{
    free(in->pts);
    free(in->at);
    free(in->lineno);
    free(in->why);
    free(in->arena);
    if (in->csv) {
        gb_csv_reader_clear(in->csv);
        free(in->csv);
    }
    memset(in, 0, sizeof *in);
}

/* Counts LINE refused; keeps why when it is among the GB_INGEST_REPORTS earliest lines refused
 * (a batch's points are refused when it is written, after later lines may have been). */
static void vrefuse(gb_ingest_t *in, uint64_t line, const char *fmt, va_list ap)
{
    in->refused++;
    size_t k = in->nreport; /* where it goes among the earliest GB_INGEST_REPORTS */
    while (k > 0 && in->report[k - 1].line > line)
        k--;
    if (k == GB_INGEST_REPORTS) return;
    if (in->nreport < GB_INGEST_REPORTS) in->nreport++;
    memmove(&in->report[k + 1], &in->report[k], (in->nreport - 1 - k) * sizeof in->report[0]);
    in->report[k].line = line;
    vsnprintf(in->report[k].why, sizeof in->report[k].why, fmt, ap);
    in->first_line = in->report[0].line;
    memcpy(in->first_error, in->report[0].why, sizeof in->first_error);
}

static void refuse(gb_ingest_t *in, uint64_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void refuse(gb_ingest_t *in, uint64_t line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vrefuse(in, line, fmt, ap);
    va_end(ap);
}

/* After a write that refused points: each line refused (whole, the store refuses a line's points
 * together) is counted once, and why is the first of its points refused for itself. */
static void refused_lines(gb_ingest_t *in)
{
    for (size_t a = 0, b; a < in->n; a = b) {
        size_t self = SIZE_MAX;
        for (b = a; b < in->n && (b == a || in->pts[b].with_prev); b++)
            if (self == SIZE_MAX && in->why[b] != GB_WP_TAKEN && in->why[b] != GB_WP_WITH_LINE)
                self = b;
        if (self == SIZE_MAX) continue; /* taken */
        const gb_store_wpoint_t *w = &in->pts[self];
        uint64_t line = in->lineno[a];
        const char *more = strlen(w->path) > 100 ? "..." : "";
        /* a too long name or text, or the range's last nanosecond, fits already refused */
        if (in->why[self] == GB_WP_TYPE)
            refuse(in, line, "series %.100s%s is stored with another type than this %s value",
                   w->path, more, gb_vtype_name(w->v.type));
        else
            refuse(in, line, "series %.100s%s: a point the store does not take", w->path, more);
    }
}

int gb_ingest_flush(gb_ingest_t *in)
{
    if (!in->n) return 0;
    /* names were copied into one arena that may have moved while it grew: point them now */
    for (size_t i = 0; i < in->n; i++) {
        if (in->at[i] == IN_PLACE) continue;
        const char *path = in->arena + in->at[i];
        in->pts[i].path = path;
        if (in->pts[i].v.type == GB_VT_STR) in->pts[i].v.str = path + strlen(path) + 1;
    }
    size_t bad = 0;
    int rc = gb_store_write_points(in->store, in->pts, in->n, &bad, in->why);
    if (rc) return rc;
    in->points += in->n - bad;
    if (bad) refused_lines(in);
    in->n = 0;
    in->alen = 0;
    in->in_place = false;
    return 0;
}

/* The batch's arrays made room for CAP points. */
static void batch_cap(gb_ingest_t *in, size_t cap)
{
    in->cap = cap;
    in->pts = gb_xrealloc(in->pts, cap * sizeof *in->pts);
    in->at = gb_xrealloc(in->at, cap * sizeof *in->at);
    in->lineno = gb_xrealloc(in->lineno, cap * sizeof *in->lineno);
    in->why = gb_xrealloc(in->why, cap);
}

/* Room in the batch for one more point. */
static void room_for_point(gb_ingest_t *in)
{
    if (in->n == in->cap) batch_cap(in, in->cap ? in->cap * 2 : 1024);
}

/* Whether a point of series name length PLEN, time T and value V can be stored (the store's own
 * limits, checked before a line is taken so that a line goes whole or not at all); refused (on
 * the current line) when not. */
static bool fits(gb_ingest_t *in, size_t plen, gb_time_t t, const gb_value_t *v)
{
    if (t == INT64_MAX) { /* the range's last nanosecond, which no query's [from, to) reaches */
        refuse(in, in->line,
               "the time %lld ns is past the latest stored, 2262-04-11T23:47:16.854775806Z",
               (long long)t);
        return false;
    }
    if (plen > GB_STORE_PATH_MAX) {
        refuse(in, in->line, "a series name of %zu bytes, longer than %u", plen, GB_STORE_PATH_MAX);
        return false;
    }
    if (v->type == GB_VT_STR && v->len > GB_SAMPLE_STR_MAX) {
        refuse(in, in->line, "a text value of %zu bytes, longer than %u", v->len,
               GB_SAMPLE_STR_MAX);
        return false;
    }
    return true;
}

/* Takes a point whose series name is PATH, PLEN bytes in the caller's buffer once byte AT is '#'
 * and byte PLEN NUL (a name fast_takes let through), and makes it so. */
static void add_in_place(gb_ingest_t *in, char *path, size_t plen, size_t at, gb_time_t t,
                         const gb_value_t *v)
{
    room_for_point(in);
    in->at[in->n] = IN_PLACE;
    in->lineno[in->n] = in->line;
    /* hashed now, while the line is in the cache, and before the '#' is written: the hash's
     * load of the word that holds it would wait for the store. (The store hashes names as its
     * map does: gb_store_path_hash is gb_map_hash_n.) */
    uint32_t h = gb_map_hash_sub(path, plen, at, '#');
    path[at] = '#';
    path[plen] = 0;
    in->pts[in->n++] = (gb_store_wpoint_t){path, t, GB_Q_GOOD, false, *v, h, (uint32_t)plen};
    in->in_place = true;
}

/* Writes the batch when it is full: called between lines, so a line's points go together. */
static int batch_due(gb_ingest_t *in)
{
    return in->n >= BATCH ? gb_ingest_flush(in) : 0;
}

/* Takes a point of series PATH (or, with FIELD, PATH '#' FIELD) at T with value V (one that
 * fits); WITH_PREV when of one line with the point before. */
static void add2(gb_ingest_t *in, const char *path, size_t plen, const char *field, size_t flen,
                 gb_time_t t, const gb_value_t *v, bool with_prev)
{
    size_t slen = v->type == GB_VT_STR ? v->len : 0,
           need = plen + (field ? 1 + flen : 0) + 1 + slen;
    room_for_point(in);
    if (in->alen + need > in->acap) {
        while (in->alen + need > in->acap)
            in->acap = in->acap ? in->acap * 2 : 1 << 16;
        in->arena = gb_xrealloc(in->arena, in->acap);
    }
    char *a = in->arena + in->alen;
    in->at[in->n] = in->alen;
    in->lineno[in->n] = in->line;
    memcpy(a, path, plen);
    a += plen;
    if (field) {
        *a++ = '#';
        memcpy(a, field, flen);
        a += flen;
    }
    *a++ = 0;
    if (slen) memcpy(a, v->str, slen);
    in->alen += need;
    gb_store_wpoint_t *w = &in->pts[in->n++];
    *w = (gb_store_wpoint_t){.t = t, .q = GB_Q_GOOD, .with_prev = with_prev, .v = *v};
}

/* Takes every field of line L at T (NAME: SIZE bytes to make series names in); when one cannot
 * be stored, the line is refused whole, as InfluxDB does, and what was taken of it is dropped. */
static void take_line(gb_ingest_t *in, const gb_lp_line_t *l, gb_time_t t, char *name, size_t size)
{
    size_t n0 = in->n, a0 = in->alen;
    for (size_t f = 0; f < l->nfields; f++) {
        size_t nl;
        gb_value_t v;
        if (gb_lp_series_name(l, f, name, size, &nl) != 0) {
            refuse(in, in->line, "a series name longer than %u bytes", GB_STORE_PATH_MAX);
        } else if (gb_lp_value_to_sample(&l->fields[f].value, &v) != 0) {
            refuse(in, in->line, "field %.*s: an unsigned value above 2^63-1",
                   (int)l->fields[f].key.n, l->fields[f].key.p);
        } else if (fits(in, nl, t, &v)) {
            add2(in, name, nl, NULL, 0, t, &v, f > 0);
            continue;
        }
        in->n = n0;
        in->alen = a0;
        return;
    }
}

/* The same for the quick way's line FL at T. */
static bool fast_takes(gb_ingest_t *in, const gb_lp_fast_t *fl, gb_time_t t)
{
    for (size_t f = 0; f < fl->nfields; f++)
        if (!fits(in, fl->keylen + 1 + fl->fields[f].key.n, t, &fl->fields[f].v)) return false;
    return true;
}

int gb_ingest_lp(gb_ingest_t *in, char *buf, size_t len, bool eof, gb_lp_precision_t prec,
                 gb_time_t now, size_t *used)
{
    size_t pos = 0;
    /* a byte-order mark before the first line (an editor's) is not part of its name */
    if (in->line == 0 && len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) pos = 3;
    int rc = 0;
    gb_lp_line_t *l = gb_xmalloc(sizeof *l);
    gb_lp_fast_t fl;
    char name[8192];
    /* the batch's arrays at the size this text needs (lines are rarely under 32 bytes) at once:
     * grown from 1024 as an HTTP write's points came, they were copied three times a request */
    size_t want = len / 32 < BATCH ? len / 32 : BATCH;
    if (want > in->cap) batch_cap(in, want);
    while (pos < len && !rc) {
        /* the plain lines most writers send the quick way; the others, and errors, below */
        size_t win = len - pos;
        if (gb_lp_fast(buf + pos, win > GB_LP_LINE_MAX ? GB_LP_LINE_MAX : win,
                       eof && win <= GB_LP_LINE_MAX, prec, &fl)) {
            in->line++;
            gb_time_t t = fl.has_time ? fl.t : now;
            if (!fast_takes(in, &fl, t)) {
                pos += fl.len;
                continue;
            }
            if (fl.nfields == 1) {
                /* "KEY FIELD=..." becomes "KEY#FIELD\0...": the series' name, where it is */
                add_in_place(in, buf + pos, fl.keylen + 1 + fl.fields[0].key.n, fl.keylen, t,
                             &fl.fields[0].v);
            } else {
                for (size_t f = 0; f < fl.nfields; f++)
                    add2(in, buf + pos, fl.keylen, fl.fields[f].key.p, fl.fields[f].key.n, t,
                         &fl.fields[f].v, f > 0);
            }
            pos += fl.len;
            rc = batch_due(in);
            continue;
        }
        size_t n;
        int er = gb_lp_line_end(buf + pos, len - pos, GB_LP_LINE_MAX, &n);
        bool complete = er == 0 && (buf[pos + n - 1] == '\n' || eof);
        if (er == 0 && !complete) break; /* the rest of this line comes with the next piece */
        in->line++;
        if (er) {
            refuse(in, in->line, "a line longer than %u bytes", GB_LP_LINE_MAX);
            pos += n;
            continue;
        }
        gb_lp_err_t err;
        if (gb_lp_parse(buf + pos, n, prec, l, &err) != 0) {
            refuse(in, in->line, "column %zu: %s", err.column, err.why);
        } else if (!l->comment) {
            take_line(in, l, l->has_time ? l->t : now, name, sizeof name);
            rc = batch_due(in);
        }
        pos += n;
    }
    free(l);
    /* names in BUF are written before the caller reuses it */
    if (!rc && in->in_place) rc = gb_ingest_flush(in);
    *used = pos;
    return rc;
}

int gb_ingest_csv(gb_ingest_t *in, const char *buf, size_t len, bool eof, size_t *used)
{
    if (!in->csv) {
        in->csv = gb_xmalloc(sizeof *in->csv);
        gb_csv_reader_init(in->csv);
    }
    size_t pos = 0;
    int rc = 0;
    for (;;) {
        size_t u;
        gb_csv_row_t row;
        gb_csv_err_t err;
        int r = gb_csv_read(in->csv, buf + pos, len - pos, eof, &u, &row, &err);
        pos += u;
        if (r == GB_CSV_ROW) {
            in->line = row.line;
            if (fits(in, row.series.n, row.t, &row.value))
                add2(in, row.series.p, row.series.n, NULL, 0, row.t, &row.value, false);
            if ((rc = batch_due(in)) != 0) break;
            continue;
        }
        if (r == GB_EPROTO || r == GB_ERANGE) {
            bool final = in->csv->failed;
            if (final) { /* a wrong header: say it once, read no further */
                if (!in->first_line) refuse(in, err.line, "%s", err.why);
                pos = len;
                break;
            }
            refuse(in, err.line, "%s", r == GB_ERANGE ? "a row that is too long" : err.why);
            continue;
        }
        break; /* 0: this piece is taken (or, at eof, the input is done) */
    }
    *used = pos;
    return rc;
}
