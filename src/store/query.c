/*
 * Reading the store: raw ranges, the latest point, aggregates over fixed steps, and statistics.
 *
 * A query takes the lock only to copy what it needs -- the series' block references that
 * overlap the range and the head's points in it -- and reads and decodes block files (immutable,
 * read with pread) after letting go, so a long scan never holds up appends for long.
 *
 * Aggregates are answered from block statistics wherever a block lies wholly inside one window
 * and no other source (another block, the head) overlaps its time range; everything else is
 * decoded and merged. A time-weighted average always decodes: it needs each point's duration.
 *
 * Where retention replaced points by rollups (before the series' `rolled`), an aggregate whose
 * windows are made of whole rollup windows takes the rollups for that part and leaves out any
 * point still there, so nothing counts twice and the seam at `rolled` is exact: a rollup carries
 * the same statistics as a block, and for a time-weighted average its window's own integral and
 * its first and last point, which close the spans to the points around it.
 */
#include "gemba/error.h"
#include "gemba/log.h"
#include "gemba/store.h"
#include "store/codec.h"
#include "store/engine.h"
#include "util/str.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The parts of struct gb_store this file reads (kept in step with store.c). */
#include "store/store_internal.h"

typedef struct {
    char **paths;
    size_t n, cap;
} names_t;
static void collect(void *ctx, const char *path, gb_vtype_t type, uint64_t points);

typedef gb_src_t src_t;
typedef gb_snap_t snap_t;

/* Copies what a read of X over [FROM, TO) needs, leaving out [XLO, XHI). Locked. */
static void snapshot_locked(gb_store_t *s, series_t *x, gb_time_t from, gb_time_t to, gb_time_t xlo,
                            gb_time_t xhi, snap_t *sn)
{
    gb_store__drain(s);
    memset(sn, 0, sizeof *sn);
    sn->type = x->type;
    sn->xlo = xlo;
    sn->xhi = xhi;
    gb_pts_init(&sn->head, x->type);
    sn->afd = -1;
    sn->src = gb_xcalloc(x->nblocks ? x->nblocks : 1, sizeof *sn->src);
    for (size_t i = 0; i < x->nblocks; i++) {
        const gb_bref_t *r = &x->blocks[i];
        if (r->st.tmax < from || r->st.tmin >= to) continue;
        if (r->st.tmin >= xlo && r->st.tmax < xhi) continue; /* all of it is in rollups */
        sn->src[sn->nsrc++] = (src_t){*r, s->files[r->file].fd, false, false};
    }
    s->readers++; /* the files stay open until this query is done (see snapshot_free) */
    sn->store = s;
    sn->hmin = INT64_MAX;
    sn->hmax = INT64_MIN;
    /* a flush's frozen head, then the head: older writes first */
    const gb_head_t *parts[2] = {&x->frozen, &x->head};
    gb_pts_t sc; /* a segment's points, decoded */
    gb_pts_init(&sc, x->type);
    for (int k = 0; k < 2; k++)
        for (const gb_seg_t *g = parts[k]->first; g; g = g->next) {
            gb_pts_t w = gb_head_seg_view(parts[k], g, &sc);
            for (size_t i = 0; i < w.n; i++) {
                gb_time_t t = w.t[i];
                if (t < from || t >= to || (t >= xlo && t < xhi)) continue;
                gb_pts_add_from(&sn->head, &w, i);
                if (t < sn->hmin) sn->hmin = t;
                if (t > sn->hmax) sn->hmax = t;
            }
        }
    gb_pts_clear(&sc);
}

/* A block is clean when no other block and not the head overlap it, and none of it is left out. */
static void mark_clean(snap_t *sn)
{
    for (size_t i = 0; i < sn->nsrc; i++) {
        const gb_bstats_t *a = &sn->src[i].r.st;
        bool clean = !(sn->head.n && sn->hmin <= a->tmax && sn->hmax >= a->tmin) &&
                     !(a->tmax >= sn->xlo && a->tmin < sn->xhi);
        for (size_t j = 0; j < sn->nsrc && clean; j++) {
            const gb_bstats_t *b = &sn->src[j].r.st;
            if (j != i && b->tmin <= a->tmax && b->tmax >= a->tmin) clean = false;
        }
        sn->src[i].clean = clean;
    }
}

int gb_store__snapshot(gb_store_t *s, const char *path, gb_time_t from, gb_time_t to, gb_time_t xlo,
                       gb_time_t xhi, gb_snap_t *sn)
{
    pthread_mutex_lock(&s->mu);
    series_t *x = gb_store__find(s, path);
    if (x) snapshot_locked(s, x, from, to, xlo, xhi, sn);
    pthread_mutex_unlock(&s->mu);
    if (!x) return GB_ENOENT;
    mark_clean(sn);
    return 0;
}

/* A query is done reading files (S NULL: it never started). */
static void release(gb_store_t *s)
{
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->readers--;
    gb_store__close_retired(s);
    pthread_mutex_unlock(&s->mu);
}

void gb_store__snapshot_free(gb_snap_t *sn)
{
    release(sn->store);
    free(sn->src);
    free(sn->ahead);
    gb_pts_clear(&sn->head);
}

/* The most bytes of blocks one read takes ahead. */
#define AHEAD_MAX (1u << 20)

/*
 * Block SRC (one of SN's sources) read, its frame checked: *FRAME points at its frame (8 bytes,
 * then the block), valid until the next read of SN. 0, GB_EIO or GB_EPROTO.
 *
 * A series' blocks lie one after another in a file, in the order the snapshot has them: one
 * read takes SRC and those that follow it there (up to AHEAD_MAX bytes, and not those a query
 * answers from their statistics), and the next ones come from memory. A one-day aggregate of a
 * 1 Hz series reads 22 blocks, a scan of a million points 245: on the machine the bench runs on
 * a system call costs about a microsecond, and more around a read.
 */
static int read_block(snap_t *sn, const src_t *src, const unsigned char **frame)
{
    uint64_t off = src->r.off, end = off + 8 + src->r.len;
    if (src->fd != sn->afd || off < sn->aoff || end > sn->aoff + sn->alen) {
        size_t len = 8 + src->r.len;
        for (size_t i = (size_t)(src - sn->src) + 1; i < sn->nsrc; i++) {
            const src_t *b = &sn->src[i];
            if (b->fd != src->fd || b->r.off != off + len || b->inside ||
                len + 8 + b->r.len > AHEAD_MAX)
                break;
            len += 8 + b->r.len;
        }
        if (len > sn->acap) {
            free(sn->ahead);
            sn->ahead = gb_xmalloc(len);
            sn->acap = len;
        }
        sn->afd = -1;
        ssize_t got = pread(src->fd, sn->ahead, len, (off_t)off);
        if (got < (ssize_t)(8 + src->r.len)) return GB_EIO;
        sn->afd = src->fd;
        sn->aoff = off;
        sn->alen = (size_t)got; /* a short read: what it gave */
    }
    *frame = sn->ahead + (off - sn->aoff);
    return gb_frame_check(*frame, src->r.len);
}

static void damaged(const src_t *src, int rc)
{
    gb_error("store", "a block of %u points at offset %llu is damaged (%s); it is skipped",
             src->r.st.count, (unsigned long long)src->r.off, gb_strerror(rc));
}

/* Reads and decodes block SRC of SN, appending its points in [FROM, TO) but not in [XLO, XHI) to
 * OUT. */
