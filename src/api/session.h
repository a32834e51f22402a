/*
 * Browser sessions, in memory: a random id in an HttpOnly cookie names one; only the id's hash is
 * kept, so the table itself holds nothing a reader of the process's memory could replay without
 * also breaking BLAKE2b. Each session has its own CSRF token, which the browser gets from
 * GET /api/v1/session and sends back in X-CSRF-Token with every change (a page on another site
 * can make the browser send the cookie, but cannot read the token).
 *
 * A session ends when it was not used for IDLE, MAX_AGE after it began, at logout, or when its
 * user is deleted or changes password (the API checks the user on every request). A restart of
 * the daemon ends every session. Thread-safe.
 */
#ifndef GB_API_SESSION_H
#define GB_API_SESSION_H

#include "gemba/auth.h"
#include "gemba/time.h"

#include <stdbool.h>
#include <stddef.h>

#define GB_SESSION_ID_LEN 43   /* base64url of 32 random bytes */
#define GB_SESSION_CSRF_LEN 43 /* the same */

typedef struct gb_session_info {
    char user[GB_AUTH_NAME_MAX + 1];
    unsigned char cred[GB_AUTH_CRED_LEN]; /* the user's password at login (gb_principal_t.cred) */
    char csrf[GB_SESSION_CSRF_LEN + 1];
    gb_time_t created;
    gb_time_t expires; /* the earlier of last use + idle and created + max age */
} gb_session_info_t;

typedef struct gb_sessions gb_sessions_t;

/* A table of at most MAX sessions (the least recently used goes when a new one needs room). */
gb_sessions_t *gb_sessions_new(size_t max, int64_t idle_ns, int64_t max_age_ns);
void gb_sessions_free(gb_sessions_t *s);

/* Starts a session for the user WHO at NOW: its id into ID (GB_SESSION_ID_LEN + 1 bytes), the
 * rest into *OUT. */
void gb_sessions_create(gb_sessions_t *s, const gb_principal_t *who, gb_time_t now, char *id,
                        gb_session_info_t *out);

/* Finds the session ID at NOW and counts this as a use. 0 and *OUT, or GB_ENOENT (unknown,
 * malformed or expired). */
int gb_sessions_get(gb_sessions_t *s, const char *id, gb_time_t now, gb_session_info_t *out);

/* Ends session ID. 0 or GB_ENOENT. */
int gb_sessions_end(gb_sessions_t *s, const char *id);

/* Ends every session of USER; returns how many. */
size_t gb_sessions_end_user(gb_sessions_t *s, const char *user);

/* Live sessions at NOW. */
size_t gb_sessions_count(gb_sessions_t *s, gb_time_t now);

/* Whether HEADER (the X-CSRF-Token value, may be NULL) is INFO's token. Constant time. */
bool gb_session_csrf_ok(const gb_session_info_t *info, const char *header);

#endif
