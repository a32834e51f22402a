/*
 * The store's shared state, for the files of src/store/ only: the series table, the open block
 * and rollup files, and the helpers the engine's files share. Guarded by the store's mutex.
 */
#ifndef GB_STORE_INTERNAL_H
#define GB_STORE_INTERNAL_H

#include "gemba/store.h"
#include "store/engine.h"
#include "store/wal.h"
#include "util/map.h"
#include "util/pool.h"

#include <pthread.h>

typedef struct bfile {
    uint64_t lo, no; /* the flushes it holds: its own (lo = no), or lo..no after a compaction */
    int fd;
    uint64_t bytes;
    bool retired; /* merged into a newer file: no block refers to it; fd closed when unread */
} bfile_t;

/* The two kinds of immutable files: blocks/NNNNNNNN.gbb and rollups/NNNNNNNN.gbr. */
typedef enum { GB_FK_BLOCKS, GB_FK_ROLLUPS } gb_fkind_t;

typedef struct series {
    char *path;
    gb_vtype_t type;
    gb_head_t head;
    gb_head_t frozen; /* the head a flush is writing out: read-only until the flush ends */
    gb_bref_t *blocks;
    size_t nblocks, cblocks;
    uint64_t block_points;
    gb_time_t blocks_tmax; /* newest time in any block (INT64_MIN: no blocks) */
    int64_t keep_ns;       /* retention: 0 forever */
    int64_t keep_roll[GB_ROLLUP_WIDTHS]; /* rollups: 0 none made; else their keep period */
    gb_rref_t *rollups;                  /* oldest first */
    size_t nrollups, crollups;
    uint64_t nroll[GB_ROLLUP_WIDTHS]; /* rollups kept, by width */
    gb_time_t rolled; /* every point before it is in rollups, none after (INT64_MIN: none) */
    /* the newest point, kept so that the latest value of every tag is a memory read */
    bool has_last;
    gb_time_t last_t;
    gb_quality_t last_q;
    gb_value_keep_t last_v;
} series_t;

/*
 * Points appended but not in their series' heads yet (numbers and booleans; strings go to the
 * head at once). The log holds them already. The stage is GB_STAGE_BUCKETS buckets, each for a
 * range of series numbers and in arrival order; appending is sequential, and a bucket's points
 * go to their heads together, so that the heads written to at a time are few enough to stay in
 * cache. Appending straight to thousands of interleaved heads misses the cache at every point.
 *
 * A bucket's points are a chunk. A writer that fills one hands it over (to PENDING) and takes an
 * empty one, under the store's lock; the drain thread moves the chunks handed over into their
 * heads, under DMU alone, while writers put their next batches in the log: the heads' part, the
 * larger, is off the lock every writer queues on, and off the writers' threads. When it falls
 * behind (or was not started), the writers drain after they let go of the store's lock.
 *
 * The rule that keeps readers right: whoever holds the store's lock and reads or changes a head
 * (or a series' newest point) calls gb_store__drain first. It takes DMU, which waits for a drain
 * under way, drains every chunk pending and the live ones; and since chunks are handed over
 * only under the store's lock, none is pending again, and no head changes, until that lock is
 * let go. The series table and the drain's arrays below grow under both locks.
 * Locks, in the order they are taken: the store's, DMU, PMU (the lists), the heads' pool.
 */
#define GB_STAGE_BUCKETS 64
#define GB_STAGE_BUCKET_POINTS 16384
typedef struct gb_chunk {
    uint32_t *no; /* series numbers, times, values and qualities, in arrival order */
    gb_time_t *t;
    gb_slot_t *v;
    uint8_t *q;
    uint32_t n;
    struct gb_chunk *next; /* in PENDING or SPARE */
} gb_chunk_t;
typedef struct gb_stage {
    gb_chunk_t *ck[GB_STAGE_BUCKETS]; /* the live chunk of each bucket (NULL: none yet) */
    unsigned shift; /* series no goes to bucket no >> shift (the last takes the rest) */
    size_t n;       /* points in the live chunks */
    pthread_mutex_t dmu, pmu;
    gb_chunk_t *pending, *plast; /* handed over, oldest first: drained in that order */
    size_t npending;
    gb_chunk_t *spare;    /* drained, for reuse */
    struct gb_pool *pool; /* the chunks' arrays are its blocks (the heads' pool) */
    /* the drain thread: woken (DCV, with PMU) when a writer has handed chunks over, it drains
     * them on a core of its own while the writers go on (not started: the writers drain) */
    pthread_t drainer;
    bool drainer_on, drainer_stop;
    pthread_cond_t dcv;
    /* per series, while draining (under DMU): its points in the chunk, and where they start in
     * ST, SV, SQ, the chunk's times, slots and qualities in series order */
    struct gb_stage_dst {
        uint32_t cnt, at;
    } *dst;
    gb_time_t *st;
    gb_slot_t *sv;
    uint8_t *sq;
    uint32_t *touched; /* the series with points in the chunk */
} gb_stage_t;