static int decode_into(snap_t *sn, const src_t *src, gb_time_t from, gb_time_t to, gb_pts_t *out,
                       gb_pts_t *tmp)
{
    gb_time_t xlo = sn->xlo, xhi = sn->xhi;
    const unsigned char *buf;
    int rc = read_block(sn, src, &buf);
    if (!rc) {
        gb_pts_reset(tmp);
        rc = gb_blockio_read(buf + 8, src->r.len, tmp);
    }
    if (rc) {
        damaged(src, rc);
        return rc;
    }
    for (size_t i = 0; i < tmp->n; i++)
        if (tmp->t[i] >= from && tmp->t[i] < to && !(tmp->t[i] >= xlo && tmp->t[i] < xhi))
            gb_pts_add_from(out, tmp, i);
    return 0;
}

void gb_store__merge(gb_snap_t *sn, gb_time_t from, gb_time_t to, bool unclean_only, gb_pts_t *out)
{
    gb_pts_t tmp;
    gb_pts_init(&tmp, sn->type);
    /* oldest first (the order blocks were written), the head last: the later write wins */
    for (size_t i = 0; i < sn->nsrc; i++) {
        const src_t *c = &sn->src[i];
        if ((unclean_only && c->clean) || c->r.st.tmax < from || c->r.st.tmin >= to) continue;
        decode_into(sn, c, from, to, out, &tmp);
    }
    for (size_t i = 0; i < sn->head.n; i++)
        if (sn->head.t[i] >= from && sn->head.t[i] < to) gb_pts_add_from(out, &sn->head, i);
    gb_pts_clear(&tmp);
    gb_pts_sort_dedupe(out);
}

