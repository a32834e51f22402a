/*
 * The store's shared state, for the files of src/store/ only: the series table and the open
 * block files. Guarded by the store's mutex.
 */
#ifndef GB_STORE_INTERNAL_H
#define GB_STORE_INTERNAL_H

#include "gemba/store.h"
#include "store/engine.h"
#include "store/wal.h"
#include "util/map.h"

#include <pthread.h>

typedef struct bfile {
    uint64_t lo, no; /* the flushes it holds: its own (lo = no), or lo..no after a compaction */
    int fd;
    uint64_t bytes;
    bool retired; /* merged into a newer file: no block refers to it; fd closed when unread */
} bfile_t;

typedef struct series {
    char *path;
    gb_vtype_t type;
    gb_pts_t head;
    gb_pts_t frozen; /* the head a flush is writing out: read-only until the flush ends */
    gb_bref_t *blocks;
    size_t nblocks, cblocks;
    uint64_t block_points;
    uint64_t declared;     /* the log segment this series was last declared in (0: none) */
    gb_time_t blocks_tmax; /* newest time in any block (INT64_MIN: no blocks) */
    int64_t keep_ns;       /* retention: 0 forever */
    /* the newest point, kept so that the latest value of every tag is a memory read */
    bool has_last;
    gb_time_t last_t;
    gb_quality_t last_q;
    gb_value_keep_t last_v;
} series_t;

struct gb_store {
    pthread_mutex_t mu;
    char *dir;
    gb_store_opts_t o;
    gb_wal_t *wal;
    gb_map_t by_path;
    series_t **series;
    uint32_t nseries, cseries;
    uint32_t *tag_series; /* registry tag id -> series number + 1 (0 = not looked up yet) */
    uint32_t ntag;
    const gb_tags_t *reg;
    bfile_t *files;
    size_t nfiles;
    uint64_t next_file, covered;
    uint64_t appended, head_points;
    int64_t head_since; /* monotonic time the head got its first point */
    /* replay: log series numbers of the segment being replayed -> series index */
    uint32_t *rmap;
    size_t nrmap;
    uint64_t rseq;
    gb_pts_t latest;  /* holds the string gb_store_latest hands out */
    bool full_logged; /* the max_disk_bytes refusal was logged (until space comes back) */
    bool flushing;    /* a flush or compaction is writing a block file (without the lock) */
    unsigned readers; /* queries reading block files now (a retired file stays open until 0) */
    gb_retention_t *ret; /* owned copies of the retention rules */
    size_t nret;
    int64_t last_retention; /* monotonic time of the last retention pass */
};

/* The series named PATH, or NULL. Caller holds the lock. */
series_t *gb_store__find(gb_store_t *s, const char *path);
/* Keeps (T, Q, V) as X's newest point when it is. Caller holds the lock. */
void gb_store__remember_last(series_t *x, gb_time_t t, gb_quality_t q, const gb_value_t *v);
/* Closes retired block files when no query reads block files. Caller holds the lock. */
void gb_store__close_retired(gb_store_t *s);
/* The log's bytes on disk and its unreadable tail. Caller holds the lock. */
void gb_store__wal_info(gb_store_t *s, uint64_t *bytes, uint64_t *torn);

#endif
