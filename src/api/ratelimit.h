/*
 * Back-off for login attempts, per key (a user name, a client address). FREE failures in a row
 * cost nothing, so a person who mistypes is not punished; after them the key waits BASE before
 * its next attempt is even checked, and each further failure doubles the wait (2 BASE, 4 BASE,
 * ... at most MAX). A key with no failure for FORGET starts afresh. Guessing a
 * password at one attempt per MAX is hopeless, and a person locked out by someone else's
 * guessing waits at most MAX.
 *
 * Keys are kept as 128-bit BLAKE2b hashes in a table of fixed size; when it is full the key whose
 * last failure is oldest makes room. Times are the caller's (monotonic nanoseconds, never negative). Thread-safe.
 */
#ifndef GB_API_RATELIMIT_H
#define GB_API_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

typedef struct gb_ratelimit gb_ratelimit_t;

gb_ratelimit_t *gb_ratelimit_new(size_t max_keys, unsigned free_failures, int64_t base_ns,
                                  int64_t max_ns, int64_t forget_ns);
void gb_ratelimit_free(gb_ratelimit_t *r);

/* How long KEY must still wait at NOW before an attempt is checked: 0 when it may go ahead. */
int64_t gb_ratelimit_wait(gb_ratelimit_t *r, const char *key, int64_t now);

/* Counts a failed attempt of KEY at NOW. */
void gb_ratelimit_failed(gb_ratelimit_t *r, const char *key, int64_t now);

/* Forgets KEY's failures (after a success). */
void gb_ratelimit_forget(gb_ratelimit_t *r, const char *key);

#endif
