/* Login back-off per key (see ratelimit.h): a small table of hashed keys, scanned whole. */
#include "api/ratelimit.h"
#include "util/str.h"

#include <pthread.h>
#include <sodium.h>
#include <string.h>

typedef struct slot {
    unsigned char key[16];
    unsigned fails;
    int64_t last;  /* time of the last failure */
    int64_t until; /* no attempt before this */
} slot_t;

struct gb_ratelimit {
    pthread_mutex_t mu;
    slot_t *s;
    size_t max;
    unsigned free;
    int64_t base, cap, forget;
};

gb_ratelimit_t *gb_ratelimit_new(size_t max_keys, unsigned free_failures, int64_t base_ns,
                                  int64_t max_ns, int64_t forget_ns)
{
    if (sodium_init() < 0) return NULL;
    gb_ratelimit_t *r = gb_xcalloc(1, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    r->max = max_keys ? max_keys : 1;
    r->s = gb_xcalloc(r->max, sizeof *r->s);
    r->free = free_failures;
    r->base = base_ns;
    r->cap = max_ns;
    r->forget = forget_ns;
    return r;
}

void gb_ratelimit_free(gb_ratelimit_t *r)
{
    if (!r) return;
    free(r->s);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

static void key_hash(const char *key, unsigned char out[16])
{
    crypto_generichash(out, 16, (const unsigned char *)key, strlen(key), NULL, 0);
}

/* mutex held: KEY's slot, or NULL; a slot idle for FORGET at NOW is dropped on the way (NOW < 0:
 * no time, keep it) */
static slot_t *find(gb_ratelimit_t *r, const unsigned char h[16], int64_t now)
{
    for (size_t i = 0; i < r->max; i++) {
        slot_t *s = &r->s[i];
        if (!s->fails || memcmp(s->key, h, 16)) continue;
        if (now >= 0 && now - s->last >= r->forget) {
            memset(s, 0, sizeof *s);
            return NULL;
        }
        return s;
    }
    return NULL;
}

int64_t gb_ratelimit_wait(gb_ratelimit_t *r, const char *key, int64_t now)
{
    unsigned char h[16];
    key_hash(key, h);
    pthread_mutex_lock(&r->mu);
    slot_t *s = find(r, h, now);
    int64_t w = s && s->until > now ? s->until - now : 0;
    pthread_mutex_unlock(&r->mu);
    return w;
}

void gb_ratelimit_failed(gb_ratelimit_t *r, const char *key, int64_t now)
{
    unsigned char h[16];
    key_hash(key, h);
    pthread_mutex_lock(&r->mu);
    slot_t *s = find(r, h, now);
    if (!s) { /* a free slot, else the one whose last failure is oldest */
        for (size_t i = 0; i < r->max; i++) {
            slot_t *c = &r->s[i];
            if (!c->fails || now - c->last >= r->forget) {
                s = c;
                break;
            }
            if (!s || c->last < s->last) s = c;
        }
        if (!s) { /* no slots at all: nothing to remember */
            pthread_mutex_unlock(&r->mu);
            return;
        }
        memset(s, 0, sizeof *s);
        memcpy(s->key, h, 16);
    }
    s->fails++;
    s->last = now;
    if (s->fails >= r->free) {
        int64_t w = r->base;
        for (unsigned k = s->fails - r->free; k && w < r->cap; k--) w *= 2;
        s->until = now + (w > r->cap ? r->cap : w);
    }
    pthread_mutex_unlock(&r->mu);
}

void gb_ratelimit_forget(gb_ratelimit_t *r, const char *key)
{
    unsigned char h[16];
    key_hash(key, h);
    pthread_mutex_lock(&r->mu);
    slot_t *s = find(r, h, -1);
    if (s) memset(s, 0, sizeof *s);
    pthread_mutex_unlock(&r->mu);
}
