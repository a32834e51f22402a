/* The Modbus codec: addresses, the four byte/word orders, strings, bits, read planning. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "adapters/modbus/codec_modbus.h"
#include "gemba/error.h"

#include <stdio.h>
#include <string.h>

static gb_mb_addr_t addr(const char *s)
{
    gb_mb_addr_t a;
    const char *why = NULL;
    assert_int_equal(gb_mb_parse_address(s, &a, &why), 0);
    return a;
}

static void bad(const char *s, const char *want)
{
    gb_mb_addr_t a;
    const char *why = NULL;
    assert_int_equal(gb_mb_parse_address(s, &a, &why), GB_EINVAL);
    assert_non_null(strstr(why, want));
}

static void test_addresses(void **state)
{
    (void)state;
    gb_mb_addr_t a = addr("hr:100:float32:cdab@fast");
    assert_int_equal(a.area, GB_MB_HR);
    assert_int_equal(a.start, 100);
    assert_int_equal(a.type, GB_MB_F32);
    assert_int_equal(a.order, GB_MB_CDAB);
    assert_int_equal(a.count, 2);
    assert_string_equal(a.group, "fast");
    a = addr("hr:7.15");
    assert_int_equal(a.type, GB_MB_BIT);
    assert_int_equal(a.bit, 15);
    a = addr("coil:0");
    assert_int_equal(a.area, GB_MB_COIL);
    assert_int_equal(a.type, GB_MB_BIT);
    a = addr("ir:65535");
    assert_int_equal(a.type, GB_MB_U16);
    a = addr("hr:40:string:8");
    assert_int_equal(a.count, 8);
    bad("hr", "AREA:NUMBER");
    bad("xr:1", "area is hr");
    bad("hr:65536", "0 to 65535");
    bad("hr:-1", "0 to 65535");
    bad("hr:65535:float32", "past register 65535");
    bad("hr:1.16", "bit");
    bad("coil:1.2", "bit");
    bad("coil:1:int16", "take no type");
    bad("hr:1:float", "the type is");
    bad("hr:1:int32:wxyz", "the order is");
    bad("hr:1:string", "length");
    bad("hr:1:string:65", "1 to 64");
    bad("hr:1@", "group");
}

static void test_orders(void **state)
{
    (void)state;
    gb_mb_value_t v;
    /* 0x12345678 in each order */
    const uint16_t abcd[] = {0x1234, 0x5678}, cdab[] = {0x5678, 0x1234}, badc[] = {0x3412, 0x7856},
                   dcba[] = {0x7856, 0x3412};
    const char *names[] = {"hr:0:uint32:abcd", "hr:0:uint32:cdab", "hr:0:uint32:badc", "hr:0:uint32:dcba"};
    const uint16_t *regs[] = {abcd, cdab, badc, dcba};
    for (int i = 0; i < 4; i++) {
        gb_mb_addr_t a = addr(names[i]);
        gb_mb_decode(&a, regs[i], NULL, &v);
        assert_int_equal(v.kind, GB_MB_V_UINT);
        assert_int_equal(v.u, 0x12345678u);
    }
    const uint16_t f[] = {0x42F7, 0x0000};
    gb_mb_addr_t a = addr("hr:0:float32");
    gb_mb_decode(&a, f, NULL, &v);
    assert_float_equal(v.f, 123.5, 0);
    const uint16_t i16[] = {0xFFFE};
    a = addr("hr:0:int16");
    gb_mb_decode(&a, i16, NULL, &v);
    assert_int_equal(v.i, -2);
    const uint16_t i64[] = {0xFFFF, 0xFFFD, 0xE78E, 0xE600}; /* -9000000000 */
    a = addr("hr:0:int64");
    gb_mb_decode(&a, i64, NULL, &v);
    assert_int_equal(v.i, INT64_C(-9000000000));
    const uint16_t bits[] = {0x0028};
    a = addr("hr:0.3");
    gb_mb_decode(&a, bits, NULL, &v);
    assert_true(v.b);
    a = addr("hr:0.4");
    gb_mb_decode(&a, bits, NULL, &v);
    assert_false(v.b);
    const uint16_t str[] = {0x4745, 0x4D42, 0x412D, 0x3031, 0x2020};
    a = addr("hr:0:string:5");
    gb_mb_decode(&a, str, NULL, &v);
    assert_string_equal(v.s, "GEMBA-01");
    a = addr("hr:0:string:2:badc");
    gb_mb_decode(&a, str, NULL, &v);
    assert_string_equal(v.s, "EGBM");
    const uint8_t coil[] = {1};
    a = addr("coil:9");
    gb_mb_decode(&a, NULL, coil, &v);
    assert_true(v.b);
}

