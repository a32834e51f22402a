/*
 * Point arrays: the store's in-memory form of a series' points, in the head and while a query
 * merges its sources. Values live in 8-byte slots, strings in an arena, so a series of any type
 * is three flat arrays -- cheap to append to, sort and scan.
 */
#include "store/engine.h"
#include "store/codec_bits.h"
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

#define BACK_MIN (256u << 10) /* points from which gb_pts_reserve backs its arrays at once */

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
    if (cap >= BACK_MIN) { /* a flush's or a long read's: backed whole, not a page at a time */
        gb_pool_back(p->t, cap * sizeof *p->t);
        gb_pool_back(p->v, cap * sizeof *p->v);
        gb_pool_back(p->q, cap);
    }
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

/* ---- heads: points encoded as they come ------------------------------------------------------ */

/*
 * A segment's encoding, point after point, each from the one before (a segment's first from a
 * time, a step and a value of 0, so that each segment decodes on its own):
 *
 *   varint  H = zz(step - previous step) << 3 | quality << 1 | X, where step = time - previous time
 *   byte    M, when X is set: bit 7, the time follows whole (8 bytes) and H's difference is 0;
 *           bits 0-5, the form the series' floats take from this point on (M_KEEP: as before)
 *   8 bytes the time, when M says so
 *   value   integers, booleans and strings' slots: varint zz(slot - previous slot);
 *           floats in a decimal form E (0..GB_DEC_EXP_MAX), the digits D of value = D / 10^E:
 *           varint zz(D - previous D), or zz(D) on the point that set the form;
 *           floats in M_RAW: their 8 bytes.
 *
 * Arithmetic wraps in 64 bits, so every time and every value has an encoding. A float takes a
 * decimal form only when D / 10^E gives back its very bits, computed as the decoder computes it.
 * A series sampled at a steady rate costs 1 byte a time, a sensor's short decimals 1 to 3 a
 * value: about 3 bytes a point where the points themselves take 17. Heads are most of the
 * store's memory, and on a virtual machine memory the process has not touched before costs a
 * trap to the host for each page: halving a head's bytes alone (9 instead of 17, in a trial)
 * made a single writer's ingest about a quarter faster (20.5 -> 25.4 M points/s, faster in 10
 * of 10 rounds).
 */
#define SEG_MIN_SHIFT 8  /* 256 bytes: a slow tag's head in one */
#define SEG_MAX_SHIFT 16 /* 64 KiB: some 20,000 points of a sensor's */
#define REC_MAX 32       /* a point's bytes at most: 10 + 1 + 8 + 10 */
#define M_RAW 62
#define M_KEEP 63 /* also a segment's form before its first float */
#define M_TIME 0x80
#define RAW_SEARCH 64 /* a float kept raw searches for a decimal form again after so many */

