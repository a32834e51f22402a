/*
 * A string-keyed hash map to uint32 values (open addressing, linear probing). Keys are copied.
 * Not thread-safe: build it, then share it read-only.
 */
#ifndef GB_UTIL_MAP_H
#define GB_UTIL_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gb_map_slot {
    char *key; /* owned; NULL when empty */
    uint32_t hash;
    uint32_t value;
} gb_map_slot_t;

typedef struct gb_map {
    gb_map_slot_t *slots;
    size_t cap; /* power of two */
    size_t n;
} gb_map_t;

void gb_map_init(gb_map_t *m);
void gb_map_clear(gb_map_t *m);

/* Inserts KEY -> VALUE. Returns false (and changes nothing) when KEY is already present. */
bool gb_map_put(gb_map_t *m, const char *key, uint32_t value);

/* Looks KEY up; true and *VALUE set when found. */
bool gb_map_get(const gb_map_t *m, const char *key, uint32_t *value);

#endif
