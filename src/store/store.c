/*
 * The store engine: series, the head, flushes to block files, and reading back. See
 * include/gemba/store.h for what it promises and src/store/wal.h for the log.
 *
 * Log records (little-endian):
 *   series  u8 1 | u32 number | u8 type | u16 path length | path
 *   samples u8 2 | u32 count | count x (u32 number | i64 time | u8 type | u8 quality | value)
 *           with value an f64 or i64 (8 bytes), a bool (1 byte) or a string (u32 length | bytes)
 *   packed  u8 3 | u32 count | count x (varint zz(number - previous) | varint zz(time - previous)
 *           | u8 type << 4 | quality | value), previous number and time 0 at the record's start,
 *           differences wrapping in 64 bits; value as above but a string's length a varint.
 * gemba writes packed records (a batch's samples mostly differ from the one before in number by
 * one and in time by nothing: about 11 bytes a number instead of 22, half the log to write) and
 * replays both. Series
 * numbers are local to a segment's writer; every segment declares the series it uses before its
 * samples, so a segment replays on its own.
 *
 * A block file blocks/NNNNNNNN.gbb is written whole, synced and renamed into place:
 *   "GBBLK\0\2\0" | blocks | u32 footer length | the footer deflated (RFC 1951) | trailer
 *   footer  u32 series | per series: path bytes shared with the previous series' path (varint)
 *           | length of the rest (varint) | the rest | u8 type | blocks (varint) | per block its
 *           entry (gb_bentry_put in blockio.c: offset, length, codec, count, time range and
 *           statistics, in varints and decimals, each relative to the entry before)
 *   trailer u64 footer offset | u32 footer length | u32 footer CRC-32 | u64 covered | "GBBLKEND"
 * Files of version 1 ("GBBLK\0\1\0") are still read: their footer has fixed-size fields,
 *           per series: u16 path length | path | u8 type | u32 blocks |
 *           per block: u64 offset | u32 length | u8 codec | u32 count | i64 tmin | i64 tmax |
 *                      f64 min | f64 max | f64 sum | f64 sumsq | u64 first | u64 last | u32 nnum
 * where `covered` is the last log segment whose data the file (with those before it) holds:
 * opening the store replays only later segments, so a crash between writing the file and
 * dropping the segments duplicates nothing. Each block is framed u32 length | u32 CRC-32 | bytes.
 * Retention may write a file again under its own name without the blocks it dropped (renamed
 * over the old one, so a crash leaves one or the other); rollup files (rollup.c) are written and
 * named the same way under rollups/.
 *
 * Reading merges a series' sources oldest first -- block files in the order written, then the
 * head -- so where two hold a point at the same time, the later write wins.
 */
#include "gemba/store.h"
#include "util/crc.h"
#include "gemba/error.h"
#include "gemba/log.h"
#include "gemba/time.h"
#include "store/codec_bits.h"
#include "store/engine.h"
#include "store/store_internal.h"
#include "store/wal.h"
#include "util/cond.h"
#include "util/map.h"
#include "util/str.h"

#include <dirent.h>
#include <fnmatch.h>
#include <libdeflate.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define REC_SERIES 1
#define REC_SAMPLES 2
#define REC_PACKED 3
#define FLUSH_NICE 10             /* the flush thread's nice value, above the writers' */
#define PACKED_MAX 24             /* bytes a packed sample takes at most, a string's bytes aside */
#define BF_MAGIC "GBBLK\0\2\0"    /* written */
#define BF_MAGIC_V1 "GBBLK\0\1\0" /* still read */
#define BF_END "GBBLKEND"
#define BF_TRAILER 32
#define BF_ENTRY (8 + 4 + 1 + 4 + 8 + 8 + 8 * 4 + 8 + 8 + 4)

static void put32(unsigned char *p, uint32_t v)
{
    memcpy(p, &v, 4);
}
static uint32_t get32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* ---- series ---------------------------------------------------------------------------------- */

static series_t *find_series(gb_store_t *s, const char *path)
{
    uint32_t no;
    return gb_map_get(&s->by_path, path, &no) ? s->series[no] : NULL;
}

series_t *gb_store__find(gb_store_t *s, const char *path)
{
    return find_series(s, path);
}

void gb_store__wal_info(gb_store_t *s, uint64_t *bytes, uint64_t *torn)
{
    gb_wal_info_t wi = {0};
    if (s->wal) gb_wal_info(s->wal, &wi);
    *bytes = wi.bytes;
    *torn = wi.torn_bytes;
}

uint32_t gb_store__add_series(gb_store_t *s, const char *path, gb_vtype_t type)
{
    uint32_t no;
    if (gb_map_get(&s->by_path, path, &no)) return no;
    if (s->nseries == s->cseries) {
        /* drains off the store's lock read these tables: they move under the drain's lock */
        pthread_mutex_lock(&s->stage.dmu);
        s->cseries = s->cseries ? s->cseries * 2 : 64;
        s->series = gb_xrealloc(s->series, s->cseries * sizeof *s->series);
        s->declared = gb_xrealloc(s->declared, s->cseries * sizeof *s->declared);
        s->stype = gb_xrealloc(s->stype, s->cseries * sizeof *s->stype);
        s->stage.dst = gb_xrealloc(s->stage.dst, s->cseries * sizeof *s->stage.dst);
        s->stage.touched = gb_xrealloc(s->stage.touched, s->cseries * sizeof *s->stage.touched);
        pthread_mutex_unlock(&s->stage.dmu);
    }
    series_t *x = gb_xcalloc(1, sizeof *x);
    x->path = gb_xstrdup(path);
    x->type = type;
    x->blocks_tmax = INT64_MIN;
    x->rolled = INT64_MIN;
    for (size_t r = 0; r < s->nret; r++)
        if (fnmatch(s->ret[r].pattern, path, 0) == 0) {
            x->keep_ns = s->ret[r].keep_ns;
            int64_t roll[GB_ROLLUP_WIDTHS] = {s->ret[r].keep_1m_ns, s->ret[r].keep_1h_ns};
            /* rollups kept no longer than the points would never be read: none are made */
            for (int w = 0; w < GB_ROLLUP_WIDTHS; w++)
                x->keep_roll[w] = x->keep_ns > 0 && roll[w] > x->keep_ns ? roll[w] : 0;
            break;
        }
    gb_head_init(&x->head, type, &s->heads);
    gb_head_init(&x->frozen, type, &s->heads);
    no = s->nseries++;
    s->series[no] = x;
    s->declared[no] = 0;
    s->stype[no] = (uint8_t)type;
    s->stage.dst[no].cnt = 0;
    pthread_rwlock_wrlock(&s->names);
    gb_map_put(&s->by_path, x->path, no);
    pthread_rwlock_unlock(&s->names);
    return no;
}

/* Declares series NO in the current log segment when it was not yet. */
static void declare(gb_store_t *s, uint32_t no)
{
    uint64_t seg = gb_wal_current(s->wal);
    if (s->declared[no] == seg) return;
    series_t *x = s->series[no];
    size_t plen = strlen(x->path);
    unsigned char *p = gb_wal_reserve(s->wal, 8 + plen);
    p[0] = REC_SERIES;
    put32(p + 1, no);
    p[5] = (unsigned char)x->type;
    uint16_t l16 = (uint16_t)plen;
    memcpy(p + 6, &l16, 2);
    memcpy(p + 8, x->path, plen);
    gb_wal_seal(s->wal, 8 + plen);
    s->declared[no] = seg;
}

void gb_store__remember_last(series_t *x, gb_time_t t, gb_quality_t q, const gb_value_t *v)
{
    /* newer than every block and than what is kept (at the same time, the later write wins) */
    if (t < x->blocks_tmax || (x->has_last && t < x->last_t)) return;
    x->has_last = true;
    x->last_t = t;
    x->last_q = q;
    gb_value_keep_set(&x->last_v, v);
}

static void head_add(gb_store_t *s, series_t *x, gb_time_t t, gb_quality_t q, const gb_value_t *v)
{
    if (s->head_points++ == 0) s->head_since = gb_mono_ns();
    gb_head_add(&x->head, t, q, v);
    if (x->has_last || x->blocks_tmax == INT64_MIN) gb_store__remember_last(x, t, q, v);
}

/* ---- the stage ------------------------------------------------------------------------------- */

/* The bucket shift that spreads N series over the buckets. */
static unsigned stage_shift(uint32_t n)
{
    unsigned sh = 0;
    while (((uint64_t)GB_STAGE_BUCKETS << sh) < n)
        sh++;
    return sh;
}

/* Moves chunk C's points to their heads. DMU held. */
static void drain_chunk(gb_store_t *s, const gb_chunk_t *c)
{
    gb_stage_t *g = &s->stage;
    size_t n = c->n, nt = 0;
    const uint32_t *no = c->no;
    struct gb_stage_dst *dst = g->dst;
    for (size_t i = 0; i < n; i++)
        if (dst[no[i]].cnt++ == 0) g->touched[nt++] = no[i];
    /* the chunk's points in series order (arrival order within one): each series' points then go
     * to its head as one run of stores. Stored in arrival order, every store went to one of a few
     * hundred heads' ends in turn, and missed the cache far more often (two thirds of the drain's
     * time was those stores) */
    uint32_t at = 0;
    for (size_t j = 0; j < nt; j++) {
        struct gb_stage_dst *d = &dst[g->touched[j]];
        d->at = at;
        at += d->cnt;
    }
    if (!g->st) {
        g->st = gb_xmalloc(GB_STAGE_BUCKET_POINTS * sizeof *g->st);
        g->sv = gb_xmalloc(GB_STAGE_BUCKET_POINTS * sizeof *g->sv);
        g->sq = gb_xmalloc(GB_STAGE_BUCKET_POINTS);
    }
    /* the points themselves copied there, read in the chunk's order: gathered by index instead,
     * a series' points read one by one from all over the chunk (fresh from the writer's core)
     * were a third of the drain's time */
    gb_time_t *st = g->st;
    gb_slot_t *sv = g->sv;
    uint8_t *sq = g->sq;
    for (size_t i = 0; i < n; i++) {
        uint32_t k = dst[no[i]].at++;
        st[k] = c->t[i];
        sv[k] = c->v[i];
        sq[k] = c->q[i];
    }
    at = 0;
    /* the next heads fetched ahead, each step once the one before has come: the series, its last
     * segment's header, where its encoding goes on; their cache misses then overlap */
    enum { SERIES_AHEAD = 8, SEG_AHEAD = 4, END_AHEAD = 2 };
    for (size_t j = 0; j < nt; j++) {
        if (j + SERIES_AHEAD < nt)
            __builtin_prefetch(&s->series[g->touched[j + SERIES_AHEAD]]->head, 1);
        if (j + SEG_AHEAD < nt) {
            const gb_seg_t *ag = s->series[g->touched[j + SEG_AHEAD]]->head.last;
            if (ag) __builtin_prefetch(ag, 1);
        }
        if (j + END_AHEAD < nt) {
            const gb_seg_t *ag = s->series[g->touched[j + END_AHEAD]]->head.last;
            if (ag) __builtin_prefetch((const char *)ag + GB_SEG_HDR + ag->len, 1);
        }
        struct gb_stage_dst *d = &dst[g->touched[j]];
        series_t *x = s->series[g->touched[j]];
        gb_head_t *h = &x->head;
        uint32_t cnt = d->cnt;
        uint32_t imax = at + gb_head_add_run(h, st + at, sv + at, sq + at, cnt);
        at += cnt;
        d->cnt = 0;
        if (x->has_last || x->blocks_tmax == INT64_MIN) {
            gb_pts_t one = {
                .type = x->type, .t = &st[imax], .v = &sv[imax], .q = &sq[imax], .n = 1};
            gb_value_t v = gb_pts_value(&one, 0);
            gb_store__remember_last(x, st[imax], (gb_quality_t)sq[imax], &v);
        }
    }
}

