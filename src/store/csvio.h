/*
 * The historian's CSV: `gemba import` reads it, `gemba query` prints it.
 *
 *   time,tag,value
 *   2026-01-02T03:04:05.000000000Z,line1/press/temp,71.5
 *   2026-01-02T03:04:05.000000000Z,"cpu,host=a#usage",12i
 *
 * Pure codec: no I/O. The reader is fed the input in pieces of any size (a row may be cut
 * anywhere, even inside a quoted field or a CRLF) and hands out one row at a time.
 *
 * Syntax (RFC 4180): fields separated by ',', rows by "\n" or "\r\n"; a field in double quotes may
 * hold ',', '"' (written twice) and line breaks; a quote inside an unquoted field, or text after a
 * closing quote, is an error. The first row must be the header time,tag,value (any letter case),
 * optionally after a UTF-8 byte-order mark. Empty lines are skipped. Every row has three fields.
 *
 * time: RFC 3339 -- "2026-01-02T03:04:05Z", up to 9 fraction digits, 'T' 't' or a space before
 * the clock, 'Z' 'z' or an offset "+02:00" (converted to UTC) -- or an integer of ns since the
 * epoch. Any time int64 nanoseconds can hold is accepted (1677-09-21 to 2262-04-11).
 *
 * value: its text is typed by this rule, in order:
 *   true / false (any letter case)            -> bool
 *   NaN, Inf, +Inf, -Inf (any letter case)    -> float
 *   [+-]digits followed by 'i'                -> int64 (as line protocol writes integers)
 *   a decimal number: [+-]1, 1.5, .5, 1., 1e3 -> float64 (beyond the double range: an error)
 *   "text" (starting and ending with a quote) -> the string text, quotes removed
 *   anything else, the empty text included    -> string, as it is
 * The writer quotes a string that would otherwise read as something else ("1.5", "true", or one
 * that itself starts and ends with a quote) by wrapping it in quotes: the string 1.5 is written
 * """1.5""" (in CSV, the text "1.5"). So every value reads back with the type it was written with.
 *
 * The writer: time always RFC 3339 UTC with exactly 9 fraction digits; tag and value quoted only
 * when they hold ',', '"', CR or LF; floats in the shortest form that reads back to the identical
 * double (see gb_textio_f64_format), NaN and the infinities as NaN +Inf -Inf, -0.0 as -0; ints
 * as 123i; bools as true/false; rows end in "\n". Reading what it writes and writing it again
 * gives the same bytes.
 */
#ifndef GB_STORE_CSVIO_H
#define GB_STORE_CSVIO_H

#include "gemba/sample.h"
#include "gemba/time.h"
#include "store/textio.h"

#include <stdbool.h>
#include <stddef.h>

/* Longest row, counting the bytes of its fields after unquoting: room for a string value of
 * GB_SAMPLE_STR_MAX bytes (wrapped in quotes) and a long series name. */
#define GB_CSV_ROW_MAX (GB_SAMPLE_STR_MAX + 8192u)

#define GB_CSV_HEADER "time,tag,value\n"

/* gb_csv_read's answer when it has a row. */
#define GB_CSV_ROW 1

typedef struct gb_csv_row {
    size_t line; /* line where the row starts (1-based) */
    gb_time_t t;
    gb_textio_span_t series; /* the tag column */
    gb_textio_span_t text;   /* the value column as written (after CSV unquoting) */
    gb_value_t value;        /* TEXT typed by the rule above; a string points into the reader */
} gb_csv_row_t;

typedef struct gb_csv_err {
    size_t line;   /* 1-based line of the problem */
    char why[128]; /* "bad time '2026-13-01T00:00:00Z'", "expected 3 fields, got 2", ... */
} gb_csv_err_t;

/* Reader state; its fields are private. */
typedef struct gb_csv_reader {
    char *buf;        /* GB_CSV_ROW_MAX bytes: the current row's fields, unquoted */
    size_t len;       /* bytes of the row so far */
    size_t fstart[3]; /* where each field starts in buf */
    size_t nfields;   /* fields begun in this row (counting past 3, storing 3) */
    int state;        /* where in the CSV grammar the reader is */
    bool quoted;      /* the current field was quoted */
    bool too_long;    /* the row passed GB_CSV_ROW_MAX: it is read to its end and refused */
    bool header_done; /* the header row has been read and checked */
    bool failed;      /* the header was wrong: nothing more is read */
    bool done;        /* eof seen and the last row handed out */
    unsigned bom;     /* bytes of a byte-order mark matched at the start */
    size_t line;      /* line of the next byte */
    size_t row_line;  /* line where the current row started */
} gb_csv_reader_t;

/* Initialises R for a new input. Allocates the row buffer (fixed size; aborts on OOM). */
void gb_csv_reader_init(gb_csv_reader_t *r);

/* Frees R's buffer (R may be zeroed or cleared already). */
void gb_csv_reader_clear(gb_csv_reader_t *r);

/*
 * Reads from IN[0..LEN) until a row is complete. Returns GB_CSV_ROW with ROW filled (its spans
 * point into R and stay valid until the next call); 0 when all of IN was taken without finishing
 * a row (give the next piece, or at the end of the input call once more with EOF true, LEN may be
 * 0; after the last row, 0 means the input is done); GB_EPROTO with ERR (may be NULL) for a
 * malformed row, which is skipped, so the caller may go on reading; GB_ERANGE for a row longer
 * than GB_CSV_ROW_MAX, also skipped. A wrong or missing header is GB_EPROTO and final: every later
 * call says it again. *USED (always set) is how many bytes of IN were taken: call again with the
 * rest. EOF says IN ends the input.
 */
int gb_csv_read(gb_csv_reader_t *r, const char *in, size_t len, bool eof, size_t *used,
                gb_csv_row_t *row, gb_csv_err_t *err);

/*
 * Types value text S by the rule above into *OUT (a string is borrowed from S). Returns 0, or
 * GB_ERANGE for a number beyond its type's range ("1e999", "9223372036854775808i").
 */
int gb_csv_value_parse(const char *s, size_t n, gb_value_t *out);

/*
 * Parses a CSV time (RFC 3339 or integer ns, as above). Returns 0, GB_EINVAL for bad syntax or
 * an impossible date, GB_ERANGE outside what int64 nanoseconds hold.
 */
int gb_csv_time_parse(const char *s, size_t n, gb_time_t *out);

/* Room for gb_csv_time_format: "2026-01-02T03:04:05.000000000Z" and a NUL. */
#define GB_CSV_TIME_MAX 32

/* Formats T as RFC 3339 UTC with exactly 9 fraction digits. Returns the length (30). */
size_t gb_csv_time_format(gb_time_t t, char *buf);

/*
 * Writes one row "time,tag,value\n" for SERIES with value V at T into BUF, NUL-terminated.
 * Returns 0 with the length (without the NUL) in *LEN (may be NULL), GB_EINVAL for an empty
 * series or an unknown value type, GB_ERANGE when BUF is too small.
 */
int gb_csv_format_row(gb_time_t t, const char *series, size_t series_len, const gb_value_t *v,
                      char *buf, size_t size, size_t *len);

#endif
