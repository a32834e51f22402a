/* Batches of samples with their own string arena. */
#include "gemba/sample.h"
#include "gemba/error.h"
#include "util/str.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

gb_batch_t *gb_batch_new(size_t cap)
{
    gb_batch_t *b = gb_xcalloc(1, sizeof *b);
    b->cap = cap ? cap : 16;
    b->samples = gb_xmalloc(b->cap * sizeof *b->samples);
    atomic_init(&b->refs_, 0);
    return b;
}

void gb_batch_free(gb_batch_t *b)
{
    if (!b) return;
    free(b->samples);
    free(b->strings);
    free(b);
}

void gb_batch_reset(gb_batch_t *b)
{
    b->n = 0;
    b->strings_len = 0;
}

static gb_sample_t *push(gb_batch_t *b, gb_time_t t, uint32_t tag, gb_quality_t q, gb_vtype_t vt)
{
    if (b->n == b->cap) {
        b->cap *= 2;
        b->samples = gb_xrealloc(b->samples, b->cap * sizeof *b->samples);
    }
    gb_sample_t *s = &b->samples[b->n++];
    memset(s, 0, sizeof *s);
    s->t = t;
    s->tag = tag;
    s->type = (uint8_t)vt;
    s->quality = (uint8_t)q;
    return s;
}

void gb_batch_add_f64(gb_batch_t *b, gb_time_t t, uint32_t tag, gb_quality_t q, double v)
{
    push(b, t, tag, q, GB_VT_F64)->v.f64 = v;
}

void gb_batch_add_i64(gb_batch_t *b, gb_time_t t, uint32_t tag, gb_quality_t q, int64_t v)
{
    push(b, t, tag, q, GB_VT_I64)->v.i64 = v;
}

void gb_batch_add_bool(gb_batch_t *b, gb_time_t t, uint32_t tag, gb_quality_t q, bool v)
{
    push(b, t, tag, q, GB_VT_BOOL)->v.b = v;
}

int gb_batch_add_str(gb_batch_t *b, gb_time_t t, uint32_t tag, gb_quality_t q, const char *s,
                     size_t len)
{
    if (len > GB_SAMPLE_STR_MAX) return GB_ERANGE;
    if (b->strings_len + len > b->strings_cap) {
        size_t cap = b->strings_cap ? b->strings_cap : 256;
        while (cap < b->strings_len + len) cap *= 2;
        b->strings = gb_xrealloc(b->strings, cap);
        b->strings_cap = cap;
    }
    if (len) memcpy(b->strings + b->strings_len, s, len);
    gb_sample_t *smp = push(b, t, tag, q, GB_VT_STR);
    smp->v.str.off = (uint32_t)b->strings_len;
    smp->v.str.len = (uint32_t)len;
    b->strings_len += len;
    return 0;
}

const char *gb_sample_str(const gb_batch_t *b, const gb_sample_t *s, size_t *len)
{
    *len = s->v.str.len;
    return b->strings ? b->strings + s->v.str.off : "";
}

const char *gb_vtype_name(gb_vtype_t t)
{
    switch (t) {
    case GB_VT_F64: return "float";
    case GB_VT_I64: return "int";
    case GB_VT_BOOL: return "bool";
    case GB_VT_STR: return "string";
    }
    return "?";
}

void gb_batch_add_value(gb_batch_t *b, gb_time_t t, uint32_t tag, gb_quality_t q,
                        const gb_value_t *v)
{
    switch (v->type) {
    case GB_VT_F64: gb_batch_add_f64(b, t, tag, q, v->f64); break;
    case GB_VT_I64: gb_batch_add_i64(b, t, tag, q, v->i64); break;
    case GB_VT_BOOL: gb_batch_add_bool(b, t, tag, q, v->b); break;
    case GB_VT_STR:
        gb_batch_add_str(b, t, tag, q, v->str, v->len > GB_SAMPLE_STR_MAX ? GB_SAMPLE_STR_MAX : v->len);
        break;
    }
}

void gb_value_keep_set(gb_value_keep_t *k, const gb_value_t *v)
{
    k->v = *v;
    k->set = true;
    if (v->type != GB_VT_STR) return;
    k->buf = gb_xrealloc(k->buf, v->len + 1);
    memcpy(k->buf, v->str, v->len);
    k->buf[v->len] = 0;
    k->v.str = k->buf;
}

void gb_value_keep_clear(gb_value_keep_t *k)
{
    free(k->buf);
    memset(k, 0, sizeof *k);
}

double gb_value_number(const gb_value_t *v)
{
    switch (v->type) {
    case GB_VT_F64: return v->f64;
    case GB_VT_I64: return (double)v->i64;
    case GB_VT_BOOL: return v->b ? 1 : 0;
    case GB_VT_STR: break;
    }
    return NAN;
}

bool gb_value_equal(const gb_value_t *a, const gb_value_t *b)
{
    if (a->type != b->type) return false;
    switch (a->type) {
    case GB_VT_F64: return memcmp(&a->f64, &b->f64, sizeof a->f64) == 0 ||
                           (isnan(a->f64) && isnan(b->f64));
    case GB_VT_I64: return a->i64 == b->i64;
    case GB_VT_BOOL: return a->b == b->b;
    case GB_VT_STR: return a->len == b->len && (a->len == 0 || !memcmp(a->str, b->str, a->len));
    }
    return false;
}
