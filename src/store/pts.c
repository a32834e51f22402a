/*
 * Point arrays: the store's in-memory form of a series' points, in the head and while a query
 * merges its sources. Values live in 8-byte slots, strings in an arena, so a series of any type
 * is three flat arrays -- cheap to append to, sort and scan.
 */
#include "store/engine.h"
#include "util/pool.h"
#include "util/str.h"

#include <stdlib.h>
#include <string.h>

void gb_pts_init(gb_pts_t *p, gb_vtype_t type)
{
    memset(p, 0, sizeof *p);
    p->type = type;
}

void gb_pts_clear(gb_pts_t *p)
{
    free(p->t);
    free(p->v);
    free(p->q);
    free(p->arena);
    gb_pts_init(p, p->type);
}

void gb_pts_reset(gb_pts_t *p)
{
    p->n = 0;
    p->alen = 0;
}

void gb_pts_reserve(gb_pts_t *p, size_t n)
{
    if (n <= p->cap) return;
    size_t cap = p->cap ? p->cap * 2 : 64;
    while (cap < n)
        cap *= 2;
    p->t = gb_xrealloc(p->t, cap * sizeof *p->t);
    p->v = gb_xrealloc(p->v, cap * sizeof *p->v);
    p->q = gb_xrealloc(p->q, cap * sizeof *p->q);
    p->cap = cap;
}

/* String S of LEN bytes put at the end of an arena: its slot (where, and how long). */
static gb_slot_t arena_put(char **arena, size_t *alen, size_t *acap, const char *s, size_t len)
{
    if (*alen + len > *acap) {
        size_t cap = *acap ? *acap : 4096;
        while (cap < *alen + len)
            cap *= 2;
        *arena = gb_xrealloc(*arena, cap);
        *acap = cap;
    }
    if (len) memcpy(*arena + *alen, s, len);
    gb_slot_t slot = (gb_slot_t)*alen << 24 | (gb_slot_t)len;
    *alen += len;
    return slot;
}

static gb_slot_t put_string(gb_pts_t *p, const char *s, size_t len)
{
    return arena_put(&p->arena, &p->alen, &p->acap, s, len);
}

void gb_pts_add(gb_pts_t *p, gb_time_t t, gb_quality_t q, const gb_value_t *v)
{
    if (p->n == p->cap) gb_pts_reserve(p, p->n + 1);
    gb_slot_t s =
        p->type != GB_VT_STR
            ? gb_slot_of(p->type, v)
            : put_string(p, v->str, v->len > GB_SAMPLE_STR_MAX ? GB_SAMPLE_STR_MAX : v->len);
    p->t[p->n] = t;
    p->v[p->n] = s;
    p->q[p->n] = (uint8_t)q;
    p->n++;
}

gb_value_t gb_pts_value(const gb_pts_t *p, size_t i)
{
    gb_value_t v = {.type = p->type};
    gb_slot_t s = p->v[i];
    switch (p->type) {
    case GB_VT_F64:
        memcpy(&v.f64, &s, 8);
        break;
    case GB_VT_I64:
        v.i64 = (int64_t)s;
        break;
    case GB_VT_BOOL:
        v.b = s != 0;
        break;
    case GB_VT_STR:
        v.str = p->arena ? p->arena + (s >> 24) : ""; /* only empty strings so far */
        v.len = (size_t)(s & 0xffffff);
        break;
    }
    return v;
}

void gb_pts_add_from(gb_pts_t *p, const gb_pts_t *src, size_t i)
{
    gb_value_t v = gb_pts_value(src, i);
    gb_pts_add(p, src->t[i], (gb_quality_t)src->q[i], &v);
}

void gb_pts_add_range(gb_pts_t *p, const gb_pts_t *src, size_t from, size_t n)
{
    if (p->type == GB_VT_STR) { /* each string into P's arena */
        for (size_t i = from; i < from + n; i++)
            gb_pts_add_from(p, src, i);
        return;
    }
    if (!n) return;
    gb_pts_reserve(p, p->n + n);
    memcpy(p->t + p->n, src->t + from, n * sizeof *p->t);
    memcpy(p->v + p->n, src->v + from, n * sizeof *p->v);
    memcpy(p->q + p->n, src->q + from, n * sizeof *p->q);
    p->n += n;
}

bool gb_pts_sorted(const gb_pts_t *p)
{
    for (size_t i = 1; i < p->n; i++)
        if (p->t[i] <= p->t[i - 1]) return false;
    return true;
}

typedef struct {
    gb_time_t t;
    size_t i;
} key_t_;

