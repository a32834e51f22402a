/*
 * The session table (see session.h). A flat array searched from end to end: a plant has tens of
 * people signed in, not millions. Entries are found by the BLAKE2b hash of the id, compared with
 * plain memcmp: how long a lookup takes can at most hint at a prefix of some session's hash,
 * and no one can turn a hash back into an id, so a constant-time scan of every slot (which cost
 * a fifth of a request's time at 1024 slots) would buy nothing.
 */
#include "api/session.h"
#include "gemba/error.h"
#include "util/str.h"

#include <pthread.h>
#include <sodium.h>
#include <string.h>

typedef struct entry {
    bool used;
    unsigned char hash[32]; /* BLAKE2b of the id */
    gb_time_t last;         /* last use */
    gb_session_info_t info;
} entry_t;

struct gb_sessions {
    pthread_mutex_t mu;
    entry_t *e;
    size_t max;
    int64_t idle, max_age;
};

static void id_hash(const char *id, unsigned char out[32])
{
    crypto_generichash(out, 32, (const unsigned char *)id, strlen(id), NULL, 0);
}

static void random_text(char *out, size_t len)
{
    unsigned char raw[32];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(out, len + 1, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
}

gb_sessions_t *gb_sessions_new(size_t max, int64_t idle_ns, int64_t max_age_ns)
{
    if (sodium_init() < 0) return NULL;
    gb_sessions_t *s = gb_xcalloc(1, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    s->max = max ? max : 1;
    s->e = gb_xcalloc(s->max, sizeof *s->e);
    s->idle = idle_ns;
    s->max_age = max_age_ns;
    return s;
}

void gb_sessions_free(gb_sessions_t *s)
{
    if (!s) return;
    sodium_memzero(s->e, s->max * sizeof *s->e);
    free(s->e);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static gb_time_t expiry(const gb_sessions_t *s, const entry_t *e)
{
    gb_time_t idle = e->last + s->idle, age = e->info.created + s->max_age;
    return idle < age ? idle : age;
}

void gb_sessions_create(gb_sessions_t *s, const gb_principal_t *who, gb_time_t now, char *id,
                        gb_session_info_t *out)
{
    random_text(id, GB_SESSION_ID_LEN);
    pthread_mutex_lock(&s->mu);
    /* a free or expired slot, else the one used longest ago */
    entry_t *slot = &s->e[0]; /* there is always at least one */
    for (size_t i = 0; i < s->max; i++) {
        entry_t *e = &s->e[i];
        if (!e->used || expiry(s, e) <= now) {
            slot = e;
            break;
        }
        if (e->last < slot->last) slot = e;
    }
    memset(slot, 0, sizeof *slot);
    slot->used = true;
    id_hash(id, slot->hash);
    slot->last = now;
    gb_strlcpy(slot->info.user, who->name, sizeof slot->info.user);
    memcpy(slot->info.cred, who->cred, sizeof slot->info.cred);
    random_text(slot->info.csrf, GB_SESSION_CSRF_LEN);
    slot->info.created = now;
    slot->info.expires = expiry(s, slot);
    *out = slot->info;
    pthread_mutex_unlock(&s->mu);
}

/* mutex held; the live entry with this id, or NULL */
static entry_t *find(gb_sessions_t *s, const char *id, gb_time_t now)
{
    if (!id || strlen(id) != GB_SESSION_ID_LEN) return NULL;
    unsigned char h[32];
    id_hash(id, h);
    entry_t *hit = NULL;
    for (size_t i = 0; i < s->max && !hit; i++)
        if (s->e[i].used && memcmp(h, s->e[i].hash, sizeof h) == 0) hit = &s->e[i];
    if (hit && expiry(s, hit) <= now) {
        sodium_memzero(hit, sizeof *hit);
        hit = NULL;
    }
    return hit;
}

int gb_sessions_get(gb_sessions_t *s, const char *id, gb_time_t now, gb_session_info_t *out)
{
    pthread_mutex_lock(&s->mu);
    entry_t *e = find(s, id, now);
    if (e) {
        if (now > e->last) e->last = now;
        e->info.expires = expiry(s, e);
        *out = e->info;
    }
    pthread_mutex_unlock(&s->mu);
    return e ? 0 : GB_ENOENT;
}

int gb_sessions_end(gb_sessions_t *s, const char *id)
{
    pthread_mutex_lock(&s->mu);
    entry_t *e = find(s, id, INT64_MIN);
    if (e) sodium_memzero(e, sizeof *e);
    pthread_mutex_unlock(&s->mu);
    return e ? 0 : GB_ENOENT;
}

size_t gb_sessions_end_user(gb_sessions_t *s, const char *user)
{
    size_t n = 0;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->max; i++)
        if (s->e[i].used && !strcmp(s->e[i].info.user, user)) {
            sodium_memzero(&s->e[i], sizeof s->e[i]);
            n++;
        }
    pthread_mutex_unlock(&s->mu);
    return n;
}

size_t gb_sessions_count(gb_sessions_t *s, gb_time_t now)
{
    size_t n = 0;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->max; i++) n += s->e[i].used && expiry(s, &s->e[i]) > now;
    pthread_mutex_unlock(&s->mu);
    return n;
}

bool gb_session_csrf_ok(const gb_session_info_t *info, const char *header)
{
    return header && strlen(header) == GB_SESSION_CSRF_LEN &&
           sodium_memcmp(header, info->csrf, GB_SESSION_CSRF_LEN) == 0;
}
