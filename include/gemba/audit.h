/*
 * The audit log: every change made through the API (and by `gemba user|token`), one JSON line
 * each in DATA/audit.jsonl -- time, who, how they proved it (via), from where, what (action and
 * target), and the state before and after -- synced before the change is reported done.
 *
 * Each line goes out in one write(2) on a file opened O_APPEND, so the daemon and the command
 * line can append side by side without tearing each other's lines. Thread-safe.
 */
#ifndef GEMBA_AUDIT_H
#define GEMBA_AUDIT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gb_audit gb_audit_t;

typedef struct gb_audit_entry {
    const char *who;     /* a user name, a token id, or the system user of the command line */
    const char *via;     /* "session", "token", "setup" or "cli" */
    const char *address; /* the client's address; NULL for the command line */
    const char *action;  /* "set reason", "user add", "token revoke", ... */
    const char *target;  /* what was changed: "cnc07 stop 2026-...", a user name, a token id */
    const char *before;  /* the state before, or NULL (a creation) */
    const char *after;   /* the state after, or NULL (a deletion) */
} gb_audit_entry_t;

/* Opens (creating) DATA_DIR/audit.jsonl for appending. NULL on failure (logged). */
gb_audit_t *gb_audit_open(const char *data_dir);
void gb_audit_close(gb_audit_t *a);

/* Appends one entry, stamped with the current time, and syncs it. Returns 0 or GB_EIO. */
int gb_audit_write(gb_audit_t *a, const gb_audit_entry_t *e);

/*
 * Up to LIMIT entries, newest first, of those that end at or before byte offset BEFORE of the
 * log (-1: the end), as a new JSON array in *ENTRIES. *NEXT gets the offset to pass as BEFORE for
 * the next (older) page, or -1 when none is left. A line that is not JSON is skipped.
 * Returns 0, GB_EINVAL when BEFORE is not the end of a line, GB_EIO.
 */
int gb_audit_read(gb_audit_t *a, int64_t before, size_t limit, json_t **entries, int64_t *next);

#endif
