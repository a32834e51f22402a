/*
 * Rollups: what is left of a series' points once retention drops them, in 1-minute and 1-hour
 * windows, kept in their own files for as long as the retention rule says (keep_1m, keep_1h).
 *
 * Design. Rollups are made from the points, never updated: at each retention pass (at open and
 * every hour) every series whose rule keeps rollups longer than points moves its horizon
 * `rolled` to the last whole hour past its keep period. The points of [old horizon, new horizon)
 * -- from every block and the head, merged exactly as a query merges them, so late points are in
 * and a point written twice counts once, the later one -- are summed up per window and written
 * to a new rollup file. Only once that file is on disk (synced, renamed, directory synced) does
 * the horizon move in memory, and only then may retention drop blocks, and only blocks whose
 * every point lies before the horizon. A window is therefore summed up once, from all its points,
 * after the last moment its points could still change within the keep period. A crash between
 * the file and the drop leaves the blocks, and the horizon read back from the files leaves them
 * out of aggregates (below); a crash before the rename leaves a .tmp that the next open deletes,
 * and the next pass makes the same rollups again. Nothing is ever counted twice.
 *
 * A point that arrives for a time already rolled up (older than the keep period) is kept like
 * any other until retention drops it, but it is in no rollup: the hour it belongs to was summed
 * up already. Text series have no rollups.
 *
 * Queries (query.c) take rollups for the part of a range before the horizon when the query's
 * windows are made of whole rollup windows, and leave out the points still there; everywhere
 * else they read points.
 *
 * Files. rollups/NNNNNNNN.gbr, one per pass, written whole like a block file:
 *   "GBROL\0\1\0" | chunks | footer | trailer
 *   chunk   u32 length | u32 CRC-32 | up to 4096 rollups of one series and width (rollupio.c)
 *   footer  u32 series | per series: u16 path length | path | u8 type | i64 rolled | u32 chunks |
 *           per chunk: u64 offset | u32 length | u8 width | u32 rollups | i64 first start |
 *                      i64 last start
 *   trailer u64 footer offset | u32 footer length | u32 footer CRC-32 | u64 0 | "GBROLEND"
 * Every file names every series that has a horizon, with its horizon then, so the newest file
 * alone says where every horizon is. Like block files, the newest eight files of one level merge
 * into one of the next (rollups/LLLLLLLL-NNNNNNNN.gbr), so an hourly pass leaves few files.
 * Rollups past their own keep period are dropped a chunk at a time; a file left with none is
 * deleted (never the newest), and one left mostly empty is written again without them.
 */
#include "gemba/error.h"
#include "util/crc.h"
#include "gemba/log.h"
#include "gemba/store.h"
#include "store/engine.h"
#include "store/store_internal.h"
#include "util/str.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DAY (86400 * GB_NS_PER_S)

bool gb_store__rolls(const series_t *x)
{
    return x->type != GB_VT_STR && x->keep_ns > 0 && (x->keep_roll[0] || x->keep_roll[1]);
}

static void add_rref(series_t *x, const gb_rref_t *r)
{
    if (x->nrollups == x->crollups)
        x->rollups = gb_xrealloc(x->rollups, (x->crollups = x->crollups ? x->crollups * 2 : 8) *
                                                 sizeof *x->rollups);
    x->rollups[x->nrollups++] = *r;
    x->nroll[r->width] += r->n;
}

/* Drops X's chunks for which DROP says so (with CTX); returns how many went. */
static size_t drop_rrefs(series_t *x, bool (*drop)(const gb_rref_t *r, const void *ctx),
                         const void *ctx)
{
    size_t m = 0, gone = 0;
    for (size_t i = 0; i < x->nrollups; i++) {
        if (drop(&x->rollups[i], ctx)) {
            x->nroll[x->rollups[i].width] -= x->rollups[i].n;
            gone++;
        } else {
            x->rollups[m++] = x->rollups[i];
        }
    }
    x->nrollups = m;
    return gone;
}