/* Drains at most MAX of the chunks handed over, oldest first, and keeps them for reuse. DMU
 * held. */
static void drain_pending(gb_stage_t *g, gb_store_t *s, size_t max)
{
    for (size_t k = 0; k < max; k++) {
        pthread_mutex_lock(&g->pmu);
        gb_chunk_t *c = g->pending;
        if (c) {
            if (!(g->pending = c->next)) g->plast = NULL;
            g->npending--;
        }
        pthread_mutex_unlock(&g->pmu);
        if (!c) return;
        drain_chunk(s, c);
        c->n = 0;
        pthread_mutex_lock(&g->pmu);
        c->next = g->spare;
        g->spare = c;
        pthread_mutex_unlock(&g->pmu);
    }
}

/*
 * After a writer lets go of the store's lock: the drain thread is told of the chunks handed over.
 * Without it, or when it has fallen behind, the writer drains two of them (its own, and one
 * more), unless another thread drains now. A writer that drained until none was left could be
 * kept at it by the others' chunks while its own request waited (the longest writes doubled). A
 * chunk left over is drained by the next writer, or by the next read or flush, which drain all;
 * when more than PENDING_MAX wait, a writer waits its turn to drain, so they keep up.
 */
#define PENDING_MAX 16
static void drain_handed(gb_store_t *s)
{
    gb_stage_t *g = &s->stage;
    pthread_mutex_lock(&g->pmu);
    size_t np = g->npending;
    bool told = np && np <= PENDING_MAX && g->drainer_on;
    if (told) pthread_cond_signal(&g->dcv);
    pthread_mutex_unlock(&g->pmu);
    if (!np || told) return;
    if (np > PENDING_MAX)
        pthread_mutex_lock(&g->dmu);
    else if (pthread_mutex_trylock(&g->dmu) != 0)
        return;
    drain_pending(g, s, np > PENDING_MAX ? np - PENDING_MAX / 2 : 2);
    pthread_mutex_unlock(&g->dmu);
}

/*
 * The drain thread: the chunks handed over, two at a time, so that a reader waiting for DMU
 * (under the store's lock, which every writer then waits for too) waits for two at most.
 */
static void *drainer_main(void *arg)
{
    gb_store_t *s = arg;
    gb_stage_t *g = &s->stage;
    pthread_mutex_lock(&g->pmu);
    while (!g->drainer_stop) {
        if (!g->npending) {
            pthread_cond_wait(&g->dcv, &g->pmu);
            continue;
        }
        pthread_mutex_unlock(&g->pmu);
        pthread_mutex_lock(&g->dmu);
        drain_pending(g, s, 2);
        pthread_mutex_unlock(&g->dmu);
        pthread_mutex_lock(&g->pmu);
    }
    pthread_mutex_unlock(&g->pmu);
    return NULL;
}

static void drainer_start(gb_store_t *s)
{
    gb_stage_t *g = &s->stage;
    if (pthread_create(&g->drainer, NULL, drainer_main, s) != 0) {
        gb_warn("store", "cannot start the drain thread: writers drain their own points");
        return;
    }
    pthread_setname_np(g->drainer, "gemba-drain");
    g->drainer_on = true;
}

static void drainer_stop(gb_store_t *s)
{
    gb_stage_t *g = &s->stage;
    if (!g->drainer_on) return;
    pthread_mutex_lock(&g->pmu);
    g->drainer_stop = true;
    pthread_cond_signal(&g->dcv);
    pthread_mutex_unlock(&g->pmu);
    pthread_join(g->drainer, NULL);
    g->drainer_on = false;
}

/*
 * An empty chunk: a drained one, or a new one. A new one's arrays are blocks of the heads' pool,
 * each a power of two, their pages there ahead (with malloc they were a mapping the writer
 * faulted in a page at a time, under the store's lock: one fault in seven of an HTTP load).
 */
enum { CHUNK_P = GB_STAGE_BUCKET_POINTS };
static gb_chunk_t *chunk_get(gb_stage_t *g)
{
    pthread_mutex_lock(&g->pmu);
    gb_chunk_t *c = g->spare;
    if (c) g->spare = c->next;
    pthread_mutex_unlock(&g->pmu);
    if (c) return c;
    c = gb_xcalloc(1, sizeof *c);
    c->t = gb_pool_alloc(g->pool, CHUNK_P * sizeof *c->t);
    c->v = gb_pool_alloc(g->pool, CHUNK_P * sizeof *c->v);
    c->no = gb_pool_alloc(g->pool, CHUNK_P * sizeof *c->no);
    c->q = gb_pool_alloc(g->pool, CHUNK_P * sizeof *c->q);
    return c;
}

static void chunk_free(gb_stage_t *g, gb_chunk_t *c)
{
    while (c) {
        gb_chunk_t *next = c->next;
        gb_pool_free(g->pool, c->t, CHUNK_P * sizeof *c->t);
        gb_pool_free(g->pool, c->v, CHUNK_P * sizeof *c->v);
        gb_pool_free(g->pool, c->no, CHUNK_P * sizeof *c->no);
        gb_pool_free(g->pool, c->q, CHUNK_P * sizeof *c->q);
        free(c);
        c = next;
    }
}

/* The bucket of series NO (the last takes the series made since the buckets were spread). */
static inline uint32_t bucket_of(const gb_stage_t *g, uint32_t no)
{
    uint32_t b = no >> g->shift;
    return b < GB_STAGE_BUCKETS ? b : GB_STAGE_BUCKETS - 1;
}

/* Bucket B's full chunk handed over to be drained off the lock, an empty one in its place. */
static void hand_over(gb_stage_t *g, uint32_t b)
{
    gb_chunk_t *c = g->ck[b];
    g->n -= c->n;
    c->next = NULL;
    pthread_mutex_lock(&g->pmu);
    if (g->plast)
        g->plast->next = c;
    else
        g->pending = c;
    g->plast = c;
    g->npending++;
    pthread_mutex_unlock(&g->pmu);
    g->ck[b] = chunk_get(g);
}

static inline void stage_add(gb_store_t *s, uint32_t no, gb_time_t t, gb_quality_t q, gb_slot_t v)
{
    gb_stage_t *g = &s->stage;
    uint32_t b = bucket_of(g, no);
    gb_chunk_t *c = g->ck[b];
    if (!c || c->n == GB_STAGE_BUCKET_POINTS) {
        if (c && g->shift == stage_shift(s->nseries)) {
            hand_over(g, b); /* drained by this writer once it lets go of the lock */
        } else if (c || !g->n) {
            /* all drained (none is staged), and the series made since spread over the buckets */
            gb_store__drain(s);
            g->shift = stage_shift(s->nseries);
            b = bucket_of(g, no);
        }
        if (!g->ck[b]) g->ck[b] = chunk_get(g);
        c = g->ck[b];
    }
    if (s->head_points++ == 0) s->head_since = gb_mono_ns();
    size_t i = c->n++;
    c->no[i] = no;
    c->t[i] = t;
    c->v[i] = v;
    c->q[i] = (uint8_t)q;
    g->n++;
}

void gb_store__drain(gb_store_t *s)
{
    gb_stage_t *g = &s->stage;
    pthread_mutex_lock(&g->dmu);
    drain_pending(g, s, SIZE_MAX);
    if (g->n) {
        for (uint32_t b = 0; b < GB_STAGE_BUCKETS; b++)
            if (g->ck[b] && g->ck[b]->n) {
                drain_chunk(s, g->ck[b]);
                g->ck[b]->n = 0;
            }
        g->n = 0;
        g->shift = stage_shift(s->nseries); /* series made since spread out in the next round */
    }
    pthread_mutex_unlock(&g->dmu);
}

/* Takes a point of series NO (of V's type) into memory: strings to the head, the rest staged. */
static void take(gb_store_t *s, uint32_t no, gb_time_t t, gb_quality_t q, const gb_value_t *v)
{
    if (v->type == GB_VT_STR)
        head_add(s, s->series[no], t, q, v);
    else
        stage_add(s, no, t, q, gb_slot_of(v->type, v));
}

static void stage_clear(gb_stage_t *g)
{
    for (uint32_t b = 0; b < GB_STAGE_BUCKETS; b++)
        if (g->ck[b]) {
            g->ck[b]->next = NULL; /* a live chunk is on no list */
            chunk_free(g, g->ck[b]);
        }
    chunk_free(g, g->pending);
    chunk_free(g, g->spare);
    free(g->dst);
    free(g->touched);
    free(g->st);
    free(g->sv);
    free(g->sq);
    pthread_mutex_destroy(&g->dmu);
    pthread_mutex_destroy(&g->pmu);
    pthread_cond_destroy(&g->dcv);
}

/* ---- the log --------------------------------------------------------------------------------- */

/* The state of a packed record being written: the sample before. */
typedef struct packer {
    uint32_t no;
    gb_time_t t;
} packer_t;

/* Appends a packed sample's number, time and type byte at P; returns its length. */
static inline size_t pack_head(unsigned char *p, packer_t *k, uint32_t no, gb_time_t t,
                               gb_vtype_t type, gb_quality_t q)
{
    size_t o = gb_put_varint(p, gb_zz((int64_t)no - (int64_t)k->no));
    o += gb_put_varint(p + o, gb_zz((int64_t)((uint64_t)t - (uint64_t)k->t)));
    p[o++] = (unsigned char)(type << 4 | q);
    k->no = no;
    k->t = t;
    return o;
}

/* Appends one packed sample at P; returns its length. */
static size_t pack_sample(unsigned char *p, packer_t *k, uint32_t no, gb_time_t t, gb_quality_t q,
                          const gb_value_t *v)
{
    size_t o = pack_head(p, k, no, t, v->type, q);
    switch (v->type) {
    case GB_VT_F64:
        memcpy(p + o, &v->f64, 8);
        return o + 8;
    case GB_VT_I64:
        memcpy(p + o, &v->i64, 8);
        return o + 8;
    case GB_VT_BOOL:
        p[o] = v->b ? 1 : 0;
        return o + 1;
    case GB_VT_STR: {
        size_t l = v->len > GB_SAMPLE_STR_MAX ? GB_SAMPLE_STR_MAX : v->len;
        o += gb_put_varint(p + o, l);
        memcpy(p + o, v->str, l);
        return o + l;
    }
    }
    return o;
}

/* A float or integer (its 8-byte slot V) of series NO: packed at P for the log, and staged;
 * returns the bytes packed. The way most samples go, without pack_sample's and take's switch. */
static inline size_t put_number(gb_store_t *s, unsigned char *p, packer_t *k, uint32_t no,
                                gb_time_t t, gb_vtype_t type, gb_quality_t q, gb_slot_t v)
{
    size_t o = pack_head(p, k, no, t, type, q);
    memcpy(p + o, &v, 8);
    stage_add(s, no, t, q, v);
    return o + 8;
}

/* Takes a replayed sample of log series NO into its series. */
static void replayed(gb_store_t *s, uint32_t no, gb_time_t t, gb_quality_t q, const gb_value_t *v)
{
    if (no >= s->nrmap || s->rmap[no] == GB_NONE) return; /* never declared: skip */
    series_t *x = s->series[s->rmap[no]];
    if (x->type == v->type) head_add(s, x, t, q, v);
}

