/*
 * InfluxDB line protocol, the text `gemba import` and POST /api/v1/write take:
 *
 *   measurement[,tag_key=tag_value...] field_key=field_value[,field_key=field_value...] [timestamp]
 *
 * Pure codec: no I/O, no allocation. A line is parsed in place -- escapes are undone inside the
 * caller's buffer -- and every name comes back as a span into it.
 *
 * The rules, as InfluxDB 1.x reads them:
 *   - Elements are separated by single unescaped spaces (runs of spaces are taken as one).
 *   - A backslash escapes the element's special characters: ',' and ' ' in the measurement;
 *     ',' '=' and ' ' in tag keys, tag values and field keys. "\\" is one backslash; a backslash
 *     before any other character is an ordinary character ("C:\temp" is "C:\temp").
 *   - Field values: a float ("1", "-1.5", "1e3", ".5", "1."), an integer "12i" (int64), an
 *     unsigned integer "12u" (uint64), a boolean (t T true True TRUE f F false False FALSE) or a
 *     string in double quotes, where \" is a quote and \\ a backslash. A string may hold a line
 *     break (gb_lp_line_end knows). Numbers out of range are refused, "1e309" among them: line
 *     protocol has no infinities and no NaN. "-0" is the float -0.0.
 *   - The timestamp is an integer (negative before 1970) in the writer's precision, scaled to ns;
 *     one that does not fit int64 nanoseconds is refused.
 *   - A line that is empty, only spaces, or starts with '#' (after spaces) is a comment.
 *   - A line may end in "\n" or "\r\n".
 * gemba is stricter than InfluxDB in one way: a tag or field given twice on one line is refused,
 * because which of the two was meant cannot be known.
 *
 * Series names. gemba keeps one series per field: its canonical name is
 *   MEASUREMENT[,TAGKEY=TAGVALUE...]#FIELD
 * with the tags sorted by key (byte order) and the characters , = space # \ inside each part
 * escaped with a backslash (always, and nothing else is). So the name maps back to exactly one
 * (measurement, tags, field), and two lines naming the same series in a different tag order
 * land in the same series.
 */
#ifndef GB_STORE_LINEPROTO_H
#define GB_STORE_LINEPROTO_H

#include "gemba/sample.h"
#include "gemba/time.h"
#include "store/textio.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GB_LP_MAX_TAGS 256    /* tags on one line */
#define GB_LP_MAX_FIELDS 1024 /* fields on one line */

/* Timestamp precision of a write: the `precision` parameter of /write. */
typedef enum {
    GB_LP_NS = 0, /* "n" or "ns" (the default) */
    GB_LP_US,     /* "u" or "us" */
    GB_LP_MS,     /* "ms" */
    GB_LP_S,      /* "s" */
    GB_LP_M,      /* "m" (minutes) */
    GB_LP_H       /* "h" */
} gb_lp_precision_t;

/* Parses a precision word (n ns u us ms s m h). Returns 0 or GB_EINVAL. */
int gb_lp_precision_parse(const char *s, size_t n, gb_lp_precision_t *out);

typedef enum { GB_LP_FLOAT = 1, GB_LP_INT, GB_LP_UINT, GB_LP_BOOL, GB_LP_STRING } gb_lp_type_t;

/* A field value as line protocol types it. */
typedef struct gb_lp_value {
    gb_lp_type_t type;
    union {
        double f;
        int64_t i;
        uint64_t u;
        bool b;
        gb_textio_span_t s; /* unescaped; borrowed */
    } v;
} gb_lp_value_t;

typedef struct gb_lp_tag {
    gb_textio_span_t key, value;
} gb_lp_tag_t;

typedef struct gb_lp_field {
    gb_textio_span_t key;
    gb_lp_value_t value;
} gb_lp_field_t;

/* One parsed line. About 50 KiB: keep one per parser, not one per line on the stack. */
typedef struct gb_lp_line {
    bool comment; /* blank or '#' line: nothing below is set */
    gb_textio_span_t measurement;
    gb_lp_tag_t tags[GB_LP_MAX_TAGS]; /* sorted by key, keys unique */
    size_t ntags;
    gb_lp_field_t fields[GB_LP_MAX_FIELDS]; /* in the line's order, keys unique */
    size_t nfields;                         /* at least 1 */
    bool has_time;                          /* false: the writer left it to the server */
    gb_time_t t;                            /* ns since the epoch, when has_time */
} gb_lp_line_t;

/* Why a line was refused. */
typedef struct gb_lp_err {
    size_t column; /* 1-based byte column of the problem in the line as it was given */
    char why[96];  /* "missing field", "bad integer '12x'", ... (long input is cut) */
} gb_lp_err_t;

