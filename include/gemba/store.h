/*
 * The embedded time-series store (the historian), in the data directory:
 *   wal/        the write-ahead log: every accepted sample, first (see src/store/wal.h)
 *   blocks/     immutable block files: each series' points, sorted and in blocks of up to 4096,
 *               with per-block statistics in the file's footer
 *   rollups/    immutable rollup files: per series, 1-minute and 1-hour summaries of the points
 *               retention dropped, kept longer than the points (see src/store/rollup.c)
 * Samples are appended to the log and kept in memory per series (the head); a flush writes the
 * head to a new block file and drops the log segments it covers. A flush happens when the head
 * holds flush_points points or its oldest point waited flush_interval (on the store's flush
 * thread: the writer goes on; it waits only when the head holds twice flush_points), and at
 * close.
 *
 * Series are named by path (a tag's path, or a name given on import), not by the registry's
 * numeric ids, so a store outlives edits of the plant file. A series' type is fixed by its first
 * sample. Late and out-of-order samples are taken at any age; a second sample for the same series
 * and time replaces the first (the later write wins), in queries and after a flush.
 *
 * Durability: with sync_always every append is written and fdatasync'ed before it returns;
 * otherwise appends are buffered, the log written when 1 MiB is buffered and synced every
 * sync_interval (default 1 s, in the background), so a crash -- of gemba or of the machine --
 * can lose up to that much of the latest data and what came in while the sync ran; a clean stop
 * loses nothing.
 * A failed write (a full disk) leaves the batch unaccepted and reports it; nothing accepted is
 * lost, and the caller retries later.
 *
 * Threads: appends from one thread at a time; queries, ticks and flushes from any thread (a lock
 * inside keeps them apart; a query copies what it needs and decodes outside the lock).
 */
#ifndef GEMBA_STORE_H
#define GEMBA_STORE_H

#include "gemba/sample.h"
#include "gemba/tags.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct gb_store gb_store_t;

#define GB_STORE_FOREVER INT64_MAX /* a keep period that never ends */

/*
 * How long the points of the series whose path matches PATTERN (fnmatch) are kept, and how long
 * their 1-minute and 1-hour rollups are. Rollups are made, for numbers and bools, of the points
 * retention drops; a rollup period of 0 (or not above KEEP_NS) makes none of that width.
 */
typedef struct gb_retention {
    const char *pattern;
    int64_t keep_ns;    /* the points: > 0, or 0 for forever (then no rollups are needed) */
    int64_t keep_1m_ns; /* 1-minute rollups: 0 none, a period, or GB_STORE_FOREVER */
    int64_t keep_1h_ns; /* 1-hour rollups: the same */
} gb_retention_t;

typedef struct gb_store_opts {
    int64_t sync_interval_ns; /* 0 = default (1 s) */
    bool sync_always;
    size_t buffer_bytes;       /* log bytes buffered before a write; 0 = default (1 MiB) */
    uint64_t flush_points;     /* 0 = default (4,000,000) */
    int64_t flush_interval_ns; /* 0 = default (1 h) */
    bool readonly;             /* read a store another process writes: no lock, no writes */
    uint64_t max_disk_bytes;   /* 0 = no limit; at the limit, writes fail with GB_ENOSPC */
    /*
     * Retention rules (copied; first match wins; a series no rule matches is kept forever).
     * Points are dropped a block at a time, once the newest point of their block is older than
     * the rule's period: at open and every hour. With rollups, the points of each whole hour
     * past the period are first summed up into rollup files, and a block goes once every point
     * in it is; its rollups then stand for it in aggregates.
     */
    const gb_retention_t *retention;
    size_t nretention;
} gb_store_opts_t;

/*
 * Opens (creating when missing, unless readonly) the store in DIR. Returns 0, GB_EIO with a
 * logged reason, GB_EBUSY when another process writes to it, GB_ENOENT (readonly, no store), or
 * GB_EPROTO when a file is not a gemba store file.
 */
int gb_store_open(const char *dir, const gb_store_opts_t *opts, gb_store_t **out);

/*
 * Appends the samples of B (tags resolved through REG). Returns 0 when the batch is accepted,
 * or GB_ENOSPC / GB_EIO when earlier data could not be written: then B is not accepted.
 */
int gb_store_append(gb_store_t *s, const gb_tags_t *reg, const gb_batch_t *b);

/*
 * Appends one sample to the series PATH (created with V's type when new). 0; GB_EINVAL when the
 * series exists with another type; GB_ENOSPC / GB_EIO as for gb_store_append.
 */
int gb_store_write(gb_store_t *s, const char *path, gb_time_t t, gb_quality_t q,
                   const gb_value_t *v);

/* The longest series name (path) the store takes, in bytes. */
#define GB_STORE_PATH_MAX 8191u

