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

/* The eight bytes at KEY + O, with byte AT (of KEY) read as C: AT outside them (SIZE_MAX) reads
 * them as they are. */
static inline uint64_t load_sub(const char *key, size_t o, size_t at, uint64_t c)
{
    uint64_t w;
    memcpy(&w, key + o, 8);
    size_t d = at - o; /* wraps to a large number when AT is before O */
    if (d < 8) w = (w & ~(UINT64_C(0xff) << (8 * d))) | c << (8 * d);
    return w;
}

/*
 * The key's hash, eight bytes a step (series names are tens of bytes: a byte a step, as FNV-1a
 * goes, was most of a lookup), finished with splitmix64's avalanche. The last step takes the
 * key's last eight bytes, overlapping the step before when the length is not a multiple of eight
 * (a short key: its first and last four, or three of its bytes), never a copy of a variable
 * length, which cost a call and a stall a key. Byte AT is read as C (see gb_map_hash_sub).
 */
static inline uint32_t hash_sub(const char *key, size_t n, size_t at, unsigned char c)
{
    uint64_t h = 0x9e3779b97f4a7c15u ^ n;
    const char *s = key;
    if (n >= 8) {
        size_t o = 0;
        for (; n - o > 8; o += 8)
            h = mix(h, load_sub(key, o, at, c));
        h = mix(h, load_sub(key, n - 8, at, c));
    } else if (at < n) { /* a short key being made: rare enough for a copy */
        char k[8];
        memcpy(k, key, n);
        k[at] = (char)c;
        return hash_sub(k, n, SIZE_MAX, 0);
    } else if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        h = mix(h, (uint64_t)a << 32 | b);
    } else if (n) {
        h = mix(h, (uint64_t)(unsigned char)s[0] << 16 | (uint64_t)(unsigned char)s[n >> 1] << 8 |
                       (unsigned char)s[n - 1]);
    }
    h = (h ^ (h >> 29)) * 0x94d049bb133111ebu;
    return (uint32_t)(h ^ (h >> 32));
}

static uint32_t hash_n(const char *s, size_t n)
{
    return hash_sub(s, n, SIZE_MAX, 0);
}

void gb_map_init(gb_map_t *m)
{
    memset(m, 0, sizeof *m);
}

void gb_map_clear(gb_map_t *m)
{
    free(m->slots);
    free(m->keys);
    memset(m, 0, sizeof *m);
}

/* Whether the N bytes at A and B are the same: eight at a time, the last eight overlapping the
 * ones before (both have N bytes), shorter keys four or one at a time. */
static inline bool same(const char *a, const char *b, size_t n)
{
    uint64_t x, y;
    if (n >= 8) {
        for (size_t o = 0; n - o > 8; o += 8) {
            memcpy(&x, a + o, 8);
            memcpy(&y, b + o, 8);
            if (x != y) return false;
        }
        memcpy(&x, a + n - 8, 8);
        memcpy(&y, b + n - 8, 8);
        return x == y;
    }
    if (n >= 4) {
        uint32_t p, q, r, t;
        memcpy(&p, a, 4);
        memcpy(&q, b, 4);
        memcpy(&r, a + n - 4, 4);
        memcpy(&t, b + n - 4, 4);
        return p == q && r == t;
    }
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i]) return false;
    return true;
}

/* KEY's slot (N bytes, hash H), or the empty one where it would go. */
static gb_map_slot_t *find(const gb_map_t *m, const char *key, size_t n, uint32_t h)
{
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        gb_map_slot_t *s = &m->slots[i];
        if (!s->at || (s->hash == h && s->len == n && same(m->keys + s->at - 1, key, n))) return s;
    }
}

/* The map at twice its size: each slot moved to the first empty one from its hash (no two keys
 * are equal). */
static void grow(gb_map_t *m)
{
    size_t cap = m->cap ? m->cap * 2 : 16;
    gb_map_slot_t *slots = gb_xcalloc(cap, sizeof *slots);
    for (size_t i = 0; i < m->cap; i++) {
        const gb_map_slot_t *s = &m->slots[i];
        if (!s->at) continue;
        size_t j = s->hash & (cap - 1);
        while (slots[j].at)
            j = (j + 1) & (cap - 1);
        slots[j] = *s;
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
}

bool gb_map_put(gb_map_t *m, const char *key, uint32_t value)
{
    size_t n = strlen(key);
    if (n >= UINT32_MAX || m->klen + n + 1 >= UINT32_MAX) gb_oom(); /* 4 GiB of keys */
    if ((m->n + 1) * 2 > m->cap) grow(m);
    uint32_t h = hash_n(key, n);
    gb_map_slot_t *s = find(m, key, n, h);
    if (s->at) return false;
    if (m->klen + n + 1 > m->kcap) {
        size_t cap = m->kcap ? m->kcap * 2 : 4096;
        while (cap < m->klen + n + 1)
            cap *= 2;
        m->keys = gb_xrealloc(m->keys, cap);
        m->kcap = cap;
    }
    memcpy(m->keys + m->klen, key, n + 1);
    *s = (gb_map_slot_t){h, value, (uint32_t)m->klen + 1, (uint32_t)n};
    m->klen += n + 1;
    m->n++;
    return true;
}

bool gb_map_get(const gb_map_t *m, const char *key, uint32_t *value)
{
    size_t n = strlen(key);
    return gb_map_get_hn(m, key, n, hash_n(key, n), value);
}

uint32_t gb_map_hash_n(const char *key, size_t n)
{
    return hash_n(key, n);
}

uint32_t gb_map_hash_sub(const char *key, size_t n, size_t at, char c)
{
    return hash_sub(key, n, at, (unsigned char)c);
}

void gb_map_prefetch(const gb_map_t *m, uint32_t h, bool key)
{
    if (!m->cap) return;
    const gb_map_slot_t *s = &m->slots[h & (m->cap - 1)];
    if (!key)
        __builtin_prefetch(s);
    else if (s->hash == h && s->at)
        __builtin_prefetch(m->keys + s->at - 1);
}

bool gb_map_get_hn(const gb_map_t *m, const char *key, size_t n, uint32_t h, uint32_t *value)
{
    if (!m->cap) return false;
    const gb_map_slot_t *s = find(m, key, n, h);
    if (!s->at) return false;
    *value = s->value;
    return true;
}
