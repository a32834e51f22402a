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
#include <stdint.h>

typedef struct gb_query {
    const char *const *tags; /* series names */
    size_t ntags;
    gb_time_t from, to; /* [from, to) */
    bool aggregate;
    gb_agg_t agg;
    int64_t step; /* ns, with aggregate */
    bool json;
    uint64_t
        limit; /* the text stops with GB_ERANGE where it would pass this many bytes (0: none) */
} gb_query_t;

/* Writes N bytes of text; non-zero stops the query (and is returned). */
typedef int (*gb_query_write_fn)(void *ctx, const char *p, size_t n);

/*
 * Runs Q on S, writing the result through WRITE. A tag is a series path or a short path (see
 * gb_store_resolve); results name the full path. Returns 0; GB_ENOENT when a tag names no series,
 * GB_EEXIST when a short path fits several (*MISSING gets its index; nothing was written);
 * GB_EINVAL for an aggregate a string series has not (count, first and last only); GB_EIO /
 * GB_EPROTO from the store; or WRITE's value.
 */
int gb_query_run(gb_store_t *s, const gb_query_t *q, gb_query_write_fn write, void *ctx,
                 size_t *missing);

/*
 * The same text read a piece at a time, at the reader's pace (an HTTP answer as the client takes
 * it): open checks the tags as gb_query_run does (the same errors, *MISSING set) and, for raw
 * points, takes what the read needs from the store right away, so the text read later is the
 * store as it was at open. Caller closes *OUT.
 */
typedef struct gb_query_stream gb_query_stream_t;
int gb_query_open(gb_store_t *s, const gb_query_t *q, gb_query_stream_t **out, size_t *missing);

/*
 * At least as many bytes as the whole text will have, known at open from the blocks' counts:
 * UINT64_MAX when there is no such bound (aggregates; string series, whose values have any
 * length).
 */
uint64_t gb_query_bound(const gb_query_stream_t *qs);

/*
 * Copies up to MAX (> 0) bytes of the text into BUF. Returns how many; 0 at the end of the text;
 * GB_ERANGE where the text would pass the query's limit (nothing past it is made or copied: an
 * aggregate stops there too); GB_EIO / GB_EPROTO from the store (the text before stands).
 */
int64_t gb_query_read(gb_query_stream_t *qs, char *buf, size_t max);

/* Closes QS (NULL: nothing); the text need not have been read to its end. */
void gb_query_close(gb_query_stream_t *qs);

/*
 * The newest point of each series TAGS[0..NTAGS) names (as gb_query_run takes them), or, when
 * NTAGS is 0, of every series whose path matches one of the fnmatch patterns MATCH[0..NMATCH)
 * (every series when NMATCH is 0 too; from memory, gb_store_each_latest), as GET /api/v1/latest
 * answers: {"series": [{"tag", "time", "value", "quality"}]}, values written as the query writes
 * them. 0 with *TEXT (caller frees; not NUL-terminated) of *LEN bytes; GB_ENOENT or GB_EEXIST for
 * the tag at *MISSING; GB_EIO / GB_EPROTO from the store.
 */
int gb_query_latest(gb_store_t *s, const char *const *tags, size_t ntags, const char *const *match,
                    size_t nmatch, char **text, size_t *len, size_t *missing);

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

/* The most step windows an aggregate spans (five years of minutes): a query beyond is refused
 * before it starts (a 1 ns step over hours would run for minutes and fill the memory). */
#define GB_QUERY_WINDOWS_MAX 3000000u

/* How many step windows Q's [from, to) spans (with aggregate; saturating). */
uint64_t gb_query_windows(const gb_query_t *q);

#endif
