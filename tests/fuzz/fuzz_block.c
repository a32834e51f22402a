/*
 * libFuzzer target: the block decoder on arbitrary bytes, and the encoders on arbitrary points.
 *
 * Decode mode (any input not starting with 0xEE or 0xCC): gb_block_info and gb_block_decode on
 * a copy of exactly the input's length. When decoding succeeds the points are valid input, so
 * they are encoded again -- once with the codecs chosen freely, once with the block's own value
 * codec forced -- and each block must decode to the same points, floats bit for bit. Asked for
 * digits and a step, a block must give digits that divide to the same values (or the values) and
 * a step that makes the same times (or the times).
 *
 * Sealed mode (0xCC, then a block): the same, after the block's CRC is set right, so that
 * mutations reach the sections instead of stopping at the checksum.
 *
 * Encode mode (0xEE, type, codec, then 16 bytes a point: a time step and a value): the points are
 * encoded and decoded and must come back unchanged; string values are slices of the input.
 */
#include "store/codec.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Traps unless A and B hold the same points. */
static void same(const gb_block_out_t *a, const gb_block_out_t *b)
{
    if (a->n != b->n || a->type != b->type) __builtin_trap();
    for (uint32_t i = 0; i < a->n; i++) {
        if (a->t[i] != b->t[i]) __builtin_trap();
        switch (a->type) {
        case GB_VT_F64:
            if (memcmp(&a->f64[i], &b->f64[i], 8)) __builtin_trap();
            break;
        case GB_VT_I64:
            if (a->i64[i] != b->i64[i]) __builtin_trap();
            break;
        case GB_VT_BOOL:
            if (a->b[i] != b->b[i]) __builtin_trap();
            break;
        case GB_VT_STR:
            if (a->str[i].len != b->str[i].len ||
                memcmp(a->arena + a->str[i].off, b->arena + b->str[i].off, a->str[i].len))
                __builtin_trap();
            break;
        }
    }
}

/* Decodes block P (N bytes) asking for a DECIMAL block's digits and regular times' step, and
 * traps unless they give EXPECT's values bit for bit and its times. */
static void digits_agree(const uint8_t *p, size_t n, const gb_block_out_t *expect)
{
    gb_block_out_t o;
    gb_block_out_init(&o);
    o.want_digits = true;
    o.want_step = true;
    if (gb_block_decode(p, n, &o) || o.n != expect->n) __builtin_trap();
    if (!o.t) {
        if (o.tstep < 1) __builtin_trap();
        for (uint32_t i = 0; i < o.n; i++)
            if ((int64_t)((uint64_t)o.t0 + i * (uint64_t)o.tstep) != expect->t[i]) __builtin_trap();
        o.t = expect->t; /* the same, checked: same() below compares the values */
    }
    if (!o.dig) {
        same(expect, &o);
    } else {
        if (o.type != GB_VT_F64 || o.value_codec != GB_CODEC_DECIMAL) __builtin_trap();
        for (uint32_t i = 0; i < o.n; i++) {
            double x = (double)o.dig[i] / o.dscale;
            if (memcmp(&x, &expect->f64[i], 8) || o.t[i] != expect->t[i]) __builtin_trap();
        }
    }
    gb_block_out_clear(&o);
}

/* Encodes IN (which must be valid), decodes it, and traps unless EXPECT's points come back. */
static void encode_decode(const gb_block_in_t *in, const gb_block_out_t *expect)
{
    gb_buf_t b;
    gb_buf_init(&b);
    gb_block_out_t o;
    gb_block_out_init(&o);
    if (gb_block_encode(in, &b, NULL) || gb_block_decode(b.p, b.len, &o)) __builtin_trap();
    same(expect, &o);
    digits_agree(b.p, b.len, expect);
    gb_block_out_clear(&o);
    gb_buf_clear(&b);
}

static gb_block_in_t input_of(const gb_block_out_t *o, int codec)
{
    return (gb_block_in_t){.type = o->type,
                           .n = o->n,
                           .t = o->t,
                           .f64 = o->f64,
                           .i64 = o->i64,
                           .b = o->b,
                           .str = o->str,
                           .arena = o->arena,
                           .arena_len = o->arena_len,
                           .codec = codec};
}

