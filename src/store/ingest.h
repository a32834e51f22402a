/*
 * Text into the store: line protocol (for `gemba import` and the HTTP write routes) and the
 * time,tag,value CSV (for `gemba import`), parsed by lineproto.c and csvio.c and written in
 * batches through gb_store_write_points. A line or row that does not parse, or whose value does
 * not fit its series' type, is refused and counted -- the first one reported with its line -- and
 * everything else is written: bad input costs only itself.
 */
#ifndef GB_STORE_INGEST_H
#define GB_STORE_INGEST_H

#include "gemba/store.h"
#include "store/csvio.h"
#include "store/lineproto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GB_LP_LINE_MAX (1u << 20) /* the longest line-protocol line taken */
#define GB_INGEST_REPORTS 10       /* refusals kept to be told, the earliest lines' */

typedef struct gb_ingest {
    gb_store_t *store;
    uint64_t line;         /* lines (rows) read so far */
    uint64_t points;       /* points written */
    uint64_t refused;      /* lines, rows or points refused */
    uint64_t first_line;   /* the earliest line refused (0: none) */
    char first_error[200]; /* what was wrong with it */
    struct {
        uint64_t line;
        char why[200];
    } report[GB_INGEST_REPORTS]; /* the refusals of the earliest lines, in line order */
    size_t nreport;
    /* the batch being built */
    gb_store_wpoint_t *pts;
    size_t n, cap;
    char *arena; /* series names (and strings) of the batch */
    size_t alen, acap;
    size_t *at; /* per point, where its name starts in the arena (its string follows the NUL) */
    uint64_t *lineno; /* per point, its line (row) */
    uint8_t *why;     /* per point, a gb_wp_why_t after a write that refused some */
    bool in_place; /* some names are in the caller's buffer: written before gb_ingest_lp returns */
    gb_csv_reader_t *csv;
} gb_ingest_t;

void gb_ingest_init(gb_ingest_t *in, gb_store_t *s);
void gb_ingest_clear(gb_ingest_t *in);

/*
 * Takes the complete lines of line protocol in BUF[0..LEN) (modified in place: a plain line's
 * series name is made where it is), or all of it when EOF; *USED says how much was taken (keep
 * the rest for the next call). Lines without a time get NOW. 0, or the store's GB_ENOSPC / GB_EIO
 * (nothing of the failed batch was taken).
 */
int gb_ingest_lp(gb_ingest_t *in, char *buf, size_t len, bool eof, gb_lp_precision_t prec,
                 gb_time_t now, size_t *used);

/* The same for the time,tag,value CSV; pieces of any size, EOF with the last. */
int gb_ingest_csv(gb_ingest_t *in, const char *buf, size_t len, bool eof, size_t *used);

/* Writes what is batched. 0 or GB_ENOSPC / GB_EIO. */
int gb_ingest_flush(gb_ingest_t *in);

#endif