void gb_store__rollups_clear(gb_store_t *s)
{
    for (size_t i = 0; i < s->nrfiles; i++)
        if (s->rfiles[i].fd >= 0) close(s->rfiles[i].fd);
    free(s->rfiles);
    s->rfiles = NULL;
    s->nrfiles = 0;
}

/* ---- reading the files ----------------------------------------------------------------------- */

typedef struct loader {
    gb_store_t *s;
    uint32_t file;
    series_t *x; /* the series being read, or NULL to skip its chunks */
} loader_t;

static int load_series(void *ctx, const char *path, size_t plen, gb_vtype_t type, gb_time_t rolled)
{
    loader_t *l = ctx;
    char *p = gb_xstrndup(path, plen);
    series_t *x = gb_store__find(l->s, p);
    if (x && x->type != type) {
        gb_error("store", "rollup file %llu holds series %s as %s, another as %s; skipping them",
                 (unsigned long long)l->s->rfiles[l->file].no, p, gb_vtype_name(type),
                 gb_vtype_name(x->type));
        l->x = NULL;
    } else {
        l->x = l->s->series[gb_store__add_series(l->s, p, type)];
        if (rolled > l->x->rolled) l->x->rolled = rolled;
    }
    free(p);
    return 0;
}

static int load_chunk(void *ctx, const gb_rref_t *r)
{
    loader_t *l = ctx;
    if (!l->x) return 0;
    gb_rref_t c = *r;
    c.file = l->file;
    add_rref(l->x, &c);
    return 0;
}

int gb_store__load_rollups(gb_store_t *s)
{
    gb_fname_t *f;
    size_t n;
    int rc = gb_store__list(s, GB_FK_ROLLUPS, &f, &n);
    for (size_t i = 0; i < n && !rc; i++) {
        if ((rc = gb_store__add_file(s, GB_FK_ROLLUPS, f[i].lo, f[i].no, &s->rfiles, &s->nrfiles)))
            break;
        unsigned char *foot;
        uint32_t flen;
        uint64_t foff, extra;
        loader_t l = {s, (uint32_t)(s->nrfiles - 1), NULL};
        rc =
            gb_store__read_footer(s->rfiles[l.file].fd, GB_FK_ROLLUPS, &foot, &flen, &foff, &extra);
        if (!rc) rc = gb_rollup_footer(foot, flen, foff, load_series, load_chunk, &l);
        free(foot);
        if (rc) {
            char *p = gb_store__path(s, GB_FK_ROLLUPS, f[i].lo, f[i].no, "");
            gb_error("store", "%s is damaged or not a gemba rollup file", p);
            free(p);
        }
        s->next_rfile = f[i].no + 1;
    }
    free(f);
    return rc;
}

/* ---- writing a file -------------------------------------------------------------------------- */

static void put(gb_buf_t *b, const void *p, size_t n)
{
    if (gb_buf_append(b, p, n) != 0) abort(); /* out of memory */
}

/* A rollup file being built in memory, with the references to hand the index. */
typedef struct rfw {
    gb_buf_t body, foot;
    uint32_t nser;
    gb_rref_t *refs; /* .file holds the series' number in the caller's list until installed */
    size_t nrefs, crefs;
} rfw_t;

static void rfw_init(rfw_t *w)
{
    memset(w, 0, sizeof *w);
    put(&w->body, gb_store__magic(GB_FK_ROLLUPS), 8);
    put(&w->foot, &w->nser, 4);
}

static void rfw_clear(rfw_t *w)
{
    gb_buf_clear(&w->body);
    gb_buf_clear(&w->foot);
    free(w->refs);
}

