/*
 * The embedded store, as far as it goes today: a write-ahead log of every accepted sample in the
 * data directory. Records carry a CRC; a torn tail left by a crash is cut off at the next open.
 * Series are named by tag path (not by the registry's numeric ids, which depend on the plant file),
 * so a store outlives edits of the plant file.
 *
 * Durability: appends go to a user-space buffer that is written out when it fills and synced to
 * disk every sync interval (default 1 s) and at close. A crash of the machine can lose at most the
 * last interval; a clean stop (SIGTERM) loses nothing. With sync_always, every append is written
 * and fdatasync'ed before it returns.
 *
 * A failed write (a full disk) leaves the batch unaccepted and the buffer intact: the caller
 * retries the same batch later, and nothing already accepted is lost.
 * Threads: one writer at a time; gb_store_tick may run on another thread (there is a lock).
 */
#ifndef GEMBA_STORE_H
#define GEMBA_STORE_H

#include "gemba/sample.h"
#include "gemba/tags.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct gb_store gb_store_t;

typedef struct gb_store_opts {
    int64_t sync_interval_ns; /* 0 = default (1 s) */
    bool sync_always;
    size_t buffer_bytes;      /* 0 = default (1 MiB) */
} gb_store_opts_t;

/*
 * Opens (creating when missing) the store in DIR. Returns 0, GB_EIO with a logged reason, or
 * GB_EPROTO when the log is not a gemba log.
 */
int gb_store_open(const char *dir, const gb_store_opts_t *opts, gb_store_t **out);

/*
 * Appends the samples of B (tags resolved through REG). Returns 0 when the batch is accepted,
 * or GB_ENOSPC / GB_EIO when earlier data could not be written: then B is not accepted.
 */
int gb_store_append(gb_store_t *s, const gb_tags_t *reg, const gb_batch_t *b);

/* Writes out the buffer and syncs it to disk. 0 or GB_ENOSPC / GB_EIO. */
int gb_store_sync(gb_store_t *s);

/* Syncs when the sync interval has passed since the last sync. */
int gb_store_tick(gb_store_t *s);

/* Syncs and closes. Returns the sync's result; S is freed either way (NULL is fine). */
int gb_store_close(gb_store_t *s);

/* Points appended since open (accepted). */
uint64_t gb_store_appended(gb_store_t *s);

typedef struct gb_store_info {
    uint64_t series;
    uint64_t points;
    uint64_t bytes;      /* on disk */
    uint64_t torn_bytes; /* unreadable tail (a crash mid-write) */
} gb_store_info_t;

/* Scans the store in DIR without opening it for writing. Calls EACH (if not NULL) per series. */
int gb_store_scan(const char *dir, gb_store_info_t *info,
                  void (*each)(void *ctx, const char *path, gb_vtype_t type, uint64_t points),
                  void *ctx);

/*
 * Reads every sample in the store in DIR, in the order it was written, calling EACH with its
 * series path and the sample (string values point into a buffer valid during the call; the
 * sample's tag field is 0). Stops early when EACH returns non-zero and returns that value.
 * Returns 0, GB_ENOENT (no store) or GB_EIO.
 */
int gb_store_read_all(const char *dir,
                      int (*each)(void *ctx, const char *path, const gb_sample_t *s,
                                  const char *str, size_t len),
                      void *ctx);

#endif