/*
 * Sorts K[0..N) by time, stably, as runs already in order merged pairwise: a head is a few such
 * runs (writers' batches overlap a little), so this is a pass or two over it, and at worst
 * n log n. TMP has room for N keys, START for N + 1 run starts.
 */
static void merge_runs(key_t_ *k, size_t n, key_t_ *tmp, size_t *start)
{
    size_t nr = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || k[i].t < k[i - 1].t) start[nr++] = i;
    start[nr] = n;
    if (nr <= 1) return;
    key_t_ *src = k, *dst = tmp;
    while (nr > 1) {
        size_t m = 0;
        for (size_t r = 0; r < nr; r += 2) {
            size_t lo = start[r], mid = start[r + 1], hi = r + 2 <= nr ? start[r + 2] : mid;
            size_t a = lo, b = mid, o = lo;
            /* the left run came first: at equal times it goes first, so arrival order holds */
            while (a < mid && b < hi)
                dst[o++] = src[b].t < src[a].t ? src[b++] : src[a++];
            memcpy(dst + o, src + a, (mid - a) * sizeof *dst);
            o += mid - a;
            memcpy(dst + o, src + b, (hi - b) * sizeof *dst);
            start[m++] = lo;
        }
        start[m] = n;
        nr = m;
        key_t_ *sw = src;
        src = dst;
        dst = sw;
    }
    if (src != k) memcpy(k, src, n * sizeof *k);
}

/* Room in SC for the shorter side of a run merge: N points. */
static void side_room(gb_pts_scratch_t *sc, size_t n)
{
    if (n <= sc->mcap) return;
    size_t cap = sc->mcap ? sc->mcap * 2 : 256;
    while (cap < n)
        cap *= 2;
    free(sc->mt);
    sc->mt = gb_xmalloc(cap * (8 + 8 + 1)); /* times, then values, then qualities */
    sc->mcap = cap;
}

/* The first of T[0..HI] above X, T[HI] being above it: searched back from HI in growing steps
 * (the points a late run goes before are the last few), then by halves. */
static size_t first_above(const gb_time_t *t, size_t hi, gb_time_t x)
{
    size_t d = 1;
    while (d <= hi && t[hi - d] > x) {
        hi -= d;
        d *= 2;
    }
    size_t lo = d <= hi ? hi - d + 1 : 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t[mid] > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return hi;
}

/*
 * Sorts P by time in place, stably, when it is runs in order that overlap a little: the head of
 * writers that interleave, a body now and then stored ahead of the one before it. Each run that
 * starts below the point before it is merged with just the sorted points it goes before (A, the
 * ahead body's few points), through memory for the shorter of the two: one pass, and a move per
 * point of each overlap. Before, late points moved one place at a time (an insertion sort) and,
 * past its budget, the whole head went through merge_runs' keys in memory first touched there:
 * half of the flush thread's time in an HTTP load. False when it would move more than a few
 * points per point: P is then in an order that merge_runs still sorts right (the first part
 * sorted, equal times kept in their order, the rest as it came).
 */
static bool run_merge(gb_pts_t *p, gb_pts_scratch_t *sc)
{
    size_t n = p->n, budget = 8 * n + 64;
    gb_time_t *t = p->t;
    gb_slot_t *v = p->v;
    uint8_t *q = p->q;
    for (size_t i = 1; i < n;) {
        if (t[i] >= t[i - 1]) {
            i++;
            continue;
        }
        gb_time_t top = t[i - 1];
        size_t a = first_above(t, i - 1, t[i]); /* equal times before it stay before it */
        size_t b = i + 1;                       /* the run's points below TOP: [i, b) */
        while (b < n && t[b] >= t[b - 1] && t[b] < top)
            b++;
        size_t na = i - a, nb = b - i, ns = na < nb ? na : nb;
        if (na + nb > budget) return false;
        budget -= na + nb;
        side_room(sc, ns);
        gb_time_t *mt = sc->mt;
        gb_slot_t *mv = (gb_slot_t *)(mt + sc->mcap);
        uint8_t *mq = (uint8_t *)(mv + sc->mcap);
        size_t from = na <= nb ? a : i; /* the shorter side, set aside */
        memcpy(mt, t + from, ns * sizeof *t);
        memcpy(mv, v + from, ns * sizeof *v);
        memcpy(mq, q + from, ns);
        if (na <= nb) { /* forwards: A from the side, B where it is; at equal times A first */
            size_t x = 0, y = i, o = a;
            for (; x < na && y < b; o++)
                if (t[y] < mt[x]) {
                    t[o] = t[y], v[o] = v[y], q[o] = q[y];
                    y++;
                } else {
                    t[o] = mt[x], v[o] = mv[x], q[o] = mq[x];
                    x++;
                }
            memcpy(t + o, mt + x, (na - x) * sizeof *t); /* B's rest is in its place */
            memcpy(v + o, mv + x, (na - x) * sizeof *v);
            memcpy(q + o, mq + x, na - x);
        } else { /* backwards: B from the side, A where it is; at equal times B last */
            size_t x = i, y = nb, o = b;
            while (x > a && y > 0) {
                o--;
                if (t[x - 1] > mt[y - 1]) {
                    x--;
                    t[o] = t[x], v[o] = v[x], q[o] = q[x];
                } else {
                    y--;
                    t[o] = mt[y], v[o] = mv[y], q[o] = mq[y];
                }
            }
            memcpy(t + a, mt, y * sizeof *t); /* A's rest is in its place */
            memcpy(v + a, mv, y * sizeof *v);
            memcpy(q + a, mq, y);
        }
        i = b; /* [0, b) is in order now, its last TOP */
    }
    return true;
}

