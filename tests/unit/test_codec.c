/*
 * Block codecs: exact round trips for every codec and value type (floats bit for bit, NaN
 * payloads and -0.0 included), sizes worked out by hand for simple series, statistics, header-only
 * reads, and the refusal of malformed blocks -- every truncation, every flipped bit, and damage
 * behind a valid CRC.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gemba/error.h"
#include "store/codec.h"
#include "store/codec_bits.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static uint64_t rng = 0x243F6A8885A308D3ull;

static uint64_t rnd(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717ull;
}

static double dbits(uint64_t u)
{
    double d;
    memcpy(&d, &u, 8);
    return d;
}

static uint64_t ubits(double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}

static int64_t *times_regular(size_t n, int64_t t0, int64_t step)
{
    int64_t *t = malloc(n * sizeof *t);
    for (size_t i = 0; i < n; i++)
        t[i] = t0 + (int64_t)i * step;
    return t;
}

/* Encodes IN, decodes the block, and checks every time and value; returns the block's stats. */
static int steps_given; /* how many blocks round_trip saw give a step for their times */

static gb_block_stats_t round_trip(const gb_block_in_t *in)
{
    gb_buf_t b;
    gb_buf_init(&b);
    gb_block_stats_t st;
    assert_int_equal(gb_block_encode(in, &b, &st), 0);
    assert_int_equal(st.bytes, b.len);
    assert_int_equal(st.count, in->n);
    if (in->codec) assert_int_equal(st.value_codec, in->codec);

    gb_block_out_t o;
    gb_block_out_init(&o);
    assert_int_equal(gb_block_decode(b.p, b.len, &o), 0);
    assert_int_equal(o.n, in->n);
    assert_int_equal(o.type, in->type);
    assert_int_equal(o.value_codec, st.value_codec);
    assert_int_equal(o.time_codec, st.time_codec);
    for (size_t i = 0; i < in->n; i++) {
        assert_true(o.t[i] == in->t[i]);
        switch (in->type) {
        case GB_VT_F64:
            assert_true(ubits(o.f64[i]) == ubits(in->f64[i]));
            break;
        case GB_VT_I64:
            assert_true(o.i64[i] == in->i64[i]);
            break;
        case GB_VT_BOOL:
            assert_int_equal(o.b[i], in->b[i] != 0);
            break;
        case GB_VT_STR:
            assert_int_equal(o.str[i].len, in->str[i].len);
            assert_true(o.str[i].off + o.str[i].len <= o.arena_len);
            assert_memory_equal(o.arena + o.str[i].off, in->arena + in->str[i].off, in->str[i].len);
            break;
        }
    }
    gb_block_out_clear(&o);

    /* asked for a step instead of times: given only for regular times, and it makes them; given
     * for every regular DELTA or DELTA_RLE stream */
    bool regular = in->n >= 2;
    for (size_t i = 2; i < in->n && regular; i++)
        regular =
            (uint64_t)in->t[i] - (uint64_t)in->t[i - 1] == (uint64_t)in->t[1] - (uint64_t)in->t[0];
    gb_block_out_init(&o);
    o.want_step = true;
    assert_int_equal(gb_block_decode(b.p, b.len, &o), 0);
    if (!o.t) {
        assert_true(regular);
        for (size_t i = 0; i < in->n; i++)
            assert_true((int64_t)((uint64_t)o.t0 + i * (uint64_t)o.tstep) == in->t[i]);
        steps_given++;
    } else {
        assert_false(regular &&
                     (st.time_codec == GB_CODEC_DELTA || st.time_codec == GB_CODEC_DELTA_RLE));
        for (size_t i = 0; i < in->n; i++)
            assert_true(o.t[i] == in->t[i]);
    }
    gb_block_out_clear(&o);
    gb_buf_clear(&b);
    return st;
}

static const int F64_CODECS[] = {0, GB_CODEC_GORILLA, GB_CODEC_CHIMP, GB_CODEC_DECIMAL,
                                 GB_CODEC_F64BITS};
static const int INT_CODECS[] = {0,
                                 GB_CODEC_RAW,
                                 GB_CODEC_FOR,
                                 GB_CODEC_DELTA,
                                 GB_CODEC_DOD,
                                 GB_CODEC_DICT,
                                 GB_CODEC_RLE,
                                 GB_CODEC_DELTA_RLE};
#define COUNT(a) (sizeof(a) / sizeof(a)[0])

static void f64_all_codecs(const double *v, size_t n, const int64_t *t)
{
    for (size_t c = 0; c < COUNT(F64_CODECS); c++) {
        gb_block_in_t in = {.type = GB_VT_F64, .n = n, .t = t, .f64 = v, .codec = F64_CODECS[c]};
        round_trip(&in);
    }
}

static void i64_all_codecs(gb_vtype_t type, const int64_t *v, const uint8_t *b, size_t n,
                           const int64_t *t)
{
    for (size_t c = 0; c < COUNT(INT_CODECS); c++) {
        gb_block_in_t in = {.type = type, .n = n, .t = t, .i64 = v, .b = b, .codec = INT_CODECS[c]};
        round_trip(&in);
    }
}

static void test_f64_special_values(void **state)
{
    (void)state;
    const double v[] = {0.0,
                        -0.0,
                        INFINITY,
                        -INFINITY,
                        NAN,
                        -NAN,
                        dbits(0x7ff0000000000001ull) /* signalling */,
                        dbits(0x7ff8dead0000beefull),
                        dbits(0xfff4000000000123ull),
                        DBL_MIN,
                        -DBL_MIN,
                        DBL_TRUE_MIN,
                        -DBL_TRUE_MIN,
                        dbits(0x000fffffffffffffull) /* largest subnormal */,
                        DBL_MAX,
                        -DBL_MAX,
                        1.0 / 3,
                        M_PI,
                        0.1,
                        0.2,
                        0.30000000000000004,
                        1e300,
                        -1e-300,
                        123456789012345678.0,
                        9007199254740993.0,
                        0.0265878,
                        233.062,
                        74.93588199999998,
                        1e-18,
                        1e18,
                        5e-324,
                        42};
    size_t n = COUNT(v);
    int64_t *t = times_regular(n, 1700000000000000000, 1000000000);
    f64_all_codecs(v, n, t);
    for (size_t k = 1; k <= n; k++)
        f64_all_codecs(v + n - k, k, t); /* every suffix, n = 1 too */
    free(t);
}