struct gb_store {
    pthread_mutex_t mu;
    char *dir;
    gb_store_opts_t o;
    gb_wal_t *wal;
    gb_map_t by_path; /* changed under both mu and names; read under either */
    pthread_rwlock_t names;
    series_t **series;
    uint32_t nseries, cseries;
    /* per series, what every append looks at, packed so that it stays in cache */
    uint64_t *declared; /* the log segment the series was last declared in (0: none) */
    uint8_t *stype;     /* its value type */
    gb_stage_t stage;
    gb_pool_t heads; /* the heads' segments */
    /* a flush's copy of a head out of order, and its sort's memory, kept from flush to flush
     * (one flush at a time: FLUSHING) */
    gb_pts_t fsorted;
    gb_pts_scratch_t fscratch;
    uint32_t *tag_series; /* registry tag id -> series number + 1 (0 = not looked up yet) */
    uint32_t ntag;
    const gb_tags_t *reg;
    bfile_t *files;
    size_t nfiles;
    uint64_t next_file, covered;
    bfile_t *rfiles; /* rollup files */
    size_t nrfiles;
    uint64_t next_rfile;
    int *stale; /* descriptors of files rewritten in place, closed when no query reads */
    size_t nstale;
    uint64_t appended, head_points;
    int64_t head_since; /* monotonic time the head got its first point */
    /* replay: log series numbers of the segment being replayed -> series index */
    uint32_t *rmap;
    size_t nrmap;
    uint64_t rseq;
    bool full_logged;    /* the max_disk_bytes refusal was logged (until space comes back) */
    bool flushing;       /* a flush or compaction is writing a block file (without the lock) */
    unsigned readers;    /* queries reading block files now (a retired file stays open until 0) */
    gb_retention_t *ret; /* owned copies of the retention rules */
    size_t nret;
    int64_t last_retention; /* monotonic time of the last retention pass */
    bool retention_due;     /* a pass could not make its rollups (busy): the next tick tries */
    /* The flush thread: flushes, and the merges after them, run on it, so that the writer whose
     * append makes a flush due does not wait for it (an HTTP write would wait a flush's whole
     * encoding). It waits on FLUSH_CV; a writer held back (the head a whole flush ahead of a
     * flush still running) waits on FLUSHED_CV. Without it (not started) they run inline. */
    pthread_t flusher;
    bool flusher_on, flusher_stop;
    pthread_cond_t flush_cv, flushed_cv;
    int flush_failed;   /* the error of the last background flush (0: it went through) */
    uint64_t flush_gen; /* heads frozen so far (a flush took the head) */
    bool write_failing; /* writing a block or rollup file failed (logged) and has not worked since:
                         * one writer of files at a time (FLUSHING) reads and sets it */
    bool sync_failing;  /* the same for a flush's sync of the log */
};

/* A block of a query's snapshot. */
typedef struct gb_src {
    gb_bref_t r;
    int fd;
    bool clean;  /* overlaps no other source: read on its own, in time order */
    bool inside; /* clean, and inside one window: its statistics stand for it */
} gb_src_t;

/* What a read of [FROM, TO) of one series needs, copied under the lock. */
typedef struct gb_snap {
    gb_vtype_t type;
    gb_src_t *src;
    size_t nsrc;
    gb_pts_t head; /* head points in range */
    gb_store_t *store;
    gb_time_t hmin, hmax;
    gb_time_t xlo, xhi; /* points in [xlo, xhi) are left out (they are in rollups) */
    /* blocks read ahead: the frames at [aoff, aoff + alen) of file descriptor afd */
    unsigned char *ahead;
    size_t alen, acap;
    uint64_t aoff;
    int afd;
} gb_snap_t;

