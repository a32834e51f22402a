/*
 * Samples and batches. A sample is (time, tag, typed value, quality). Adapters fill a batch and
 * hand it to the bus, which shares it read-only among its consumers; string values live in the
 * batch's own arena, so a batch is one self-contained unit of ownership.
 */
#ifndef GEMBA_SAMPLE_H
#define GEMBA_SAMPLE_H

#include "gemba/time.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { GB_VT_F64 = 1, GB_VT_I64 = 2, GB_VT_BOOL = 3, GB_VT_STR = 4 } gb_vtype_t;

/* Quality follows the OPC UA severity classes. */
typedef enum { GB_Q_GOOD = 0, GB_Q_UNCERTAIN = 1, GB_Q_BAD = 2 } gb_quality_t;

/* One typed value, outside any batch (engine inputs, writes to devices). */
typedef struct gb_value {
    gb_vtype_t type;
    double f64;
    int64_t i64;
    bool b;
    const char *str; /* borrowed for the call */
    size_t len;
} gb_value_t;

/* Set by the bus on a sample older than the newest one it has seen for the same tag. */
#define GB_SAMPLE_LATE 0x01u

/* Longest string value a sample may carry; longer input is refused with GB_ERANGE. */
#define GB_SAMPLE_STR_MAX 65536u

typedef struct gb_sample {
    gb_time_t t;     /* ns since the epoch, UTC */
    uint32_t tag;    /* id in the tag registry */
    uint8_t type;    /* gb_vtype_t */
    uint8_t quality; /* gb_quality_t */
    uint8_t flags;   /* GB_SAMPLE_* */
    uint8_t pad_;
    union {
        double f64;
        int64_t i64;
        bool b;
        struct {
            uint32_t off, len; /* into the batch's string arena */
        } str;
    } v;
} gb_sample_t;

typedef struct gb_batch {
    gb_sample_t *samples; /* owned */
    size_t n, cap;
    char *strings; /* owned arena for string values */
    size_t strings_len, strings_cap;
    atomic_uint refs_; /* managed by the bus */
} gb_batch_t;

/* A new empty batch with room for CAP samples (it grows as needed). Aborts on OOM. */
gb_batch_t *gb_batch_new(size_t cap);

/* Frees B (NULL is fine). Only for batches the caller still owns (not published). */
void gb_batch_free(gb_batch_t *b);

/* Empties B for reuse. */
void gb_batch_reset(gb_batch_t *b);

void gb_batch_add_f64(gb_batch_t *b, gb_time_t t, uint32_t tag, gb_quality_t q, double v);
void gb_batch_add_i64(gb_batch_t *b, gb_time_t t, uint32_t tag, gb_quality_t q, int64_t v);
void gb_batch_add_bool(gb_batch_t *b, gb_time_t t, uint32_t tag, gb_quality_t q, bool v);

/* Copies LEN bytes of S. Returns 0, or GB_ERANGE when LEN exceeds GB_SAMPLE_STR_MAX. */
int gb_batch_add_str(gb_batch_t *b, gb_time_t t, uint32_t tag, gb_quality_t q, const char *s,
                     size_t len);

/* Adds V (of V->type) to B; a string longer than GB_SAMPLE_STR_MAX is cut to it. */
void gb_batch_add_value(gb_batch_t *b, gb_time_t t, uint32_t tag, gb_quality_t q,
                        const gb_value_t *v);

/* A value kept beyond the call that produced it: a string value is copied into BUF (owned). */
typedef struct gb_value_keep {
    gb_value_t v;
    char *buf;
    bool set; /* false until the first gb_value_keep_set */
} gb_value_keep_t;

void gb_value_keep_set(gb_value_keep_t *k, const gb_value_t *v);
void gb_value_keep_clear(gb_value_keep_t *k);

/* True when A and B have the same type and value (floats compared bit for bit, NaN equal NaN). */
/* V as a number: integers and booleans (0, 1) converted, a string NaN. */
double gb_value_number(const gb_value_t *v);
bool gb_value_equal(const gb_value_t *a, const gb_value_t *b);

/* The string value of S (a GB_VT_STR sample of B), not NUL-terminated; *LEN gets its length. */
const char *gb_sample_str(const gb_batch_t *b, const gb_sample_t *s, size_t *len);

/* Name of a value type: "float", "int", "bool", "string" (the plant file's words). */
const char *gb_vtype_name(gb_vtype_t t);

#endif