/* N values of kind K: random bits, short decimals, a random walk of decimals, constants ... */
static void fill_f64(double *v, size_t n, int kind)
{
    double walk = 50;
    for (size_t i = 0; i < n; i++) {
        switch (kind) {
        case 0:
            v[i] = dbits(rnd());
            break;
        case 1:
            v[i] = (double)(int64_t)(rnd() % 2000001 - 1000000) / 1e4;
            break;
        case 2:
            walk += (double)(int64_t)(rnd() % 201 - 100) / 1000;
            v[i] = round(walk * 1000) / 1000;
            break;
        case 3:
            v[i] = 1.0 / 3;
            break;
        case 4:
            v[i] = (double)(rnd() % 4) * 0.327927 - 0.273216;
            break; /* a few levels */
        case 5:
            v[i] = i % 97 ? (double)(rnd() % 100000) / 1e5 : NAN;
            break;
        case 6:
            v[i] = (double)(int64_t)rnd() * 1e-3;
            break; /* decimals too large for e */
        case 7:
            v[i] = sin((double)i / 50) * 1e6;
            break;
        default: /* 0/1 labels in runs of random length */
            walk = i == 0 || rnd() % 40 == 0 ? (double)(rnd() % 2) : walk;
            v[i] = walk;
            break;
        }
    }
}

static void test_f64_random(void **state)
{
    (void)state;
    const size_t sizes[] = {1, 2, 3, 31, 32, 33, 127, 128, 129, 1000, 4097};
    double *v = malloc(GB_BLOCK_MAX_POINTS * sizeof *v);
    int64_t *t = times_regular(GB_BLOCK_MAX_POINTS, 0, 1);
    for (int kind = 0; kind < 9; kind++) {
        for (size_t s = 0; s < COUNT(sizes); s++) {
            fill_f64(v, sizes[s], kind);
            f64_all_codecs(v, sizes[s], t);
        }
        fill_f64(v, GB_BLOCK_MAX_POINTS, kind);
        gb_block_in_t in = {.type = GB_VT_F64, .n = GB_BLOCK_MAX_POINTS, .t = t, .f64 = v};
        round_trip(&in);
    }
    free(v);
    free(t);
}

static void test_i64_extremes(void **state)
{
    (void)state;
    const int64_t pattern[] = {
        INT64_MIN,     INT64_MAX, 0,  -1, 1,  INT64_MIN, INT64_MIN + 1, INT64_MAX,
        INT64_MAX - 1, INT64_MIN, 42, 42, 42, INT64_MAX, INT64_MIN};
    size_t n = COUNT(pattern);
    int64_t *t = times_regular(GB_BLOCK_MAX_POINTS, -5, 3);
    for (size_t k = 1; k <= n; k++)
        i64_all_codecs(GB_VT_I64, pattern, NULL, k, t);

    int64_t *v = malloc(GB_BLOCK_MAX_POINTS * sizeof *v);
    const size_t sizes[] = {1, 2, 3, 100, 1000, GB_BLOCK_MAX_POINTS};
    for (int kind = 0; kind < 7; kind++) {
        for (size_t s = 0; s < COUNT(sizes); s++) {
            int64_t acc = INT64_MAX - 1000;
            for (size_t i = 0; i < sizes[s]; i++) {
                switch (kind) {
                case 0:
                    v[i] = (int64_t)rnd();
                    break;
                case 1:
                    v[i] = (int64_t)(rnd() % 7) * 1000 - 3000;
                    break;
                case 2:
                    v[i] = (int64_t)((uint64_t)acc + i * 17);
                    break; /* wraps past INT64_MAX */
                case 3:
                    v[i] = (int64_t)(i / 100);
                    break; /* long runs */
                case 4:
                    v[i] = i % 2 ? INT64_MIN : INT64_MAX;
                    break;
                case 5:
                    v[i] = i && rnd() % 30 ? v[i - 1] : (int64_t)(rnd() % 5);
                    break; /* runs */
                default:
                    v[i] = (int64_t)(rnd() >> (rnd() % 64)) * (i % 2 ? -1 : 1);
                    break;
                }
            }
            i64_all_codecs(GB_VT_I64, v, NULL, sizes[s], t);
        }
    }
    free(v);
    free(t);
}

static void test_times(void **state)
{
    (void)state;
    const size_t n = 5000;
    int64_t *t = malloc(GB_BLOCK_MAX_POINTS * sizeof *t);
    double *v = calloc(GB_BLOCK_MAX_POINTS, sizeof *v);
    for (int kind = 0; kind < 6; kind++) {
        int64_t x = kind == 3 ? INT64_MIN : 1700000000123456789;
        for (size_t i = 0; i < n; i++) {
            switch (kind) {
            case 0:
                x += 1;
                break; /* 1 ns steps */
            case 1:
                x += 1000000000 + (int64_t)(rnd() % 2000001) - 1000000;
                break; /* jitter */
            case 2:
                x += rnd() % 10 ? 1000000000 : 2000000000;
                break; /* hiccups */
            case 3:
                x += i == 1 ? INT64_MAX : 1 + (int64_t)(rnd() % 1000);
                break; /* a huge gap */
            case 4:
                x += 1 + (int64_t)(rnd() >> 40);
                break; /* irregular */
            default:
                x += i % 1000 ? 250000000 : 3600000000000;
                break; /* pauses */
            }
            t[i] = x;
        }
        gb_block_in_t in = {.type = GB_VT_F64, .n = n, .t = t, .f64 = v};
        int given = steps_given;
        round_trip(&in);
        assert_int_equal(steps_given - given, kind == 0); /* only the 1 ns steps are regular */
        in.n = 1;
        round_trip(&in);
        in.n = 2;
        round_trip(&in);
    }
    /* the extremes of the range, one nanosecond apart at both ends */
    int64_t ends[] = {INT64_MIN, INT64_MIN + 1, 0, INT64_MAX - 1, INT64_MAX};
    gb_block_in_t in = {.type = GB_VT_F64, .n = 5, .t = ends, .f64 = v};
    round_trip(&in);
    /* a full block */
    for (size_t i = 0; i < GB_BLOCK_MAX_POINTS; i++)
        t[i] = (int64_t)i * 1000000;
    in = (gb_block_in_t){.type = GB_VT_F64, .n = GB_BLOCK_MAX_POINTS, .t = t, .f64 = v};
    int given = steps_given;
    gb_block_stats_t st = round_trip(&in);
    assert_int_equal(steps_given - given, 1);
    assert_true(st.time_bytes * 8 < GB_BLOCK_MAX_POINTS / 8);
    free(t);
    free(v);
}