static void decode_mode(const uint8_t *data, size_t size, int seal)
{
    uint8_t *p = malloc(size ? size : 1);
    memcpy(p, data, size);
    if (seal && size >= 4) {
        uLong crc = crc32(0L, p, (uInt)(size - 4));
        for (int i = 0; i < 4; i++)
            p[size - 4 + i] = (uint8_t)(crc >> (8 * i));
    }
    gb_block_info_t info;
    gb_block_out_t o;
    gb_block_out_init(&o);
    if (gb_block_info(p, size, &info) == 0 && info.bytes > size) __builtin_trap();
    if (gb_block_decode(p, size, &o) == 0) {
        digits_agree(p, size, &o);
        gb_block_in_t in = input_of(&o, 0);
        encode_decode(&in, &o);
        in.codec = o.value_codec;
        encode_decode(&in, &o);
    }
    gb_block_out_clear(&o);
    free(p);
}

static void encode_mode(const uint8_t *data, size_t size)
{
    if (size < 3) return;
    gb_vtype_t type = (gb_vtype_t)(1 + data[1] % 4);
    int codec = data[2] % (GB_CODEC_MAX + 1);
    size_t n = (size - 3) / 16;
    if (n == 0 || n > GB_BLOCK_MAX_POINTS) return;
    const uint8_t *q = data + 3;
    int64_t *t = malloc(n * sizeof *t);
    double *f = malloc(n * sizeof *f);
    int64_t *iv = malloc(n * sizeof *iv);
    uint8_t *bv = malloc(n);
    gb_block_str_t *sv = malloc(n * sizeof *sv);
    for (size_t i = 0; i < n; i++, q += 16) {
        uint64_t step = load64(q), v = load64(q + 8);
        /* times: a free first value, then steps of 1 .. 2^40 that stop short of overflowing */
        if (i == 0)
            t[i] = (int64_t)step;
        else if (t[i - 1] > INT64_MAX - (int64_t)((step & ((UINT64_C(1) << 40) - 1)) + 1))
            n = i;
        else
            t[i] = t[i - 1] + (int64_t)(step & ((UINT64_C(1) << 40) - 1)) + 1;
        if (i == n) break;
        memcpy(&f[i], &v, 8);
        iv[i] = (int64_t)v;
        bv[i] = (uint8_t)v;
        sv[i].off = (uint32_t)(v % size);
        sv[i].len = (uint32_t)((v >> 32) % (size - sv[i].off + 1));
    }
    gb_block_in_t in = {.type = type,
                        .n = n,
                        .t = t,
                        .f64 = f,
                        .i64 = iv,
                        .b = bv,
                        .str = sv,
                        .arena = (const char *)data,
                        .arena_len = size,
                        .codec = codec};
    gb_buf_t b;
    gb_buf_init(&b);
    gb_block_out_t o;
    gb_block_out_init(&o);
    int rc = gb_block_encode(&in, &b, NULL);
    if (rc == 0) {
        if (gb_block_decode(b.p, b.len, &o) || o.n != n) __builtin_trap();
        for (size_t i = 0; i < n; i++) {
            int bad = o.t[i] != t[i];
            if (type == GB_VT_F64) bad |= memcmp(&o.f64[i], &f[i], 8) != 0;
            if (type == GB_VT_I64) bad |= o.i64[i] != iv[i];
            if (type == GB_VT_BOOL) bad |= o.b[i] != (bv[i] != 0);
            if (type == GB_VT_STR)
                bad |= o.str[i].len != sv[i].len ||
                       memcmp(o.arena + o.str[i].off, data + sv[i].off, sv[i].len) != 0;
            if (bad) __builtin_trap();
        }
    } else if (!codec) {
        __builtin_trap(); /* valid points with free codecs must always encode */
    }
    gb_block_out_clear(&o);
    gb_buf_clear(&b);
    free(t);
    free(f);
    free(iv);
    free(bv);
    free(sv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size && data[0] == 0xEE)
        encode_mode(data, size);
    else if (size && data[0] == 0xCC)
        decode_mode(data + 1, size - 1, 1);
    else
        decode_mode(data, size, 0);
    return 0;
}