static void test_plan(void **state)
{
    (void)state;
    const char *s[] = {"hr:10", "hr:0:float32", "hr:2:uint32", "hr:20:string:4", "hr:200",
                       "ir:0", "coil:3", "coil:4", "hr:13:int64"};
    gb_mb_addr_t a[9];
    for (int i = 0; i < 9; i++) a[i] = addr(s[i]);
    size_t order[9];
    gb_mb_read_t reads[9];
    size_t n = gb_mb_plan(a, 9, 8, order, reads);
    /* hr 0..23 (gaps of 6 and 3 merged), hr 200 alone, ir 0, coils 3..4 */
    assert_int_equal(n, 4);
    assert_int_equal(reads[0].area, GB_MB_HR);
    assert_int_equal(reads[0].start, 0);
    assert_int_equal(reads[0].count, 24);
    assert_int_equal(reads[0].n, 5);
    assert_int_equal(reads[1].start, 200);
    assert_int_equal(reads[2].area, GB_MB_IR);
    assert_int_equal(reads[3].area, GB_MB_COIL);
    assert_int_equal(reads[3].count, 2);
    /* no gaps allowed: hr 0..5 together, then 10, 13..16, 20..23 apart */
    n = gb_mb_plan(a, 9, 0, order, reads);
    assert_int_equal(n, 7);
    /* the 125-register limit splits a long run */
    gb_mb_addr_t big[3] = {addr("hr:0:string:64"), addr("hr:64:string:64"), addr("hr:128")};
    n = gb_mb_plan(big, 3, 8, order, reads);
    assert_int_equal(n, 2);
    assert_int_equal(reads[0].count, 64);
    assert_int_equal(reads[1].count, 65);
}

/* encoding is decoding's inverse, in every type and order */
static void test_encode_roundtrip(void **state)
{
    (void)state;
    const char *types[] = {"int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64"};
    const char *orders[] = {"abcd", "cdab", "badc", "dcba"};
    const double values[] = {-2, 65534, -100000, 305419896, -9000000000.0, 12345678901.0, 123.5, 2.718281828};
    for (int t = 0; t < 8; t++) {
        for (int o = 0; o < 4; o++) {
            char s[64];
            snprintf(s, sizeof s, "hr:0:%s:%s", types[t], orders[o]);
            gb_mb_addr_t a = addr(s);
            uint16_t regs[4];
            assert_int_equal(gb_mb_encode(&a, values[t], NULL, regs), 0);
            gb_mb_value_t v;
            gb_mb_decode(&a, regs, NULL, &v);
            double back = v.kind == GB_MB_V_INT ? (double)v.i : v.kind == GB_MB_V_UINT ? (double)v.u : v.f;
            assert_float_equal(back, values[t], t == 6 ? 0 : 1e-12);
        }
    }
    gb_mb_addr_t a = addr("hr:0:int16");
    uint16_t r[4];
    assert_int_equal(gb_mb_encode(&a, 70000, NULL, r), GB_ERANGE);
    assert_int_equal(gb_mb_encode(&a, 1.5, NULL, r), GB_ERANGE);
    a = addr("hr:0:uint16");
    assert_int_equal(gb_mb_encode(&a, -1, NULL, r), GB_ERANGE);
    a = addr("hr:0:string:2");
    assert_int_equal(gb_mb_encode(&a, 0, "ABC", r), 0);
    assert_int_equal(r[0], 0x4142);
    assert_int_equal(r[1], 0x4300);
    assert_int_equal(gb_mb_encode(&a, 0, "ABCDE", r), GB_ERANGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_orders),
        cmocka_unit_test(test_plan),
        cmocka_unit_test(test_encode_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