/*
 * Sizes by hand. 1000 points at exactly 1 s: the DELTA stream of the times less the first is the
 * codec byte, x0 0, shift, base = the one delta (5 bytes), g 1, and one 1024-value mini-block of
 * width 0 (width byte and q byte): 1 + 1 + 1 + 5 + 1 + 2 = 11 bytes, under 0.1 bit a point (DOD
 * would need a byte more for its zero base; the first time, 9 bytes, is in the header). A constant
 * float adds a decimal section of the same shape: e and two exception counts, then a FOR stream
 * (codec, shift, base, g, one width-0 mini-block).
 */
static void test_sizes(void **state)
{
    (void)state;
    const size_t n = 1000;
    int64_t *t = times_regular(n, 1700000000000000000, 1000000000);
    double *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = 21.5;
    gb_block_in_t in = {.type = GB_VT_F64, .n = n, .t = t, .f64 = v};
    gb_block_stats_t st = round_trip(&in);
    assert_int_equal(st.time_codec, GB_CODEC_DELTA);
    assert_int_equal(st.time_bytes, 11);
    assert_true(st.time_bytes * 8 <= n);
    assert_int_equal(st.value_codec, GB_CODEC_DECIMAL);
    assert_true(st.value_bytes <= 12);
    /* header: 4 bytes, count 2, first time 9, span 5, section sizes 1 + 1; then the CRC */
    assert_true(st.bytes <= 26 + 11 + 12);

    /* 1 s with a 2 s hiccup now and then: the common divisor makes DELTA 1 bit a point at most */
    for (size_t i = 1; i < n; i++)
        t[i] = t[i - 1] + (i % 17 ? 1000000000 : 2000000000);
    st = round_trip(&in);
    assert_true(st.time_bytes * 8 <= n + 200);

    /* tenths of a degree between 20.0 and 25.5: 56 levels, 6 bits a point plus a little */
    for (size_t i = 0; i < n; i++)
        v[i] = (double)(200 + rnd() % 56) / 10;
    st = round_trip(&in);
    assert_int_equal(st.value_codec, GB_CODEC_DECIMAL);
    assert_true(st.value_bytes <= n * 6 / 8 + 80);

    /* a counter that goes up by 1: DELTA, width 0 */
    int64_t *c = malloc(n * sizeof *c);
    for (size_t i = 0; i < n; i++)
        c[i] = 1000000 + (int64_t)i;
    in = (gb_block_in_t){.type = GB_VT_I64, .n = n, .t = t, .i64 = c};
    st = round_trip(&in);
    assert_true(st.value_codec == GB_CODEC_DELTA || st.value_codec == GB_CODEC_DOD);
    assert_true(st.value_bytes <= 12);

    /* a machine state that changes 10 times: RLE */
    uint8_t *b = malloc(n);
    for (size_t i = 0; i < n; i++)
        b[i] = (i / 100) % 2;
    in = (gb_block_in_t){.type = GB_VT_BOOL, .n = n, .t = t, .b = b};
    st = round_trip(&in);
    assert_true(st.value_bytes <= 24);
    free(b);
    free(c);
    free(t);
    free(v);
}

/* Decodes block P (N bytes) asking for digits; checks that they come exactly when WANT, and that
 * each gives the value a plain decode gives, bit for bit. */
static void digits_check(const uint8_t *p, size_t n, bool want)
{
    gb_block_out_t plain, dig;
    gb_block_out_init(&plain);
    gb_block_out_init(&dig);
    dig.want_digits = true;
    assert_int_equal(gb_block_decode(p, n, &plain), 0);
    assert_int_equal(gb_block_decode(p, n, &dig), 0);
    assert_int_equal(dig.n, plain.n);
    assert_int_equal(dig.dig != NULL, want);
    assert_int_equal(dig.f64 == NULL, want);
    for (uint32_t i = 0; i < plain.n; i++) {
        assert_int_equal(dig.t[i], plain.t[i]);
        double x = want ? (double)dig.dig[i] / dig.dscale : dig.f64[i];
        assert_memory_equal(&x, &plain.f64[i], sizeof x);
    }
    gb_block_out_clear(&plain);
    gb_block_out_clear(&dig);
}

/*
 * A DECIMAL block gives its digits to a reader that asks (the aggregates, which sum them): only
 * when every value is its digits over the block's power of ten (no exception: not for a NaN, nor
 * for a value a few units in the last place off a decimal), large digits too. A block of another
 * codec never does.
 */
static void test_decimal_digits(void **state)
{
    (void)state;
    const size_t n = 4096;
    int64_t *t = times_regular(n, 1700000000000000000, 1000000000);
    double *v = malloc(n * sizeof *v);
    gb_buf_t b;
    gb_buf_init(&b);
    for (int k = 0; k < 4; k++) {
        for (size_t i = 0; i < n; i++)
            v[i] = (double)(-29800 + (int)(rnd() % 56)) / 1000; /* -29.800 .. -29.745: e = 3 */
        if (k == 1) v[77] = NAN;
        if (k == 2) v[78] = 74.93588199999998; /* a near exception */
        if (k == 3) v[0] = 1125899906842.624;  /* 2^50 / 1000: at e = 3, digits of 2^50 */
        gb_block_in_t in = {.type = GB_VT_F64, .n = n, .t = t, .f64 = v, .codec = GB_CODEC_DECIMAL};
        b.len = 0;
        assert_int_equal(gb_block_encode(&in, &b, NULL), 0);
        digits_check(b.p, b.len, k == 0 || k == 3);
    }
    gb_block_in_t in = {.type = GB_VT_F64, .n = n, .t = t, .f64 = v, .codec = GB_CODEC_CHIMP};
    b.len = 0;
    assert_int_equal(gb_block_encode(&in, &b, NULL), 0);
    digits_check(b.p, b.len, false);
    gb_buf_clear(&b);
    free(t);
    free(v);
}

static void test_bools(void **state)
{
    (void)state;
    const size_t n = 3000;
    uint8_t *b = malloc(n);
    int64_t *t = times_regular(n, 0, 100);
    for (int kind = 0; kind < 4; kind++) {
        for (size_t i = 0; i < n; i++) {
            if (kind == 0)
                b[i] = 1;
            else if (kind == 1)
                b[i] = i % 2;
            else if (kind == 2)
                b[i] = rnd() % 2;
            else
                b[i] = rnd() % 50 == 0 ? 7 : 0; /* anything but 0 is true */
        }
        for (size_t k = 1; k <= 3; k++)
            i64_all_codecs(GB_VT_BOOL, NULL, b, k, t);
        i64_all_codecs(GB_VT_BOOL, NULL, b, n, t);
    }
    free(b);
    free(t);
}