/* Moves the staged points to their series' heads. Every reader of a head calls it first. Locked. */
void gb_store__drain(gb_store_t *s);
/* The series named PATH, or NULL. Caller holds the lock. */
series_t *gb_store__find(gb_store_t *s, const char *path);
/* The series PATH, made with TYPE when new: its number. Caller holds the lock. */
uint32_t gb_store__add_series(gb_store_t *s, const char *path, gb_vtype_t type);
/* The magic a file of kind K starts with (8 bytes). */
const char *gb_store__magic(gb_fkind_t k);
/* Keeps (T, Q, V) as X's newest point when it is. Caller holds the lock. */
void gb_store__remember_last(series_t *x, gb_time_t t, gb_quality_t q, const gb_value_t *v);
/* Closes retired block files when no query reads block files. Caller holds the lock. */
void gb_store__close_retired(gb_store_t *s);
/* The log's bytes on disk and its unreadable tail. Caller holds the lock. */
void gb_store__wal_info(gb_store_t *s, uint64_t *bytes, uint64_t *torn);

/*
 * Copies what a read of series PATH over [FROM, TO) needs, leaving out points in [XLO, XHI), and
 * holds the files open until gb_store__snapshot_free. Takes the lock itself. 0 or GB_ENOENT.
 */
int gb_store__snapshot(gb_store_t *s, const char *path, gb_time_t from, gb_time_t to, gb_time_t xlo,
                       gb_time_t xhi, gb_snap_t *sn);
void gb_store__snapshot_free(gb_snap_t *sn);
/*
 * Decodes the snapshot's blocks (all, or those not clean) that overlap [FROM, TO) and merges
 * them with its head points in that range into OUT: sorted, one point a time (the later wins).
 */
void gb_store__merge(gb_snap_t *sn, gb_time_t from, gb_time_t to, bool unclean_only, gb_pts_t *out);

/* DIR/blocks/LO-NO.gbb (or NO.gbb when LO = NO), or rollups/...gbr, with SUFFIX. Caller frees. */
char *gb_store__path(const gb_store_t *s, gb_fkind_t k, uint64_t lo, uint64_t no,
                     const char *suffix);
/*
 * Writes a file of kind K as LO-NO whole: magic, BODY (its framed records, after the magic),
 * FOOT, and a trailer with EXTRA; to a temporary name, synced, renamed into place (over a file of
 * that name), directory synced. 0, GB_EIO or GB_ENOSPC (logged; nothing left behind).
 */
int gb_store__write_file(gb_store_t *s, gb_fkind_t k, uint64_t lo, uint64_t no,
                         const unsigned char *body, size_t blen, const unsigned char *foot,
                         size_t flen, uint64_t extra);
/*
 * Checks the trailer of the file of kind K open as FD and reads its footer into *FOOT (malloc'd;
 * caller frees) of *FLEN bytes at *FOFF (the end of its records), and the trailer's EXTRA.
 * 0, GB_EIO or GB_EPROTO.
 */
int gb_store__read_footer(int fd, gb_fkind_t k, unsigned char **foot, uint32_t *flen,
                          uint64_t *foff, uint64_t *extra);
/* The files of kind K to open, oldest first (leftovers deleted unless readonly). */
typedef struct gb_fname {
    uint64_t lo, no;
} gb_fname_t;
int gb_store__list(gb_store_t *s, gb_fkind_t k, gb_fname_t **out, size_t *n);
/* Opens file LO-NO of kind K as a new entry of *FILES (of *N). 0 or GB_EIO. Locked. */
int gb_store__add_file(gb_store_t *s, gb_fkind_t k, uint64_t lo, uint64_t no, bfile_t **files,
                       size_t *n);
/*
 * Whether the newest GB_STORE_COMPACT_FILES live files of FILES are all of one level; if so,
 * IDX gets their indexes, oldest first.
 */
bool gb_store__compaction_due(const bfile_t *files, size_t n, size_t *idx);
/* Marks F retired and deletes it (unless readonly). Locked. */
void gb_store__retire(gb_store_t *s, gb_fkind_t k, bfile_t *f);
/* Puts FD aside to close when no query reads files. Locked. */
void gb_store__stale(gb_store_t *s, int fd);

/* ---- rollups (rollup.c) ---- */

/* Reads the rollup files into the series table. At open, before the log is replayed. */
int gb_store__load_rollups(gb_store_t *s);
/*
 * Sums up into a new rollup file the points of every whole hour past their series' keep period
 * that are not in rollups yet, moving each series' `rolled` on; then drops rollups past their
 * own keep period and merges rollup files. Locked; lets go of the lock while it reads and
 * writes. 0, GB_EBUSY (a flush or compaction is writing: nothing done), or an I/O error
 * (logged; nothing changed, the points stay).
 */
int gb_store__rollup_pass(gb_store_t *s, gb_time_t now);
/* True when X's points become rollups before retention drops them. */
bool gb_store__rolls(const series_t *x);
/* Frees the rollup index of the store. */
void gb_store__rollups_clear(gb_store_t *s);

#endif