/* Adds series X (number K in the caller's list), its horizon ROLLED and its rollups R by width. */
static void rfw_series(rfw_t *w, const series_t *x, uint32_t k, gb_time_t rolled,
                       const gb_rollups_t *r)
{
    uint32_t nc = 0;
    for (int wd = 0; wd < GB_ROLLUP_WIDTHS; wd++)
        nc += (uint32_t)((r[wd].n + GB_ROLLUP_CHUNK_MAX - 1) / GB_ROLLUP_CHUNK_MAX);
    uint16_t pl = (uint16_t)strlen(x->path);
    unsigned char ty = (unsigned char)x->type;
    put(&w->foot, &pl, 2);
    put(&w->foot, x->path, pl);
    put(&w->foot, &ty, 1);
    put(&w->foot, &rolled, 8);
    put(&w->foot, &nc, 4);
    for (int wd = 0; wd < GB_ROLLUP_WIDTHS; wd++)
        for (size_t from = 0; from < r[wd].n; from += GB_ROLLUP_CHUNK_MAX) {
            size_t n = r[wd].n - from < GB_ROLLUP_CHUNK_MAX ? r[wd].n - from : GB_ROLLUP_CHUNK_MAX;
            gb_rref_t c = {.file = k,
                           .off = w->body.len,
                           .n = (uint32_t)n,
                           .width = (uint8_t)wd,
                           .tmin = r[wd].r[from].start,
                           .tmax = r[wd].r[from + n - 1].start};
            put(&w->body, "\0\0\0\0\0\0\0\0", 8); /* the frame, filled below */
            gb_rollup_encode(x->type, wd, r[wd].r + from, n, &w->body);
            c.len = (uint32_t)(w->body.len - c.off - 8);
            uint32_t crc = gb_crc32(w->body.p + c.off + 8, c.len);
            memcpy(w->body.p + c.off, &c.len, 4);
            memcpy(w->body.p + c.off + 4, &crc, 4);
            unsigned char e[GB_ROLLUP_ENTRY];
            memcpy(e, &c.off, 8);
            memcpy(e + 8, &c.len, 4);
            e[12] = c.width;
            memcpy(e + 13, &c.n, 4);
            memcpy(e + 17, &c.tmin, 8);
            memcpy(e + 25, &c.tmax, 8);
            put(&w->foot, e, sizeof e);
            if (w->nrefs == w->crefs)
                w->refs = gb_xrealloc(w->refs,
                                      (w->crefs = w->crefs ? w->crefs * 2 : 64) * sizeof *w->refs);
            w->refs[w->nrefs++] = c;
        }
    w->nser++;
}

static int rfw_write(gb_store_t *s, rfw_t *w, uint64_t lo, uint64_t no)
{
    memcpy(w->foot.p, &w->nser, 4);
    return gb_store__write_file(s, GB_FK_ROLLUPS, lo, no, w->body.p, w->body.len, w->foot.p,
                                w->foot.len, 0);
}

/* ---- making rollups -------------------------------------------------------------------------- */

/* One series' part of a pass: its points in [LO, HI) become rollups, HI its horizon. */
typedef struct job {
    series_t *x;
    char *path;
    gb_time_t lo, hi;
    gb_time_t since[GB_ROLLUP_WIDTHS]; /* windows ending before are past keeping: not made */
} job_t;

/*
 * Sums up the points of J's series in [LO, HI) into R (by width), a day at a time so that
 * memory stays bounded however far back the points go. Without the lock.
 */
static void build(gb_store_t *s, const job_t *j, gb_rollups_t *r)
{
    gb_snap_t sn;
    if (gb_store__snapshot(s, j->path, j->lo, j->hi, INT64_MAX, INT64_MAX, &sn)) return;
    const int64_t hour = gb_rollup_width[GB_ROLLUP_WIDTHS - 1];
    gb_pts_t pts;
    gb_pts_init(&pts, sn.type);
    gb_time_t a = j->lo;
    for (;;) {
        /* the next point at or after A: the earliest of what the blocks and the head hold */
        gb_time_t next = INT64_MAX;
        for (size_t i = 0; i < sn.head.n; i++)
            if (sn.head.t[i] >= a && sn.head.t[i] < next) next = sn.head.t[i];
        for (size_t i = 0; i < sn.nsrc; i++) {
            const gb_bstats_t *b = &sn.src[i].r.st;
            gb_time_t t = b->tmin > a ? b->tmin : a;
            if (b->tmax >= a && t < next) next = t;
        }
        if (next >= j->hi) break;
        /* slices start on an hour, so no window is cut in two */
        a = gb_floor_to(next, hour);
        gb_time_t b = j->hi > INT64_MIN + DAY && a < j->hi - DAY ? a + DAY : j->hi;
        gb_pts_reset(&pts);
        gb_store__merge(&sn, a, b, false, &pts);
        for (int w = 0; w < GB_ROLLUP_WIDTHS; w++)
            gb_rollup_build(&pts, w, j->since[w], &r[w]);
        a = b;
    }
    gb_pts_clear(&pts);
    gb_store__snapshot_free(&sn);
}