static void str_round_trips(const gb_block_str_t *s, size_t n, const char *arena, size_t alen,
                            const int64_t *t)
{
    const int codecs[] = {0, GB_CODEC_STR_RAW, GB_CODEC_STR_DICT};
    for (size_t c = 0; c < COUNT(codecs); c++) {
        gb_block_in_t in = {.type = GB_VT_STR,
                            .n = n,
                            .t = t,
                            .str = s,
                            .arena = arena,
                            .arena_len = alen,
                            .codec = codecs[c]};
        round_trip(&in);
    }
}

static void test_strings(void **state)
{
    (void)state;
    const size_t n = 2000, big = 65536;
    char *arena = malloc(big + 64);
    memset(arena, 'x', big);
    memcpy(arena + big, "ACTIVE\0READY\0STOPPED\0", 21);
    const gb_block_str_t states[] = {{big, 6}, {big + 7, 5}, {big + 13, 7}, {big + 6, 1}, {0, 0}};
    gb_block_str_t *s = malloc(n * sizeof *s);
    int64_t *t = times_regular(n, 1, 1);
    for (int kind = 0; kind < 4; kind++) {
        for (size_t i = 0; i < n; i++) {
            if (kind == 0)
                s[i] = states[(i / 50) % 5]; /* an enumeration, "\0" and "" too */
            else if (kind == 1)
                s[i] = states[rnd() % 5];
            else if (kind == 2)
                s[i] = (gb_block_str_t){(uint32_t)(rnd() % 1000), (uint32_t)(rnd() % 300)};
            else
                s[i] = (gb_block_str_t){0, 0}; /* all empty */
        }
        for (size_t k = 1; k <= 3; k++)
            str_round_trips(s, k, arena, big + 64, t);
        str_round_trips(s, n, arena, big + 64, t);
    }
    gb_block_str_t longest[2] = {{0, (uint32_t)big}, {1, (uint32_t)big - 1}};
    str_round_trips(longest, 2, arena, big + 64, t);

    /* an enumeration costs its dictionary and its runs, not its bytes */
    for (size_t i = 0; i < n; i++)
        s[i] = states[(i / 50) % 3];
    gb_block_in_t in = {
        .type = GB_VT_STR, .n = n, .t = t, .str = s, .arena = arena, .arena_len = big + 64};
    gb_block_stats_t st = round_trip(&in);
    assert_int_equal(st.value_codec, GB_CODEC_STR_DICT);
    assert_true(st.value_bytes < 64);
    free(s);
    free(t);
    free(arena);
}

static void test_stats(void **state)
{
    (void)state;
    int64_t t[] = {10, 20, 30, 40, 50};
    double v[] = {NAN, 2.5, -1.0, NAN, 4.0};
    gb_block_in_t in = {.type = GB_VT_F64, .n = 5, .t = t, .f64 = v};
    gb_block_stats_t st = round_trip(&in);
    assert_true(st.t_first == 10 && st.t_last == 50);
    assert_true(st.min == -1.0 && st.max == 4.0 && st.sum == 5.5 && st.sumsq == 23.25);
    assert_true(isnan(st.first) && st.last == 4.0);
    assert_int_equal(st.nan_count, 2);
    double allnan[] = {NAN, NAN};
    in.f64 = allnan;
    in.n = 2;
    st = round_trip(&in);
    assert_true(isnan(st.min) && isnan(st.max) && isnan(st.sum));

    int64_t iv[] = {5, INT64_MIN, 7, INT64_MAX, -3};
    in = (gb_block_in_t){.type = GB_VT_I64, .n = 5, .t = t, .i64 = iv};
    st = round_trip(&in);
    assert_true(st.imin == INT64_MIN && st.imax == INT64_MAX && st.ifirst == 5 && st.ilast == -3);
    uint8_t bv[] = {1, 0, 3, 1, 0};
    in = (gb_block_in_t){.type = GB_VT_BOOL, .n = 5, .t = t, .b = bv};
    st = round_trip(&in);
    assert_true(st.sum == 3 && st.imin == 0 && st.imax == 1 && st.ilast == 0);
}

static void test_info_and_appending(void **state)
{
    (void)state;
    int64_t t[] = {100, 200, 300};
    int64_t v[] = {1, 2, 3};
    gb_block_in_t in = {.type = GB_VT_I64, .n = 3, .t = t, .i64 = v};
    gb_buf_t b;
    gb_buf_init(&b);
    assert_int_equal(gb_buf_append(&b, "junk", 4), 0);
    gb_block_stats_t s1, s2;
    assert_int_equal(gb_block_encode(&in, &b, &s1), 0);
    in.n = 2;
    assert_int_equal(gb_block_encode(&in, &b, &s2), 0);
    assert_int_equal(b.len, 4 + s1.bytes + s2.bytes);

    gb_block_info_t info;
    assert_int_equal(gb_block_info(b.p + 4, b.len - 4, &info), 0); /* followed by another block */
    assert_int_equal(info.type, GB_VT_I64);
    assert_int_equal(info.count, 3);
    assert_true(info.t_first == 100 && info.t_last == 300);
    assert_int_equal(info.bytes, s1.bytes);
    assert_int_equal(info.value_codec, s1.value_codec);
    assert_string_equal(gb_codec_name(GB_CODEC_DOD), "dod");
    assert_string_not_equal(gb_codec_name(info.time_codec), "?");
    assert_string_equal(gb_codec_name(0), "?");

    gb_block_out_t o;
    gb_block_out_init(&o);
    /* decode wants exactly one block */
    assert_int_equal(gb_block_decode(b.p + 4, b.len - 4, &o), GB_EPROTO);
    assert_int_equal(o.n, 0);
    assert_int_equal(gb_block_decode(b.p + 4, s1.bytes, &o), 0);
    assert_int_equal(o.n, 3);
    assert_int_equal(gb_block_decode(b.p + 4 + s1.bytes, s2.bytes, &o), 0);
    assert_int_equal(o.n, 2);
    assert_true(o.t[1] == 200 && o.i64[1] == 2);
    gb_block_out_clear(&o);
    gb_buf_clear(&b);
}

