/*
 * Point arrays: the store's in-memory form of a series' points, in the head and while a query
 * merges its sources. Values live in 8-byte slots, strings in an arena, so a series of any type
 * is three flat arrays -- cheap to append to, sort and scan.
 */
#include "store/engine.h"
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

static gb_slot_t put_string(gb_pts_t *p, const char *s, size_t len)
{
    if (p->alen + len > p->acap) {
        size_t cap = p->acap ? p->acap : 4096;
        while (cap < p->alen + len)
            cap *= 2;
        p->arena = gb_xrealloc(p->arena, cap);
        p->acap = cap;
    }
    if (len) memcpy(p->arena + p->alen, s, len);
    gb_slot_t slot = (gb_slot_t)p->alen << 24 | (gb_slot_t)len;
    p->alen += len;
    return slot;
}

void gb_pts_add(gb_pts_t *p, gb_time_t t, gb_quality_t q, const gb_value_t *v)
{
    if (p->n == p->cap) gb_pts_reserve(p, p->n + 1);
    gb_slot_t s = p->type != GB_VT_STR
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

static int by_time_then_arrival(const void *a, const void *b)
{
    const key_t_ *x = a, *y = b;
    if (x->t != y->t) return x->t < y->t ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

void gb_pts_sort_dedupe(gb_pts_t *p)
{
    if (gb_pts_sorted(p)) return;
    key_t_ *k = gb_xmalloc(p->n * sizeof *k);
    for (size_t i = 0; i < p->n; i++)
        k[i] = (key_t_){p->t[i], i};
    /* Heads are nearly in order (writers' batches overlap a little): an insertion sort is a
     * pass over them then, and stable. Given a budget of moves, it hands a head in real
     * disorder to qsort before it can turn quadratic. */
    size_t budget = 8 * p->n;
    for (size_t i = 1; i < p->n && budget; i++) {
        key_t_ x = k[i];
        size_t j = i;
        while (j > 0 && k[j - 1].t > x.t && budget) {
            k[j] = k[j - 1];
            j--;
            budget--;
        }
        k[j] = x;
    }
    if (!budget) qsort(k, p->n, sizeof *k, by_time_then_arrival);
    gb_time_t *t = gb_xmalloc(p->n * sizeof *t);
    gb_slot_t *v = gb_xmalloc(p->n * sizeof *v);
    uint8_t *q = gb_xmalloc(p->n * sizeof *q);
    size_t m = 0;
    for (size_t j = 0; j < p->n; j++) {
        if (j + 1 < p->n && k[j + 1].t == k[j].t) continue; /* a later one at the same time wins */
        t[m] = k[j].t;
        v[m] = p->v[k[j].i];
        q[m] = p->q[k[j].i];
        m++;
    }
    free(k);
    free(p->t);
    free(p->v);
    free(p->q);
    p->t = t;
    p->v = v;
    p->q = q;
    p->n = m;
    p->cap = m ? m : 0;
    if (!m) {
        p->t = NULL;
        p->v = NULL;
        p->q = NULL;
        free(t);
        free(v);
        free(q);
    }
}