/* Replays a packed record's samples (P after its count, LEN bytes). */
static void replay_packed(gb_store_t *s, uint32_t cnt, const unsigned char *p, size_t len)
{
    gb_rd_t r;
    gb_rd_init(&r, p, len);
    uint64_t no = 0, t = 0;
    for (uint32_t i = 0; i < cnt; i++) {
        uint64_t dn, dt;
        uint8_t tq;
        const uint8_t *b;
        if (gb_rd_varint(&r, &dn) || gb_rd_varint(&r, &dt) || gb_rd_u8(&r, &tq)) return;
        no += (uint64_t)gb_unzz(dn);
        t += (uint64_t)gb_unzz(dt);
        gb_value_t v = {.type = (gb_vtype_t)(tq >> 4)};
        gb_quality_t q = (gb_quality_t)((tq & 15) <= GB_Q_BAD ? tq & 15 : GB_Q_BAD);
        switch (v.type) {
        case GB_VT_F64:
        case GB_VT_I64:
            if (gb_rd_bytes(&r, 8, &b)) return;
            memcpy(v.type == GB_VT_F64 ? (void *)&v.f64 : (void *)&v.i64, b, 8);
            break;
        case GB_VT_BOOL:
            if (gb_rd_bytes(&r, 1, &b)) return;
            v.b = b[0] != 0;
            break;
        case GB_VT_STR: {
            uint64_t l;
            if (gb_rd_count(&r, GB_SAMPLE_STR_MAX, &l) || gb_rd_bytes(&r, (size_t)l, &b)) return;
            v.str = (const char *)b;
            v.len = (size_t)l;
            break;
        }
        default:
            return; /* the CRC held, so this is a record from a newer gemba: stop here */
        }
        if (no <= UINT32_MAX) replayed(s, (uint32_t)no, (gb_time_t)t, q, &v);
    }
}

static int replay_record(void *ctx, uint64_t seq, const unsigned char *p, size_t len)
{
    gb_store_t *s = ctx;
    if (seq != s->rseq) { /* series numbers are per segment */
        s->rseq = seq;
        for (size_t i = 0; i < s->nrmap; i++)
            s->rmap[i] = GB_NONE;
    }
    if (p[0] == REC_SERIES && len >= 8) {
        uint32_t no = get32(p + 1);
        uint16_t l16;
        memcpy(&l16, p + 6, 2);
        if (8u + l16 > len || no > 100000000u || p[5] < GB_VT_F64 || p[5] > GB_VT_STR) return 0;
        char *path = gb_xstrndup((const char *)p + 8, l16);
        series_t *x = find_series(s, path);
        uint32_t idx = x && x->type != (gb_vtype_t)p[5]
                           ? GB_NONE
                           : gb_store__add_series(s, path, (gb_vtype_t)p[5]);
        free(path);
        if (no >= s->nrmap) {
            size_t n = no + 1 > s->nrmap * 2 ? no + 1 : s->nrmap * 2;
            s->rmap = gb_xrealloc(s->rmap, n * sizeof *s->rmap);
            for (size_t i = s->nrmap; i < n; i++)
                s->rmap[i] = GB_NONE;
            s->nrmap = n;
        }
        s->rmap[no] = idx;
        return 0;
    }
    if (p[0] == REC_PACKED && len >= 5) {
        replay_packed(s, get32(p + 1), p + 5, len - 5);
        return 0;
    }
    if (p[0] != REC_SAMPLES || len < 5) return 0;
    uint32_t cnt = get32(p + 1);
    size_t off = 5;
    for (uint32_t i = 0; i < cnt; i++) {
        if (len - off < 14) break;
        uint32_t no = get32(p + off);
        gb_time_t t;
        memcpy(&t, p + off + 4, 8);
        gb_value_t v = {.type = (gb_vtype_t)p[off + 12]};
        gb_quality_t q = (gb_quality_t)(p[off + 13] <= GB_Q_BAD ? p[off + 13] : GB_Q_BAD);
        size_t vl;
        switch (v.type) {
        case GB_VT_F64:
            vl = 8;
            break;
        case GB_VT_I64:
            vl = 8;
            break;
        case GB_VT_BOOL:
            vl = 1;
            break;
        case GB_VT_STR:
            vl = 4;
            break;
        default:
            return 0; /* the CRC held, so this is a record from a newer gemba: stop here */
        }
        if (len - off - 14 < vl) break;
        if (v.type == GB_VT_STR) {
            uint32_t l = get32(p + off + 14);
            if (l > GB_SAMPLE_STR_MAX || len - off - 18 < l) break;
            v.str = (const char *)p + off + 18;
            v.len = l;
            vl += l;
        } else if (v.type == GB_VT_BOOL) {
            v.b = p[off + 14] != 0;
        } else if (v.type == GB_VT_F64) {
            memcpy(&v.f64, p + off + 14, 8);
        } else {
            memcpy(&v.i64, p + off + 14, 8);
        }
        off += 14 + vl;
        replayed(s, no, t, q, &v);
    }
    return 0;
}

/* ---- block files ----------------------------------------------------------------------------- */

static const struct {
    const char *dir, *ext, *magic, *end;
} KINDS[] = {[GB_FK_BLOCKS] = {"blocks", ".gbb", BF_MAGIC, BF_END},
             [GB_FK_ROLLUPS] = {"rollups", ".gbr", "GBROL\0\1\0", "GBROLEND"}};

/* blocks/NNNNNNNN.gbb for a flush's file, blocks/LLLLLLLL-NNNNNNNN.gbb for a compacted one */
char *gb_store__path(const gb_store_t *s, gb_fkind_t k, uint64_t lo, uint64_t no,
                     const char *suffix)
{
    if (lo == no)
        return gb_xasprintf("%s/%s/%08llu%s%s", s->dir, KINDS[k].dir, (unsigned long long)no,
                            KINDS[k].ext, suffix);
    return gb_xasprintf("%s/%s/%08llu-%08llu%s%s", s->dir, KINDS[k].dir, (unsigned long long)lo,
                        (unsigned long long)no, KINDS[k].ext, suffix);
}

static void add_bref(series_t *x, const gb_bref_t *r)
{
    if (x->nblocks == x->cblocks) {
        x->cblocks = x->cblocks ? x->cblocks * 2 : 8;
        x->blocks = gb_xrealloc(x->blocks, x->cblocks * sizeof *x->blocks);
    }
    x->blocks[x->nblocks++] = *r;
    x->block_points += r->st.count;
    if (r->st.tmax > x->blocks_tmax) x->blocks_tmax = r->st.tmax;
}

/*
 * The series PATH of TYPE that block file NO names, added to the table when new; NULL when the
 * table holds it as another type (said in the log: its blocks are skipped).
 */
static series_t *file_series(gb_store_t *s, uint64_t no, const char *path, gb_vtype_t type)
{
    series_t *x = find_series(s, path);
    if (x && x->type != type) {
        gb_error("store", "block file %08llu holds series %s as %s, another as %s; skipping it",
                 (unsigned long long)no, path, gb_vtype_name(type), gb_vtype_name(x->type));
        return NULL;
    }
    uint32_t sno = gb_store__add_series(s, path, type); /* may move the table */
    return s->series[sno];
}

/* Whether block R lies inside the blocks of a file whose footer starts at FOFF. */
static bool bref_fits(const gb_bref_t *r, uint64_t foff)
{
    return r->off >= 8 && r->off <= foff && foff - r->off >= 8 + (uint64_t)r->len &&
           r->st.count > 0 && r->st.count <= GB_STORE_BLOCK_POINTS && r->st.tmin <= r->st.tmax;
}

/* The footer F (FLEN bytes, blocks before FOFF) of a block file of version 1 into the table. */
static int load_footer_v1(gb_store_t *s, uint64_t no, const unsigned char *f, uint32_t flen,
                          uint64_t foff)
{
    size_t p = 0;
    if (flen < 4) return GB_EPROTO;
    uint32_t nser = get32(f);
    p = 4;
    uint32_t file_index = (uint32_t)s->nfiles;
    for (uint32_t i = 0; i < nser; i++) {
        if (flen - p < 2) return GB_EPROTO;
        uint16_t pl;
        memcpy(&pl, f + p, 2);
        p += 2;
        if (flen - p < (size_t)pl + 5) return GB_EPROTO;
        char *path = gb_xstrndup((const char *)f + p, pl);
        p += pl;
        gb_vtype_t type = (gb_vtype_t)f[p++];
        uint32_t nb = get32(f + p);
        p += 4;
        if (type < GB_VT_F64 || type > GB_VT_STR || (flen - p) / BF_ENTRY < nb) {
            free(path);
            return GB_EPROTO;
        }
        series_t *x = file_series(s, no, path, type);
        free(path);
        if (!x) {
            p += (size_t)nb * BF_ENTRY;
            continue;
        }
        for (uint32_t b = 0; b < nb; b++) {
            gb_bref_t r = {.file = file_index};
            const unsigned char *e = f + p;
            memcpy(&r.off, e, 8);
            r.len = get32(e + 8);
            r.codec = e[12];
            r.st.count = get32(e + 13);
            memcpy(&r.st.tmin, e + 17, 8);
            memcpy(&r.st.tmax, e + 25, 8);
            memcpy(&r.st.min, e + 33, 8);
            memcpy(&r.st.max, e + 41, 8);
            memcpy(&r.st.sum, e + 49, 8);
            memcpy(&r.st.sumsq, e + 57, 8);
            memcpy(&r.st.first, e + 65, 8);
            memcpy(&r.st.last, e + 73, 8);
            r.st.nnum = get32(e + 81);
            r.entry = BF_ENTRY;
            p += BF_ENTRY;
            if (!bref_fits(&r, foff)) return GB_EPROTO;
            add_bref(x, &r);
        }
    }
    return 0;
}

/*
 * The footer Z (ZLEN bytes) of a block file of version 2, inflated into *F (malloc'd; the caller
 * frees it) of *FLEN bytes. Its length, first, is checked against what deflate can do and a cap,
 * and the deflated bytes must make exactly that many, with none left over. 0, GB_EPROTO or
 * GB_ENOMEM.
 */
static int inflate_footer(const unsigned char *z, uint32_t zlen, unsigned char **f, uint32_t *flen)
{
    *f = NULL;
    if (zlen < 4) return GB_EPROTO;
    uint32_t n = get32(z);
    if (n < 4 || n > (1u << 30) || n > (uint64_t)(zlen - 4) * 1032 + 64) return GB_EPROTO;
    struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
    if (!d) return GB_ENOMEM;
    *f = gb_xmalloc(n);
    size_t in = 0, out = 0;
    enum libdeflate_result r =
        libdeflate_deflate_decompress_ex(d, z + 4, zlen - 4, *f, n, &in, &out);
    libdeflate_free_decompressor(d);
    if (r != LIBDEFLATE_SUCCESS || in != zlen - 4 || out != n) {
        free(*f);
        *f = NULL;
        return GB_EPROTO;
    }
    *flen = n;
    return 0;
}

/* The footer of a block file of version 2 (see the top of this file), read the same way. */
static int load_footer_v2(gb_store_t *s, uint64_t no, const unsigned char *z, uint32_t zlen,
                          uint64_t foff)
{
    unsigned char *f;
    uint32_t flen;
    int rc = inflate_footer(z, zlen, &f, &flen);
    if (rc) return rc;
    uint32_t nser = get32(f), file_index = (uint32_t)s->nfiles;
    gb_rd_t rd;
    gb_rd_init(&rd, f, flen);
    rd.pos = 4;
    gb_bentry_ctx_t c = {.next_off = 8};
    char *path = gb_xmalloc(1);
    uint64_t plen = 0;
    rc = GB_EPROTO;
    for (uint32_t i = 0; i < nser; i++) {
        uint64_t shared, rest, nb;
        const uint8_t *b;
        uint8_t type;
        if (gb_rd_count(&rd, plen, &shared) || gb_rd_count(&rd, UINT16_MAX - shared, &rest) ||
            gb_rd_bytes(&rd, rest, &b) || memchr(b, 0, rest) || gb_rd_u8(&rd, &type) ||
            type < GB_VT_F64 || type > GB_VT_STR || gb_rd_count(&rd, gb_rd_left(&rd), &nb))
            goto out;
        path = gb_xrealloc(path, shared + rest + 1);
        memcpy(path + shared, b, rest);
        plen = shared + rest;
        path[plen] = 0;
        series_t *x = file_series(s, no, path, (gb_vtype_t)type);
        for (uint64_t k = 0; k < nb; k++) {
            gb_bref_t r = {.file = file_index};
            size_t at = rd.pos;
            if (gb_bentry_get(&rd, (gb_vtype_t)type, &r, &c) || !bref_fits(&r, foff)) goto out;
            r.entry = (uint8_t)(rd.pos - at);
            if (x) add_bref(x, &r);
        }
    }
    rc = gb_rd_left(&rd) ? GB_EPROTO : 0;
out:
    free(path);
    free(f);
    return rc;
}