int gb_store_resolve(gb_store_t *s, const char *name, char **path)
{
    pthread_mutex_lock(&s->mu);
    int rc = GB_ENOENT;
    if (gb_store__find(s, name)) {
        *path = gb_xstrdup(name);
        rc = 0;
    } else {
        /* a short path: the one series whose path ends in "/NAME" */
        size_t n = strlen(name);
        for (uint32_t i = 0; i < s->nseries; i++) {
            const char *p = s->series[i]->path;
            size_t m = strlen(p);
            if (m <= n || p[m - n - 1] != '/' || strcmp(p + m - n, name)) continue;
            if (rc == 0) { /* a second one: the short path does not say which */
                free(*path);
                *path = NULL;
                rc = GB_EEXIST;
                break;
            }
            *path = gb_xstrdup(p);
            rc = 0;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int gb_store_series_type(gb_store_t *s, const char *path, gb_vtype_t *type)
{
    pthread_mutex_lock(&s->mu);
    series_t *x = gb_store__find(s, path);
    if (x) *type = x->type;
    pthread_mutex_unlock(&s->mu);
    return x ? 0 : GB_ENOENT;
}

/* A source of a read: block I of the snapshot, or its head (I == nsrc); its time range. */
typedef struct span {
    size_t i;
    gb_time_t lo, hi;
} span_t;

static int by_start(const void *a, const void *b)
{
    const span_t *x = a, *y = b;
    if (x->lo != y->lo) return x->lo < y->lo ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i; /* the order they were written in */
}

static int by_write(const void *a, const void *b)
{
    const span_t *x = a, *y = b;
    return x->i < y->i ? -1 : x->i > y->i;
}

/*
 * A cursor takes the sources in time order, a group at a time: a block that no other source
 * overlaps -- the usual case -- is decoded and handed out as it is, and only sources whose time
 * ranges overlap are merged and sorted together (points at the same time are always in one
 * group, so the later write still wins). A long scan so needs memory for one group, not for the
 * range, and its first points come before its last block is read.
 */
struct gb_store_cursor {
    snap_t sn;
    span_t *sp; /* the sources by start */
    size_t nsp;
    size_t g;     /* the next group starts at sp[g] */
    gb_pts_t pts; /* the current group's points, sorted */
    gb_pts_t tmp; /* a block being decoded */
    size_t i;     /* the next point of pts */
    gb_time_t from, to;
    uint64_t bound;
};

int gb_store_cursor_open(gb_store_t *s, const char *path, gb_time_t from, gb_time_t to,
                         gb_store_cursor_t **out)
{
    gb_store_cursor_t *c = gb_xcalloc(1, sizeof *c);
    int rc = gb_store__snapshot(s, path, from, to, INT64_MAX, INT64_MAX, &c->sn);
    if (rc) {
        free(c);
        return rc;
    }
    c->sp = gb_xcalloc(c->sn.nsrc + 1, sizeof *c->sp);
    for (size_t i = 0; i < c->sn.nsrc; i++) {
        const gb_bstats_t *st = &c->sn.src[i].r.st;
        c->sp[c->nsp++] = (span_t){i, st->tmin, st->tmax};
        c->bound += st->count;
    }
    if (c->sn.head.n) c->sp[c->nsp++] = (span_t){c->sn.nsrc, c->sn.hmin, c->sn.hmax};
    c->bound += c->sn.head.n;
    qsort(c->sp, c->nsp, sizeof *c->sp, by_start);
    gb_pts_init(&c->pts, c->sn.type);
    gb_pts_init(&c->tmp, c->sn.type);
    c->from = from;
    c->to = to;
    *out = c;
    return 0;
}

uint64_t gb_store_cursor_bound(const gb_store_cursor_t *c)
{
    return c->bound;
}

gb_vtype_t gb_store_cursor_type(const gb_store_cursor_t *c)
{
    return c->sn.type;
}

/* Reads the next group of overlapping sources into C's points. */
static void next_group(gb_store_cursor_t *c)
{
    size_t g = c->g, end;
    gb_time_t hi = c->sp[g].hi;
    for (end = g + 1; end < c->nsp && c->sp[end].lo <= hi; end++)
        if (c->sp[end].hi > hi) hi = c->sp[end].hi;
    qsort(c->sp + g, end - g, sizeof *c->sp, by_write); /* older writes first: the later wins */
    gb_pts_reset(&c->pts);
    for (size_t k = g; k < end; k++) {
        snap_t *sn = &c->sn;
        if (c->sp[k].i == sn->nsrc) {
            for (size_t i = 0; i < sn->head.n; i++)
                gb_pts_add_from(&c->pts, &sn->head, i);
        } else if (end - g == 1) { /* alone: decoded straight into pts, nothing to merge */
            const unsigned char *buf;
            const src_t *src = &sn->src[c->sp[k].i];
            int rc = read_block(sn, src, &buf);
            if (!rc) rc = gb_blockio_read(buf + 8, src->r.len, &c->pts);
            if (rc) {
                damaged(src, rc);
                gb_pts_reset(&c->pts);
            }
        } else {
            decode_into(sn, &sn->src[c->sp[k].i], c->from, c->to, &c->pts, &c->tmp);
        }
    }
    gb_pts_sort_dedupe(&c->pts); /* a check only, for one block or the head: they are sorted */
    c->g = end;
    c->i = 0;
}

bool gb_store_cursor_next(gb_store_cursor_t *c, gb_point_t *p)
{
    for (;;) {
        while (c->i < c->pts.n) {
            size_t i = c->i++;
            gb_time_t t = c->pts.t[i];
            if (t < c->from || t >= c->to) continue;
            p->t = t;
            p->q = (gb_quality_t)c->pts.q[i];
            /* numbers written in place: a whole gb_value_t copied per point costs a scan dearly */
            gb_slot_t v = c->pts.v[i];
            switch (c->pts.type) {
            case GB_VT_F64:
                p->v = (gb_value_t){.type = GB_VT_F64};
                memcpy(&p->v.f64, &v, sizeof v);
                break;
            case GB_VT_I64:
                p->v = (gb_value_t){.type = GB_VT_I64, .i64 = (int64_t)v};
                break;
            default:
                p->v = gb_pts_value(&c->pts, i);
                break;
            }
            return true;
        }
        if (c->g == c->nsp) return false;
        next_group(c);
    }
}

void gb_store_cursor_close(gb_store_cursor_t *c)
{
    if (!c) return;
    gb_pts_clear(&c->pts);
    gb_pts_clear(&c->tmp);
    free(c->sp);
    gb_store__snapshot_free(&c->sn);
    free(c);
}

int gb_store_read(gb_store_t *s, const char *path, gb_time_t from, gb_time_t to,
                  int (*each)(void *ctx, const gb_point_t *p), void *ctx)
{
    gb_store_cursor_t *c;
    int rc = gb_store_cursor_open(s, path, from, to, &c);
    if (rc) return rc;
    gb_point_t p;
    while (!rc && gb_store_cursor_next(c, &p))
        rc = each(ctx, &p);
    gb_store_cursor_close(c);
    return rc;
}

static int keep_last(void *ctx, const gb_point_t *p)
{
    gb_pts_t *l = ctx;
    gb_pts_reset(l);
    gb_pts_add(l, p->t, p->q, &p->v);
    return 0;
}

/*
 * The point gb_store_latest hands out, the calling thread's own: its string stays until that
 * thread's next call. It was one buffer of the store's, filled under the lock and read after it:
 * two HTTP requests asking at once could each get the other's point, or a string freed under it.
 */
static pthread_key_t latest_key;
static pthread_once_t latest_once = PTHREAD_ONCE_INIT;

static void latest_keep_free(void *k)
{
    gb_value_keep_clear(k);
    free(k);
}

static void latest_key_make(void)
{
    if (pthread_key_create(&latest_key, latest_keep_free) != 0) gb_oom();
}

/* *P as the newest point of a series: T, Q and V, V's string copied to this thread's buffer. */
static void latest_out(gb_point_t *p, gb_time_t t, gb_quality_t q, const gb_value_t *v)
{
    pthread_once(&latest_once, latest_key_make);
    gb_value_keep_t *k = pthread_getspecific(latest_key);
    if (!k) {
        k = gb_xcalloc(1, sizeof *k);
        if (pthread_setspecific(latest_key, k) != 0) gb_oom();
    }
    gb_value_keep_set(k, v);
    *p = (gb_point_t){t, q, k->v};
}

int gb_store_latest(gb_store_t *s, const char *path, gb_point_t *p)
{
    pthread_mutex_lock(&s->mu);
    series_t *x = gb_store__find(s, path);
    if (!x) {
        pthread_mutex_unlock(&s->mu);
        return GB_ENOENT;
    }
    gb_store__drain(s);
    gb_vtype_t type = x->type;
    if (x->has_last) { /* the common case: a memory read */
        latest_out(p, x->last_t, x->last_q, &x->last_v.v);
        pthread_mutex_unlock(&s->mu);
        return 0;
    }
    /* not known yet (the newest point is in a block): the newest block and the head hold it */
    gb_time_t from = x->blocks_tmax;
    const gb_head_t *parts[2] = {&x->frozen, &x->head};
    gb_pts_t sc; /* a segment's points, decoded */
    gb_pts_init(&sc, type);
    for (int k = 0; k < 2; k++)
        for (const gb_seg_t *g = parts[k]->first; g; g = g->next) {
            gb_pts_t w = gb_head_seg_view(parts[k], g, &sc);
            for (size_t i = 0; i < w.n; i++)
                if (w.t[i] > from) from = w.t[i];
        }
    gb_pts_clear(&sc);
    pthread_mutex_unlock(&s->mu);
    if (from == INT64_MIN) return GB_ENOENT;
    gb_pts_t last;
    gb_pts_init(&last, type);
    int rc =
        gb_store_read(s, path, from, from == INT64_MAX ? INT64_MAX : from + 1, keep_last, &last);
    if (!rc && !last.n) rc = GB_ENOENT;
    if (!rc) {
        gb_value_t v = gb_pts_value(&last, 0);
        latest_out(p, last.t[0], (gb_quality_t)last.q[0], &v);
    }
    gb_pts_clear(&last);
    if (rc) return rc;
    pthread_mutex_lock(&s->mu);
    x = gb_store__find(s, path);
    if (x) gb_store__remember_last(x, p->t, p->q, &p->v);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

/* A newest point taken under the lock, handed out after it (a string's bytes at STR in a copy). */
typedef struct latest_copy {
    const char *path; /* the series' own: paths live as long as the store */
    gb_point_t p;
    size_t str;
} latest_copy_t;

#define LATEST_CHUNK 256 /* newest points taken under the lock at a time */

int gb_store_each_latest(gb_store_t *s,
                         int (*each)(void *ctx, const char *path, const gb_point_t *p), void *ctx)
{
    /* the known ones copied under the lock a chunk at a time and handed out after it, so that
     * EACH (writing an answer, say) holds no writer up; the others (newest point only in a
     * block) after that */
    names_t rest = {0};
    int rc = 0;
    latest_copy_t v[LATEST_CHUNK];
    char *text = NULL;
    size_t tcap = 0;
    for (uint32_t i = 0; !rc;) {
        size_t n = 0, tlen = 0;
        pthread_mutex_lock(&s->mu);
        gb_store__drain(s);
        for (; i < s->nseries && n < LATEST_CHUNK; i++) {
            /*
             * Each series is three places in memory (its table entry, the newest point at the
             * entry's end, the path), rarely in cache when a client polls every tag: fetch them
             * a few series ahead, so the misses overlap instead of coming one after another.
             */
            if (i + 16 < s->nseries) {
                __builtin_prefetch(s->series[i + 16]);
                __builtin_prefetch(&s->series[i + 16]->has_last);
            }
            if (i + 8 < s->nseries) __builtin_prefetch(s->series[i + 8]->path);
            series_t *x = s->series[i];
            if (!x->has_last) {
                collect(&rest, x->path, x->type, 0);
                continue;
            }
            latest_copy_t *c = &v[n++];
            *c = (latest_copy_t){x->path, {x->last_t, x->last_q, x->last_v.v}, 0};
            if (c->p.v.type == GB_VT_STR) { /* the kept string changes with the next write */
                if (tlen + c->p.v.len > tcap) {
                    tcap = tcap ? tcap * 2 : 4096;
                    while (tlen + c->p.v.len > tcap)
                        tcap *= 2;
                    text = gb_xrealloc(text, tcap);
                }
                if (c->p.v.len) memcpy(text + tlen, c->p.v.str, c->p.v.len);
                c->str = tlen;
                tlen += c->p.v.len;
            }
        }
        bool more = i < s->nseries;
        pthread_mutex_unlock(&s->mu);
        for (size_t k = 0; k < n && !rc; k++) {
            if (v[k].p.v.type == GB_VT_STR) v[k].p.v.str = text ? text + v[k].str : "";
            rc = each(ctx, v[k].path, &v[k].p);
        }
        if (!more) break;
    }
    free(text);
    for (size_t i = 0; i < rest.n; i++) {
        gb_point_t p;
        if (!rc && gb_store_latest(s, rest.paths[i], &p) == 0) rc = each(ctx, rest.paths[i], &p);
        free(rest.paths[i]);
    }
    free(rest.paths);
    return rc;
}

/* ---- aggregates ------------------------------------------------------------------------------ */

static const char *const agg_names[] = {"count", "min",  "max",    "sum", "avg",
                                        "first", "last", "stddev", "twa"};

int gb_agg_parse(const char *name, gb_agg_t *out)
{
    for (int i = 0; i < (int)(sizeof agg_names / sizeof *agg_names); i++)
        if (!strcmp(name, agg_names[i])) {
            *out = (gb_agg_t)i;
            return 0;
        }
    if (!strcmp(name, "mean")) {
        *out = GB_AGG_AVG;
        return 0;
    }
    return GB_EINVAL;
}

const char *gb_agg_name(gb_agg_t a)
{
    return (unsigned)a < sizeof agg_names / sizeof *agg_names ? agg_names[a] : "?";
}

gb_vtype_t gb_agg_type(gb_agg_t a, gb_vtype_t series)
{
    switch (a) {
    case GB_AGG_COUNT:
        return GB_VT_I64;
    case GB_AGG_FIRST:
    case GB_AGG_LAST:
        return series;
    case GB_AGG_MIN:
    case GB_AGG_MAX:
        return series == GB_VT_STR ? GB_VT_F64 : series;
    default:
        return GB_VT_F64;
    }
}

/*
 * One window's aggregate being made. First and last are kept as stored (a slot: exact for
 * integers); a string's as where it is: point FIRST_I / LAST_I of the merged points or, when it
 * came from a decoded block (whose arrays the next block reuses), a copy.
 */
typedef struct acc {
    uint64_t count, nnum;              /* all points; points with a number (not NaN) */
    double sum, sumc, sumsq, min, max; /* SUM + SUMC: the sum (see gb_sum_add) */
    gb_time_t tfirst, tlast;
    gb_slot_t first, last;
    size_t first_i, last_i;        /* strings: SIZE_MAX when the copy holds it */
    gb_value_keep_t sfirst, slast; /* strings' copies: their memory outlives acc_reset */
    double twa_int;                /* integral of value over time (value x ns) */
    int64_t twa_dur;               /* ns with a known value */
} acc_t;

/* Empty for the next window, field by field: the strings' copies (with their buffers, most of the
 * struct) keep their memory, and clearing the whole struct was a twentieth of a 1-minute
 * average. A field added to acc_t is reset here. */
static void acc_reset(acc_t *a)
{
    a->count = a->nnum = 0;
    a->sum = a->sumc = a->sumsq = 0;
    a->min = INFINITY;
    a->max = -INFINITY;
    a->tfirst = INT64_MAX;
    a->tlast = INT64_MIN;
    a->first = a->last = 0;
    a->first_i = a->last_i = 0;
    a->twa_int = 0;
    a->twa_dur = 0;
}

/* Point I of the merged points: at T, slot V, number X (NaN for a string). */
static void acc_point(acc_t *a, gb_time_t t, gb_slot_t v, size_t i, double x)
{
    a->count++;
    if (t < a->tfirst) {
        a->tfirst = t;
        a->first = v;
        a->first_i = i;
    }
    if (t > a->tlast) {
        a->tlast = t;
        a->last = v;
        a->last_i = i;
    }
    if (isnan(x)) return;
    a->nnum++;
    gb_sum_add(&a->sum, &a->sumc, x);
    a->sumsq += x * x;
    if (x < a->min) a->min = x;
    if (x > a->max) a->max = x;
}

/* The first index in [LO, HI) of sorted T with T[i] >= X (HI when none): steps of 1, 2, 4 ... from
 * LO to pass it, then a binary search of the last step. A window's run of a block's points is
 * found in about twice the log of its own length, not in the log of the block's. */
static uint32_t first_at(const gb_time_t *t, uint32_t lo, uint32_t hi, gb_time_t x)
{
    uint32_t end = lo;
    uint64_t d = 1;
    while (end < hi && t[end] < x) {
        lo = end + 1;
        end = hi - lo > d ? lo + d : hi;
        d *= 2;
    }
    hi = end;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (t[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Time I of a decoded block, from its times or its step. */
static gb_time_t block_time(const gb_block_out_t *bo, uint32_t i)
{
    return bo->t ? bo->t[i] : (gb_time_t)((uint64_t)bo->t0 + i * (uint64_t)bo->tstep);
}

/* The first index in [LO, HI) of a decoded block's points at or after X (HI when none). */
static uint32_t block_first_at(const gb_block_out_t *bo, uint32_t lo, uint32_t hi, gb_time_t x)
{
    if (bo->t) return first_at(bo->t, lo, hi, x);
    if (x <= bo->t0) return lo;
    uint64_t d = (uint64_t)x - (uint64_t)bo->t0, s = (uint64_t)bo->tstep;
    uint64_t i = d / s + (d % s != 0);
    return i < lo ? lo : i > hi ? hi : (uint32_t)i;
}

/* Float I of a decoded float block, from its values or its digits. */
static double block_f64(const gb_block_out_t *bo, uint32_t i)
{
    return bo->dig ? (double)bo->dig[i] / bo->dscale : bo->f64[i];
}

/* Point I of a decoded block as a slot (0 for a string). */
static gb_slot_t block_slot(gb_vtype_t type, const gb_block_out_t *bo, uint32_t i)
{
    gb_value_t v = {.type = type};
    if (type == GB_VT_F64)
        v.f64 = block_f64(bo, i);
    else if (type == GB_VT_I64)
        v.i64 = bo->i64[i];
    else if (type == GB_VT_BOOL)
        v.b = bo->b[i] != 0;
    return gb_slot_of(type, &v);
}

/* String I of a decoded string block (borrowing its arena). */
static gb_value_t block_str(const gb_block_out_t *bo, uint32_t i)
{
    return (gb_value_t){
        .type = GB_VT_STR, .str = bo->arena + bo->str[i].off, .len = bo->str[i].len};
}

/* What an aggregate needs of a window's numbers besides their count, first and last. */
enum { NEED_SUM = 1, NEED_SQ = 2, NEED_MINMAX = 4 };

static unsigned agg_needs(gb_agg_t agg)
{
    switch (agg) {
    case GB_AGG_SUM:
    case GB_AGG_AVG:
        return NEED_SUM;
    case GB_AGG_STDDEV:
        return NEED_SUM | NEED_SQ;
    case GB_AGG_MIN:
    case GB_AGG_MAX:
        return NEED_MINMAX;
    default:
        return 0;
    }
}

/* Sum (compensated, in two running sums that break the chain of dependent additions), sum of
 * squares, min and max (as NEED asks) of the floats X[K..E), none of them NaN. */
static void f64_run(const double *x, uint32_t k, uint32_t e, unsigned need, double *sum,
                    double *sumsq, double *mn, double *mx)
{
    uint32_t i;
    if (need & NEED_SUM) {
        double s0 = 0, s1 = 0, c0 = 0, c1 = 0;
        for (i = k; i + 2 <= e; i += 2) {
            gb_sum_add(&s0, &c0, x[i]);
            gb_sum_add(&s1, &c1, x[i + 1]);
        }
        if (i < e) gb_sum_add(&s0, &c0, x[i]);
        gb_sum_add(&s0, &c0, s1);
        *sum = s0 + (c0 + c1);
    }
    if (need & NEED_SQ) {
        double q0 = 0, q1 = 0, q2 = 0, q3 = 0;
        for (i = k; i + 4 <= e; i += 4) {
            q0 += x[i] * x[i];
            q1 += x[i + 1] * x[i + 1];
            q2 += x[i + 2] * x[i + 2];
            q3 += x[i + 3] * x[i + 3];
        }
        for (; i < e; i++)
            q0 += x[i] * x[i];
        *sumsq = q0 + ((q1 + q2) + q3);
    }
    if (need & NEED_MINMAX) {
        double n0 = *mn, n1 = *mn, m0 = *mx, m1 = *mx;
        for (i = k; i + 2 <= e; i += 2) {
            n0 = x[i] < n0 ? x[i] : n0;
            n1 = x[i + 1] < n1 ? x[i + 1] : n1;
            m0 = x[i] > m0 ? x[i] : m0;
            m1 = x[i + 1] > m1 ? x[i + 1] : m1;
        }
        for (; i < e; i++) {
            n0 = x[i] < n0 ? x[i] : n0;
            m0 = x[i] > m0 ? x[i] : m0;
        }
        *mn = n1 < n0 ? n1 : n0;
        *mx = m1 > m0 ? m1 : m0;
    }
}

/*
 * The same from a block's decimal digits D[K..E) (value i is D[i] / P): the sum is the digits'
 * exact integer sum divided once, the correctly rounded sum of the values as their decimals say
 * (adding the values one by one rounds at every step, and costs a division a value to make
 * them); the smallest and largest digits divide to the smallest and largest values, a correctly
 * rounded division by a positive number keeping order. Digits of 2^47 or more (a block holds
 * under 2^17 points: the sum would not fit in 63 bits) are summed as values instead. Squares are
 * not made here: an aggregate that needs them asks the decoder for values, not digits.
 */
static void digits_run(const int64_t *d, double p, uint32_t k, uint32_t e, unsigned need,
                       double *sum, double *mn, double *mx)
{
    uint32_t i;
    if (need & NEED_SUM) {
        /* unsigned, and the bound checked in the same pass: a block may hold any digits */
        uint64_t s = 0, over = 0;
        for (i = k; i < e; i++) {
            s += (uint64_t)d[i];
            over |= ((uint64_t)d[i] + (UINT64_C(1) << 47)) >> 48;
        }
        if (!over) {
            *sum = (double)(int64_t)s / p;
        } else {
            double x = 0, c = 0;
            for (i = k; i < e; i++)
                gb_sum_add(&x, &c, (double)d[i] / p);
            *sum = x + c;
        }
    }
    if (need & NEED_MINMAX) {
        int64_t n0 = d[k], m0 = d[k];
        for (i = k + 1; i < e; i++) {
            n0 = d[i] < n0 ? d[i] : n0;
            m0 = d[i] > m0 ? d[i] : m0;
        }
        double fn = (double)n0 / p, fx = (double)m0 / p;
        *mn = fn < *mn ? fn : *mn;
        *mx = fx > *mx ? fx : *mx;
    }
}

/* Points K..E-1 (K < E) of a decoded block, in time order, all in the window being summed, for
 * an aggregate that needs NEED; NONAN when the block's statistics say it holds no NaN. */
static void acc_run(acc_t *a, gb_vtype_t type, const gb_block_out_t *bo, uint32_t k, uint32_t e,
                    bool nonan, unsigned need)
{
    double sum = 0, sumsq = 0, mn = a->min, mx = a->max;
    uint64_t nnum = 0;
    if (type == GB_VT_F64 && bo->dig) { /* the decoder gives digits only where there is no NaN */
        digits_run(bo->dig, bo->dscale, k, e, need, &sum, &mn, &mx);
        nnum = e - k;
    } else if (type == GB_VT_F64 && nonan) {
        f64_run(bo->f64, k, e, need, &sum, &sumsq, &mn, &mx);
        nnum = e - k;
    } else if (type == GB_VT_F64) {
        double c = 0;
        for (uint32_t i = k; i < e; i++) {
            double x = bo->f64[i];
            if (isnan(x)) continue;
            nnum++;
            gb_sum_add(&sum, &c, x);
            sumsq += x * x;
            mn = x < mn ? x : mn;
            mx = x > mx ? x : mx;
        }
        sum += c;
    } else if (type == GB_VT_I64 || type == GB_VT_BOOL) {
        double c = 0;
        for (uint32_t i = k; i < e; i++) {
            double x = type == GB_VT_I64 ? (double)bo->i64[i] : (double)bo->b[i];
            nnum++;
            gb_sum_add(&sum, &c, x);
            sumsq += x * x;
            mn = x < mn ? x : mn;
            mx = x > mx ? x : mx;
        }
        sum += c;
    }
    gb_time_t tk = block_time(bo, k), te = block_time(bo, e - 1);
    if (tk < a->tfirst) {
        a->tfirst = tk;
        a->first = block_slot(type, bo, k);
        if (type == GB_VT_STR) {
            gb_value_t v = block_str(bo, k);
            gb_value_keep_set(&a->sfirst, &v);
            a->first_i = SIZE_MAX;
        }
    }
    if (te > a->tlast) {
        a->tlast = te;
        a->last = block_slot(type, bo, e - 1);
        if (type == GB_VT_STR) {
            gb_value_t v = block_str(bo, e - 1);
            gb_value_keep_set(&a->slast, &v);
            a->last_i = SIZE_MAX;
        }
    }
    a->count += e - k;
    a->nnum += nnum;
    gb_sum_add(&a->sum, &a->sumc, sum);
    a->sumsq += sumsq;
    a->min = mn;
    a->max = mx;
}

static void acc_block(acc_t *a, const gb_bstats_t *st)
{
    /* NaN points are not in the block's min/max/sum: count them only through count */
    a->count += st->count;
    if (st->tmin < a->tfirst) { /* never a string's: text keeps no statistics */
        a->tfirst = st->tmin;
        a->first = st->first;
    }
    if (st->tmax > a->tlast) {
        a->tlast = st->tmax;
        a->last = st->last;
    }
    if (st->nnum) {
        a->nnum += st->nnum;
        gb_sum_add(&a->sum, &a->sumc, st->sum);
        a->sumsq += st->sumsq;
        if (st->min < a->min) a->min = st->min;
        if (st->max > a->max) a->max = st->max;
    }
}

/* A number aggregate: sum, avg, stddev, twa (and min, max for acc_value). */
static double acc_number(const acc_t *a, gb_agg_t agg)
{
    switch (agg) {
    case GB_AGG_MIN:
        return a->nnum ? a->min : NAN;
    case GB_AGG_MAX:
        return a->nnum ? a->max : NAN;
    case GB_AGG_SUM:
        return a->nnum ? a->sum + a->sumc : NAN;
    case GB_AGG_AVG:
        return a->nnum ? (a->sum + a->sumc) / (double)a->nnum : NAN;
    case GB_AGG_STDDEV: {
        if (a->nnum < 2) return a->nnum ? 0 : NAN;
        double m = (a->sum + a->sumc) / (double)a->nnum;
        double var = (a->sumsq - (double)a->nnum * m * m) / (double)(a->nnum - 1);
        return var > 0 ? sqrt(var) : 0;
    }
    case GB_AGG_TWA:
        return a->twa_dur ? a->twa_int / (double)a->twa_dur : NAN;
    default:
        return NAN;
    }
}

/* The value of a first or last: SLOT, or for a string point I of PTS or the copy K. */
static gb_value_t acc_end(gb_vtype_t type, gb_slot_t slot, size_t i, const gb_value_keep_t *k,
                          const gb_pts_t *pts)
{
    if (type != GB_VT_STR) {
        gb_pts_t one = {.type = type, .v = &slot, .n = 1};
        return gb_pts_value(&one, 0);
    }
    return i == SIZE_MAX ? k->v : gb_pts_value(pts, i);
}

/* The window's result for AGG over a series of TYPE (PTS: the merged points a string is in);
 * of the type gb_agg_type says. Min and max of integers are exact up to 2^53. */
static gb_value_t acc_value(const acc_t *a, gb_agg_t agg, gb_vtype_t type, const gb_pts_t *pts)
{
    if (agg == GB_AGG_COUNT) return (gb_value_t){.type = GB_VT_I64, .i64 = (int64_t)a->count};
    if (agg == GB_AGG_FIRST) return acc_end(type, a->first, a->first_i, &a->sfirst, pts);
    if (agg == GB_AGG_LAST) return acc_end(type, a->last, a->last_i, &a->slast, pts);
    double x = acc_number(a, agg);
    gb_vtype_t rt = gb_agg_type(agg, type);
    if (rt == GB_VT_I64 && !isnan(x)) return (gb_value_t){.type = GB_VT_I64, .i64 = (int64_t)x};
    if (rt == GB_VT_BOOL && !isnan(x)) return (gb_value_t){.type = GB_VT_BOOL, .b = x != 0};
    return (gb_value_t){.type = GB_VT_F64, .f64 = x};
}

/* Hands window W's result V to EACH. */
static int emit(gb_agg_each_fn each, void *ctx, gb_time_t w, gb_value_t v)
{
    return each(ctx, w, &v);
}

/* The window index of T (floor division, also before FROM). */
static int64_t window_of(gb_time_t t, gb_time_t from, int64_t step)
{
    int64_t d = t - from;
    return d >= 0 ? d / step : -((-d + step - 1) / step);
}

/*
 * The time-weighted average: each point's value holds until the next point (the last one until
 * TO), the value before FROM carries into the range, and each window averages what it covers.
 * Points and rollups are fed in time order; a rollup brings its window's own integral, and its
 * first and last point close the spans before and after it.
 */
typedef struct twa {
    gb_time_t from, to;
    int64_t step;
    gb_agg_each_fn each;
    void *ctx;
    bool has;    /* a value is in force ... */
    gb_time_t t; /* ... since T */
    double v;
    int64_t cur; /* the window being summed (INT64_MIN: none yet) */
    double integral;
    int64_t dur; /* ns of it with a number */
    int rc;
} twa_t;

/* Moves on to window W, handing out the one before when it had a value. */
static void twa_window(twa_t *a, int64_t w)
{
    if (w == a->cur) return;
    if (a->cur != INT64_MIN && a->dur && !a->rc)
        a->rc = emit(a->each, a->ctx, a->from + a->cur * a->step,
                     (gb_value_t){.type = GB_VT_F64, .f64 = a->integral / (double)a->dur});
    a->cur = w;
    a->integral = 0;
    a->dur = 0;
}

/* V holds over [LO, HI): its share of each window. */
static void twa_span(twa_t *a, gb_time_t lo, gb_time_t hi, double v)
{
    if (lo < a->from) lo = a->from;
    if (hi > a->to) hi = a->to;
    while (lo < hi && !a->rc) {
        int64_t w = window_of(lo, a->from, a->step);
        gb_time_t wend = a->from + (w + 1) * a->step;
        gb_time_t e = wend < hi ? wend : hi;
        twa_window(a, w);
        if (!isnan(v)) {
            a->integral += v * (double)(e - lo);
            a->dur += e - lo;
        }
        lo = e;
    }
}

static void twa_point(twa_t *a, gb_time_t t, double v)
{
    if (a->has) twa_span(a, a->t, t, a->v);
    a->has = true;
    a->t = t;
    a->v = v;
}

/* Rollup R; INSIDE when its window lies in [FROM, TO) (else only its last value counts). */
static void twa_rollup(twa_t *a, gb_vtype_t type, const gb_rollup_t *r, bool inside)
{
    twa_point(a, r->st.tmin, gb_slot_number(type, r->st.first));
    if (inside && !a->rc) {
        twa_window(a, window_of(r->start, a->from, a->step));
        a->integral += r->area;
        a->dur += r->area_ns;
    }
    a->t = r->st.tmax;
    a->v = gb_slot_number(type, r->st.last);
}

static int twa_end(twa_t *a)
{
    if (a->has) twa_span(a, a->t, a->to, a->v);
    twa_window(a, INT64_MIN); /* hands out the last window */
    return a->rc;
}

/* ---- rollups in queries ---- */

/* The rollups standing in for the points of [LO, HI) in one query. */
typedef struct rsnap {
    int w;             /* width (index), or -1: none */
    gb_time_t lo, hi;  /* points there are left out: the rollups hold them */
    gb_rollups_t r;    /* those in [LO, HI), and for twa the last one before LO; in time order */
    gb_rref_t *chunks; /* what to read */
    int *fds;
    size_t n;
    gb_store_t *store;
} rsnap_t;

/* The widest rollup width whose windows the query's windows FROM + k*STEP are made of, or -1. */
static int width_for(gb_time_t from, int64_t step)
{
    for (int w = GB_ROLLUP_WIDTHS; w-- > 0;)
        if (step % gb_rollup_width[w] == 0 && gb_floor_to(from, gb_rollup_width[w]) == from)
            return w;
    return -1;
}

/*
 * Plans which part of [FROM, TO) of X rollups answer: from the oldest rollup of the chosen width
 * kept (or FROM) to where the rollups end (X->rolled, or TO) -- and copies their chunks (for TWA
 * also the chunk before, for the value carried in). Locked.
 */
static void rsnap_locked(gb_store_t *s, const series_t *x, gb_time_t from, gb_time_t to,
                         int64_t step, bool twa, rsnap_t *rs)
{
    memset(rs, 0, sizeof *rs);
    rs->w = x->type == GB_VT_STR ? -1 : width_for(from, step);
    rs->lo = rs->hi = INT64_MAX;
    if (rs->w < 0 || x->rolled <= from) return;
    int w = rs->w;
    gb_time_t cov = INT64_MAX;
    for (size_t i = 0; i < x->nrollups; i++)
        if (x->rollups[i].width == w && x->rollups[i].tmin < cov) cov = x->rollups[i].tmin;
    gb_time_t lo = from > cov ? from : cov;
    gb_time_t hi = gb_floor_to(to < x->rolled ? to : x->rolled, gb_rollup_width[w]);
    if (lo >= hi) return;
    rs->lo = lo;
    rs->hi = hi;
    size_t before = SIZE_MAX; /* the chunk that holds the last rollup before LO */
    rs->chunks = gb_xmalloc(x->nrollups * sizeof *rs->chunks);
    rs->fds = gb_xmalloc(x->nrollups * sizeof *rs->fds);
    for (size_t i = 0; i < x->nrollups; i++) {
        const gb_rref_t *c = &x->rollups[i];
        if (c->width != w) continue;
        bool in = c->tmin < hi && c->tmax >= lo;
        if (!in && c->tmin < lo && (before == SIZE_MAX || c->tmin > x->rollups[before].tmin))
            before = i;
        if (in) {
            rs->chunks[rs->n] = *c;
            rs->fds[rs->n++] = s->rfiles[c->file].fd;
        }
    }
    if (twa && before != SIZE_MAX) {
        rs->chunks[rs->n] = x->rollups[before];
        rs->fds[rs->n++] = s->rfiles[x->rollups[before].file].fd;
    }
    s->readers++;
    rs->store = s;
}

/* Reads the planned chunks: the rollups in [LO, HI), and the last one before LO when asked. */
static int rsnap_read(rsnap_t *rs, gb_vtype_t type, bool carry)
{
    gb_rollup_t *buf = gb_xmalloc(GB_ROLLUP_CHUNK_MAX * sizeof *buf);
    gb_rollup_t last = {.start = INT64_MIN};
    int rc = 0;
    for (size_t i = 0; i < rs->n && !rc; i++) {
        unsigned char *bytes;
        size_t n = 0;
        rc = gb_frame_load(rs->fds[i], rs->chunks[i].off, rs->chunks[i].len, &bytes);
        if (!rc) rc = gb_rollup_decode(bytes + 8, rs->chunks[i].len, type, rs->w, buf, &n);
        free(bytes);
        if (rc) {
            gb_error("store", "a chunk of %u rollups at offset %llu is damaged (%s)",
                     rs->chunks[i].n, (unsigned long long)rs->chunks[i].off, gb_strerror(rc));
            break;
        }
        for (size_t k = 0; k < n; k++) {
            const gb_rollup_t *r = &buf[k];
            if (r->start < rs->lo) {
                if (r->start > last.start) last = *r;
                continue;
            }
            if (r->start + gb_rollup_width[rs->w] > rs->hi) continue;
            if (rs->r.n == rs->r.cap)
                rs->r.r = gb_xrealloc(rs->r.r, (rs->r.cap = rs->r.cap ? rs->r.cap * 2 : 64) *
                                                   sizeof *rs->r.r);
            rs->r.r[rs->r.n++] = *r;
        }
    }
    gb_rollups_sort(&rs->r);
    if (!rc && carry && last.start != INT64_MIN) { /* it goes first */
        rs->r.r = gb_xrealloc(rs->r.r, (rs->r.n + 1) * sizeof *rs->r.r);
        memmove(rs->r.r + 1, rs->r.r, rs->r.n * sizeof *rs->r.r);
        rs->r.r[0] = last;
        rs->r.n++;
    }
    free(buf);
    return rc;
}

static void rsnap_free(rsnap_t *rs)
{
    release(rs->store);
    free(rs->chunks);
    free(rs->fds);
    free(rs->r.r);
}

int gb_store_aggregate(gb_store_t *s, const char *path, gb_time_t from, gb_time_t to, int64_t step,
                       gb_agg_t agg, gb_agg_each_fn each, void *ctx)
{
    if (step <= 0 || to <= from) return GB_EINVAL;
    gb_time_t lo = agg == GB_AGG_TWA ? INT64_MIN : from;
    snap_t sn;
    rsnap_t rs;
    /* the rollups' part and the points' part in one look, so that they meet exactly */
    pthread_mutex_lock(&s->mu);
    series_t *x = gb_store__find(s, path);
    if (x) {
        rsnap_locked(s, x, from, to, step, agg == GB_AGG_TWA, &rs);
        snapshot_locked(s, x, lo, to, rs.lo, rs.hi, &sn);
    }
    pthread_mutex_unlock(&s->mu);
    if (!x) return GB_ENOENT;
    mark_clean(&sn);
    int rc = 0;
    if (sn.type == GB_VT_STR && agg != GB_AGG_COUNT && agg != GB_AGG_FIRST && agg != GB_AGG_LAST) {
        rc = GB_EINVAL;
        goto out_snap;
    }
    if (rs.n && (rc = rsnap_read(&rs, sn.type, agg == GB_AGG_TWA)) != 0) goto out_snap;
    /*
     * A block that overlaps nothing else is read on its own, straight from its decoded arrays; a
     * whole one inside one window stands for itself through its statistics (numbers only: text
     * keeps none). The rest -- overlapping blocks and the head -- is merged first.
     */
    for (size_t i = 0; i < sn.nsrc; i++) {
        src_t *c = &sn.src[i];
        if (agg == GB_AGG_TWA) c->clean = false;
        c->inside = c->clean && sn.type != GB_VT_STR && c->r.st.tmin >= from && c->r.st.tmax < to &&
                    window_of(c->r.st.tmin, from, step) == window_of(c->r.st.tmax, from, step);
    }
    gb_pts_t pts;
    gb_pts_init(&pts, sn.type);
    gb_store__merge(&sn, lo, to, true, &pts);
    size_t ri = 0, pi = 0;
    if (agg == GB_AGG_TWA) {
        /* points and rollups in time order; a rollup goes by its last point (see twa_rollup) */
        twa_t a = {
            .from = from, .to = to, .step = step, .each = each, .ctx = ctx, .cur = INT64_MIN};
        while (!a.rc && (pi < pts.n || ri < rs.r.n)) {
            if (ri < rs.r.n && (pi >= pts.n || rs.r.r[ri].st.tmax < pts.t[pi])) {
                twa_rollup(&a, sn.type, &rs.r.r[ri], rs.r.r[ri].start >= rs.lo);
                ri++;
            } else {
                twa_point(&a, pts.t[pi], gb_slot_number(sn.type, pts.v[pi]));
                pi++;
            }
        }
        rc = twa_end(&a);
        goto out_pts;
    }
    /* clean blocks by start time, to walk them beside the points (they overlap nothing) */
    size_t ncl = 0;
    src_t **cl = gb_xcalloc(sn.nsrc ? sn.nsrc : 1, sizeof *cl);
    for (size_t i = 0; i < sn.nsrc; i++)
        if (sn.src[i].clean) cl[ncl++] = &sn.src[i];
    for (size_t i = 1; i < ncl; i++) /* insertion sort: few, mostly in order already */
        for (size_t j = i; j > 0 && cl[j]->r.st.tmin < cl[j - 1]->r.st.tmin; j--) {
            src_t *t = cl[j];
            cl[j] = cl[j - 1];
            cl[j - 1] = t;
        }
    acc_t a = {0};
    acc_reset(&a);
    int64_t cur = INT64_MIN;
    size_t ci = 0;
    gb_block_out_t bo;
    gb_block_out_init(&bo);
    unsigned need = agg_needs(agg);
    bo.want_digits = !(need & NEED_SQ); /* digits_run makes no squares */
    bo.want_step = true;
    /* three sorted streams that do not overlap: points, clean blocks, rollups */
    while (!rc && (pi < pts.n || ci < ncl || ri < rs.r.n)) {
        gb_time_t tp = pi < pts.n ? pts.t[pi] : INT64_MAX;
        gb_time_t tc = ci < ncl ? cl[ci]->r.st.tmin : INT64_MAX;
        gb_time_t tr = ri < rs.r.n ? rs.r.r[ri].start : INT64_MAX;
        int next = tr < tp && tr < tc ? 2 : tp < tc ? 0 : 1;
        gb_time_t t = next == 2 ? tr : next == 0 ? tp : tc;
        int64_t w = window_of(t, from, step);
        if (w != cur) {
            if (cur != INT64_MIN && a.count)
                rc = emit(each, ctx, from + cur * step, acc_value(&a, agg, sn.type, &pts));
            acc_reset(&a);
            cur = w;
        }
        if (next == 2) {
            acc_block(&a, &rs.r.r[ri].st);
            ri++;
        } else if (next == 0) {
            acc_point(&a, t, pts.v[pi], pi,
                      sn.type == GB_VT_STR ? NAN : gb_slot_number(sn.type, pts.v[pi]));
            pi++;
        } else if (cl[ci]->inside) {
            acc_block(&a, &cl[ci]->r.st);
            ci++;
        } else { /* a block across windows: its points, from the decoded arrays */
            const unsigned char *buf;
            int brc = read_block(&sn, cl[ci], &buf);
            if (!brc) brc = gb_blockio_decode(buf + 8, cl[ci]->r.len, sn.type, &bo);
            if (brc) damaged(cl[ci], brc);
            /* the block's times are sorted: take it a window's run at a time, with no division
             * or branch on the window per point */
            uint32_t k = brc ? 0 : block_first_at(&bo, 0, bo.n, from);
            while (!brc && !rc && k < bo.n && block_time(&bo, k) < to) {
                int64_t wk = window_of(block_time(&bo, k), from, step);
                if (wk != cur) {
                    if (cur != INT64_MIN && a.count)
                        rc = emit(each, ctx, from + cur * step, acc_value(&a, agg, sn.type, &pts));
                    acc_reset(&a);
                    cur = wk;
                }
                gb_time_t wend = from + (wk + 1) * step < to ? from + (wk + 1) * step : to;
                uint32_t e = block_first_at(&bo, k + 1, bo.n, wend);
                acc_run(&a, sn.type, &bo, k, e, cl[ci]->r.st.nnum == cl[ci]->r.st.count, need);
                k = e;
            }
            ci++;
        }
    }
    if (!rc && cur != INT64_MIN && a.count)
        rc = emit(each, ctx, from + cur * step, acc_value(&a, agg, sn.type, &pts));
    gb_block_out_clear(&bo);
    gb_value_keep_clear(&a.sfirst);
    gb_value_keep_clear(&a.slast);
    free(cl);
out_pts:
    gb_pts_clear(&pts);
out_snap:
    rsnap_free(&rs);
    gb_store__snapshot_free(&sn);
    return rc;
}

/* ---- statistics ------------------------------------------------------------------------------ */

int gb_store_each_series(gb_store_t *s,
                         void (*each)(void *ctx, const char *path, gb_vtype_t type,
                                      uint64_t points),
                         void *ctx)
{
    pthread_mutex_lock(&s->mu);
    gb_store__drain(s);
    for (uint32_t i = 0; i < s->nseries; i++) {
        series_t *x = s->series[i];
        each(ctx, x->path, x->type, x->block_points + x->frozen.n + x->head.n);
    }
    pthread_mutex_unlock(&s->mu);
    return 0;
}

void gb_store_stat(gb_store_t *s, gb_store_info_t *info)
{
    memset(info, 0, sizeof *info);
    pthread_mutex_lock(&s->mu);
    gb_store__drain(s);
    info->series = s->nseries;
    for (uint32_t i = 0; i < s->nseries; i++) {
        info->points += s->series[i]->block_points + s->series[i]->frozen.n + s->series[i]->head.n;
        info->head_points += s->series[i]->frozen.n + s->series[i]->head.n;
        info->blocks += s->series[i]->nblocks;
        info->rollups_1m += s->series[i]->nroll[0];
        info->rollups_1h += s->series[i]->nroll[1];
    }
    for (size_t i = 0; i < s->nfiles; i++)
        if (!s->files[i].retired) {
            info->block_bytes += s->files[i].bytes;
            info->block_files++;
        }
    for (size_t i = 0; i < s->nrfiles; i++)
        if (!s->rfiles[i].retired) {
            info->rollup_bytes += s->rfiles[i].bytes;
            info->rollup_files++;
        }
    gb_store__wal_info(s, &info->wal_bytes, &info->torn_bytes);
    info->bytes = info->wal_bytes + info->block_bytes + info->rollup_bytes;
    pthread_mutex_unlock(&s->mu);
}

void gb_store_codecs(gb_store_t *s,
                     void (*each)(void *ctx, const char *codec, uint64_t blocks, uint64_t points,
                                  uint64_t bytes),
                     void *ctx)
{
    uint64_t blocks[256] = {0}, points[256] = {0}, bytes[256] = {0};
    pthread_mutex_lock(&s->mu);
    for (uint32_t i = 0; i < s->nseries; i++)
        for (size_t b = 0; b < s->series[i]->nblocks; b++) {
            const gb_bref_t *r = &s->series[i]->blocks[b];
            blocks[r->codec]++;
            points[r->codec] += r->st.count;
            bytes[r->codec] += r->len + 8 + r->entry; /* framing and footer entry included */
        }
    pthread_mutex_unlock(&s->mu);
    for (int c = 0; c < 256; c++)
        if (blocks[c]) each(ctx, gb_blockio_codec_name((uint8_t)c), blocks[c], points[c], bytes[c]);
}

int gb_store_scan(const char *dir, gb_store_info_t *info,
                  void (*each)(void *ctx, const char *path, gb_vtype_t type, uint64_t points),
                  void *ctx)
{
    gb_store_opts_t o = {.readonly = true};
    gb_store_t *s;
    int rc = gb_store_open(dir, &o, &s);
    if (rc) return rc;
    gb_store_stat(s, info);
    if (each) gb_store_each_series(s, each, ctx);
    gb_store_close(s);
    return 0;
}

static void collect(void *ctx, const char *path, gb_vtype_t type, uint64_t points)
{
    (void)type;
    (void)points;
    names_t *n = ctx;
    if (n->n == n->cap)
        n->paths = gb_xrealloc(n->paths, (n->cap = n->cap ? n->cap * 2 : 64) * sizeof *n->paths);
    n->paths[n->n++] = gb_xstrdup(path);
}

static int collect_point(void *ctx, const gb_point_t *p)
{
    gb_pts_add(ctx, p->t, p->q, &p->v);
    return 0;
}

/* A min-heap of series cursors ordered by (time of the next point, series). */
typedef struct cursor {
    gb_pts_t pts;
    size_t i;
    size_t series;
} cursor_t;

static bool before(const cursor_t *a, const cursor_t *b)
{
    gb_time_t x = a->pts.t[a->i], y = b->pts.t[b->i];
    return x != y ? x < y : a->series < b->series;
}

static void sift_down(cursor_t **h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && before(h[l], h[m])) m = l;
        if (r < n && before(h[r], h[m])) m = r;
        if (m == i) return;
        cursor_t *t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

int gb_store_read_all(const char *dir,
                      int (*each)(void *ctx, const char *path, const gb_sample_t *s,
                                  const char *str, size_t len),
                      void *ctx)
{
    return gb_store_read_all_of(dir, INT64_MIN, NULL, each, ctx);
}

int gb_store_read_all_of(const char *dir, gb_time_t from, bool (*want)(void *ctx, const char *path),
                         int (*each)(void *ctx, const char *path, const gb_sample_t *s,
                                     const char *str, size_t len),
                         void *ctx)
{
    gb_store_opts_t o = {.readonly = true};
    gb_store_t *s;
    int rc = gb_store_open(dir, &o, &s);
    if (rc) return rc;
    names_t names = {0};
    gb_store_each_series(s, collect, &names);
    cursor_t *cur = gb_xcalloc(names.n ? names.n : 1, sizeof *cur);
    cursor_t **heap = gb_xcalloc(names.n ? names.n : 1, sizeof *heap);
    size_t nh = 0;
    for (size_t i = 0; i < names.n && !rc; i++) {
        if (want && !want(ctx, names.paths[i])) continue; /* its cursor stays empty */
        gb_vtype_t type = GB_VT_F64;
        gb_store_series_type(s, names.paths[i], &type);
        gb_pts_init(&cur[i].pts, type);
        cur[i].series = i;
        rc = gb_store_read(s, names.paths[i], from, INT64_MAX, collect_point, &cur[i].pts);
        if (!rc && cur[i].pts.n) heap[nh++] = &cur[i];
    }
    /* every series' points, merged into one stream in time order */
    for (size_t i = nh; i-- > 0;)
        sift_down(heap, nh, i);
    while (!rc && nh) {
        cursor_t *c = heap[0];
        gb_value_t v = gb_pts_value(&c->pts, c->i);
        gb_sample_t smp = {.t = c->pts.t[c->i], .type = (uint8_t)v.type, .quality = c->pts.q[c->i]};
        if (v.type == GB_VT_F64)
            smp.v.f64 = v.f64;
        else if (v.type == GB_VT_I64)
            smp.v.i64 = v.i64;
        else if (v.type == GB_VT_BOOL)
            smp.v.b = v.b;
        rc = each(ctx, names.paths[c->series], &smp, v.type == GB_VT_STR ? v.str : NULL,
                  v.type == GB_VT_STR ? v.len : 0);
        if (++c->i == c->pts.n) heap[0] = heap[--nh];
        sift_down(heap, nh, 0);
    }
    for (size_t i = 0; i < names.n; i++) {
        gb_pts_clear(&cur[i].pts);
        free(names.paths[i]);
    }
    free(cur);
    free(heap);
    free(names.paths);
    gb_store_close(s);
    return rc;
}
