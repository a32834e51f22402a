/*
 * Small pieces shared by the historian's text codecs (line protocol and CSV): spans into a
 * caller's buffer, a bounded output buffer, and numbers as text. Pure: no I/O, no allocation.
 *
 * Numbers are read strictly -- the whole span must be the number, with no spaces, no hex and no
 * "nan" words (each codec decides about those) -- and floats are written in the shortest form that
 * reads back to the identical double, so a value survives any number of export/import cycles
 * bit for bit.
 */
#ifndef GB_STORE_TEXTIO_H
#define GB_STORE_TEXTIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A run of bytes inside someone else's buffer; not NUL-terminated. */
typedef struct gb_textio_span {
    const char *p;
    size_t n;
} gb_textio_span_t;

/* True when span S holds exactly the NUL-terminated text T. */
bool gb_textio_eq(gb_textio_span_t s, const char *t);

/*
 * An output buffer of fixed size. Writes past the end are dropped and remembered in FULL, so a
 * formatter writes without checking each step and looks at FULL once at the end.
 */
typedef struct gb_textio_out {
    char *p;     /* caller's buffer */
    size_t size; /* its size */
    size_t len;  /* bytes written so far (never more than size) */
    bool full;   /* something did not fit */
} gb_textio_out_t;

void gb_textio_out_init(gb_textio_out_t *o, char *buf, size_t size);
void gb_textio_put(gb_textio_out_t *o, const char *s, size_t n);
void gb_textio_putc(gb_textio_out_t *o, char c);

/*
 * Ends the text with a NUL. Returns 0 and the length in *LEN (without the NUL; LEN may be NULL),
 * or GB_ERANGE when the text and its NUL did not fit.
 */
int gb_textio_out_end(gb_textio_out_t *o, size_t *len);

/* Room gb_textio_f64_format needs: "-2.2250738585072014e-308" is 24 bytes, plus the NUL. */
#define GB_TEXTIO_F64_MAX 32

/*
 * Formats V with the fewest significant digits (1 to 17) that strtod reads back to the identical
 * double. The notation is plain decimal for 1e-7 <= |V| < 1e21 ("100", "0.1", "0.000123") and
 * exponential outside ("1e+21", "5e-324"), as ECMAScript prints numbers. -0.0 is "-0"; NaN and
 * the infinities are "NaN", "+Inf" and "-Inf" (callers whose format has no such words check
 * isfinite first). BUF needs GB_TEXTIO_F64_MAX bytes; returns the length.
 */
size_t gb_textio_f64_format(double v, char *buf);

/*
 * The same text the way its definition says it, with snprintf and strtod: what
 * gb_textio_f64_format does for the rare numbers outside its exact integer path (subnormals,
 * |V| < 1e-7 or >= 1e20), and what tests hold that path to. Some microseconds a number.
 */
size_t gb_textio_f64_format_printf(double v, char *buf);

/* Flags for the parsers below. */
#define GB_TEXTIO_PLUS 0x1u /* a leading '+' is allowed */

/*
 * True when S is a decimal float: [-]digits[.digits] | [-].digits, then an optional exponent
 * e|E [+|-] digits ('+' in front too with GB_TEXTIO_PLUS). Grammar only.
 */
bool gb_textio_is_f64(const char *s, size_t n, unsigned flags);

/*
 * Parses S (gb_textio_is_f64 grammar) into *OUT. Returns 0; GB_EINVAL when S is not such a
 * number (or is longer than 1024 bytes); GB_ERANGE when it is beyond the largest double
 * ("1e309"). Values too small for a double round to a subnormal or to zero, as strtod does.
 */
int gb_textio_f64_parse(const char *s, size_t n, unsigned flags, double *out);

/*
 * Parses a decimal integer [-]digits (GB_TEXTIO_PLUS: '+' allowed too). Returns 0, GB_EINVAL
 * for anything else, GB_ERANGE outside int64.
 */
int gb_textio_i64_parse(const char *s, size_t n, unsigned flags, int64_t *out);

/* Parses digits into a uint64. Returns 0, GB_EINVAL or GB_ERANGE. */
int gb_textio_u64_parse(const char *s, size_t n, uint64_t *out);

#endif
