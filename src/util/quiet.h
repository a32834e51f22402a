/*
 * Lines that anyone can make the daemon say -- a refused client, libmicrohttpd's word on a
 * connection gone wrong -- said at most once a minute per key, the next one counting those
 * left out, so that no client can flood the log.
 */
#ifndef GB_UTIL_QUIET_H
#define GB_UTIL_QUIET_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define GB_QUIET_SLOTS 64
#define GB_QUIET_KEY 128 /* a key's first bytes that tell it from others */

typedef struct gb_quiet {
    pthread_mutex_t mu;
    struct {
        char key[GB_QUIET_KEY];
        int64_t said; /* monotonic ns */
        uint64_t unsaid;
    } slot[GB_QUIET_SLOTS];
} gb_quiet_t;

#define GB_QUIET_INIT                                                                              \
    {                                                                                              \
        .mu = PTHREAD_MUTEX_INITIALIZER                                                            \
    }

/* Whether a line of KEY is to be said now: true, with *UNSAID the lines of that key left out
 * since the last one said; false when one was said less than a minute ago (this one counted). Two
 * keys that share a slot push each other out, which only says a line more. */
bool gb_quiet_say(gb_quiet_t *q, const char *key, uint64_t *unsaid);

#endif