static void test_encode_refusals(void **state)
{
    (void)state;
    int64_t t[] = {1, 2, 2};
    double v[] = {1, 2, 3};
    gb_buf_t b;
    gb_buf_init(&b);
    gb_block_in_t in = {.type = GB_VT_F64, .n = 3, .t = t, .f64 = v};
    assert_int_equal(gb_block_encode(&in, &b, NULL), GB_EINVAL); /* times not increasing */
    in.n = 0;
    assert_int_equal(gb_block_encode(&in, &b, NULL), GB_EINVAL);
    in.n = GB_BLOCK_MAX_POINTS + 1;
    assert_int_equal(gb_block_encode(&in, &b, NULL), GB_EINVAL);
    in.n = 2;
    in.codec = GB_CODEC_DICT; /* an integer codec for floats */
    assert_int_equal(gb_block_encode(&in, &b, NULL), GB_EINVAL);
    in.codec = 99;
    assert_int_equal(gb_block_encode(&in, &b, NULL), GB_EINVAL);
    in.codec = 0;
    in.f64 = NULL;
    assert_int_equal(gb_block_encode(&in, &b, NULL), GB_EINVAL);
    gb_block_str_t s[] = {{0, 3}, {2, 3}};
    in = (gb_block_in_t){
        .type = GB_VT_STR, .n = 2, .t = t, .str = s, .arena = "abcd", .arena_len = 4};
    assert_int_equal(gb_block_encode(&in, &b, NULL), GB_EINVAL); /* past the arena */
    in.type = (gb_vtype_t)9;
    assert_int_equal(gb_block_encode(&in, &b, NULL), GB_EINVAL);
    assert_int_equal(b.len, 0);

    /* 1100 distinct strings of 64 KiB: 72 MB of text is more than a block may hold */
    enum { N = 1100, LEN = 65536 };
    char *arena = calloc(LEN + N, 1);
    gb_block_str_t *big = malloc(N * sizeof *big);
    int64_t *tt = malloc(N * sizeof *tt);
    for (size_t i = 0; i < N; i++) {
        arena[LEN + i] = (char)(1 + i % 200);
        big[i] = (gb_block_str_t){(uint32_t)i + 1, LEN};
        tt[i] = (int64_t)i;
    }
    in = (gb_block_in_t){
        .type = GB_VT_STR, .n = N, .t = tt, .str = big, .arena = arena, .arena_len = LEN + N};
    assert_int_equal(gb_block_encode(&in, &b, NULL), GB_ERANGE);
    assert_int_equal(b.len, 0);
    free(arena);
    free(big);
    free(tt);
    gb_buf_clear(&b);

    for (int c = 1; c <= GB_CODEC_MAX; c++)
        assert_string_not_equal(gb_codec_name(c), "?");
}

/* Encodes one block of each type and several codecs into B; returns their count, ENDS their ends.
 */
static size_t sample_blocks(gb_buf_t *b, size_t *ends)
{
    static int64_t t[300], iv[300];
    static double fv[300];
    static uint8_t bv[300];
    static gb_block_str_t sv[300];
    static const char arena[] = "ACTIVEREADYSTOPPED";
    static const gb_block_str_t states[] = {{0, 6}, {6, 5}, {11, 7}};
    for (size_t i = 0; i < 300; i++) {
        t[i] = 1700000000000000000 + (int64_t)i * 1000000000 + (i % 7 == 3 ? 12345 : 0);
        fv[i] = i % 50 == 7 ? NAN : (double)(rnd() % 100000) / 1000;
        iv[i] = (int64_t)(i / 10) * 3 - 100;
        bv[i] = (i / 30) % 2;
        sv[i] = states[i / 40 % 3];
    }
    const gb_block_in_t ins[] = {
        {.type = GB_VT_F64, .n = 300, .t = t, .f64 = fv},
        {.type = GB_VT_F64, .n = 100, .t = t, .f64 = fv, .codec = GB_CODEC_GORILLA},
        {.type = GB_VT_F64, .n = 100, .t = t, .f64 = fv, .codec = GB_CODEC_CHIMP},
        {.type = GB_VT_F64, .n = 100, .t = t, .f64 = fv, .codec = GB_CODEC_F64BITS},
        {.type = GB_VT_I64, .n = 300, .t = t, .i64 = iv},
        {.type = GB_VT_I64, .n = 100, .t = t, .i64 = iv, .codec = GB_CODEC_DICT},
        {.type = GB_VT_I64, .n = 100, .t = t, .i64 = iv, .codec = GB_CODEC_RAW},
        {.type = GB_VT_BOOL, .n = 300, .t = t, .b = bv},
        {.type = GB_VT_BOOL, .n = 100, .t = t, .b = bv, .codec = GB_CODEC_FOR},
        {.type = GB_VT_STR, .n = 300, .t = t, .str = sv, .arena = arena, .arena_len = 18},
        {.type = GB_VT_STR,
         .n = 60,
         .t = t,
         .str = sv,
         .arena = arena,
         .arena_len = 18,
         .codec = GB_CODEC_STR_RAW},
    };
    size_t k = 0;
    for (; k < COUNT(ins); k++) {
        assert_int_equal(gb_block_encode(&ins[k], b, NULL), 0);
        ends[k] = b->len;
    }
    return k;
}

/* Recomputes the CRC of the block at P (N bytes) after a deliberate change. */
static void reseal(uint8_t *p, size_t n)
{
    uLong crc = crc32(0L, p, (uInt)(n - 4));
    for (int i = 0; i < 4; i++)
        p[n - 4 + i] = (uint8_t)(crc >> (8 * i));
}

static void put_raw_stream(gb_buf_t *b, const int64_t *x, size_t n)
{
    uint8_t w[8] = {GB_CODEC_RAW};
    gb_buf_append(b, w, 1);
    for (size_t i = 0; i < n; i++) {
        for (int j = 0; j < 8; j++)
            w[j] = (uint8_t)((uint64_t)x[i] >> (8 * j));
        gb_buf_append(b, w, 8);
    }
}

/* Builds by hand, into B (emptied), a block of VERSION (1 or 2) of N times T and integer values
 * V, both RAW (in version 2 the times less the first). */
static void make_block(gb_buf_t *b, int version, gb_vtype_t type, const int64_t *t,
                       const int64_t *v, size_t n)
{
    uint32_t sec = (uint32_t)(1 + 8 * n);
    b->len = 0;
    if (version == 1) {
        uint8_t h[32] = {1, (uint8_t)type, GB_CODEC_RAW, GB_CODEC_RAW, (uint8_t)n};
        for (int j = 0; j < 8; j++) {
            h[8 + j] = (uint8_t)((uint64_t)t[0] >> (8 * j));
            h[16 + j] = (uint8_t)((uint64_t)t[n - 1] >> (8 * j));
        }
        for (int j = 0; j < 4; j++)
            h[24 + j] = h[28 + j] = (uint8_t)(sec >> (8 * j));
        gb_buf_append(b, h, sizeof h);
        put_raw_stream(b, t, n);
    } else { /* small numbers only: every varint is one byte */
        assert_true(n < 128 && t[0] >= 0 && t[0] < 64 && t[n - 1] - t[0] < 128 && sec < 128);
        uint8_t h[9] = {2,
                        (uint8_t)type,
                        GB_CODEC_RAW,
                        GB_CODEC_RAW,
                        (uint8_t)n,
                        (uint8_t)(2 * t[0]),
                        (uint8_t)(t[n - 1] - t[0]),
                        (uint8_t)sec,
                        (uint8_t)sec};
        gb_buf_append(b, h, sizeof h);
        int64_t rel[16];
        for (size_t i = 0; i < n && i < 16; i++)
            rel[i] = t[i] - t[0];
        put_raw_stream(b, rel, n);
    }
    put_raw_stream(b, v, n);
    gb_buf_append(b, "CRC!", 4);
    reseal(b->p, b->len);
}

