/*
 * libFuzzer target: a series' head, the store's in-memory encoding of points as they come. Points
 * made from the input go into two heads (one point at a time, and in runs as the drain adds
 * them), the first head is put in front of the second, and every point must come back: times,
 * qualities and values bit for bit (floats' NaN payloads and negative zero included).
 *
 * Input: a byte for the type (0-3: float, integer, boolean, text), then 17 bytes a point: flags,
 * an 8-byte time word and an 8-byte value word. Flags bit 0: the time is the word itself, else
 * the time before plus the word's low 16 bits as a signed step; bits 1-2 (floats): the word's
 * bits, a decimal (its low 32 bits as digits, an exponent from its high bits), the float before
 * plus a small step, or a power of ten's multiple; bits 4-5: the quality (mod 3); bit 6: the
 * point closes a run. Text values are slices of the input. Each head must also know whether its
 * times went up strictly (the flush writes such a head without sorting it).
 */
#include "store/codec_bits.h"
#include "store/engine.h"
#include "util/pool.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Whether the N times T go up strictly. */
static bool rising(const gb_time_t *t, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (t[i] <= t[i - 1]) return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    gb_vtype_t type = (gb_vtype_t)(data[0] & 3);
    size_t n = (size - 1) / 17;
    gb_time_t *t = malloc((n ? n : 1) * sizeof *t);
    gb_slot_t *v = malloc((n ? n : 1) * sizeof *v);
    uint8_t *q = malloc(n ? n : 1);
    gb_value_t *val = calloc(n ? n : 1, sizeof *val);
    gb_pool_t pool;
    gb_pool_init(&pool);
    gb_head_t a, b;
    gb_head_init(&a, type, &pool);
    gb_head_init(&b, type, &pool);
    gb_time_t pt = 0;
    double pf = 0;
    size_t half = n / 2, run = half;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *r = data + 1 + 17 * i;
        uint8_t f = r[0];
        uint64_t tw = load64(r + 1), vw = load64(r + 9);
        t[i] = (f & 1) ? (gb_time_t)tw : (gb_time_t)((uint64_t)pt + (uint64_t)(int16_t)tw);
        pt = t[i];
        q[i] = (uint8_t)(((f >> 4) & 3) % 3);
        gb_value_t x = {.type = type};
        switch (type) {
        case GB_VT_F64:
            switch ((f >> 1) & 3) {
            case 0:
                memcpy(&x.f64, &vw, 8);
                break;
            case 1:
                x.f64 = (double)(int32_t)vw / GB_P10[(vw >> 32) % 13];
                break;
            case 2:
                x.f64 = pf + (double)(int8_t)vw / 100;
                break;
            default:
                x.f64 = (double)(int16_t)vw * GB_P10[(vw >> 32) % 13];
                break;
            }
            pf = x.f64;
            break;
        case GB_VT_I64:
            x.i64 = (f & 8) ? (int64_t)vw : (int64_t)(int8_t)vw;
            break;
        case GB_VT_BOOL:
            x.b = vw & 1;
            break;
        case GB_VT_STR: {
            size_t off = (vw & 0xffff) % size, len = (vw >> 16) % 24;
            x.str = (const char *)data + off;
            x.len = off + len <= size ? len : size - off;
            break;
        }
        }
        val[i] = x;
        v[i] = gb_slot_of(type, &x);
        /* the first half one at a time into A; the rest into B, in runs where numbers go so */
        if (i < half || type == GB_VT_STR) {
            gb_head_add(i < half ? &a : &b, t[i], (gb_quality_t)q[i], &x);
            run = i + 1;
        } else if ((f & 64) || i + 1 == n) {
            gb_head_add_run(&b, t + run, v + run, q + run, (uint32_t)(i + 1 - run));
            run = i + 1;
        }
    }
    if (a.n != half || b.n != n - half) __builtin_trap();
    /* each head says whether its times went up strictly, and knows its last */
    if (a.unsorted != !rising(t, half) || b.unsorted != !rising(t + half, n - half))
        __builtin_trap();
    if ((half && a.tlast != t[half - 1]) || (n > half && b.tlast != t[n - 1])) __builtin_trap();
    gb_head_take_front(&b, &a);
    /* joined, it may take itself as out of order when it is not, never the other way */
    if ((!b.unsorted && !rising(t, n)) || (n && b.tlast != t[n - 1])) __builtin_trap();
    gb_pts_t p;
    gb_pts_init(&p, type);
    gb_pts_add_head(&p, &b);
    if (p.n != n || b.n != n || a.n != 0) __builtin_trap();
    for (size_t i = 0; i < n; i++) {
        if (p.t[i] != t[i] || p.q[i] != q[i]) __builtin_trap();
        if (type != GB_VT_STR) {
            if (p.v[i] != v[i]) __builtin_trap();
        } else {
            gb_value_t got = gb_pts_value(&p, i);
            if (got.len != val[i].len || (got.len && memcmp(got.str, val[i].str, got.len)))
                __builtin_trap();
        }
    }
    /* and one point more after the heads were joined: the encoding goes on where it was */
    if (n && type != GB_VT_STR) {
        gb_time_t next = (gb_time_t)((uint64_t)t[n - 1] + 1);
        gb_head_add(&b, next, GB_Q_GOOD, &val[n - 1]);
        gb_pts_reset(&p);
        gb_pts_add_head(&p, &b);
        if (p.n != n + 1 || p.t[n] != next || p.v[n] != v[n - 1]) __builtin_trap();
    }
    gb_pts_clear(&p);
    gb_head_clear(&a);
    gb_head_clear(&b);
    gb_pool_clear(&pool);
    free(t);
    free(v);
    free(q);
    free(val);
    return 0;
}
