/*
 * The Modbus codec: tag addresses, register decoding and read planning -- no I/O, so each can be
 * tested and fuzzed alone. Registers are 16-bit, sent big-endian by the protocol; a value that
 * spans registers is assembled in one of the four orders devices use:
 *   abcd  big-endian words, big-endian bytes (the Modbus default)
 *   cdab  little-endian words ("word swap"), badc byte swap, dcba both
 *
 * Address syntax (a tag's `address`):
 *   AREA:N[.BIT][:TYPE[:ORDER]][@GROUP]      AREA hr | ir | coil | di, N 0..65535 (zero-based)
 *   TYPE int16 uint16 int32 uint32 int64 uint64 float32 float64, or string:LEN (LEN registers)
 *   hr:100:float32:cdab   hr:7.3 (bit 3 of register 7)   coil:12   hr:40:string:8@slow
 */
#ifndef GB_ADAPTERS_MODBUS_CODEC_MODBUS_H
#define GB_ADAPTERS_MODBUS_CODEC_MODBUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { GB_MB_HR, GB_MB_IR, GB_MB_COIL, GB_MB_DI } gb_mb_area_t;
typedef enum {
    GB_MB_I16, GB_MB_U16, GB_MB_I32, GB_MB_U32, GB_MB_I64, GB_MB_U64, GB_MB_F32, GB_MB_F64,
    GB_MB_BIT, /* a coil, a discrete input, or one bit of a register */
    GB_MB_STR
} gb_mb_type_t;
typedef enum { GB_MB_ABCD, GB_MB_CDAB, GB_MB_BADC, GB_MB_DCBA } gb_mb_order_t;

#define GB_MB_MAX_READ_REGS 125
#define GB_MB_MAX_READ_BITS 2000
#define GB_MB_MAX_STRING 64 /* registers */

typedef struct gb_mb_addr {
    gb_mb_area_t area;
    uint16_t start;
    int bit;             /* 0..15 for a bit of a register, -1 otherwise */
    gb_mb_type_t type;
    gb_mb_order_t order;
    uint16_t count;      /* registers (or bits) the value occupies */
    char group[32];      /* poll group name, "" for the default */
} gb_mb_addr_t;

/* Parses S. Returns 0 or GB_EINVAL with *WHY (static text) naming the problem. */
int gb_mb_parse_address(const char *s, gb_mb_addr_t *out, const char **why);

/* True when the area holds registers (hr, ir), false for bits (coil, di). */
bool gb_mb_area_regs(gb_mb_area_t a);

typedef struct gb_mb_value {
    enum { GB_MB_V_INT, GB_MB_V_UINT, GB_MB_V_FLOAT, GB_MB_V_BOOL, GB_MB_V_STR } kind;
    int64_t i;
    uint64_t u;
    double f;
    bool b;
    char s[2 * GB_MB_MAX_STRING + 1];
} gb_mb_value_t;

/* Decodes A's value from REGS (A->count registers, starting at A->start), or from BITS for coils
 * and discrete inputs (one byte per bit, as libmodbus gives them). */
void gb_mb_decode(const gb_mb_addr_t *a, const uint16_t *regs, const uint8_t *bits,
                  gb_mb_value_t *out);

/*
 * Encodes a number (or, for strings, text) into A->count registers in A's order: the inverse of
 * gb_mb_decode. Returns 0, or GB_ERANGE when it does not fit the type (e.g. 70000 as int16, or a
 * fraction into an integer type). Bits are not encoded here (they are written as coils, or
 * read-modified-written in their register).
 */
int gb_mb_encode(const gb_mb_addr_t *a, double num, const char *text, uint16_t *regs);

/* A planned read: one request covering items ITEM[first .. first+n) of the sorted list. */
typedef struct gb_mb_read {
    gb_mb_area_t area;
    uint16_t start, count;
    size_t first, n;
} gb_mb_read_t;

/*
 * Plans the reads for addresses A[0..n) (one poll group), sorting the index ORDER_OUT so that each
 * read covers a run of it. Addresses in the same area merge when the read stays within the
 * protocol's limit and the gap between them is at most MAX_GAP registers (bits). Returns the number
 * of reads written to READS (which needs room for N).
 */
size_t gb_mb_plan(const gb_mb_addr_t *a, size_t n, unsigned max_gap, size_t *order_out,
                  gb_mb_read_t *reads);

#endif
