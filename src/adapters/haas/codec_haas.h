/*
 * The Haas MDC codec: the replies a Haas CNC control gives to "Q-commands" (machine data
 * collection, Setting 143) on its RS-232 port or its TCP port, as bytes in and parts out. Pure (no
 * I/O, no allocation): every span points into the caller's bytes.
 *
 * On the wire a reply is a line of comma-separated text, such as `SERIAL NUMBER, 1234567`,
 * `MODE, MEM`, `PROGRAM, O01234, IDLE, PARTS, 380`, `STATUS, BUSY` or `MACRO, 5021, 12.5`. Controls
 * frame it differently: most send STX (0x02) before it and ETB (0x17), CR LF and a `>` prompt
 * after it (the ETB before or after the line end, depending on the control); others send a bare
 * line, sometimes with the prompt in front (`>MACRO, 1.000000`). The framer splits a byte stream
 * into replies whatever the framing, and the parser trims what framing is left.
 */
#ifndef GB_ADAPTERS_HAAS_CODEC_HAAS_H
#define GB_ADAPTERS_HAAS_CODEC_HAAS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GB_HAAS_STX 0x02
#define GB_HAAS_ETB 0x17
#define GB_HAAS_REPLY_MAX 256 /* longest reply, framing included; the longest real one is ~60 */
#define GB_HAAS_MACRO_MAX 999999u /* highest macro variable number a query may name */

typedef struct gb_haas_span {
    const char *p;
    size_t n;
} gb_haas_span_t;

typedef enum {
    GB_HAAS_SERIAL,  /* Q100: SERIAL NUMBER, 1234567 */
    GB_HAAS_MODE,    /* Q104: MODE, MEM (or MODE, (MEM)) */
    GB_HAAS_PROGRAM, /* Q500: PROGRAM, O01234, IDLE, PARTS, 380 */
    GB_HAAS_STATUS,  /* Q500 while a program runs: STATUS, BUSY (or STATUS BUSY) */
    GB_HAAS_MACRO,   /* Q600: MACRO, 5021, 12.5 or MACRO, 12.5 */
    GB_HAAS_INVALID, /* the control refused the query: INVALID NUMBER, INVALID COMMAND, UNKNOWN */
    GB_HAAS_UNKNOWN  /* well-formed text of another kind: an answer to a query this codec does
                        not model, an echo, a DPRNT line */
} gb_haas_kind_t;

typedef struct gb_haas_reply {
    gb_haas_kind_t kind;
    gb_haas_span_t text;   /* SERIAL: the number; MODE: the mode, without parentheses; PROGRAM:
                              the program; INVALID, UNKNOWN: the whole reply */
    gb_haas_span_t status; /* PROGRAM, STATUS: IDLE, FEED HOLD, ALARM ON, BUSY, ... */
    int64_t parts;         /* PROGRAM: the part counter (0 or more, at most 15 digits) */
    bool has_var;          /* MACRO: the reply names its variable (not every control does) */
    uint32_t var;          /* MACRO, when has_var */
    double value;          /* MACRO: finite */
} gb_haas_reply_t;

/*
 * Parses one reply, BUF[0..LEN) (as the framer returns it; framing bytes, a `>` prompt and spaces
 * around it are trimmed). Labels are matched without regard to case or repeated spaces. Returns 0
 * with *OUT filled (spans into BUF), or GB_EPROTO for a malformed reply -- empty, longer than
 * GB_HAAS_REPLY_MAX, holding a control or non-ASCII byte, or a known label with the wrong fields
 * (a part count or macro value that is not a number, a missing serial number, ...); *WHY then
 * names the problem (static text, one per kind of problem, so a caller can log each kind once).
 */
int gb_haas_parse(const char *buf, size_t len, gb_haas_reply_t *out, const char **why);

/*
 * Finds the first reply in the stream bytes BUF[0..LEN). A reply runs from the first byte that is
 * not framing (STX, ETB, CR, LF, `>`, spaces, NUL, DC1-DC4) up to the next STX, ETB, CR or LF.
 * Returns 1 with *REPLY (a span of BUF) and *USED, the bytes to drop with it; 0 when no complete
 * reply is there yet, *USED then counting the leading framing that may be dropped already;
 * GB_EPROTO when more than GB_HAAS_REPLY_MAX bytes came without an end: *USED (= LEN) bytes are to
 * be dropped as one malformed reply, and the rest of that line, when it comes, is its tail.
 */
int gb_haas_frame(const char *buf, size_t len, size_t *used, gb_haas_span_t *reply);

/*
 * The MTConnect-style execution state for a Q500 status, as state rules use it: BUSY -> ACTIVE,
 * IDLE -> READY, FEED HOLD -> INTERRUPTED, anything with ALARM in it -> STOPPED, any other status
 * (STOP, M00, ...) -> STOPPED. Static text.
 */
const char *gb_haas_execution(gb_haas_span_t status);

/*
 * The MTConnect-style controller mode for a Q104 mode: MEM -> AUTOMATIC, MDI ->
 * MANUAL_DATA_INPUT, EDIT and LIST PROG -> EDIT, anything else (JOG, HANDLE, ZERO RET, ...) ->
 * MANUAL. Static text.
 */
const char *gb_haas_controller_mode(gb_haas_span_t mode);

/* True when span S equals T, ignoring case and treating a run of spaces as one. */
bool gb_haas_eq(gb_haas_span_t s, const char *t);

#endif
