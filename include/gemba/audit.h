/*
 * The audit log: every change made through the API, one JSON line each in DATA/audit.jsonl
 * (time, who, action, target, before, after), synced before the change is reported done.
 * Thread-safe.
 */
#ifndef GEMBA_AUDIT_H
#define GEMBA_AUDIT_H

typedef struct gb_audit gb_audit_t;

/* Opens (creating) DATA_DIR/audit.jsonl for appending. NULL on failure (logged). */
gb_audit_t *gb_audit_open(const char *data_dir);
void gb_audit_close(gb_audit_t *a);

/* Appends one entry. Returns 0 or GB_EIO. */
int gb_audit_write(gb_audit_t *a, const char *who, const char *action, const char *target,
                   const char *before, const char *after);

#endif