/*
 * Blocks written by an earlier gemba (version 1: a fixed header, the times as they are) still
 * decode: three integers and three floats (the last NaN), as that version wrote them.
 */
static void test_version1(void **state)
{
    (void)state;
    static const uint8_t i64_v1[] = {
        0x01, 0x02, 0x03, 0x02, 0x03, 0x00, 0x00, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x2c, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x00,
        0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x03, 0xc8, 0x01, 0x00, 0xc8, 0x01, 0x01,
        0x00, 0x00, 0x02, 0x00, 0x02, 0x01, 0x02, 0x00, 0x24, 0x60, 0x43, 0xe1, 0x01};
    static const uint8_t f64_v1[] = {
        0x01, 0x01, 0x03, 0x07, 0x03, 0x00, 0x00, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x2c, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x0e, 0x00,
        0x00, 0x00, 0x03, 0xc8, 0x01, 0x00, 0xc8, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0xf8, 0x3f, 0x07, 0xa7, 0xff, 0xaf, 0xff, 0x03, 0x47, 0x7f, 0xc9, 0x97};
    gb_block_out_t o;
    gb_block_out_init(&o);
    gb_block_info_t info;
    assert_int_equal(gb_block_info(i64_v1, sizeof i64_v1, &info), 0);
    assert_true(info.version == 1 && info.count == 3 && info.t_first == 100 && info.t_last == 300 &&
                info.bytes == sizeof i64_v1);
    assert_int_equal(gb_block_decode(i64_v1, sizeof i64_v1, &o), 0);
    assert_true(o.n == 3 && o.type == GB_VT_I64 && o.value_codec == GB_CODEC_FOR);
    for (int i = 0; i < 3; i++)
        assert_true(o.t[i] == 100 * (i + 1) && o.i64[i] == i + 1);
    assert_int_equal(gb_block_decode(f64_v1, sizeof f64_v1, &o), 0);
    assert_true(o.n == 3 && o.type == GB_VT_F64 && o.value_codec == GB_CODEC_GORILLA);
    assert_true(o.t[2] == 300 && o.f64[0] == 1.5 && o.f64[1] == 2.25 && isnan(o.f64[2]));
    /* and a damaged one is still refused */
    uint8_t copy[sizeof f64_v1];
    memcpy(copy, f64_v1, sizeof copy);
    copy[40] ^= 4;
    assert_int_equal(gb_block_decode(copy, sizeof copy, &o), GB_EPROTO);
    gb_block_out_clear(&o);
}