/* One point for gb_store_write_points. */
typedef struct gb_store_wpoint {
    const char *path; /* the series */
    gb_time_t t;
    gb_quality_t q;
    bool with_prev; /* of one line with the point before: taken or refused with it */
    gb_value_t v;   /* a string is copied */
    uint32_t hash;  /* gb_store_path_hash(path) when the caller has it at hand; 0: not given */
    uint32_t plen;  /* with the hash, strlen(path) (0: not given); never more: bytes read */
} gb_store_wpoint_t;

/* Why gb_store_write_points refused a point. */
typedef enum {
    GB_WP_TAKEN,    /* not refused */
    GB_WP_TYPE,     /* its series holds another type */
    GB_WP_NAME,     /* its new series' name is longer than GB_STORE_PATH_MAX */
    GB_WP_TEXT,     /* its text is longer than GB_SAMPLE_STR_MAX */
    GB_WP_TIME,     /* its time is INT64_MAX, which no query's [from, to) reaches */
    GB_WP_WITH_LINE /* another point of its line (with_prev) was refused */
} gb_wp_why_t;

/* The hash of a series name of N bytes that gb_store_wpoint_t.hash may carry (and N its plen): a
 * writer that has the name in its cache as it parses saves the store a second pass over it. A
 * wrong hash, or a length short of the name's, costs a look-up under the store's lock, never a
 * point. */
uint32_t gb_store_path_hash(const char *path, size_t n);

/*
 * Appends N points in one log record (the fast way in for imports and HTTP writes). A point that
 * cannot be stored (see gb_wp_why_t) is refused, and with it the other points of its line (a run
 * joined by with_prev); the others are taken. *REFUSED counts the points refused and WHY[i] (N
 * entries, written only when some are) says why point i was -- both may be NULL. 0, or
 * GB_ENOSPC / GB_EIO when earlier data could not be written: then nothing is taken.
 */
int gb_store_write_points(gb_store_t *s, const gb_store_wpoint_t *pts, size_t n, size_t *refused,
                          uint8_t *why);

/* Writes out the log and syncs it to disk. 0 or GB_ENOSPC / GB_EIO. */
int gb_store_sync(gb_store_t *s);

/* Syncs when the sync interval has passed; tells the flush thread when the head is due. */
int gb_store_tick(gb_store_t *s);

/* Writes the head to a new block file now. 0, or GB_ENOSPC / GB_EIO (the head is kept). */
int gb_store_flush(gb_store_t *s);

/* Flushes, syncs and closes. Returns the first error; S is freed either way (NULL is fine). */
int gb_store_close(gb_store_t *s);

/* Points appended since open (accepted). */
uint64_t gb_store_appended(gb_store_t *s);

/* ---- reading -------------------------------------------------------------------------------- */

/* One stored point; a string value points into memory valid during the callback. */
typedef struct gb_point {
    gb_time_t t;
    gb_quality_t q;
    gb_value_t v;
} gb_point_t;

/*
 * The series NAME means: its exact path, or the one series whose path ends in "/NAME" (a short
 * path, such as lathe01/spindle_load). 0 with *PATH (caller frees); GB_ENOENT; GB_EEXIST when
 * several series end so.
 */
int gb_store_resolve(gb_store_t *s, const char *name, char **path);

/* The series PATH's type; GB_ENOENT when there is no such series. */
int gb_store_series_type(gb_store_t *s, const char *path, gb_vtype_t *type);

/*
 * Calls EACH for every point of series PATH with FROM <= t < TO, in time order. Stops when EACH
 * returns non-zero and returns that value. 0, GB_ENOENT (no such series), GB_EPROTO / GB_EIO (a
 * damaged or unreadable block, logged).
 */
int gb_store_read(gb_store_t *s, const char *path, gb_time_t from, gb_time_t to,
                  int (*each)(void *ctx, const gb_point_t *p), void *ctx);

/*
 * The same points one at a time, for a reader that takes them at its own pace (an HTTP answer
 * written as the client reads it). Open copies what the read needs, as gb_store_read does, and
 * keeps the block files it needs open until close. 0 with *OUT (close it), or GB_ENOENT.
 */
typedef struct gb_store_cursor gb_store_cursor_t;
int gb_store_cursor_open(gb_store_t *s, const char *path, gb_time_t from, gb_time_t to,
                         gb_store_cursor_t **out);
/* At least as many points as the cursor will hand out (the blocks' counts: no file is read). */
uint64_t gb_store_cursor_bound(const gb_store_cursor_t *c);
/* The series' value type. */
gb_vtype_t gb_store_cursor_type(const gb_store_cursor_t *c);
/*
 * The next point in time order into *P: true, or false at the end. A string borrows the cursor
 * until the next call. A damaged block is logged and skipped, as by gb_store_read.
 */
bool gb_store_cursor_next(gb_store_cursor_t *c, gb_point_t *p);
/* Closes C (NULL: nothing). */
void gb_store_cursor_close(gb_store_cursor_t *c);

/* The newest point of series PATH (*P's string is the calling thread's until its next call). */
int gb_store_latest(gb_store_t *s, const char *path, gb_point_t *p);