void gb_head_init(gb_head_t *h, gb_vtype_t type, struct gb_pool *pool)
{
    memset(h, 0, sizeof *h);
    h->type = type;
    h->pool = pool;
    h->tlast = INT64_MIN;
    h->enc.mode = M_KEEP;
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

static inline unsigned char *seg_bytes(const gb_seg_t *g)
{
    return (unsigned char *)g + GB_SEG_HDR;
}

/* H's last segment when it has room for a point, else a new last one (the encoding's state set
 * to a segment's start). */
static gb_seg_t *head_room(gb_head_t *h)
{
    gb_seg_t *g = h->last;
    if (g && g->cap - g->len >= REC_MAX) return g;
    unsigned sh = g ? g->shift + 1 : SEG_MIN_SHIFT;
    if (sh > SEG_MAX_SHIFT) sh = SEG_MAX_SHIFT;
    size_t bytes = (size_t)1 << sh;
    g = h->pool ? gb_pool_alloc(h->pool, bytes) : gb_xmalloc(bytes);
    *g = (gb_seg_t){.cap = (uint32_t)(bytes - GB_SEG_HDR), .shift = sh};
    if (h->last)
        h->last->next = g;
    else
        h->first = g;
    h->last = g;
    h->enc = (struct gb_head_enc){.mode = M_KEEP};
    return g;
}

/* The smallest decimal form of float BITS, its digits in *D; M_RAW when it has none. */
static uint8_t dec_form(uint64_t bits, uint64_t *d)
{
    double v = gb_u2f(bits), back;
    for (unsigned e = 0; e <= GB_DEC_EXP_MAX; e++) {
        int64_t m;
        int r = gb_dec_digits(v, e, &m, &back);
        if (r < 0) break; /* larger exponents are larger still */
        if (r) {
            *d = (uint64_t)m;
            return (uint8_t)e;
        }
    }
    return M_RAW;
}

/* Encodes the point (T, Q, slot V) of a head of TYPE at P, after the one that left the state E;
 * returns where it ends. (E is the caller's copy of a head's state: stores through P cannot
 * change it, so it stays in registers.) */
static inline unsigned char *put_point(struct gb_head_enc *e, gb_vtype_t type, unsigned char *p,
                                       gb_time_t t, unsigned q, gb_slot_t v)
{
    uint64_t step = (uint64_t)t - e->t, z = gb_zz((int64_t)(step - e->step));
    uint64_t m = v;
    unsigned form = M_KEEP; /* a new form set at this point */
    if (type == GB_VT_F64) {
        if (e->mode <= GB_DEC_EXP_MAX) {
            int64_t d;
            double back;
            if (gb_dec_digits(gb_u2f(v), e->mode, &d, &back) == 1)
                m = (uint64_t)d;
            else
                form = dec_form(v, &m);
        } else if (e->mode == M_KEEP || ++e->raw_run >= RAW_SEARCH) {
            form = dec_form(v, &m); /* M stays V when none */
            e->raw_run = 0;
        }
        if (form == M_RAW && e->mode == M_RAW) form = M_KEEP; /* raw still */
    }
    bool whole = z >= (UINT64_C(1) << 60);
    unsigned x = form != M_KEEP || whole;
    p += gb_put_varint(p, (whole ? 0 : z << 3) | (uint64_t)(q & 3) << 1 | x);
    if (x) {
        *p++ = (unsigned char)((whole ? M_TIME : 0) | form);
        if (whole) {
            memcpy(p, &t, 8);
            p += 8;
        }
    }
    uint8_t mode = form != M_KEEP ? (uint8_t)form : e->mode;
    if (mode == M_RAW) {
        memcpy(p, &v, 8);
        p += 8;
    } else {
        p += gb_put_varint(p, gb_zz((int64_t)(form != M_KEEP ? m : m - e->m)));
    }
    e->t = (uint64_t)t;
    e->step = step;
    e->m = m;
    e->mode = mode;
    return p;
}

static inline void add_slot(gb_head_t *h, gb_time_t t, unsigned q, gb_slot_t v)
{
    gb_seg_t *g = head_room(h);
    unsigned char *b = seg_bytes(g);
    g->len = (uint32_t)(put_point(&h->enc, h->type, b + g->len, t, q, v) - b);
    g->n++;
    h->unsorted |= h->n && t <= h->tlast;
    h->n++;
    h->tlast = t;
}

void gb_head_add(gb_head_t *h, gb_time_t t, gb_quality_t q, const gb_value_t *v)
{
    gb_slot_t s = h->type != GB_VT_STR
                      ? gb_slot_of(h->type, v)
                      : arena_put(&h->arena, &h->alen, &h->acap, v->str,
                                  v->len > GB_SAMPLE_STR_MAX ? GB_SAMPLE_STR_MAX : v->len);
    add_slot(h, t, q, s);
}

uint32_t gb_head_add_run(gb_head_t *h, const gb_time_t *t, const gb_slot_t *v, const uint8_t *q,
                         uint32_t n)
{
    if (!n) return 0;
    bool unsorted = h->n && t[0] <= h->tlast;
    for (uint32_t i = 1; i < n; i++)
        unsorted |= t[i] <= t[i - 1];
    h->unsorted |= unsorted;
    h->tlast = t[n - 1];
    gb_time_t tmax = INT64_MIN;
    uint32_t imax = 0;
    for (uint32_t i = 0; i < n;) {
        gb_seg_t *g = head_room(h);
        unsigned char *b = seg_bytes(g), *p = b + g->len, *stop = b + g->cap - REC_MAX;
        uint32_t i0 = i;
        struct gb_head_enc e = h->enc;
        for (; i < n && p <= stop; i++) {
            if (t[i] >= tmax) { /* at one time, the later point wins */
                tmax = t[i];
                imax = i;
            }
            p = put_point(&e, h->type, p, t[i], q[i], v[i]);
        }
        h->enc = e;
        g->len = (uint32_t)(p - b);
        g->n += i - i0;
        h->n += i - i0;
    }
    return imax;
}

/* A varint of a head's own encoding, which is never damaged: unchecked, unlike gb_rd_varint's
 * reading of what comes from disk. */
static inline uint64_t get_varint(const unsigned char **pp)
{
    const unsigned char *p = *pp;
    uint64_t v = *p & 0x7f;
    unsigned sh = 7;
    while (*p++ & 0x80) {
        v |= (uint64_t)(*p & 0x7f) << sh;
        sh += 7;
    }
    *pp = p;
    return v;
}

/* Decodes segment G of a head of TYPE into T, V and Q. */
static void seg_decode(gb_vtype_t type, const gb_seg_t *g, gb_time_t *t, gb_slot_t *v, uint8_t *q)
{
    const unsigned char *p = seg_bytes(g);
    uint64_t pt = 0, pdt = 0, pm = 0;
    unsigned mode = M_KEEP;
    for (uint32_t i = 0; i < g->n; i++) {
        uint64_t hd = get_varint(&p), step = pdt + (uint64_t)gb_unzz(hd >> 3);
        unsigned form = M_KEEP;
        q[i] = (uint8_t)(hd >> 1 & 3);
        if (hd & 1) {
            unsigned m = *p++;
            form = m & 63;
            if (m & M_TIME) { /* the time whole (H's difference is 0) */
                uint64_t w;
                memcpy(&w, p, 8);
                p += 8;
                step = w - pt;
            }
            if (form != M_KEEP) mode = form;
        }
        pt += step;
        pdt = step;
        t[i] = (gb_time_t)pt;
        if (mode == M_RAW) {
            memcpy(&v[i], p, 8);
            p += 8;
            pm = v[i];
            continue;
        }
        uint64_t d = (uint64_t)gb_unzz(get_varint(&p));
        pm = form != M_KEEP ? d : pm + d;
        v[i] = type == GB_VT_F64 ? gb_f2u((double)(int64_t)pm / GB_P10[mode]) : pm;
    }
}

gb_pts_t gb_head_seg_view(const gb_head_t *h, const gb_seg_t *g, gb_pts_t *scratch)
{
    gb_pts_reserve(scratch, g->n);
    seg_decode(h->type, g, scratch->t, scratch->v, scratch->q);
    return (gb_pts_t){.type = h->type,
                      .t = scratch->t,
                      .v = scratch->v,
                      .q = scratch->q,
                      .n = g->n,
                      .cap = g->n,
                      .arena = h->arena,
                      .alen = h->alen,
                      .acap = h->acap};
}

void gb_pts_add_head(gb_pts_t *p, const gb_head_t *h)
{
    if (h->type == GB_VT_STR) { /* each string into P's arena */
        gb_pts_t sc;
        gb_pts_init(&sc, h->type);
        for (const gb_seg_t *g = h->first; g; g = g->next) {
            gb_pts_t w = gb_head_seg_view(h, g, &sc);
            gb_pts_add_range(p, &w, 0, w.n);
        }
        gb_pts_clear(&sc);
        return;
    }
    gb_pts_reserve(p, p->n + h->n);
    for (const gb_seg_t *g = h->first; g; g = g->next)
        gb_pts_add_seg(p, h, g);
}

void gb_pts_add_seg(gb_pts_t *p, const gb_head_t *h, const gb_seg_t *g)
{
    gb_pts_reserve(p, p->n + g->n);
    seg_decode(h->type, g, p->t + p->n, p->v + p->n, p->q + p->n);
    p->n += g->n;
}

void gb_pts_drop_front(gb_pts_t *p, size_t n)
{
    if (!n) return;
    p->n -= n;
    memmove(p->t, p->t + n, p->n * sizeof *p->t);
    memmove(p->v, p->v + n, p->n * sizeof *p->v);
    memmove(p->q, p->q + n, p->n);
}

void gb_head_take_front(gb_head_t *h, gb_head_t *front)
{
    if (!front->n) {
        gb_head_clear(front);
        return;
    }
    if (h->type != GB_VT_STR) { /* the segments linked (each decodes on its own): nothing copied */
        front->last->next = h->first;
        if (!h->last) { /* H empty: the encoding goes on after FRONT's last point */
            h->last = front->last;
            h->enc = front->enc;
        }
        h->first = front->first;
        /* whether H's first point comes after FRONT's last is not known here: sorted at the
         * flush, to be sure */
        h->unsorted |= front->unsorted || (h->n && front->n);
        if (!h->n) h->tlast = front->tlast;
        h->n += front->n;
        front->first = front->last = NULL;
        gb_head_clear(front);
        return;
    }
    /* strings point into their own head's arena: the points copied into a new head */
    gb_head_t nh;
    gb_head_init(&nh, h->type, h->pool);
    gb_pts_t sc;
    gb_pts_init(&sc, h->type);
    const gb_head_t *parts[2] = {front, h};
    for (int k = 0; k < 2; k++)
        for (const gb_seg_t *g = parts[k]->first; g; g = g->next) {
            gb_pts_t w = gb_head_seg_view(parts[k], g, &sc);
            for (size_t i = 0; i < w.n; i++) {
                gb_value_t v = gb_pts_value(&w, i);
                gb_head_add(&nh, w.t[i], (gb_quality_t)w.q[i], &v);
            }
        }
    gb_pts_clear(&sc);
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