/* Keeps the last of each run of equal times of the sorted P. */
static void dedupe_sorted(gb_pts_t *p)
{
    size_t m = 0;
    while (m + 1 < p->n && p->t[m + 1] != p->t[m]) /* up to the first twice: nothing moves */
        m++;
    for (size_t j = m; j < p->n; j++) {
        if (j + 1 < p->n && p->t[j + 1] == p->t[j]) continue; /* the later one wins */
        p->t[m] = p->t[j];
        p->v[m] = p->v[j];
        p->q[m] = p->q[j];
        m++;
    }
    p->n = m;
}

/* K[0..P->n) sorted: P's points in time order, the last at each time, into T, V and Q; their
 * count. */
static size_t gather(const gb_pts_t *p, const key_t_ *k, gb_time_t *t, gb_slot_t *v, uint8_t *q)
{
    size_t m = 0;
    for (size_t j = 0; j < p->n; j++) {
        if (j + 1 < p->n && k[j + 1].t == k[j].t) continue; /* a later one at the same time wins */
        t[m] = k[j].t;
        v[m] = p->v[k[j].i];
        q[m] = p->q[k[j].i];
        m++;
    }
    return m;
}

/* Makes room in SC for keys and points of N. */
static void scratch_room(gb_pts_scratch_t *sc, size_t n)
{
    if (n <= sc->cap) return;
    size_t cap = sc->cap ? sc->cap : 1024;
    while (cap < n)
        cap *= 2;
    free(sc->k);
    free(sc->start);
    free(sc->t);
    /* one block each: keys and the merge's other half; times, values and qualities */
    sc->k = gb_xmalloc(2 * cap * sizeof(key_t_));
    sc->start = gb_xmalloc((cap + 1) * sizeof *sc->start);
    sc->t = gb_xmalloc(cap * (8 + 8 + 1));
    sc->cap = cap;
}

void gb_pts_sort_dedupe_in(gb_pts_t *p, gb_pts_scratch_t *sc)
{
    if (gb_pts_sorted(p)) return;
    if (run_merge(p, sc)) {
        dedupe_sorted(p);
        return;
    }
    scratch_room(sc, p->n);
    key_t_ *k = sc->k;
    for (size_t i = 0; i < p->n; i++)
        k[i] = (key_t_){p->t[i], i};
    merge_runs(k, p->n, k + sc->cap, sc->start);
    gb_time_t *t = sc->t;
    gb_slot_t *v = (gb_slot_t *)(t + sc->cap);
    uint8_t *q = (uint8_t *)(v + sc->cap);
    size_t m = gather(p, k, t, v, q);
    memcpy(p->t, t, m * sizeof *t); /* back in P's own arrays: no new memory for P */
    memcpy(p->v, v, m * sizeof *v);
    memcpy(p->q, q, m);
    p->n = m;
}

void gb_pts_scratch_free(gb_pts_scratch_t *sc)
{
    free(sc->k);
    free(sc->start);
    free(sc->t);
    free(sc->mt);
    memset(sc, 0, sizeof *sc);
}

void gb_pts_sort_dedupe(gb_pts_t *p)
{
    gb_pts_scratch_t sc = {0};
    gb_pts_sort_dedupe_in(p, &sc);
    gb_pts_scratch_free(&sc);
}

/* ---- heads: segments that never move ---------------------------------------------------------- */

#define SEG_HDR ((sizeof(gb_seg_t) + 15) & ~(size_t)15)
#define SEG_MIN_SHIFT 10 /* 1 KiB: 57 points (a slow tag's head is no larger than before) */
#define SEG_MAX_SHIFT 18 /* 256 KiB: 15,417 points */

