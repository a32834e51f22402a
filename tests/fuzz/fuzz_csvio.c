/*
 * libFuzzer target: the time,tag,value CSV reader on arbitrary bytes. It checks that the reader
 * gives the same rows and errors whether the input comes at once or in small pieces, and that
 * every row it hands out, written again, reads back to the same time, tag and value and writes
 * the same bytes a second time.
 */
#include "gemba/error.h"
#include "store/csvio.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char out1[GB_CSV_ROW_MAX * 2 + 64], out2[GB_CSV_ROW_MAX * 2 + 64];

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3u;
    return h;
}

static bool same_value(const gb_value_t *a, const gb_value_t *b)
{
    if (a->type == GB_VT_F64 && b->type == GB_VT_F64 && isnan(a->f64)) return isnan(b->f64);
    return gb_value_equal(a, b);
}

/* ROW written, read back alone, and written again. */
static void rewrite(const gb_csv_row_t *row)
{
    size_t n1, n2, used;
    if (gb_csv_format_row(row->t, row->series.p, row->series.n, &row->value, out1, sizeof out1,
                          &n1))
        __builtin_trap();
    gb_csv_reader_t r;
    gb_csv_reader_init(&r);
    gb_csv_row_t back;
    if (gb_csv_read(&r, GB_CSV_HEADER, strlen(GB_CSV_HEADER), false, &used, &back, NULL) != 0 ||
        gb_csv_read(&r, out1, n1, true, &used, &back, NULL) != GB_CSV_ROW || used != n1)
        __builtin_trap();
    if (back.t != row->t || back.series.n != row->series.n ||
        memcmp(back.series.p, row->series.p, row->series.n) ||
        !same_value(&back.value, &row->value))
        __builtin_trap();
    if (gb_csv_format_row(back.t, back.series.p, back.series.n, &back.value, out2, sizeof out2,
                          &n2) ||
        n1 != n2 || memcmp(out1, out2, n1))
        __builtin_trap();
    gb_csv_reader_clear(&r);
}

/* Reads all of DATA in pieces of CHUNK bytes; returns a hash of every answer. */
static uint64_t read_all(const uint8_t *data, size_t size, size_t chunk, bool check)
{
    gb_csv_reader_t r;
    gb_csv_reader_init(&r);
    uint64_t h = 0xcbf29ce484222325u;
    size_t pos = 0;
    for (;;) {
        size_t n = size - pos < chunk ? size - pos : chunk, used;
        bool eof = pos + n == size;
        gb_csv_row_t row;
        gb_csv_err_t err;
        int rc = gb_csv_read(&r, (const char *)data + pos, n, eof, &used, &row, &err);
        if (used > n) __builtin_trap();
        pos += used;
        if (rc) h = mix(h, &rc, sizeof rc); /* how often "more" is said depends on the pieces */
        if (rc == GB_CSV_ROW) {
            h = mix(h, &row.t, sizeof row.t);
            h = mix(h, &row.line, sizeof row.line);
            h = mix(h, row.series.p, row.series.n);
            h = mix(h, row.text.p, row.text.n);
            if (check) rewrite(&row);
        } else if (rc < 0) {
            h = mix(h, &err.line, sizeof err.line);
            h = mix(h, err.why, strlen(err.why));
            if (r.failed) break;
        } else if (eof) {
            break;
        }
    }
    gb_csv_reader_clear(&r);
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* the value and time parsers alone */
    gb_value_t v;
    gb_csv_value_parse((const char *)data, size, &v);
    gb_time_t t, back;
    if (gb_csv_time_parse((const char *)data, size, &t) == 0) {
        char buf[GB_CSV_TIME_MAX];
        size_t n = gb_csv_time_format(t, buf);
        if (gb_csv_time_parse(buf, n, &back) || back != t) __builtin_trap();
    }
    uint64_t whole = read_all(data, size, size ? size : 1, true);
    uint64_t pieces = read_all(data, size, size % 7 + 1, false);
    if (whole != pieces) __builtin_trap();
    return 0;
}