/*
 * The length of the line at BUF[0..LEN): up to and including its "\n" (or all of BUF when there is
 * none), honouring line breaks inside quoted string values as InfluxDB does. Returns 0 with the
 * length in *OUT, or GB_ERANGE when the line runs past MAX bytes (*OUT then says where to
 * resume: after the next raw line break, or LEN). Never reads past LEN.
 */
int gb_lp_line_end(const char *buf, size_t len, size_t max, size_t *out);

/*
 * Parses one line (as gb_lp_line_end cuts them; its line end may be included), unescaping in
 * place: LINE is modified and OUT's spans point into it. Timestamps are scaled from PREC to ns.
 * Returns 0, or GB_EPROTO with ERR (which may be NULL) saying what and where.
 */
int gb_lp_parse(char *line, size_t len, gb_lp_precision_t prec, gb_lp_line_t *out,
                gb_lp_err_t *err);

/*
 * Writes the canonical series name of field FIELD of L into BUF (NUL-terminated). The tags must be
 * sorted with unique keys, as gb_lp_parse leaves them. Returns 0 with the length in *LEN (may be
 * NULL), GB_EINVAL for unsorted tags or an empty part, GB_ERANGE when BUF is too small.
 */
int gb_lp_series_name(const gb_lp_line_t *l, size_t field, char *buf, size_t size, size_t *len);

#define GB_LP_FAST_FIELDS 16 /* fields a line may have for gb_lp_fast */

/* One line as gb_lp_fast reads it. */
typedef struct gb_lp_fast {
    size_t len;    /* the line's bytes, its line break included */
    size_t keylen; /* the measurement and tags: the line's first KEYLEN bytes, canonical as is */
    size_t nfields;
    struct {
        gb_textio_span_t key; /* canonical as is */
        gb_value_t v;         /* a number or a boolean */
    } fields[GB_LP_FAST_FIELDS];
    bool has_time;
    gb_time_t t;
} gb_lp_fast_t;

/*
 * The quick way through the lines most writers send. True, with OUT filled, when the line at
 * BUF[0..LEN) is complete (it ends in "\n" or "\r\n", or EOF says the buffer's end ends it) and
 * plain: no backslash, quote, '#', NUL or other CR; single spaces; a measurement without '=';
 * tags in order with unique keys; at most GB_LP_FAST_FIELDS fields, unique, of numbers or
 * booleans (unsigned ones up to 2^63-1); a timestamp that fits. Then the canonical series name of
 * field F is the line's first KEYLEN bytes, '#', and the field's key, and the result is the one
 * gb_lp_parse, gb_lp_series_name and gb_lp_value_to_sample give. False for anything else,
 * without a word: gb_lp_line_end and gb_lp_parse read such a line (and say what is wrong).
 */
bool gb_lp_fast(const char *buf, size_t len, bool eof, gb_lp_precision_t prec, gb_lp_fast_t *out);

/* A series name taken apart. About 8 KiB. */
typedef struct gb_lp_series {
    gb_textio_span_t measurement;
    gb_lp_tag_t tags[GB_LP_MAX_TAGS]; /* sorted by key */
    size_t ntags;
    gb_textio_span_t field;
} gb_lp_series_t;

/*
 * Takes a canonical series name apart, unescaping in place (NAME is modified; OUT's spans point
 * into it). Returns 0, or GB_EINVAL when NAME is not in the canonical form (no '#FIELD', an empty
 * part, an unescaped special character, a backslash before an ordinary one, tags out of order or
 * repeated, more than GB_LP_MAX_TAGS).
 */
int gb_lp_series_split(char *name, size_t len, gb_lp_series_t *out);

/*
 * Formats series SERIES (canonical name) with value V at time T as one line of line protocol (no
 * line end; NUL-terminated) that gb_lp_parse reads back to the same measurement, tags, field,
 * value and time (in ns precision). Returns 0 with the length in *LEN (may be NULL); GB_EINVAL
 * when SERIES is not canonical or cannot be written as line protocol (a measurement starting
 * with '#', a line break in a name), or V is a NaN or an infinity; GB_ERANGE when BUF is too
 * small.
 */
int gb_lp_format(const char *series, size_t series_len, const gb_lp_value_t *v, gb_time_t t,
                 char *buf, size_t size, size_t *len);

/*
 * The store's view of a line-protocol value: float, int and bool as they are, a string borrowed;
 * an unsigned integer becomes an int when it fits. Returns 0, or GB_ERANGE for an unsigned above
 * INT64_MAX.
 */
int gb_lp_value_to_sample(const gb_lp_value_t *v, gb_value_t *out);

/* The reverse, for export: a gb_value_t as a line-protocol value (strings borrowed). */
void gb_lp_value_from_sample(const gb_value_t *v, gb_lp_value_t *out);

#endif