static int compact_rollups(gb_store_t *s);
static void expire(gb_store_t *s, gb_time_t now);

int gb_store__rollup_pass(gb_store_t *s, gb_time_t now)
{
    expire(s, now);
    const int64_t hour = gb_rollup_width[GB_ROLLUP_WIDTHS - 1];
    job_t *jobs = gb_xcalloc(s->nseries ? s->nseries : 1, sizeof *jobs);
    size_t njobs = 0, nwork = 0;
    for (uint32_t i = 0; i < s->nseries; i++) {
        series_t *x = s->series[i];
        bool rolls = gb_store__rolls(x) && now - x->keep_ns > INT64_MIN / 2;
        gb_time_t hi = rolls ? gb_floor_to(now - x->keep_ns, hour) : x->rolled;
        if (hi < x->rolled) hi = x->rolled; /* a horizon never goes back */
        if (!rolls && x->rolled == INT64_MIN) continue;
        job_t *j = &jobs[njobs++];
        *j = (job_t){x, gb_xstrdup(x->path), x->rolled, hi, {0}};
        for (int w = 0; w < GB_ROLLUP_WIDTHS; w++) {
            int64_t k = x->keep_roll[w];
            j->since[w] = !k ? INT64_MAX : k == GB_STORE_FOREVER ? INT64_MIN : now - k;
        }
        if (j->lo < j->hi) nwork++;
    }
    int rc = 0;
    if (!nwork) goto out;
    rc = GB_EBUSY;
    if (s->flushing || s->o.readonly) goto out;
    uint64_t no = s->next_rfile++;
    s->flushing = true;
    pthread_mutex_unlock(&s->mu);

    /* every series with a horizon gets an entry, so the newest file alone holds them all */
    rfw_t w;
    rfw_init(&w);
    uint64_t made = 0;
    for (size_t i = 0; i < njobs; i++) {
        gb_rollups_t r[GB_ROLLUP_WIDTHS] = {{0}};
        if (jobs[i].lo < jobs[i].hi) build(s, &jobs[i], r);
        rfw_series(&w, jobs[i].x, (uint32_t)i, jobs[i].hi, r);
        for (int wd = 0; wd < GB_ROLLUP_WIDTHS; wd++) {
            made += r[wd].n;
            free(r[wd].r);
        }
    }
    rc = rfw_write(s, &w, no, no);

    pthread_mutex_lock(&s->mu);
    if (!rc) rc = gb_store__add_file(s, GB_FK_ROLLUPS, no, no, &s->rfiles, &s->nrfiles);
    if (!rc) {
        /* the file is on disk: now the horizons move, and blocks before them may go */
        for (size_t i = 0; i < w.nrefs; i++) {
            series_t *x = jobs[w.refs[i].file].x;
            w.refs[i].file = (uint32_t)(s->nrfiles - 1);
            add_rref(x, &w.refs[i]);
        }
        for (size_t i = 0; i < njobs; i++)
            jobs[i].x->rolled = jobs[i].hi;
        gb_info("store", "rollups: %llu windows of %zu series summed up before retention",
                (unsigned long long)made, nwork);
    }
    s->flushing = false;
    rfw_clear(&w);
    while (!rc && compact_rollups(s) > 0) {
    }
out:
    for (size_t i = 0; i < njobs; i++)
        free(jobs[i].path);
    free(jobs);
    return rc;
}

/* ---- merging and rewriting files ------------------------------------------------------------- */

static bool in_files(const gb_rref_t *r, const void *ctx)
{
    const size_t *idx = ctx; /* idx[0] files follow */
    for (size_t k = 1; k <= idx[0]; k++)
        if (r->file == idx[k]) return true;
    return false;
}