/*
 * Calls EACH with the newest point of every series (from memory, but for series whose newest
 * point is only in a block file and was not asked for yet). The points are taken under the
 * store's lock and handed out after it, so EACH holds no writer up and may call the store (a
 * point's string lasts the call). Stops at EACH's non-zero value, returned.
 */
int gb_store_each_latest(gb_store_t *s,
                         int (*each)(void *ctx, const char *path, const gb_point_t *p), void *ctx);

typedef enum {
    GB_AGG_COUNT,
    GB_AGG_MIN,
    GB_AGG_MAX,
    GB_AGG_SUM,
    GB_AGG_AVG,
    GB_AGG_FIRST,
    GB_AGG_LAST,
    GB_AGG_STDDEV,
    GB_AGG_TWA
} gb_agg_t;

/* Parses an aggregate's name ("avg", "twa" ...). 0 or GB_EINVAL. */
int gb_agg_parse(const char *name, gb_agg_t *out);
const char *gb_agg_name(gb_agg_t a);
/*
 * The type of aggregate A's results over a series of type SERIES: count an integer; first and
 * last the series' own (exact, strings too); min and max the series' own for numbers and
 * booleans (integers exact up to 2^53); sum, avg, stddev and twa floats.
 */
gb_vtype_t gb_agg_type(gb_agg_t a, gb_vtype_t series);

/* Takes one window's result (a string borrowed for the call); non-zero stops the aggregate. */
typedef int (*gb_agg_each_fn)(void *ctx, gb_time_t window, const gb_value_t *value);

/*
 * Aggregates series PATH (numbers and bools; count, first and last also strings) over windows
 * [FROM + k*STEP, FROM + (k+1)*STEP) up to TO, calling EACH with the window's start and the
 * result for every window that has points (TWA: every window from the first point on, the value
 * before a window carrying into it). A NaN point counts for count, and is what first or last
 * gives when it is the window's first or last; min, max, sum, avg and stddev leave it out (NaN
 * for a window without a number), and twa counts no time for it. Whole blocks inside a
 * window are answered from their statistics, without decoding. Where retention replaced the
 * points by rollups, the rollups answer, when FROM and STEP are whole multiples of their width
 * (1 h, else 1 min; FROM counted from the epoch): exactly what the points would have given.
 * Returns as gb_store_read, or GB_EINVAL (a string series with an aggregate other than count,
 * first, last).
 */
int gb_store_aggregate(gb_store_t *s, const char *path, gb_time_t from, gb_time_t to, int64_t step,
                       gb_agg_t agg, gb_agg_each_fn each, void *ctx);

/* Calls EACH for every series: path, type, points (head and blocks). */
int gb_store_each_series(gb_store_t *s,
                         void (*each)(void *ctx, const char *path, gb_vtype_t type,
                                      uint64_t points),
                         void *ctx);

typedef struct gb_store_info {
    uint64_t series;
    uint64_t
        points;     /* in blocks and in the head (a time written twice counts once after a flush) */
    uint64_t bytes; /* on disk: log, block and rollup files */
    uint64_t torn_bytes; /* unreadable tail of the log (a crash mid-write) */
    uint64_t wal_bytes, block_bytes, block_files, blocks, head_points;
    uint64_t rollup_files, rollup_bytes; /* also in bytes */
    uint64_t rollups_1m, rollups_1h;     /* rollups (one per series and window) kept */
} gb_store_info_t;

void gb_store_stat(gb_store_t *s, gb_store_info_t *info);

/* Bytes and points in blocks by codec: calls EACH per codec in use. */
void gb_store_codecs(gb_store_t *s,
                     void (*each)(void *ctx, const char *codec, uint64_t blocks, uint64_t points,
                                  uint64_t bytes),
                     void *ctx);

/* Opens DIR read-only and reports as gb_store_stat, calling EACH per series. */
int gb_store_scan(const char *dir, gb_store_info_t *info,
                  void (*each)(void *ctx, const char *path, gb_vtype_t type, uint64_t points),
                  void *ctx);

/*
 * Reads every sample of the store in DIR (read-only), all series merged in time order (at equal
 * times, series by series), calling EACH with its series path and the sample (string values point
 * into a buffer valid during the call; the sample's tag field is 0). Stops early when EACH returns
 * non-zero and returns that value. Returns 0, GB_ENOENT (no store) or GB_EIO.
 */
int gb_store_read_all(const char *dir,
                      int (*each)(void *ctx, const char *path, const gb_sample_t *s,
                                  const char *str, size_t len),
                      void *ctx);
/*
 * The same, of the series WANT says yes to (NULL: every series) and of their samples at FROM and
 * later: a series left out is not read at all (a daemon's start that needs its plant's tags of the
 * last days does not read a store's whole history of other series).
 */
int gb_store_read_all_of(const char *dir, gb_time_t from, bool (*want)(void *ctx, const char *path),
                         int (*each)(void *ctx, const char *path, const gb_sample_t *s,
                                     const char *str, size_t len),
                         void *ctx);

#endif