void gb_head_init(gb_head_t *h, gb_vtype_t type, struct gb_pool *pool)
{
    memset(h, 0, sizeof *h);
    h->type = type;
    h->pool = pool;
}

static void seg_free(struct gb_pool *pool, gb_seg_t *g)
{
    if (pool)
        gb_pool_free(pool, g, (size_t)1 << g->shift);
    else
        free(g);
}

void gb_head_free_list(struct gb_pool *pool, gb_seg_t *l)
{
    while (l) {
        gb_seg_t *next = l->next;
        seg_free(pool, l);
        l = next;
    }
}

void gb_head_clear(gb_head_t *h)
{
    gb_head_free_list(h->pool, h->first);
    free(h->arena);
    gb_head_init(h, h->type, h->pool);
}

gb_seg_t *gb_head_room(gb_head_t *h)
{
    gb_seg_t *g = h->last;
    if (g && g->n < g->cap) return g;
    unsigned sh = g ? g->shift + 1 : SEG_MIN_SHIFT;
    if (sh > SEG_MAX_SHIFT) sh = SEG_MAX_SHIFT;
    size_t bytes = (size_t)1 << sh;
    g = h->pool ? gb_pool_alloc(h->pool, bytes) : gb_xmalloc(bytes);
    /* one block: this header, then times, values and qualities */
    uint32_t cap = (uint32_t)((bytes - SEG_HDR) / (8 + 8 + 1));
    gb_time_t *t = (gb_time_t *)((char *)g + SEG_HDR);
    *g = (gb_seg_t){.cap = cap, .shift = sh, .t = t, .v = (gb_slot_t *)(t + cap)};
    g->q = (uint8_t *)(g->v + cap);
    if (h->last)
        h->last->next = g;
    else
        h->first = g;
    h->last = g;
    return g;
}

void gb_head_add(gb_head_t *h, gb_time_t t, gb_quality_t q, const gb_value_t *v)
{
    gb_seg_t *g = gb_head_room(h);
    gb_slot_t s = h->type != GB_VT_STR
                      ? gb_slot_of(h->type, v)
                      : arena_put(&h->arena, &h->alen, &h->acap, v->str,
                                  v->len > GB_SAMPLE_STR_MAX ? GB_SAMPLE_STR_MAX : v->len);
    g->t[g->n] = t;
    g->v[g->n] = s;
    g->q[g->n] = (uint8_t)q;
    g->n++;
    h->n++;
}

gb_pts_t gb_head_view(const gb_head_t *h, const gb_seg_t *g)
{
    return (gb_pts_t){.type = h->type,
                      .t = g->t,
                      .v = g->v,
                      .q = g->q,
                      .n = g->n,
                      .cap = g->n,
                      .arena = h->arena,
                      .alen = h->alen,
                      .acap = h->acap};
}

void gb_pts_add_head(gb_pts_t *p, const gb_head_t *h)
{
    for (const gb_seg_t *g = h->first; g; g = g->next) {
        gb_pts_t w = gb_head_view(h, g);
        gb_pts_add_range(p, &w, 0, w.n);
    }
}

void gb_head_take_front(gb_head_t *h, gb_head_t *front)
{
    if (!front->n) {
        gb_head_clear(front);
        return;
    }
    if (h->type != GB_VT_STR) { /* the segments linked: nothing copied */
        front->last->next = h->first;
        if (!h->last) h->last = front->last;
        h->first = front->first;
        h->n += front->n;
        front->first = front->last = NULL;
        gb_head_clear(front);
        return;
    }
    /* strings point into their own head's arena: the points copied into a new head */
    gb_head_t nh;
    gb_head_init(&nh, h->type, h->pool);
    const gb_head_t *parts[2] = {front, h};
    for (int k = 0; k < 2; k++)
        for (const gb_seg_t *g = parts[k]->first; g; g = g->next) {
            gb_pts_t w = gb_head_view(parts[k], g);
            for (size_t i = 0; i < w.n; i++) {
                gb_value_t v = gb_pts_value(&w, i);
                gb_head_add(&nh, w.t[i], (gb_quality_t)w.q[i], &v);
            }
        }
    gb_head_clear(front);
    gb_head_clear(h);
    *h = nh;
}

void gb_head_detach(gb_head_t *h, gb_seg_t **done)
{
    if (h->last) {
        h->last->next = *done;
        *done = h->first;
    }
    h->first = h->last = NULL;
    gb_head_clear(h);
}