/*
 * Writes the live rollups of the files IDX[1..IDX[0]] into one file LO-NO: a merge of eight into
 * a new file, or (one file, named as it is) a rewrite of it in place without its dropped chunks.
 * Locked; lets go of the lock while it reads and writes. 1 when done, or an error (nothing
 * changed).
 */
static int rewrite(gb_store_t *s, const size_t *idx, uint64_t lo, uint64_t no)
{
    bool in_place = idx[0] == 1;
    typedef struct {
        series_t *x;
        gb_rref_t *c;
        int *fd;
        size_t n;
        gb_time_t rolled;
    } part_t;
    part_t *parts = gb_xcalloc(s->nseries ? s->nseries : 1, sizeof *parts);
    size_t np = 0;
    for (uint32_t i = 0; i < s->nseries; i++) {
        series_t *x = s->series[i];
        part_t *p = &parts[np];
        *p = (part_t){x, NULL, NULL, 0, x->rolled};
        for (size_t c = 0; c < x->nrollups; c++)
            if (in_files(&x->rollups[c], idx)) {
                p->c = gb_xrealloc(p->c, (p->n + 1) * sizeof *p->c);
                p->fd = gb_xrealloc(p->fd, (p->n + 1) * sizeof *p->fd);
                p->c[p->n] = x->rollups[c];
                p->fd[p->n++] = s->rfiles[x->rollups[c].file].fd;
            }
        if (p->n || x->rolled != INT64_MIN) np++;
    }
    s->flushing = true;
    s->readers++;
    pthread_mutex_unlock(&s->mu);

    rfw_t w;
    rfw_init(&w);
    int rc = 0;
    gb_rollup_t *buf = gb_xmalloc(GB_ROLLUP_CHUNK_MAX * sizeof *buf);
    for (size_t i = 0; i < np && !rc; i++) {
        gb_rollups_t r[GB_ROLLUP_WIDTHS] = {{0}};
        for (size_t c = 0; c < parts[i].n && !rc; c++) {
            const gb_rref_t *ch = &parts[i].c[c];
            unsigned char *bytes;
            size_t n = 0;
            rc = gb_frame_load(parts[i].fd[c], ch->off, ch->len, &bytes);
            if (!rc)
                rc = gb_rollup_decode(bytes + 8, ch->len, parts[i].x->type, ch->width, buf, &n);
            free(bytes);
            gb_rollups_t *to = &r[ch->width];
            if (to->n + n > to->cap)
                to->r = gb_xrealloc(to->r, (to->cap = to->n + n + to->cap) * sizeof *to->r);
            memcpy(to->r + to->n, buf, n * sizeof *buf);
            to->n += n;
        }
        /* chunks of one width hold windows of disjoint times: order them, oldest first */
        for (int wd = 0; wd < GB_ROLLUP_WIDTHS && !rc; wd++)
            gb_rollups_sort(&r[wd]);
        if (!rc) rfw_series(&w, parts[i].x, (uint32_t)i, parts[i].rolled, r);
        for (int wd = 0; wd < GB_ROLLUP_WIDTHS; wd++)
            free(r[wd].r);
    }
    free(buf);
    if (!rc)
        rc = rfw_write(s, &w, lo, no);
    else
        gb_error("store",
                 "rollup files %llu to %llu hold a damaged chunk (%s); they stay as they are",
                 (unsigned long long)lo, (unsigned long long)no, gb_strerror(rc));

    pthread_mutex_lock(&s->mu);
    s->readers--;
    s->flushing = false;
    size_t at = idx[1];
    if (!rc && in_place) {
        char *p = gb_store__path(s, GB_FK_ROLLUPS, lo, no, "");
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        struct stat st;
        free(p);
        if (fd < 0 || fstat(fd, &st) != 0) {
            if (fd >= 0) close(fd);
            rc = GB_EIO;
        } else {
            gb_store__stale(s, s->rfiles[at].fd); /* queries reading it go on with the old one */
            s->rfiles[at].fd = fd;
            s->rfiles[at].bytes = (uint64_t)st.st_size;
        }
    } else if (!rc) {
        rc = gb_store__add_file(s, GB_FK_ROLLUPS, lo, no, &s->rfiles, &s->nrfiles);
        at = s->nrfiles - 1;
    }
    if (!rc) {
        for (size_t i = 0; i < np; i++)
            drop_rrefs(parts[i].x, in_files, idx);
        for (size_t i = 0; i < w.nrefs; i++) {
            uint32_t k = w.refs[i].file;
            w.refs[i].file = (uint32_t)at;
            add_rref(parts[k].x, &w.refs[i]);
        }
        if (!in_place)
            for (size_t k = 1; k <= idx[0]; k++)
                gb_store__retire(s, GB_FK_ROLLUPS, &s->rfiles[idx[k]]);
        gb_store__close_retired(s);
    }
    for (size_t i = 0; i < np; i++) {
        free(parts[i].c);
        free(parts[i].fd);
    }
    free(parts);
    rfw_clear(&w);
    return rc ? rc : 1;
}

