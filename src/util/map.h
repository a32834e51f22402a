/*
 * A string-keyed hash map to uint32 values (open addressing, linear probing). Keys are copied,
 * one after another into one block, and a slot holds its key's length and place there: a look-up
 * compares the lengths, then the bytes, without a call, in memory that holds keys alone (a key
 * of its own allocation was a cache miss of its own, and strcmp a call, for every look-up).
 * Not thread-safe: build it, then share it read-only.
 */
#ifndef GB_UTIL_MAP_H
#define GB_UTIL_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gb_map_slot {
    uint32_t hash;
    uint32_t value;
    uint32_t at;  /* the key's offset in the keys' block, plus one; 0: the slot is empty */
    uint32_t len; /* the key's length */
} gb_map_slot_t;

typedef struct gb_map {
    gb_map_slot_t *slots;
    size_t cap; /* power of two */
    size_t n;
    char *keys; /* every key, NUL-terminated, in the order put */
    size_t klen, kcap;
} gb_map_t;

void gb_map_init(gb_map_t *m);
void gb_map_clear(gb_map_t *m);

/* Inserts KEY -> VALUE. Returns false (and changes nothing) when KEY is already present. */
bool gb_map_put(gb_map_t *m, const char *key, uint32_t value);

/* Looks KEY up; true and *VALUE set when found. */
bool gb_map_get(const gb_map_t *m, const char *key, uint32_t *value);

/*
 * Many look-ups at once: gb_map_hash_n the keys (of N bytes each, KEY[N] their NUL); then, going
 * through them, gb_map_prefetch the slot of a key some way ahead, its key (KEY true, once the slot
 * has come) a little less far ahead, and gb_map_get_hn the key at hand. The cache misses then
 * overlap instead of coming one by one.
 */
uint32_t gb_map_hash_n(const char *key, size_t n);
/* The hash gb_map_hash_n gives KEY's N bytes once byte AT (< N) is C: for a key about to be made
 * in place. Hashed after the byte is written, the load of the word that holds it waits for the
 * store to drain (a byte stored, eight loaded), a dozen cycles a key. */
uint32_t gb_map_hash_sub(const char *key, size_t n, size_t at, char c);
void gb_map_prefetch(const gb_map_t *m, uint32_t h, bool key);
bool gb_map_get_hn(const gb_map_t *m, const char *key, size_t n, uint32_t h, uint32_t *value);

#endif