/* Reads the footer of block file NO (open as FD) into the series table. */
static int load_file(gb_store_t *s, uint64_t no, int fd, uint64_t *covered)
{
    unsigned char *f, magic[8];
    uint32_t flen;
    uint64_t foff;
    int rc = gb_store__read_footer(fd, GB_FK_BLOCKS, &f, &flen, &foff, covered);
    if (rc) return rc;
    if (pread(fd, magic, 8, 0) != 8)
        rc = GB_EIO;
    else if (!memcmp(magic, BF_MAGIC, 8))
        rc = load_footer_v2(s, no, f, flen, foff);
    else if (!memcmp(magic, BF_MAGIC_V1, 8))
        rc = load_footer_v1(s, no, f, flen, foff);
    else
        rc = GB_EPROTO;
    free(f);
    return rc;
}

int gb_store__read_footer(int fd, gb_fkind_t k, unsigned char **foot, uint32_t *flen,
                          uint64_t *foff, uint64_t *extra)
{
    *foot = NULL;
    struct stat st;
    if (fstat(fd, &st) != 0) return GB_EIO;
    uint64_t size = (uint64_t)st.st_size;
    unsigned char tr[BF_TRAILER];
    if (size < 8 + BF_TRAILER ||
        pread(fd, tr, BF_TRAILER, (off_t)(size - BF_TRAILER)) != BF_TRAILER ||
        memcmp(tr + 24, KINDS[k].end, 8))
        return GB_EPROTO;
    memcpy(foff, tr, 8);
    *flen = get32(tr + 8);
    uint32_t fcrc = get32(tr + 12);
    memcpy(extra, tr + 16, 8);
    if (*foff < 8 || *foff > size - BF_TRAILER || *flen != size - BF_TRAILER - *foff)
        return GB_EPROTO;
    *foot = gb_xmalloc(*flen ? *flen : 1);
    if (pread(fd, *foot, *flen, (off_t)*foff) != (ssize_t)*flen || gb_crc32(*foot, *flen) != fcrc) {
        free(*foot);
        *foot = NULL;
        return GB_EPROTO;
    }
    return 0;
}

static int cmp_fname(const void *a, const void *b)
{
    const gb_fname_t *x = a, *y = b;
    return x->no != y->no ? (x->no < y->no ? -1 : 1) : (x->lo > y->lo ? -1 : x->lo < y->lo);
}

/* Parses NNNNNNNN.EXT or LLLLLLLL-NNNNNNNN.EXT (SUFFIX after it); false for anything else. */
static bool parse_name(const char *name, const char *ext, const char *suffix, gb_fname_t *f)
{
    size_t l = strlen(name), sl = strlen(suffix);
    if (l == 12 + sl && strspn(name, "0123456789") == 8 && !strncmp(name + 8, ext, 4) &&
        !strcmp(name + 12, suffix)) {
        f->lo = f->no = strtoull(name, NULL, 10);
        return true;
    }
    if (l == 21 + sl && strspn(name, "0123456789") == 8 && name[8] == '-' &&
        strspn(name + 9, "0123456789") == 8 && !strncmp(name + 17, ext, 4) &&
        !strcmp(name + 21, suffix)) {
        f->lo = strtoull(name, NULL, 10);
        f->no = strtoull(name + 9, NULL, 10);
        return f->lo <= f->no;
    }
    return false;
}

int gb_store__list(gb_store_t *s, gb_fkind_t k, gb_fname_t **out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    char *dir = gb_xasprintf("%s/%s", s->dir, KINDS[k].dir);
    DIR *d = opendir(dir);
    if (!d) {
        int e = errno;
        if (e != ENOENT) gb_error("store", "cannot read the directory %s: %s", dir, strerror(e));
        free(dir);
        return e == ENOENT ? 0 : GB_EIO;
    }
    gb_fname_t *f = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        gb_fname_t x;
        if (parse_name(e->d_name, KINDS[k].ext, ".tmp", &x)) {
            if (!s->o.readonly) { /* an unfinished flush, compaction or rewrite */
                char *p = gb_xasprintf("%s/%s", dir, e->d_name);
                unlink(p);
                free(p);
            }
            continue;
        }
        if (!parse_name(e->d_name, KINDS[k].ext, "", &x)) continue;
        if (n == cap) f = gb_xrealloc(f, (cap = cap ? cap * 2 : 16) * sizeof *f);
        f[n++] = x;
    }
    closedir(d);
    free(dir);
    if (n > 1) qsort(f, n, sizeof *f, cmp_fname);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        /* a file whose flushes a compacted file also holds is left over from a compaction that
           stopped before it could delete it: its data is in the compacted file */
        bool superseded = false;
        for (size_t j = 0; j < n && !superseded; j++)
            superseded = j != i && f[j].lo <= f[i].lo && f[i].no <= f[j].no &&
                         (f[j].lo != f[i].lo || f[j].no != f[i].no);
        if (superseded) {
            char *p = gb_store__path(s, k, f[i].lo, f[i].no, "");
            if (!s->o.readonly) unlink(p);
            free(p);
            continue;
        }
        f[m++] = f[i];
    }
    *out = f;
    *nout = m;
    return 0;
}

int gb_store__add_file(gb_store_t *s, gb_fkind_t k, uint64_t lo, uint64_t no, bfile_t **files,
                       size_t *n)
{
    char *p = gb_store__path(s, k, lo, no, "");
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        gb_error("store", "cannot open %s: %s", p, strerror(errno));
        free(p);
        if (fd >= 0) close(fd);
        return GB_EIO;
    }
    free(p);
    *files = gb_xrealloc(*files, (*n + 1) * sizeof **files);
    (*files)[(*n)++] = (bfile_t){lo, no, fd, (uint64_t)st.st_size, false};
    return 0;
}

static int load_files(gb_store_t *s)
{
    gb_fname_t *f;
    size_t n;
    int rc = gb_store__list(s, GB_FK_BLOCKS, &f, &n);
    for (size_t i = 0; i < n && !rc; i++) {
        uint64_t covered = 0;
        if ((rc = gb_store__add_file(s, GB_FK_BLOCKS, f[i].lo, f[i].no, &s->files, &s->nfiles)))
            break;
        bfile_t *bf = &s->files[s->nfiles - 1];
        s->nfiles--; /* load_file numbers the blocks by the entry it is about to become */
        if ((rc = load_file(s, f[i].no, bf->fd, &covered)) != 0) {
            char *p = gb_store__path(s, GB_FK_BLOCKS, f[i].lo, f[i].no, "");
            gb_error("store", "%s is damaged or not a gemba block file", p);
            free(p);
            close(bf->fd);
            break;
        }
        s->nfiles++;
        if (covered > s->covered) s->covered = covered;
        s->next_file = f[i].no + 1;
    }
    free(f);
    return rc;
}

static void put64(unsigned char **b, size_t *len, size_t *cap, const void *v, size_t n)
{
    if (*len + n > *cap) {
        while (*len + n > *cap)
            *cap = *cap ? *cap * 2 : 1 << 16;
        *b = gb_xrealloc(*b, *cap);
    }
    memcpy(*b + *len, v, n);
    *len += n;
}