/* Merges the newest eight rollup files when they are of one level. Locked. 1, 0 or an error. */
static int compact_rollups(gb_store_t *s)
{
    size_t idx[GB_STORE_COMPACT_FILES + 1];
    if (s->o.readonly || s->flushing || !gb_store__compaction_due(s->rfiles, s->nrfiles, idx + 1))
        return 0;
    idx[0] = GB_STORE_COMPACT_FILES;
    return rewrite(s, idx, s->rfiles[idx[1]].lo, s->rfiles[idx[GB_STORE_COMPACT_FILES]].no);
}

/* ---- expiry ---------------------------------------------------------------------------------- */

typedef struct expiry {
    const series_t *x;
    gb_time_t now;
} expiry_t;

static bool expired(const gb_rref_t *r, const void *ctx)
{
    const expiry_t *e = ctx;
    int64_t keep = e->x->keep_roll[r->width] ? e->x->keep_roll[r->width] : e->x->keep_ns;
    if (keep <= 0 || keep == GB_STORE_FOREVER || e->now - keep < INT64_MIN / 2) return false;
    /* the chunk's newest window ends at or before now - keep */
    return r->tmax <= e->now - keep - gb_rollup_width[r->width];
}

/*
 * Drops rollups past their keep period (a chunk at a time), deletes the rollup files left with
 * none -- never the newest, which holds every horizon -- and writes again those left mostly
 * empty (with every horizon). Locked.
 */
static void expire(gb_store_t *s, gb_time_t now)
{
    size_t gone = 0;
    for (uint32_t i = 0; i < s->nseries; i++) {
        expiry_t e = {s->series[i], now};
        if (s->series[i]->keep_ns > 0) gone += drop_rrefs(s->series[i], expired, &e);
    }
    if (!gone || s->o.readonly) return;
    uint64_t *live = gb_xcalloc(s->nrfiles ? s->nrfiles : 1, sizeof *live);
    for (uint32_t i = 0; i < s->nseries; i++)
        for (size_t c = 0; c < s->series[i]->nrollups; c++)
            live[s->series[i]->rollups[c].file] +=
                s->series[i]->rollups[c].len + 8 + GB_ROLLUP_ENTRY;
    size_t newest = s->nrfiles;
    for (size_t f = s->nrfiles; f-- > 0 && newest == s->nrfiles;)
        if (!s->rfiles[f].retired) newest = f;
    size_t deleted = 0, rewritten = 0;
    for (size_t f = 0; f < s->nrfiles; f++) {
        if (s->rfiles[f].retired) continue;
        if (!live[f] && f != newest) {
            gb_store__retire(s, GB_FK_ROLLUPS, &s->rfiles[f]);
            deleted++;
        } else if (live[f] * 2 < s->rfiles[f].bytes && !s->flushing) {
            size_t idx[2] = {1, f};
            if (rewrite(s, idx, s->rfiles[f].lo, s->rfiles[f].no) > 0) rewritten++;
        }
    }
    free(live);
    gb_store__close_retired(s);
    gb_info("store",
            "rollups: %zu chunks past their keep period dropped; %zu rollup files deleted, "
            "%zu rewritten",
            gone, deleted, rewritten);
}
