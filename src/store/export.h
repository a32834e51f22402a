/*
 * Query results as text: what `gemba query` prints and GET /api/v1/query answers. CSV has the
 * import format's header, time,tag,value, with times in RFC 3339 and nine fraction digits and
 * floats in the shortest form that reads back to the same double, so export, import and export
 * again give the same bytes. JSON is {"series": [{"tag", "type", "points": [[time, value] ...]}]},
 * with "agg" and "step" when aggregated; NaN and infinities, which JSON has no numbers for, are
 * null.
 */
#ifndef GB_STORE_EXPORT_H
#define GB_STORE_EXPORT_H

#include "gemba/store.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct gb_query {
    const char *const *tags; /* series names */
    size_t ntags;
    gb_time_t from, to; /* [from, to) */
    bool aggregate;
    gb_agg_t agg;
    int64_t step; /* ns, with aggregate */
    bool json;
} gb_query_t;

/* Writes N bytes of text; non-zero stops the query (and is returned). */
typedef int (*gb_query_write_fn)(void *ctx, const char *p, size_t n);

/*
 * Runs Q on S, writing the result through WRITE. A tag is a series path or a short path (see
 * gb_store_resolve); results name the full path. Returns 0; GB_ENOENT when a tag names no series,
 * GB_EEXIST when a short path fits several (*MISSING gets its index; nothing was written); GB_EINVAL for an aggregate a string series has
 * not (count, first and last only); GB_EIO / GB_EPROTO from the store; or WRITE's value.
 */
int gb_query_run(gb_store_t *s, const gb_query_t *q, gb_query_write_fn write, void *ctx,
                 size_t *missing);

/*
 * A time as the query takes it: RFC 3339, integer ns since the epoch, "now", or "-DURATION"
 * before NOW ("-1h", "-7d"). 0 or GB_EINVAL.
 */
int gb_query_time_parse(const char *s, gb_time_t now, gb_time_t *out);

/*
 * For an aggregate whose FROM was given relative to now ("-1d", "now"): starts it on the window
 * of the step that holds it (windows on multiples of the step since 1970-01-01T00:00Z). Such a
 * time is never on a minute by itself; on the window it is, so every window is whole and, for
 * steps in whole minutes or hours, rollups answer the windows retention has taken the points of.
 * A FROM given as a time is kept as it is. FROM may be NULL.
 */
void gb_query_align_from(gb_query_t *q, const char *from);

#endif