static int write_all(int fd, const unsigned char *b, size_t n)
{
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return errno == ENOSPC || errno == EDQUOT ? GB_ENOSPC : GB_EIO;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* A block file being built in memory: blocks, footer, and the references to hand the index. */
typedef struct bfw {
    unsigned char *body, *foot;
    size_t blen, bcap, flen, fcap;
    uint32_t nser;
    const char *prev;  /* the last series' path (borrowed from the series table) */
    gb_bentry_ctx_t c; /* the footer entries so far */
    gb_bref_t *refs;   /* .file holds the series' index in the caller's list until the file is in */
    size_t nrefs, crefs;
} bfw_t;

static void bfw_init(bfw_t *w)
{
    memset(w, 0, sizeof *w);
    put64(&w->body, &w->blen, &w->bcap, BF_MAGIC, 8);
    put64(&w->foot, &w->flen, &w->fcap, &w->nser, 4);
    w->prev = "";
    w->c.next_off = 8;
}

static void bfw_varint(bfw_t *w, uint64_t v)
{
    uint8_t b[10];
    put64(&w->foot, &w->flen, &w->fcap, b, gb_put_varint(b, v));
}

/* Starts series X's part of the footer: NB blocks follow (bfw_block). */
static void bfw_begin(bfw_t *w, const series_t *x, uint32_t nb)
{
    size_t shared = 0, pl = strlen(x->path);
    while (w->prev[shared] && w->prev[shared] == x->path[shared])
        shared++;
    bfw_varint(w, shared);
    bfw_varint(w, pl - shared);
    put64(&w->foot, &w->flen, &w->fcap, x->path + shared, pl - shared);
    unsigned char ty = (unsigned char)x->type;
    put64(&w->foot, &w->flen, &w->fcap, &ty, 1);
    bfw_varint(w, nb);
    w->prev = x->path;
    w->nser++;
}

/* Adds the footer entry of block R, whose frame was just put in the body at R->off; K is the
 * number of its series in the caller's list, which bfw_begin named last. */
static void bfw_block(bfw_t *w, const series_t *x, gb_bref_t r, uint32_t k)
{
    uint8_t e[GB_BENTRY_MAX];
    size_t n = gb_bentry_put(e, x->type, &r, &w->c);
    put64(&w->foot, &w->flen, &w->fcap, e, n);
    r.entry = (uint8_t)n;
    if (w->nrefs == w->crefs)
        w->refs = gb_xrealloc(w->refs, (w->crefs = w->crefs ? w->crefs * 2 : 64) * sizeof *w->refs);
    r.file = k;
    w->refs[w->nrefs++] = r;
}

/* The blocks N points of a series take. */
static uint32_t blocks_for(size_t n)
{
    return (uint32_t)((n + GB_STORE_BLOCK_POINTS - 1) / GB_STORE_BLOCK_POINTS);
}

/* Adds a block of P's N points from FROM to series X (number K in the caller's list), which
 * bfw_begin named last. */
static void bfw_put(bfw_t *w, const series_t *x, uint32_t k, const gb_pts_t *p, size_t from,
                    size_t n)
{
    size_t at = w->blen;
    put64(&w->body, &w->blen, &w->bcap, "\0\0\0\0\0\0\0\0", 8); /* frame, filled below */
    gb_bref_t r = {0};
    gb_blockio_write(p, from, n, &w->body, &w->blen, &w->bcap, &r.st, &r.codec);
    r.off = at;
    r.len = (uint32_t)(w->blen - at - 8);
    put32(w->body + at, r.len);
    put32(w->body + at + 4, gb_crc32(w->body + at + 8, r.len));
    bfw_block(w, x, r, k);
}

/* Adds series X (number K in the caller's list) with its points P: sorted, distinct times. */
static void bfw_series(bfw_t *w, const series_t *x, uint32_t k, const gb_pts_t *p)
{
    bfw_begin(w, x, blocks_for(p->n));
    for (size_t from = 0; from < p->n; from += GB_STORE_BLOCK_POINTS)
        bfw_put(w, x, k, p, from,
                p->n - from < GB_STORE_BLOCK_POINTS ? p->n - from : GB_STORE_BLOCK_POINTS);
}

/*
 * Adds series X (number K in the caller's list) with the points of its frozen head, using S's
 * memory for them. A head whose points came in time order (a series from one writer) is decoded
 * a segment at a time and written a block at a time, so a flush's memory does not grow with its
 * largest series: decoded whole, the 1 M points of the bench's 100 Hz series were most of a
 * flush's page faults, each new page a trap to the host on a virtual machine (11-16 us a page on
 * the bench's). The blocks are the same either way. Any other head is decoded whole, sorted and
 * rid of repeats.
 */
static void bfw_frozen(gb_store_t *s, bfw_t *w, const series_t *x, uint32_t k)
{
    const gb_head_t *h = &x->frozen;
    gb_pts_t *p = &s->fsorted;
    gb_pts_reset(p);
    p->type = x->type;
    if (h->unsorted || x->type == GB_VT_STR) {
        gb_pts_add_head(p, h);
        gb_pts_sort_dedupe_in(p, &s->fscratch);
        bfw_series(w, x, k, p);
        return;
    }
    bfw_begin(w, x, blocks_for(h->n));
    for (const gb_seg_t *g = h->first; g; g = g->next) {
        gb_pts_add_seg(p, h, g);
        size_t from = 0;
        for (; p->n - from >= GB_STORE_BLOCK_POINTS; from += GB_STORE_BLOCK_POINTS)
            bfw_put(w, x, k, p, from, GB_STORE_BLOCK_POINTS);
        gb_pts_drop_front(p, from);
    }
    if (p->n) bfw_put(w, x, k, p, 0, p->n);
}

/*
 * Writes the file as blocks/LO-NO (or NO) covering log segments up to COVERED: to a temporary
 * name, synced, renamed into place, directory synced. Frees W's buffers (not its refs).
 */
static int bfw_write(gb_store_t *s, bfw_t *w, uint64_t lo, uint64_t no, uint64_t covered)
{
    put32(w->foot, w->nser);
    /* the footer deflated: entries of one shape after another, it takes about half. Level 6:
     * level 9 made the plant load's files 0.02 % smaller for twice the time (4 % of an import) */
    struct libdeflate_compressor *c = libdeflate_alloc_compressor(6);
    size_t zcap = c ? libdeflate_deflate_compress_bound(c, w->flen) : 0, zlen = 0;
    unsigned char *z = gb_xmalloc(4 + zcap);
    put32(z, (uint32_t)w->flen);
    if (c) zlen = libdeflate_deflate_compress(c, w->foot, w->flen, z + 4, zcap);
    libdeflate_free_compressor(c);
    int rc =
        zlen ? gb_store__write_file(s, GB_FK_BLOCKS, lo, no, w->body, w->blen, z, 4 + zlen, covered)
             : GB_ENOMEM;
    free(z);
    free(w->body);
    free(w->foot);
    w->body = w->foot = NULL;
    return rc;
}

const char *gb_store__magic(gb_fkind_t k)
{
    return KINDS[k].magic;
}

int gb_store__write_file(gb_store_t *s, gb_fkind_t k, uint64_t lo, uint64_t no,
                         const unsigned char *body, size_t blen, const unsigned char *foot,
                         size_t flen, uint64_t extra)
{
    unsigned char tr[BF_TRAILER];
    uint64_t foff = blen;
    memcpy(tr, &foff, 8);
    put32(tr + 8, (uint32_t)flen);
    put32(tr + 12, gb_crc32(foot, flen));
    memcpy(tr + 16, &extra, 8);
    memcpy(tr + 24, KINDS[k].end, 8);
    char *tmp = gb_store__path(s, k, lo, no, ".tmp"), *fin = gb_store__path(s, k, lo, no, "");
    char *dir = gb_xasprintf("%s/%s", s->dir, KINDS[k].dir);
    if (k != GB_FK_BLOCKS) gb_mkdirs(dir); /* made on first use: a store without rollups has none */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    int rc = fd < 0 ? GB_EIO : 0, err = fd < 0 ? errno : 0;
    if (!rc && (rc = write_all(fd, body, blen)) != 0) err = errno;
    if (!rc && (rc = write_all(fd, foot, flen)) != 0) err = errno;
    if (!rc && (rc = write_all(fd, tr, sizeof tr)) != 0) err = errno;
    if (!rc && fdatasync(fd) != 0) {
        err = errno;
        rc = err == ENOSPC ? GB_ENOSPC : GB_EIO;
    }
    if (fd >= 0) close(fd);
    if (!rc && rename(tmp, fin) != 0) {
        err = errno;
        rc = GB_EIO;
    }
    if (!rc) {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        s->write_failing = false;
    } else {
        /* once until a file is written again: a flush that fails is tried again every second */
        if (!s->write_failing) gb_error("store", "cannot write %s: %s", fin, strerror(err));
        s->write_failing = true;
        unlink(tmp);
    }
    free(dir);
    free(tmp);
    free(fin);
    return rc;
}

/* Opens the file just written and makes it the store's; its blocks join their series. Locked. */
static int bfw_install(gb_store_t *s, bfw_t *w, series_t **ser, uint64_t lo, uint64_t no)
{
    int rc = gb_store__add_file(s, GB_FK_BLOCKS, lo, no, &s->files, &s->nfiles);
    if (rc) return rc;
    for (size_t i = 0; i < w->nrefs; i++) {
        series_t *x = ser[w->refs[i].file];
        w->refs[i].file = (uint32_t)(s->nfiles - 1);
        add_bref(x, &w->refs[i]);
    }
    return 0;
}

static int compact_locked(gb_store_t *s);

/* The most points a flush's sorting memory is kept for, from flush to flush (some 7 MiB). */
#define FSORT_KEEP (128u << 10)

/*
 * Writes the head to a new block file. Called with the lock held, and returns with it held, but
 * lets go of it while it syncs the log, encodes and writes, and deletes the log segments the file
 * covers: the head is frozen (readers still see it) and a new one takes appends meanwhile. One
 * flush at a time; a second one asked for meanwhile is skipped.
 */
static int flush_locked(gb_store_t *s)
{
    if (!s->head_points || s->o.readonly || s->flushing) return 0;
    gb_store__drain(s);
    uint64_t closed;
    int rc = gb_wal_rotate(s->wal, &closed);
    if (rc) return rc;
    uint32_t nser = s->nseries;
    series_t **ser = gb_xmalloc((nser ? nser : 1) * sizeof *ser);
    for (uint32_t i = 0; i < nser; i++) {
        series_t *x = ser[i] = s->series[i];
        x->frozen = x->head;
        gb_head_init(&x->head, x->type, &s->heads);
    }
    uint64_t frozen_points = s->head_points;
    s->head_points = 0;
    s->flushing = true;
    s->flush_gen++;
    pthread_cond_broadcast(&s->flushed_cv); /* writers waiting for the head to be taken go on */
    uint64_t no = s->next_file++;
    pthread_mutex_unlock(&s->mu);
    /* the log's syncs, off the lock: writers carry on in the new segment meanwhile */
    rc = gb_wal_rotate_finish(s->wal);
    if (rc && !s->sync_failing) /* once until a sync works again */
        gb_error("store", "cannot sync the write-ahead log: %s (the flush goes on)",
                 gb_strerror(rc));
    s->sync_failing = rc != 0; /* only the flush (FLUSHING) reads and sets it */
    rc = 0;

    bfw_t w;
    bfw_init(&w);
    gb_pts_t *sorted = &s->fsorted;
    for (uint32_t i = 0; i < nser; i++) /* (readers may be reading the frozen heads meanwhile) */
        if (ser[i]->frozen.n) bfw_frozen(s, &w, ser[i], i);
    if (sorted->cap > FSORT_KEEP) { /* a large one's memory is not kept for ever */
        gb_pts_clear(sorted);
        gb_pts_scratch_free(&s->fscratch);
    }
    rc = bfw_write(s, &w, no, no, closed);

    pthread_mutex_lock(&s->mu);
    /* writers drained chunks into the heads meanwhile: none now, and none until the lock goes
     * (the live chunks may stay: they go to whichever arrays are the head then) */
    pthread_mutex_lock(&s->stage.dmu);
    drain_pending(&s->stage, s, SIZE_MAX);
    pthread_mutex_unlock(&s->stage.dmu);
    char **gone = NULL;
    gb_seg_t *done = NULL; /* the written heads' segments */
    if (!rc) rc = bfw_install(s, &w, ser, no, no);
    if (rc) {
        /* the frozen points go back in front of what came meanwhile: nothing is lost */
        for (uint32_t i = 0; i < nser; i++)
            gb_head_take_front(&ser[i]->head, &ser[i]->frozen);
        s->head_points += frozen_points;
    } else {
        for (uint32_t i = 0; i < nser; i++)
            gb_head_detach(&ser[i]->frozen, &done);
        s->covered = closed;
        gone = gb_wal_drop(s->wal, closed);
    }
    if (s->head_points) s->head_since = gb_mono_ns();
    s->flushing = false;
    free(w.refs);
    free(ser);
    /* off the lock: the log segments the file covers deleted; on the flush thread, the memory
     * of the segments that stayed unused since the last flush given back (at close the pool
     * goes whole); then the written heads' segments given back to the pool, after that, so
     * that the next heads take them with their memory still there */
    bool trim = !rc && s->flusher_on && pthread_equal(pthread_self(), s->flusher);
    if (gone || trim || done) {
        pthread_mutex_unlock(&s->mu);
        if (gone) gb_wal_remove(gone);
        if (trim) gb_pool_trim(&s->heads);
        gb_head_free_list(&s->heads, done);
        pthread_mutex_lock(&s->mu);
    }
    /* merges cascade: eight files of one level make one of the next */
    while (!rc && compact_locked(s) > 0) {
    }
    return rc;
}

/* ---- the flush thread ---------------------------------------------------------------------- */

/* Whether the head is due for a flush: big enough, or its oldest point waited long enough. */
static bool flush_wanted(const gb_store_t *s)
{
    return s->head_points && !s->o.readonly &&
           (s->head_points >= s->o.flush_points ||
            gb_mono_ns() - s->head_since >= s->o.flush_interval_ns);
}

static void *flusher_main(void *arg)
{
    gb_store_t *s = arg;
    int64_t retry_at = 0; /* after a failed flush: not again before this (however often told) */
    /* Flushes and merges are work that can wait: on a busy machine this thread yields to the
     * writers (nice +10, this thread alone, as Linux keeps a nice value per thread). When it
     * competed with them as an equal, it took the cores from writers that hold the store's lock
     * and held every other writer up: HTTP ingest was a fifth slower. It still gets its turn:
     * writers that get a whole flush ahead of it wait for it (flush_due). */
    errno = 0;
    int nice_now = getpriority(PRIO_PROCESS, 0);
    if (errno == 0) (void)setpriority(PRIO_PROCESS, 0, nice_now + FLUSH_NICE);
    pthread_mutex_lock(&s->mu);
    while (!s->flusher_stop) {
        int64_t now = gb_mono_ns();
        bool wanted = flush_wanted(s), may = !s->flush_failed || now >= retry_at;
        if (wanted && may && !s->flushing) {
            int rc = flush_locked(s); /* lets go of the lock while it works */
            if (rc && rc != s->flush_failed)
                gb_error("store",
                         "flush failed: %s; the points stay in memory and in the log, "
                         "and the flush is tried again every second",
                         gb_strerror(rc));
            else if (!rc && s->flush_failed)
                gb_info("store", "flushes go through again");
            s->flush_failed = rc;
            retry_at = gb_mono_ns() + GB_NS_PER_S;
            pthread_cond_broadcast(&s->flushed_cv); /* also to writers held back: it failed */
            continue;
        }
        /* a failed flush's next try, or a compaction or rollup pass holding the files: look
         * again in a while; else wait for a writer's or the tick's call */
        if (wanted && !may)
            gb_cond_wait_until(&s->flush_cv, &s->mu, retry_at);
        else if (wanted)
            gb_cond_wait_until(&s->flush_cv, &s->mu, now + GB_NS_PER_S / 20);
        else
            pthread_cond_wait(&s->flush_cv, &s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static void flusher_start(gb_store_t *s)
{
    if (pthread_create(&s->flusher, NULL, flusher_main, s) != 0) {
        gb_warn("store", "cannot start the flush thread: flushes run on the writers' threads");
        return;
    }
    pthread_setname_np(s->flusher, "gemba-flush");
    s->flusher_on = true;
}

static void flusher_stop(gb_store_t *s)
{
    if (!s->flusher_on) return;
    pthread_mutex_lock(&s->mu);
    s->flusher_stop = true;
    pthread_cond_signal(&s->flush_cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->flusher, NULL);
    s->flusher_on = false;
}

/*
 * The head is due for a flush (the lock held): the flush thread is told, and the caller waits
 * only until it has taken the head (a few milliseconds: the stage drained, the heads swapped, the
 * log switched), not for the flush. Without that wait a writer appending in a loop takes the
 * lock again and again before the woken thread gets it, and the head grows on. When the thread
 * is busy (a flush or a merge still running) the caller goes on, until the head holds two
 * flushes' worth: memory stays bounded when writers outrun the disk. Without the thread, the
 * flush runs here.
 */
static int flush_due(gb_store_t *s)
{
    if (!s->flusher_on) return flush_locked(s);
    pthread_cond_signal(&s->flush_cv);
    uint64_t gen = s->flush_gen;
    while (!s->flush_failed && !s->flusher_stop && s->flush_gen == gen &&
           (!s->flushing || s->head_points >= 2 * s->o.flush_points))
        pthread_cond_wait(&s->flushed_cv, &s->mu);
    return 0;
}

/* ---- compaction ------------------------------------------------------------------------------ */

/* A file's level: how many times its flushes were merged by eight (0 for a flush's own file). */
static int level_of(const bfile_t *f)
{
    uint64_t span = f->no - f->lo + 1;
    int l = 0;
    while (span >= GB_STORE_COMPACT_FILES) {
        span /= GB_STORE_COMPACT_FILES;
        l++;
    }
    return l;
}

/* Closes retired files nobody reads any more, and the old descriptors of rewritten ones. */
void gb_store__close_retired(gb_store_t *s)
{
    if (s->readers) return;
    for (size_t i = 0; i < s->nfiles; i++)
        if (s->files[i].retired && s->files[i].fd >= 0) {
            close(s->files[i].fd);
            s->files[i].fd = -1;
        }
    for (size_t i = 0; i < s->nrfiles; i++)
        if (s->rfiles[i].retired && s->rfiles[i].fd >= 0) {
            close(s->rfiles[i].fd);
            s->rfiles[i].fd = -1;
        }
    for (size_t i = 0; i < s->nstale; i++)
        close(s->stale[i]);
    s->nstale = 0;
}

void gb_store__stale(gb_store_t *s, int fd)
{
    s->stale = gb_xrealloc(s->stale, (s->nstale + 1) * sizeof *s->stale);
    s->stale[s->nstale++] = fd;
    gb_store__close_retired(s);
}

void gb_store__retire(gb_store_t *s, gb_fkind_t k, bfile_t *f)
{
    f->retired = true;
    if (s->o.readonly) return;
    char *p = gb_store__path(s, k, f->lo, f->no, "");
    unlink(p);
    free(p);
}

bool gb_store__compaction_due(const bfile_t *files, size_t n, size_t *idx)
{
    size_t live = 0;
    for (size_t i = n; i-- > 0 && live < GB_STORE_COMPACT_FILES;)
        if (!files[i].retired) idx[GB_STORE_COMPACT_FILES - 1 - live++] = i;
    if (live < GB_STORE_COMPACT_FILES) return false;
    int lv = level_of(&files[idx[0]]);
    for (size_t k = 1; k < live; k++)
        if (level_of(&files[idx[k]]) != lv) return false;
    uint64_t lo = files[idx[0]].lo, no = files[idx[live - 1]].no;
    for (size_t i = 0; i < n; i++) /* nothing older may sit between the merged ones */
        if (!files[i].retired && files[i].no >= lo && files[i].no <= no) {
            bool in = false;
            for (size_t k = 0; k < live; k++)
                in |= idx[k] == i;
            if (!in) return false;
        }
    return true;
}

/*
 * Merges the LIVE files IDX (live ones, oldest first, with no other live file between them) into
 * one file named by the flushes they hold: each series' points are decoded, merged (a later
 * file's point at the same time wins) and cut into blocks again, so a series keeps one run of
 * full blocks where it had one short run per flush. Called with the lock held; lets go of it
 * while it reads and writes, like a flush. The merged file is written before the files it
 * replaces are deleted: after a crash in between, opening the store skips them. Returns 1 when
 * it merged, or an error (nothing changed).
 */
static int merge_files_locked(gb_store_t *s, const size_t *idx, size_t live)
{
    uint64_t lo = s->files[idx[0]].lo, no = s->files[idx[live - 1]].no;
    /* what to read: per series, its blocks in those files, oldest file first */
    uint32_t nser = s->nseries;
    series_t **ser = gb_xmalloc((nser ? nser : 1) * sizeof *ser);
    typedef struct {
        gb_bref_t r;
        int fd;
    } part_t;
    part_t **parts = gb_xcalloc(nser ? nser : 1, sizeof *parts);
    size_t *nparts = gb_xcalloc(nser ? nser : 1, sizeof *nparts);
    for (uint32_t i = 0; i < nser; i++) {
        series_t *x = ser[i] = s->series[i];
        for (size_t k = 0; k < live; k++)
            for (size_t b = 0; b < x->nblocks; b++)
                if (x->blocks[b].file == idx[k]) {
                    parts[i] = gb_xrealloc(parts[i], (nparts[i] + 1) * sizeof **parts);
                    parts[i][nparts[i]++] = (part_t){x->blocks[b], s->files[idx[k]].fd};
                }
    }
    s->flushing = true;
    s->readers++; /* the merged files stay open while they are read here */
    pthread_mutex_unlock(&s->mu);

    int rc = 0;
    bfw_t w;
    bfw_init(&w);
    gb_pts_t pts;
    for (uint32_t i = 0; i < nser && !rc; i++) {
        if (!nparts[i]) continue;
        gb_pts_init(&pts, ser[i]->type);
        for (size_t k = 0; k < nparts[i] && !rc; k++) {
            const part_t *pt = &parts[i][k];
            unsigned char *buf;
            rc = gb_blockio_load(pt->fd, &pt->r, &buf);
            if (!rc && gb_blockio_read(buf + 8, pt->r.len, &pts) != 0) rc = GB_EPROTO;
            free(buf);
        }
        if (!rc) {
            gb_pts_sort_dedupe(&pts); /* a later file's point at the same time wins */
            bfw_series(&w, ser[i], i, &pts);
        }
        gb_pts_clear(&pts);
    }
    uint64_t covered;
    if (!rc) {
        pthread_mutex_lock(&s->mu);
        covered = s->covered;
        pthread_mutex_unlock(&s->mu);
        rc = bfw_write(s, &w, lo, no, covered);
    } else {
        gb_error("store",
                 "compaction of block files %llu to %llu stopped: %s; they stay as they are",
                 (unsigned long long)lo, (unsigned long long)no, gb_strerror(rc));
        free(w.body);
        free(w.foot);
    }

    pthread_mutex_lock(&s->mu);
    s->readers--;
    if (!rc) rc = bfw_install(s, &w, ser, lo, no);
    if (!rc) {
        /* the merged files' blocks leave their series; the files are deleted */
        for (uint32_t i = 0; i < nser; i++) {
            series_t *x = ser[i];
            size_t m = 0;
            for (size_t b = 0; b < x->nblocks; b++) {
                bool merged = false;
                for (size_t k = 0; k < live; k++)
                    merged |= x->blocks[b].file == idx[k];
                if (merged)
                    x->block_points -= x->blocks[b].st.count;
                else
                    x->blocks[m++] = x->blocks[b];
            }
            x->nblocks = m;
        }
        for (size_t k = 0; k < live; k++)
            gb_store__retire(s, GB_FK_BLOCKS, &s->files[idx[k]]);
        gb_store__close_retired(s);
    }
    s->flushing = false;
    for (uint32_t i = 0; i < nser; i++)
        free(parts[i]);
    free(parts);
    free(nparts);
    free(w.refs);
    free(ser);
    return rc ? rc : 1;
}

/*
 * Merges the newest GB_STORE_COMPACT_FILES files when they are all of one level into one file of
 * the next, so a store that flushes often (or restarts often) keeps few files, and each point is
 * rewritten about log8(flushes) times. Locked (lets go while it merges). Returns 1 when it
 * merged, 0 when there was nothing to merge, or an error (nothing changed).
 */
static int compact_locked(gb_store_t *s)
{
    size_t idx[GB_STORE_COMPACT_FILES];
    if (s->o.readonly || s->flushing || !gb_store__compaction_due(s->files, s->nfiles, idx))
        return 0;
    return merge_files_locked(s, idx, GB_STORE_COMPACT_FILES);
}

/*
 * At a clean stop: merges the newest files of level 0 (the flushes since the last compaction, at
 * most seven) when there are two or more. Each flush leaves every series a short block, whose
 * header and footer entry cost more than its points when flushes are frequent; one merged file
 * holds each series in full blocks, and is what stays on disk while the store is stopped. The
 * merged file is still of level 0 (it spans fewer than eight flushes), so it takes part in the
 * next compaction like the flushes it holds. Locked. 1, 0 (nothing to merge) or an error.
 */
static int merge_level0_locked(gb_store_t *s)
{
    size_t idx[GB_STORE_COMPACT_FILES], n = 0;
    if (s->o.readonly || s->flushing) return 0;
    for (size_t i = s->nfiles; i-- > 0 && n < GB_STORE_COMPACT_FILES;) {
        if (s->files[i].retired) continue;
        if (level_of(&s->files[i])) break;
        idx[n++] = i;
    }
    if (n < 2) return 0;
    for (size_t k = 0; k < n / 2; k++) { /* oldest first */
        size_t t = idx[k];
        idx[k] = idx[n - 1 - k];
        idx[n - 1 - k] = t;
    }
    return merge_files_locked(s, idx, n);
}

/* ---- retention ------------------------------------------------------------------------------- */

/*
 * Rewrites block file FI without its dropped blocks when they take more than half of it: the live
 * blocks' frames are copied as they are into a file of the same name, written whole and renamed
 * over the old one, so a crash leaves one or the other, and either holds every live block (the
 * old one's dropped blocks are dropped again at the next open). Locked; lets go of the lock while
 * it copies, like a compaction. Returns 1 when it rewrote, 0 when not needed, or an error.
 */
static int rewrite_block_file(gb_store_t *s, size_t fi)
{
    bfile_t *f = &s->files[fi];
    uint64_t live = 0;
    size_t nparts = 0;
    for (uint32_t i = 0; i < s->nseries; i++)
        for (size_t b = 0; b < s->series[i]->nblocks; b++)
            if (s->series[i]->blocks[b].file == fi) {
                live += s->series[i]->blocks[b].len + 8 + BF_ENTRY;
                nparts++;
            }
    if (f->retired || !nparts || live * 2 >= f->bytes || s->flushing || s->o.readonly) return 0;
    typedef struct {
        series_t *x;
        size_t b; /* where in x->blocks */
    } part_t;
    part_t *parts = gb_xmalloc(nparts * sizeof *parts);
    size_t n = 0;
    for (uint32_t i = 0; i < s->nseries; i++)
        for (size_t b = 0; b < s->series[i]->nblocks; b++)
            if (s->series[i]->blocks[b].file == fi) parts[n++] = (part_t){s->series[i], b};
    int fd = f->fd;
    uint64_t lo = f->lo, no = f->no, covered = s->covered, old_bytes = f->bytes;
    /* a copy of the references: the series' arrays may move while the lock is let go */
    gb_bref_t *refs = gb_xmalloc(nparts * sizeof *refs);
    for (size_t k = 0; k < nparts; k++)
        refs[k] = parts[k].x->blocks[parts[k].b];
    s->flushing = true; /* nothing else adds or drops blocks meanwhile */
    s->readers++;
    pthread_mutex_unlock(&s->mu);

    bfw_t w;
    bfw_init(&w);
    int rc = 0;
    for (size_t k = 0; k < nparts && !rc; k++) {
        if (k == 0 || parts[k].x != parts[k - 1].x) {
            uint32_t nb = 0;
            for (size_t j = k; j < nparts && parts[j].x == parts[k].x; j++)
                nb++;
            bfw_begin(&w, parts[k].x, nb);
        }
        unsigned char *buf;
        rc = gb_blockio_load(fd, &refs[k], &buf);
        if (!rc) {
            gb_bref_t r = refs[k];
            r.off = w.blen;
            put64(&w.body, &w.blen, &w.bcap, buf, (size_t)r.len + 8);
            bfw_block(&w, parts[k].x, r, (uint32_t)k);
        }
        free(buf);
    }
    if (!rc)
        rc = bfw_write(s, &w, lo, no, covered);
    else {
        gb_error("store", "block file %llu holds a damaged block (%s); it is kept as it is",
                 (unsigned long long)no, gb_strerror(rc));
        free(w.body);
        free(w.foot);
    }
    pthread_mutex_lock(&s->mu);
    s->readers--;
    s->flushing = false;
    f = &s->files[fi];
    if (!rc) {
        char *p = gb_store__path(s, GB_FK_BLOCKS, lo, no, "");
        int nfd = open(p, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (nfd >= 0 && fstat(nfd, &st) == 0) {
            /* queries that copied the old descriptor go on reading the old file */
            gb_store__stale(s, f->fd);
            f->fd = nfd;
            f->bytes = (uint64_t)st.st_size;
            for (size_t k = 0; k < w.nrefs; k++) {
                gb_bref_t *r = &parts[w.refs[k].file].x->blocks[parts[w.refs[k].file].b];
                r->off = w.refs[k].off;
                r->entry = w.refs[k].entry; /* a version 1 file's comes back as version 2 */
            }
            gb_info("store", "retention: rewrote %s without its dropped blocks: %llu bytes to %llu",
                    p, (unsigned long long)old_bytes, (unsigned long long)f->bytes);
        } else {
            /* the file on disk is the new one: its blocks are where the new references say */
            gb_error("store", "cannot open %s after rewriting it: %s", p, strerror(errno));
            if (nfd >= 0) close(nfd);
            rc = GB_EIO;
        }
        free(p);
    }
    free(w.refs);
    free(refs);
    free(parts);
    return rc ? rc : 1;
}

/*
 * Retention, at open and every hour. For series whose rollups outlive their points, the points
 * of every whole hour past the keep period are first summed up into a rollup file
 * (gb_store__rollup_pass); a block goes once its newest point is past the keep period and, for
 * those series, in rollups. Then block files with no block left are deleted, and those mostly
 * dropped are rewritten. Locked (may let go of the lock while it writes). A readonly store only
 * leaves the dropped blocks out of its view.
 */
static void retention_locked(gb_store_t *s, gb_time_t now)
{
    s->last_retention = gb_mono_ns();
    s->retention_due = false;
    if (!s->nret) return;
    if (s->flushing) { /* a flush or compaction is writing without the lock: the next tick */
        s->retention_due = true;
        return;
    }
    if (!s->o.readonly && gb_store__rollup_pass(s, now) == GB_EBUSY) s->retention_due = true;
    uint64_t blocks = 0, points = 0;
    for (uint32_t i = 0; i < s->nseries; i++) {
        series_t *x = s->series[i];
        if (x->keep_ns <= 0 || now - x->keep_ns < INT64_MIN / 2) continue;
        gb_time_t cutoff = now - x->keep_ns;
        /* a series whose points become rollups keeps them until they are */
        if (gb_store__rolls(x) && x->rolled < cutoff) cutoff = x->rolled;
        size_t m = 0;
        for (size_t b = 0; b < x->nblocks; b++) {
            if (x->blocks[b].st.tmax < cutoff) {
                x->block_points -= x->blocks[b].st.count;
                points += x->blocks[b].st.count;
                blocks++;
            } else {
                x->blocks[m++] = x->blocks[b];
            }
        }
        x->nblocks = m;
    }
    if (!blocks) return;
    size_t *live = gb_xcalloc(s->nfiles ? s->nfiles : 1, sizeof *live);
    for (uint32_t i = 0; i < s->nseries; i++)
        for (size_t b = 0; b < s->series[i]->nblocks; b++)
            live[s->series[i]->blocks[b].file]++;
    size_t files = 0, rewritten = 0;
    for (size_t f = 0; f < s->nfiles; f++) {
        if (s->files[f].retired || live[f]) continue;
        gb_store__retire(s, GB_FK_BLOCKS, &s->files[f]);
        files++;
    }
    free(live);
    gb_store__close_retired(s);
    for (size_t f = 0; f < s->nfiles; f++)
        if (rewrite_block_file(s, f) > 0) rewritten++;
    if (!s->o.readonly)
        gb_info("store",
                "retention: dropped %llu blocks (%llu points) past their keep period; %zu "
                "block files deleted, %zu rewritten",
                (unsigned long long)blocks, (unsigned long long)points, files, rewritten);
}

/* ---- open, append, close --------------------------------------------------------------------- */

int gb_store_open(const char *dir, const gb_store_opts_t *opts, gb_store_t **out)
{
    *out = NULL;
    if (!*dir) { /* "" + "/blocks" would be a directory at the root of the file system */
        gb_error("store", "the data directory's name is empty: give --data a directory");
        return GB_EINVAL;
    }
    gb_store_t *s = gb_xcalloc(1, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->stage.dmu, NULL);
    pthread_mutex_init(&s->stage.pmu, NULL);
    pthread_cond_init(&s->stage.dcv, NULL);
    gb_pool_init(&s->heads);
    s->stage.pool = &s->heads;
    gb_cond_init_mono(&s->flush_cv);
    gb_cond_init_mono(&s->flushed_cv);
    pthread_rwlock_init(&s->names, NULL);
    s->dir = gb_xstrdup(dir);
    if (opts) s->o = *opts;
    if (!s->o.sync_interval_ns) s->o.sync_interval_ns = GB_NS_PER_S;
    if (!s->o.flush_points) s->o.flush_points = 4000000;
    if (!s->o.flush_interval_ns) s->o.flush_interval_ns = 3600 * GB_NS_PER_S;
    s->next_file = s->next_rfile = 1;
    if (s->o.nretention) {
        s->ret = gb_xcalloc(s->o.nretention, sizeof *s->ret);
        for (size_t i = 0; i < s->o.nretention; i++) {
            s->ret[i] = s->o.retention[i];
            s->ret[i].pattern = gb_xstrdup(s->o.retention[i].pattern);
        }
        s->nret = s->o.nretention;
    }
    s->o.retention = NULL;
    gb_map_init(&s->by_path);
    int rc;
    struct stat st;
    bool exists = stat(dir, &st) == 0;
    if (s->o.readonly && !exists) {
        rc = GB_ENOENT;
        goto fail;
    }
    if (exists && !S_ISDIR(st.st_mode)) {
        gb_error("store", "the data directory %s is a file, not a directory", dir);
        rc = GB_EINVAL;
        goto fail;
    }
    if (!s->o.readonly) {
        char *bdir = gb_xasprintf("%s/blocks", dir);
        int mk = gb_mkdirs(bdir);
        if (mk != 0)
            gb_error("store", "cannot create the data directory %s (making %s): %s", dir, bdir,
                     strerror(errno));
        free(bdir);
        if (mk != 0) {
            rc = GB_EIO;
            goto fail;
        }
    }
    if ((rc = load_files(s)) != 0 || (rc = gb_store__load_rollups(s)) != 0) goto fail;
    char *wdir = gb_xasprintf("%s/wal", dir);
    rc = gb_wal_open(wdir, s->covered, s->o.readonly, replay_record, s, &s->wal);
    free(wdir);
    if (!rc && s->o.buffer_bytes) gb_wal_set_buffer(s->wal, s->o.buffer_bytes);
    if (rc == GB_EBUSY)
        gb_error("store", "data directory %s is in use by another gemba process", dir);
    if (rc) goto fail;
    pthread_mutex_lock(&s->mu); /* alone with it still, but retention lets go of the lock */
    retention_locked(s, gb_now());
    pthread_mutex_unlock(&s->mu);
    if (!s->o.readonly) {
        gb_pool_ahead(&s->heads);
        drainer_start(s);
        flusher_start(s);
    }
    *out = s;
    return 0;
fail:
    gb_store_close(s);
    return rc;
}

/* GB_ENOSPC when the store has reached max_disk_bytes (said once), else 0. Caller holds the lock.
 */
static int disk_check(gb_store_t *s)
{
    if (!s->o.max_disk_bytes) return 0;
    gb_wal_info_t wi;
    gb_wal_info(s->wal, &wi);
    uint64_t used = wi.bytes + gb_wal_pending(s->wal);
    for (size_t i = 0; i < s->nfiles; i++)
        if (!s->files[i].retired) used += s->files[i].bytes;
    for (size_t i = 0; i < s->nrfiles; i++)
        if (!s->rfiles[i].retired) used += s->rfiles[i].bytes;
    if (used < s->o.max_disk_bytes) {
        s->full_logged = false;
        return 0;
    }
    if (!s->full_logged)
        gb_error("store",
                 "%s holds %llu bytes, at its limit of %llu (--max-disk): new samples are "
                 "refused until space is made; everything stored so far is kept",
                 s->dir, (unsigned long long)used, (unsigned long long)s->o.max_disk_bytes);
    s->full_logged = true;
    return GB_ENOSPC;
}

static uint32_t series_for_tag(gb_store_t *s, const gb_tags_t *reg, uint32_t tag)
{
    if (reg != s->reg || tag >= s->ntag) {
        if (reg != s->reg) {
            free(s->tag_series);
            s->tag_series = NULL;
            s->ntag = 0;
            s->reg = reg;
        }
        uint32_t n = gb_tags_count(reg);
        s->tag_series = gb_xrealloc(s->tag_series, n * sizeof *s->tag_series);
        memset(s->tag_series + s->ntag, 0, (n - s->ntag) * sizeof *s->tag_series);
        s->ntag = n;
    }
    if (s->tag_series[tag]) return s->tag_series[tag] - 1;
    const gb_tag_t *t = gb_tags_get(reg, tag);
    series_t *x = find_series(s, t->path);
    uint32_t no = GB_NONE;
    if (strlen(t->path) > GB_STORE_PATH_MAX)
        gb_error("store",
                 "tag %.100s... has a path longer than %u bytes: its samples are not stored",
                 t->path, GB_STORE_PATH_MAX);
    else if (x && x->type != (gb_vtype_t)t->type)
        gb_error("store",
                 "series %s is stored as %s, but the tag is now %s: its samples are not "
                 "stored",
                 t->path, gb_vtype_name(x->type), gb_vtype_name((gb_vtype_t)t->type));
    else
        no = gb_store__add_series(s, t->path, (gb_vtype_t)t->type);
    s->tag_series[tag] = no == GB_NONE ? GB_NONE : no + 1;
    return no;
}

/* After a record is sealed (the lock held): synced at once under --sync always, else a flush
 * asked for when the head is due. */
static int record_sealed(gb_store_t *s)
{
    if (s->o.sync_always) return gb_wal_sync(s->wal); /* the batch is in the buffer: it will land */
    return s->head_points >= s->o.flush_points ? flush_due(s) : 0;
}

int gb_store_append(gb_store_t *s, const gb_tags_t *reg, const gb_batch_t *b)
{
    pthread_mutex_lock(&s->mu);
    int rc = disk_check(s);
    if (!rc) rc = gb_wal_flush_if_full(s->wal);
    if (rc || b->n == 0) goto out;
    /* series declarations first, so every sample record refers to a declared series */
    uint32_t *nos = gb_xmalloc(b->n * sizeof *nos);
    uint64_t seg = gb_wal_current(s->wal);
    for (size_t i = 0; i < b->n; i++) {
        uint32_t tag = b->samples[i].tag, known = 0;
        if (reg == s->reg && tag < s->ntag) known = s->tag_series[tag];
        uint32_t no = known ? known - 1 : series_for_tag(s, reg, tag);
        nos[i] = no;
        if (no != GB_NONE && s->declared[no] != seg) declare(s, no);
    }
    unsigned char *p = gb_wal_reserve(s->wal, 5 + PACKED_MAX * b->n + b->strings_len);
    p[0] = REC_PACKED;
    size_t off = 5;
    uint32_t cnt = 0;
    packer_t k = {0, 0};
    for (size_t i = 0; i < b->n; i++) {
        uint32_t no = nos[i];
        const gb_sample_t *smp = &b->samples[i];
        if (no == GB_NONE || s->stype[no] != smp->type) continue;
        gb_quality_t q = (gb_quality_t)smp->quality;
        if (smp->type == GB_VT_F64 || smp->type == GB_VT_I64) {
            gb_slot_t v;
            memcpy(&v, &smp->v, 8);
            off += put_number(s, p + off, &k, no, smp->t, (gb_vtype_t)smp->type, q, v);
        } else {
            gb_value_t v = {.type = (gb_vtype_t)smp->type};
            if (v.type == GB_VT_STR)
                v.str = gb_sample_str(b, smp, &v.len);
            else
                v.b = smp->v.b;
            off += pack_sample(p + off, &k, no, smp->t, q, &v);
            take(s, no, smp->t, q, &v);
        }
        cnt++;
    }
    free(nos);
    put32(p + 1, cnt);
    gb_wal_seal(s->wal, off);
    s->appended += b->n;
    rc = record_sealed(s);
out:
    pthread_mutex_unlock(&s->mu);
    drain_handed(s);
    return rc;
}

uint32_t gb_store_path_hash(const char *path, size_t n)
{
    return gb_map_hash_n(path, n);
}

/* Why point W (of series NO, GB_NONE when it could not be made) cannot be stored; GB_WP_TAKEN
 * when it can. */
static gb_wp_why_t point_refusal(const gb_store_t *s, const gb_store_wpoint_t *w, uint32_t no)
{
    if (no == GB_NONE) return GB_WP_NAME;
    if (s->stype[no] != w->v.type) return GB_WP_TYPE;
    if (w->v.type == GB_VT_STR && w->v.len > GB_SAMPLE_STR_MAX) return GB_WP_TEXT;
    if (w->t == INT64_MAX) return GB_WP_TIME;
    return GB_WP_TAKEN;
}

/* Refuses the points of the lines (runs joined by with_prev) that hold a refused point: WHY[i]
 * set for each; returns how many more were refused. */
static size_t refuse_lines(const gb_store_wpoint_t *pts, size_t n, uint32_t *nos, uint8_t *why)
{
    size_t more = 0;
    for (size_t a = 0, b; a < n; a = b) {
        bool any = why[a] != GB_WP_TAKEN;
        for (b = a + 1; b < n && pts[b].with_prev; b++)
            any |= why[b] != GB_WP_TAKEN;
        for (size_t i = a; any && i < b; i++)
            if (why[i] == GB_WP_TAKEN) {
                why[i] = GB_WP_WITH_LINE;
                nos[i] = GB_NONE;
                more++;
            }
    }
    return more;
}

int gb_store_write_points(gb_store_t *s, const gb_store_wpoint_t *pts, size_t n, size_t *refused,
                          uint8_t *why)
{
    /* the names looked up before the store's lock is taken, so that writers (HTTP requests on
     * their threads) do that part side by side; the few new ones are made under the lock */
    uint32_t *nos = gb_xmalloc((n ? n : 1) * 2 * sizeof *nos), *lens = nos + (n ? n : 1);
    for (size_t i = 0; i < n; i++) { /* a hash of 0 given is computed again: it comes out 0 */
        if (pts[i].hash && pts[i].plen) {
            nos[i] = pts[i].hash;
            lens[i] = pts[i].plen;
        } else {
            size_t len = strlen(pts[i].path);
            nos[i] = gb_map_hash_n(pts[i].path, len);
            lens[i] = len > GB_STORE_PATH_MAX ? GB_STORE_PATH_MAX + 1 : (uint32_t)len;
        }
    }
    pthread_rwlock_rdlock(&s->names);
    /* slots and keys fetched ahead: their cache misses overlap */
    enum { SLOT_AHEAD = 16, KEY_AHEAD = 8 };
    for (size_t i = 0; i < n && i < SLOT_AHEAD; i++)
        gb_map_prefetch(&s->by_path, nos[i], false);
    for (size_t i = 0; i < n; i++) {
        if (i + SLOT_AHEAD < n) gb_map_prefetch(&s->by_path, nos[i + SLOT_AHEAD], false);
        if (i + KEY_AHEAD < n) gb_map_prefetch(&s->by_path, nos[i + KEY_AHEAD], true);
        if (!gb_map_get_hn(&s->by_path, pts[i].path, lens[i], nos[i], &nos[i])) nos[i] = GB_NONE;
    }
    pthread_rwlock_unlock(&s->names);
    pthread_mutex_lock(&s->mu);
    size_t bad = 0;
    uint8_t *whyb = NULL; /* WHY, or our own when the caller gave none */
    int rc = disk_check(s);
    if (!rc) rc = gb_wal_flush_if_full(s->wal);
    if (rc || n == 0) goto out;
    /* series first (declared in the log before the record that uses them), then one record */
    size_t need = 5;
    uint64_t seg = gb_wal_current(s->wal);
    for (size_t i = 0; i < n; i++) {
        uint32_t no = nos[i];
        if (no == GB_NONE) /* new, or made by another writer since the look-up */
            no = strlen(pts[i].path) > GB_STORE_PATH_MAX
                     ? GB_NONE
                     : gb_store__add_series(s, pts[i].path, pts[i].v.type);
        gb_wp_why_t r = point_refusal(s, &pts[i], no);
        if (r != GB_WP_TAKEN) {
            nos[i] = GB_NONE;
            if (!bad++) {
                whyb = why ? why : gb_xmalloc(n);
                memset(whyb, GB_WP_TAKEN, n);
            }
            whyb[i] = (uint8_t)r;
            continue;
        }
        nos[i] = no;
        if (s->declared[no] != seg) declare(s, no);
        need += PACKED_MAX + (pts[i].v.type == GB_VT_STR ? pts[i].v.len : 0);
    }
    if (bad) { /* the rest of their lines (a declared series may then go without points) */
        bad += refuse_lines(pts, n, nos, whyb);
        if (whyb != why) free(whyb);
    }
    unsigned char *p = gb_wal_reserve(s->wal, need);
    p[0] = REC_PACKED;
    size_t off = 5;
    uint32_t cnt = 0;
    packer_t k = {0, 0};
    for (size_t i = 0; i < n; i++) {
        uint32_t no = nos[i];
        if (no == GB_NONE) continue;
        const gb_store_wpoint_t *w = &pts[i];
        if (w->v.type == GB_VT_F64 || w->v.type == GB_VT_I64) {
            off +=
                put_number(s, p + off, &k, no, w->t, w->v.type, w->q, gb_slot_of(w->v.type, &w->v));
        } else {
            off += pack_sample(p + off, &k, no, w->t, w->q, &w->v);
            take(s, no, w->t, w->q, &w->v);
        }
        cnt++;
    }
    put32(p + 1, cnt);
    gb_wal_seal(s->wal, off);
    s->appended += cnt;
    rc = record_sealed(s);
out:
    pthread_mutex_unlock(&s->mu);
    drain_handed(s);
    free(nos);
    if (refused) *refused = bad;
    return rc;
}

int gb_store_write(gb_store_t *s, const char *path, gb_time_t t, gb_quality_t q,
                   const gb_value_t *v)
{
    gb_store_wpoint_t p = {.path = path, .t = t, .q = q, .v = *v};
    size_t bad = 0;
    int rc = gb_store_write_points(s, &p, 1, &bad, NULL);
    return rc ? rc : bad ? GB_EINVAL : 0;
}

int gb_store_sync(gb_store_t *s)
{
    pthread_mutex_lock(&s->mu);
    int rc = s->wal ? gb_wal_sync(s->wal) : 0;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int gb_store_tick(gb_store_t *s)
{
    pthread_mutex_lock(&s->mu);
    int rc = s->o.readonly ? 0 : gb_wal_tick(s->wal, s->o.sync_interval_ns);
    if (!rc && !s->o.readonly && s->nret &&
        (s->retention_due || gb_mono_ns() - s->last_retention >= 3600 * GB_NS_PER_S))
        retention_locked(s, gb_now());
    if (!rc && flush_wanted(s)) rc = flush_due(s);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int gb_store_flush(gb_store_t *s)
{
    pthread_mutex_lock(&s->mu);
    while (s->flushing) /* the flush thread's (or a compaction's) first: then all of the rest */
        gb_cond_wait_until(&s->flushed_cv, &s->mu, gb_mono_ns() + GB_NS_PER_S / 100);
    int rc = flush_locked(s);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

uint64_t gb_store_appended(gb_store_t *s)
{
    pthread_mutex_lock(&s->mu);
    uint64_t n = s->appended;
    pthread_mutex_unlock(&s->mu);
    return n;
}

int gb_store_close(gb_store_t *s)
{
    if (!s) return 0;
    int rc = 0;
    drainer_stop(s); /* what it left, the close's flush drains */
    flusher_stop(s); /* a flush it was writing is finished first */
    if (s->wal && !s->o.readonly) {
        pthread_mutex_lock(&s->mu);
        rc = gb_wal_sync(s->wal);
        if (!rc) rc = flush_locked(s);
        if (!rc) merge_level0_locked(s); /* a failed merge loses nothing: it is logged, not told */
        pthread_mutex_unlock(&s->mu);
    }
    gb_wal_close(s->wal);
    for (size_t i = 0; i < s->nfiles; i++)
        if (s->files[i].fd >= 0) close(s->files[i].fd);
    free(s->files);
    s->files = NULL;
    s->nfiles = 0;
    s->readers = 0;
    gb_store__close_retired(s); /* the stale descriptors */
    free(s->stale);
    gb_store__rollups_clear(s);
    for (uint32_t i = 0; i < s->nseries; i++) {
        gb_head_clear(&s->series[i]->head);
        gb_head_clear(&s->series[i]->frozen);
        gb_value_keep_clear(&s->series[i]->last_v);
        free(s->series[i]->blocks);
        free(s->series[i]->rollups);
        free(s->series[i]->path);
        free(s->series[i]);
    }
    free(s->series);
    stage_clear(&s->stage); /* its chunks are the pool's */
    gb_pool_clear(&s->heads);
    gb_pts_clear(&s->fsorted);
    gb_pts_scratch_free(&s->fscratch);
    free(s->declared);
    free(s->stype);
    free(s->tag_series);
    free(s->rmap);
    for (size_t i = 0; i < s->nret; i++)
        free((char *)s->ret[i].pattern);
    free(s->ret);
    gb_map_clear(&s->by_path);
    pthread_cond_destroy(&s->flush_cv);
    pthread_cond_destroy(&s->flushed_cv);
    pthread_mutex_destroy(&s->mu);
    pthread_rwlock_destroy(&s->names);
    free(s->dir);
    free(s);
    return rc;
}
