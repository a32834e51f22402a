/*
 * The latest value of every tag, kept in memory: a bus consumer that answers "what is it now?"
 * for the API and the dashboard without touching the store. Late samples do not replace a newer
 * value. Thread-safe: the bus thread writes, API threads read.
 */
#ifndef GEMBA_LATEST_H
#define GEMBA_LATEST_H

#include "gemba/bus.h"
#include "gemba/tags.h"

typedef struct gb_latest gb_latest_t;

typedef struct gb_latest_value {
    bool has;        /* false until the first sample */
    gb_time_t t;
    gb_vtype_t type;
    gb_quality_t quality;
    double f64;
    int64_t i64;
    bool b;
    char str[256];   /* string values, truncated to fit */
} gb_latest_value_t;

gb_latest_t *gb_latest_new(const gb_tags_t *reg);
void gb_latest_free(gb_latest_t *l);

/* The consumer to subscribe with gb_latest_new()'s result as context. */
extern const gb_consumer_ops_t gb_latest_consumer;

/* Copies the latest value of TAG into *OUT. Returns 0 or GB_ENOENT for an unknown tag. */
int gb_latest_get(gb_latest_t *l, uint32_t tag, gb_latest_value_t *out);

#endif
