/*
 * What the two MTConnect adapters (SHDR and agent) share: how an observation's text becomes a
 * typed sample (UNAVAILABLE is bad quality), how a tag address names a field of a condition or a
 * message (`key.native_code`, ...), how a time series' values spread over time, and how a batch
 * is handed to the bus while it pushes back. Internal to src/adapters/mtconnect/.
 */
#ifndef GB_ADAPTERS_MTCONNECT_VALUES_H
#define GB_ADAPTERS_MTCONNECT_VALUES_H

#include "gemba/adapter.h"
#include "gemba/sample.h"

#include <stdbool.h>
#include <stddef.h>

/* The field of an observation a tag takes: the value (a condition's level), or one of these. */
enum { GB_MTC_F_VALUE, GB_MTC_F_CODE, GB_MTC_F_SEVERITY, GB_MTC_F_QUALIFIER, GB_MTC_F_MESSAGE };

/*
 * Copies ADDRESS into KEY (KEYSZ bytes, truncating) without a known field suffix (.native_code,
 * .native_severity, .qualifier, .message) and returns the field it names; GB_MTC_F_VALUE when it
 * has none (a dot that is part of a key stays in the key).
 */
int gb_mtc_split_address(const char *address, char *key, size_t keysz);

/*
 * Adds text V (N bytes) to B as the value of TAG, of type TYPE, at T. UNAVAILABLE is kept with bad
 * quality in string and float tags (NaN) and leaves nothing in int and bool tags. Numbers parse
 * as C numbers ("12.0" is a whole number too); bools are true/false, 1/0, ON/OFF, ACTIVE/INACTIVE.
 * Strings longer than GB_SAMPLE_STR_MAX are cut. Returns false when the text does not fit TYPE.
 */
bool gb_mtc_add_value(gb_batch_t *b, gb_time_t t, uint32_t tag, gb_vtype_t type, const char *v,
                      size_t n);

/* Writes condition level LEVEL (N bytes, any case) in capitals into BUF; returns its length. */
size_t gb_mtc_level(const char *level, size_t n, char *buf, size_t bufsz);

/* Takes one value of a time series; false when it did not fit. */
typedef bool (*gb_mtc_value_fn)(void *ctx, gb_time_t t, const char *v, size_t n);

/*
 * Calls FN for each space-separated value of time series text V (N bytes): the k-th at T plus
 * k / RATE seconds, or T plus k ns when RATE is not positive (distinct and in order). Returns false
 * when FN did for any value (all are still offered).
 */
bool gb_mtc_each_series_value(gb_time_t t, double rate, const char *v, size_t n,
                              gb_mtc_value_fn fn, void *ctx);

/*
 * Publishes *B on BUS, holding on while the bus pushes back (each refusal counted in ST's
 * pushback) until it takes the batch or STOPPING(CTX) says to give up (gb_adapter_publish).
 * *B is then a new empty batch. Returns false only when stopping with the batch unpublished (it
 * was never acknowledged, so nothing accepted is lost).
 */
bool gb_mtc_publish(gb_adapter_state_t *st, gb_bus_t *bus, gb_batch_t **b,
                    bool (*stopping)(void *ctx), void *ctx);

#endif
