/* Open-addressing string map; load factor kept under 1/2. */
#include "util/map.h"
#include "util/str.h"

#include <stdlib.h>
#include <string.h>

/* One multiply-xorshift round of the key's next eight bytes into H. */
static inline uint64_t mix(uint64_t h, uint64_t w)
{
    h = (h ^ w) * 0xbf58476d1ce4e5b9u;
    return h ^ (h >> 31);
}

/*
 * The key's hash, eight bytes a step (series names are tens of bytes: a byte a step, as FNV-1a
 * goes, was most of a lookup), finished with splitmix64's avalanche. The last step takes the
 * key's last eight bytes, overlapping the step before when the length is not a multiple of eight
 * (a short key: its first and last four, or three of its bytes), never a copy of a variable
 * length, which cost a call and a stall a key.
 */
static uint32_t hash_n(const char *s, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15u ^ n, w;
    const char *end = s + n;
    if (n >= 8) {
        for (; end - s > 8; s += 8) {
            memcpy(&w, s, 8);
            h = mix(h, w);
        }
        memcpy(&w, end - 8, 8);
        h = mix(h, w);
    } else if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, end - 4, 4);
        h = mix(h, (uint64_t)a << 32 | b);
    } else if (n) {
        h = mix(h, (uint64_t)(unsigned char)s[0] << 16 | (uint64_t)(unsigned char)s[n >> 1] << 8 |
                       (unsigned char)s[n - 1]);
    }
    h = (h ^ (h >> 29)) * 0x94d049bb133111ebu;
    return (uint32_t)(h ^ (h >> 32));
}

static uint32_t hash(const char *s)
{
    return hash_n(s, strlen(s));
}

void gb_map_init(gb_map_t *m)
{
    memset(m, 0, sizeof *m);
}

void gb_map_clear(gb_map_t *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->slots[i].key);
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static gb_map_slot_t *find(const gb_map_t *m, const char *key, uint32_t h)
{
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        gb_map_slot_t *s = &m->slots[i];
        if (!s->key || (s->hash == h && strcmp(s->key, key) == 0)) return s;
    }
}

static void grow(gb_map_t *m)
{
    gb_map_t bigger = {gb_xcalloc(m->cap ? m->cap * 2 : 16, sizeof(gb_map_slot_t)),
                       m->cap ? m->cap * 2 : 16, m->n};
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key) *find(&bigger, m->slots[i].key, m->slots[i].hash) = m->slots[i];
    free(m->slots);
    *m = bigger;
}

bool gb_map_put(gb_map_t *m, const char *key, uint32_t value)
{
    if ((m->n + 1) * 2 > m->cap) grow(m);
    uint32_t h = hash(key);
    gb_map_slot_t *s = find(m, key, h);
    if (s->key) return false;
    s->key = gb_xstrdup(key);
    s->hash = h;
    s->value = value;
    m->n++;
    return true;
}

bool gb_map_get(const gb_map_t *m, const char *key, uint32_t *value)
{
    return gb_map_get_h(m, key, hash(key), value);
}

uint32_t gb_map_hash(const char *key)
{
    return hash(key);
}

uint32_t gb_map_hash_n(const char *key, size_t n)
{
    return hash_n(key, n);
}

void gb_map_prefetch(const gb_map_t *m, uint32_t h, bool key)
{
    if (!m->cap) return;
    const gb_map_slot_t *s = &m->slots[h & (m->cap - 1)];
    if (!key)
        __builtin_prefetch(s);
    else if (s->hash == h && s->key)
        __builtin_prefetch(s->key);
}

bool gb_map_get_h(const gb_map_t *m, const char *key, uint32_t h, uint32_t *value)
{
    if (!m->cap) return false;
    gb_map_slot_t *s = find(m, key, h);
    if (!s->key) return false;
    *value = s->value;
    return true;
}