static void test_malformed(void **state)
{
    (void)state;
    gb_buf_t b;
    gb_buf_init(&b);
    size_t ends[16];
    size_t k = sample_blocks(&b, ends);
    gb_block_out_t o;
    gb_block_out_init(&o);
    uint8_t *copy = malloc(b.len);
    for (size_t j = 0, start = 0; j < k; start = ends[j++]) {
        size_t n = ends[j] - start;
        const uint8_t *p = b.p + start;
        assert_int_equal(gb_block_decode(p, n, &o), 0);
        /* every truncation, each copied to a buffer of exactly its length for ASan */
        for (size_t len = 0; len < n; len++) {
            uint8_t *q = malloc(len ? len : 1);
            memcpy(q, p, len);
            assert_int_equal(gb_block_decode(q, len, &o), GB_EPROTO);
            assert_int_equal(o.n, 0);
            free(q);
        }
        /* every flipped bit */
        memcpy(copy, p, n);
        for (size_t bit = 0; bit < n * 8; bit++) {
            copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            assert_int_equal(gb_block_decode(copy, n, &o), GB_EPROTO);
            copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
        /* every byte changed behind a valid CRC: refused or decoded, never read out of bounds;
         * the header is checked field by field (but a float codec id may name another codec,
         * and the first time is only where the block starts: any value is a valid block) */
        gb_block_info_t info;
        assert_int_equal(gb_block_info(p, n, &info), 0);
        size_t t0_at = 4 + (info.count >= 128 ? 2 : 1), t0_end = t0_at + 9;
        for (size_t at = 0; at < n - 4; at++) {
            for (int d = 1; d < 256; d += 51) {
                memcpy(copy, p, n);
                copy[at] = (uint8_t)(copy[at] + d);
                reseal(copy, n);
                int rc = gb_block_decode(copy, n, &o);
                assert_true(rc == 0 || rc == GB_EPROTO);
                if (at < info.header_bytes && at != 3 && (at < t0_at || at >= t0_end))
                    assert_int_equal(rc, GB_EPROTO);
            }
        }
    }
    free(copy);

    /* a mini-block wider than 64 bits, a count over the limit, an unknown version, a section
     * longer than it says -- each behind a valid CRC */
    int64_t t[] = {10, 20, 30, 40};
    int64_t v[] = {1, 1000, 3, 7};
    gb_block_in_t in = {.type = GB_VT_I64, .n = 4, .t = t, .i64 = v, .codec = GB_CODEC_FOR};
    gb_buf_t c;
    gb_buf_init(&c);
    assert_int_equal(gb_block_encode(&in, &c, NULL), 0);
    /* header: version, type, codecs, count 4, zz 10, span 30, time bytes, value bytes */
    assert_true(c.p[4] == 4 && c.p[5] == 20 && c.p[6] == 30);
    uint8_t tb = c.p[7];
    /* FOR value stream: codec, shift, base, g, then the width byte of the only mini-block */
    size_t width_at = 9 + tb + 4;
    assert_int_equal(c.p[width_at], 10);
    c.p[width_at] = 65;
    reseal(c.p, c.len);
    assert_int_equal(gb_block_decode(c.p, c.len, &o), GB_EPROTO);
    c.p[width_at] = 10;
    uint8_t *big = malloc(c.len + 2); /* count 65537 as a three-byte varint */
    memcpy(big, c.p, 4);
    big[4] = 0x81, big[5] = 0x80, big[6] = 0x04;
    memcpy(big + 7, c.p + 5, c.len - 5);
    reseal(big, c.len + 2);
    assert_int_equal(gb_block_decode(big, c.len + 2, &o), GB_EPROTO);
    big[4] = 0x84, big[5] = 0x80, big[6] = 0x00; /* 4 again, in three bytes: fine */
    reseal(big, c.len + 2);
    assert_int_equal(gb_block_decode(big, c.len + 2, &o), 0);
    free(big);
    c.p[0] = 3; /* a version we do not know */
    reseal(c.p, c.len);
    assert_int_equal(gb_block_decode(c.p, c.len, &o), GB_EPROTO);
    c.p[0] = GB_BLOCK_VERSION;
    c.p[7] = (uint8_t)(tb + 1); /* the time section claims one byte of the values */
    reseal(c.p, c.len);
    assert_int_equal(gb_block_decode(c.p, c.len, &o), GB_EPROTO);
    c.p[7] = tb;
    reseal(c.p, c.len);
    assert_int_equal(gb_block_decode(c.p, c.len, &o), 0);

    /* hand-made blocks of both versions: times that do not increase (but match the header), a
     * bool that is 2; in version 2, times that do not start at 0 */
    const int64_t t3[] = {10, 30, 30, 40}, ok3[] = {10, 20, 30, 40}, v3[] = {0, 1, 2, 1};
    for (int version = 1; version <= 2; version++) {
        make_block(&c, version, GB_VT_I64, t3, v3, 4);
        assert_int_equal(gb_block_decode(c.p, c.len, &o), GB_EPROTO);
        make_block(&c, version, GB_VT_I64, ok3, v3, 4);
        assert_int_equal(gb_block_decode(c.p, c.len, &o), 0);
        assert_true(o.n == 4 && o.t[0] == 10 && o.t[3] == 40 && o.i64[2] == 2);
        make_block(&c, version, GB_VT_BOOL, ok3, v3, 4);
        assert_int_equal(gb_block_decode(c.p, c.len, &o), GB_EPROTO);
        make_block(&c, version, GB_VT_BOOL, ok3, v3, 2);
        assert_int_equal(gb_block_decode(c.p, c.len, &o), 0);
        assert_true(o.n == 2 && o.b[1] == 1);
    }
    make_block(&c, 2, GB_VT_I64, ok3, v3, 4);
    c.p[9 + 1] = 1; /* the first time less the first time is 1 */
    reseal(c.p, c.len);
    assert_int_equal(gb_block_decode(c.p, c.len, &o), GB_EPROTO);
    gb_buf_clear(&c);

    gb_block_out_clear(&o);
    gb_buf_clear(&b);
}

/*
 * Mixed radix: mini-blocks whose values span R levels, R not a power of two, pack several values
 * in one base-R number. Round trips for ranges and lengths (partial last groups), with a common
 * divisor, across INT64_MIN; the sizes it buys (3 levels: 1.6 bits a value for 2); and the
 * ranges and groups it refuses to read.
 */
static void test_mixed_radix(void **state)
{
    (void)state;
    /* the ranges the encoder packs in mixed radix (it saves 15 % or more), and some it does not */
    const uint64_t ranges[] = {3, 5, 9, 10, 17, 18, 19, 21, 100, 60000};
    const size_t sizes[] = {1, 2, 3, 4, 5, 6, 31, 32, 33, 97, 1000, 4096};
    int64_t *t = times_regular(4096, 1000, 10);
    int64_t *v = malloc(4096 * sizeof *v);
    for (size_t a = 0; a < COUNT(ranges); a++)
        for (size_t b = 0; b < COUNT(sizes); b++)
            for (int kind = 0; kind < 3; kind++) {
                size_t n = sizes[b];
                int64_t lo = kind == 2 ? INT64_MIN + 5 : -(int64_t)ranges[a] / 2;
                uint64_t g = kind == 1 ? 7 : 1;
                for (size_t i = 0; i < n; i++) /* both ends of the range, and between */
                    v[i] = (int64_t)((uint64_t)lo + g * (i == 0   ? 0
                                                         : i == 1 ? ranges[a] - 1
                                                                  : rnd() % ranges[a]));
                i64_all_codecs(GB_VT_I64, v, NULL, n, t);
            }
    /* three levels: 1000 values in 200 bytes where 2-bit packing takes 250 */
    for (size_t i = 0; i < 1000; i++)
        v[i] = i == 0 ? 0 : i == 1 ? 2 : (int64_t)(rnd() % 3);
    gb_block_in_t in = {.type = GB_VT_I64, .n = 1000, .t = t, .i64 = v, .codec = GB_CODEC_FOR};
    gb_block_stats_t st = round_trip(&in);
    assert_true(st.value_bytes < 215);
    /* a random walk's steps of -1, 0 and 1: the same through DELTA */
    for (size_t i = 1; i < 1000; i++)
        v[i] = v[i - 1] + (int64_t)(rnd() % 3) - 1;
    in.codec = 0;
    st = round_trip(&in);
    assert_int_equal(st.value_codec, GB_CODEC_DELTA);
    assert_true(st.value_bytes < 215);
    free(v);
    free(t);

    /* hand-made FOR streams of 5 values in one mixed-radix mini-block: codec, shift 0, base 0,
     * g 1, then width byte 0x80, q 0, the range, and the groups */
    int64_t t5[] = {0, 1, 2, 3, 4};
    gb_buf_t c;
    gb_buf_init(&c);
    gb_block_out_t o;
    gb_block_out_init(&o);
    const struct {
        uint8_t range, packed;
        int rc;
    } cases[] = {
        {3, 0x65, 0},         /* 5 values of 3 levels in one byte: 101 = 10202 in base 3 */
        {3, 0xf3, GB_EPROTO}, /* 243 = 3^5 is no group of 5 values of 3 levels */
        {2, 0x00, GB_EPROTO}, /* two levels fill a bit: not mixed radix */
        {4, 0x00, GB_EPROTO}, /* a power of two */
        {0, 0x00, GB_EPROTO},
    };
    for (size_t k = 0; k < COUNT(cases); k++) {
        uint8_t vals[] = {GB_CODEC_FOR, 0, 0, 1, 0x80, 0, cases[k].range, cases[k].packed};
        make_block(&c, 2, GB_VT_I64, t5, t5, 5);
        /* the value section is the RAW stream at the end, before the CRC: put ours instead */
        size_t vb = 1 + 8 * 5, at = c.len - 4 - vb;
        c.len = at;
        gb_buf_append(&c, vals, sizeof vals);
        gb_buf_append(&c, "CRC!", 4);
        c.p[3] = GB_CODEC_FOR;         /* the header names the value codec */
        c.p[8] = (uint8_t)sizeof vals; /* and the value section's size */
        reseal(c.p, c.len);
        assert_int_equal(gb_block_decode(c.p, c.len, &o), cases[k].rc);
        if (k == 0)
            assert_true(o.n == 5 && o.i64[0] == 1 && o.i64[1] == 0 && o.i64[2] == 2 &&
                        o.i64[3] == 0 && o.i64[4] == 2);
    }
    /* a range too large for a byte: 2^33 as a varint, refused */
    {
        uint8_t vals[] = {GB_CODEC_FOR, 0, 0, 1, 0x80, 0, 0x80, 0x80, 0x80, 0x80, 0x20, 0};
        make_block(&c, 2, GB_VT_I64, t5, t5, 5);
        c.len -= 4 + 1 + 8 * 5;
        gb_buf_append(&c, vals, sizeof vals);
        gb_buf_append(&c, "CRC!", 4);
        c.p[3] = GB_CODEC_FOR;
        c.p[8] = (uint8_t)sizeof vals;
        reseal(c.p, c.len);
        assert_int_equal(gb_block_decode(c.p, c.len, &o), GB_EPROTO);
    }
    gb_block_out_clear(&o);
    gb_buf_clear(&c);
}

/*
 * The mixed-radix unpacker on its own, for every range it may meet in a stream (the encoder uses
 * a few; a stream may name any): values packed here the plain way -- V = V * R + value, in the
 * group's bits -- come back, for lengths around the group size, at the largest digits too; a
 * group of R^K is refused.
 */
static void test_radix_unpack(void **state)
{
    (void)state;
    uint64_t in[200], out[200];
    uint8_t buf[2048];
    for (uint64_t r = 3; r < 70000; r = r < 400 ? r + 1 : r * 3 + 1) {
        gb_radix_t x = gb_radix_of(r);
        if (x.k == 1) continue;
        const size_t lens[] = {1, x.k - 1, x.k, x.k + 1, 3 * x.k + 2, 200};
        for (size_t l = 0; l < COUNT(lens); l++) {
            size_t n = lens[l];
            for (size_t i = 0; i < n; i++)
                in[i] = i % 3 == 0 ? r - 1 : rnd() % r;
            gb_bitw_t w;
            gb_bitw_init(&w, buf);
            for (size_t i = 0; i < n; i += x.k) {
                size_t m = n - i < x.k ? n - i : x.k;
                uint64_t v = 0;
                for (size_t j = 0; j < m; j++)
                    v = v * r + in[i + j];
                gb_bitw_put(&w, v, gb_radix_bits(&x, m));
            }
            size_t len = (size_t)(gb_bitw_finish(&w) - buf);
            assert_int_equal(len, gb_radix_len(n, &x));
            assert_int_equal(gb_unpack_radix(buf, len, n, &x, 7, out), 0);
            for (size_t i = 0; i < n; i++)
                assert_true(out[i] == in[i] + 7);
        }
        /* one group of R^K: too large */
        uint64_t rk = 1;
        for (unsigned j = 0; j < x.k; j++)
            rk *= r;
        gb_bitw_t w;
        gb_bitw_init(&w, buf);
        gb_bitw_put(&w, rk, x.b);
        size_t len = (size_t)(gb_bitw_finish(&w) - buf);
        assert_int_equal(gb_unpack_radix(buf, len, x.k, &x, 0, out), GB_EPROTO);
    }
}

/*
 * Times whose steps are each positive but add up past 2^64 wrap around to the header's last time:
 * refused, though every step is at least 1 (the decoder's shortcut for rising times must not take
 * them): 0, 2^63 - 1, 2^64 - 2 (-2), 1 as a DELTA stream of steps 2^63 - 1, 2^63 - 1, 3.
 */
static void test_wrapping_steps(void **state)
{
    (void)state;
    gb_buf_t c;
    gb_buf_init(&c);
    gb_block_out_t o;
    gb_block_out_init(&o);
    /* DELTA: codec, x0 0, shift 0, base zz(3) = 6, g = 2^63 - 4, mini-block: width 1, q 0,
     * bits 1 1 0 */
    static const uint8_t g63[] = {0xfc, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    uint8_t ts[16] = {GB_CODEC_DELTA, 0, 0, 6};
    memcpy(ts + 4, g63, sizeof g63);
    ts[13] = 1, ts[14] = 0, ts[15] = 0x03;
    uint8_t h[] = {2, GB_VT_I64, GB_CODEC_DELTA, GB_CODEC_RAW, 4, 0, 1, sizeof ts, 1 + 4 * 8};
    gb_buf_append(&c, h, sizeof h);
    gb_buf_append(&c, ts, sizeof ts);
    int64_t v[] = {1, 2, 3, 4};
    put_raw_stream(&c, v, 4);
    gb_buf_append(&c, "CRC!", 4);
    reseal(c.p, c.len);
    assert_int_equal(gb_block_decode(c.p, c.len, &o), GB_EPROTO);
    /* the same shape with steps 1, 1, 3 (g 0 is invalid, so bits 0 0 1 of g 2): 0 1 2 5 */
    ts[4] = 2;
    for (int i = 5; i < 13; i++)
        ts[i] = 0;
    memmove(ts + 5, ts + 13, 3);
    ts[3] = 2; /* base zz(1) */
    ts[7] = 0x04;
    c.len = 0;
    h[6] = 5;
    h[7] = 8;
    gb_buf_append(&c, h, sizeof h);
    gb_buf_append(&c, ts, 8);
    put_raw_stream(&c, v, 4);
    gb_buf_append(&c, "CRC!", 4);
    reseal(c.p, c.len);
    assert_int_equal(gb_block_decode(c.p, c.len, &o), 0);
    assert_true(o.n == 4 && o.t[0] == 0 && o.t[1] == 1 && o.t[2] == 2 && o.t[3] == 5);
    gb_block_out_clear(&o);
    gb_buf_clear(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f64_special_values),
        cmocka_unit_test(test_f64_random),
        cmocka_unit_test(test_i64_extremes),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_decimal_digits),
        cmocka_unit_test(test_bools),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_stats),
        cmocka_unit_test(test_info_and_appending),
        cmocka_unit_test(test_encode_refusals),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_version1),
        cmocka_unit_test(test_mixed_radix),
        cmocka_unit_test(test_radix_unpack),
        cmocka_unit_test(test_wrapping_steps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
