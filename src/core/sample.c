/* Batches of samples with their own string arena. */
#include "gemba/sample.h"
#include "gemba/error.h"
#include "util/str.h"

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
