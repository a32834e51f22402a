/* The SHDR codec, one case per form of the protocol (cppagent's "Adapter Agent Protocol"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "adapters/mtconnect/codec_shdr.h"
#include "gemba/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gb_shdr_kind_t kind_of(void *ctx, gb_shdr_span_t device, gb_shdr_span_t key)
{
    (void)ctx;
    (void)device;
    if (gb_shdr_eq(key, "htemp") || gb_shdr_eq(key, "system")) return GB_SHDR_CONDITION;
    if (gb_shdr_eq(key, "message")) return GB_SHDR_MESSAGE;
    if (gb_shdr_eq(key, "current")) return GB_SHDR_TIMESERIES;
    if (gb_shdr_eq(key, "vars")) return GB_SHDR_DATASET;
    if (gb_shdr_eq(key, "wpo")) return GB_SHDR_TABLE;
    return GB_SHDR_VALUE;
}

static gb_shdr_line_t L;
static char buf[4096];

static int parse(const char *text)
{
    snprintf(buf, sizeof buf, "%s", text);
    return gb_shdr_parse(buf, strlen(buf), kind_of, NULL, &L, NULL);
}

static void span_is(gb_shdr_span_t s, const char *want)
{
    char got[512];
    snprintf(got, sizeof got, "%.*s", (int)s.n, s.p);
    assert_string_equal(got, want);
}

static void test_values(void **state)
{
    (void)state;
    assert_int_equal(parse("2009-06-15T00:00:00.000000|power|ON|execution|ACTIVE|line|412|Xact|-1.17\r\n"), 0);
    assert_int_equal(L.kind, GB_SHDR_LINE_DATA);
    assert_true(L.has_time);
    assert_int_equal(L.t, INT64_C(1245024000) * 1000000000);
    assert_int_equal(L.nitems, 4);
    span_is(L.items[0].key, "power");
    span_is(L.items[0].f[0], "ON");
    span_is(L.items[3].key, "Xact");
    span_is(L.items[3].f[0], "-1.17");
    /* zone given, fraction, and a @duration suffix */
    assert_int_equal(parse("2014-09-29T23:59:33.460470Z@100.0|pcount|0:DAY"), 0);
    assert_int_equal(L.t, INT64_C(1412035173) * 1000000000 + 460470000);
    span_is(L.items[0].f[0], "0:DAY");
    /* no timestamp: a leading bar, or none at all */
    assert_int_equal(parse("|avail|AVAILABLE"), 0);
    assert_false(L.has_time);
    span_is(L.items[0].key, "avail");
    assert_int_equal(parse("avail|UNAVAILABLE"), 0);
    assert_false(L.has_time);
    span_is(L.items[0].f[0], "UNAVAILABLE");
    /* device prefixes, spaces trimmed, a trailing bar */
    assert_int_equal(parse("2014-09-29T23:59:33Z| device1:current_a | 12 |device2:x|11|"), 0);
    span_is(L.items[0].device, "device1");
    span_is(L.items[0].key, "current_a");
    span_is(L.items[0].f[0], "12");
    span_is(L.items[1].device, "device2");
    assert_int_equal(L.nitems, 2);
    /* a quoted value may hold a bar */
    assert_int_equal(parse("2009-06-15T00:00:00Z|description|\"Text with \\| (pipe) character.\"|x|1"), 0);
    span_is(L.items[0].f[0], "Text with | (pipe) character.");
    span_is(L.items[1].f[0], "1");
    /* a quote that does not close is plain text */
    assert_int_equal(parse("2009-06-15T00:00:00Z|note|\"half|x|1"), 0);
    span_is(L.items[0].f[0], "\"half");
}

static void test_conditions_messages(void **state)
{
    (void)state;
    assert_int_equal(parse("2014-09-29T23:59:33.460470Z|htemp|WARNING|HTEMP|1|HIGH|Oil Temperature High"), 0);
    assert_int_equal(L.items[0].kind, GB_SHDR_CONDITION);
    span_is(L.items[0].f[0], "WARNING");
    span_is(L.items[0].f[1], "HTEMP");
    span_is(L.items[0].f[2], "1");
    span_is(L.items[0].f[3], "HIGH");
    span_is(L.items[0].f[4], "Oil Temperature High");
    /* a condition then a value on one line (SHDR 2), and a normal with empty fields */
    assert_int_equal(parse("2014-09-29T23:59:33Z|system|normal|||||execution|ACTIVE"), 0);
    assert_int_equal(L.nitems, 2);
    span_is(L.items[0].f[0], "normal");
    span_is(L.items[1].key, "execution");
    /* trailing condition fields may be left off */
    assert_int_equal(parse("2014-09-29T23:59:33Z|system|FAULT|1010"), 0);
    span_is(L.items[0].f[1], "1010");
    span_is(L.items[0].f[4], "");
    assert_int_equal(parse("2014-09-29T23:59:33.460470Z|message|CHG_INSRT|Change Inserts"), 0);
    assert_int_equal(L.items[0].kind, GB_SHDR_MESSAGE);
    span_is(L.items[0].f[0], "CHG_INSRT");
    span_is(L.items[0].f[1], "Change Inserts");
    assert_int_equal(parse("2014-09-29T23:59:33Z|message|CHG_INSRT"), GB_EPROTO);
}

static void test_series_sets_tables(void **state)
{
    (void)state;
    assert_int_equal(parse("2014-09-29T23:59:33.460470Z|current|10|100|1 2 3 4 5 6 7 8 9 10"), 0);
    assert_int_equal(L.items[0].kind, GB_SHDR_TIMESERIES);
    span_is(L.items[0].f[0], "10");
    span_is(L.items[0].f[1], "100");
    span_is(L.items[0].f[2], "1 2 3 4 5 6 7 8 9 10");
    assert_int_equal(parse("2014-09-29T23:59:33Z|current|3||1 2 3"), 0);
    span_is(L.items[0].f[1], "");
    assert_int_equal(parse("2014-09-29T23:59:33Z|current|x3||1 2 3"), GB_EPROTO);
    assert_int_equal(parse("2014-09-29T23:59:33Z|vars|v1=10 v2=20 v3=30"), 0);
    assert_int_equal(L.items[0].kind, GB_SHDR_DATASET);
    span_is(L.items[0].f[0], "v1=10 v2=20 v3=30");
    assert_int_equal(parse("2014-09-29T23:59:33Z|wpo|G53.1={X=1.0 Y=2.0 Z=3.0 s='a b'} G53.2={X=4.0}"), 0);
    assert_int_equal(L.items[0].kind, GB_SHDR_TABLE);
    span_is(L.items[0].f[0], "G53.1={X=1.0 Y=2.0 Z=3.0 s='a b'} G53.2={X=4.0}");
}

static void test_assets_commands(void **state)
{
    (void)state;
    assert_int_equal(parse("2012-02-21T23:59:33.460470Z|@ASSET@|KSSP300R.1|CuttingTool|<CuttingTool>x|y</CuttingTool>"), 0);
    assert_int_equal(L.kind, GB_SHDR_LINE_ASSET);
    span_is(L.asset_id, "KSSP300R.1");
    span_is(L.asset_type, "CuttingTool");
    span_is(L.asset_body, "<CuttingTool>x|y</CuttingTool>");
    assert_int_equal(L.multiline.n, 0);
    assert_int_equal(parse("2012-02-21T23:59:33Z|@ASSET@|KSSP300R.1|CuttingTool|--multiline--0FED07ACED"), 0);
    span_is(L.multiline, "--multiline--0FED07ACED");
    assert_int_equal(parse("2012-02-21T23:59:33Z|@UPDATE_ASSET@|KSSP300R.1|OverallToolLength|323.64"), 0);
    assert_int_equal(L.kind, GB_SHDR_LINE_UPDATE_ASSET);
    assert_int_equal(parse("2012-02-21T23:59:33Z|@REMOVE_ASSET@|KSSP300R.1"), 0);
    assert_int_equal(L.kind, GB_SHDR_LINE_REMOVE_ASSET);
    assert_int_equal(parse("2012-02-21T23:59:33Z|@REMOVE_ALL_ASSETS@|CuttingTool"), 0);
    assert_int_equal(L.kind, GB_SHDR_LINE_REMOVE_ALL);
    span_is(L.asset_type, "CuttingTool");
    assert_int_equal(parse("2012-02-21T23:59:33Z|@ASSET@|id"), GB_EPROTO);
    assert_int_equal(parse("2012-02-21T23:59:33Z|@FROB@|x"), GB_EPROTO);
    assert_int_equal(parse("* PONG 10000"), 0);
    assert_int_equal(L.kind, GB_SHDR_LINE_COMMAND);
    span_is(L.command, "PONG 10000");
    assert_int_equal(parse("* shdrVersion: 2\r"), 0);
    span_is(L.command, "shdrVersion: 2");
}

static void test_malformed(void **state)
{
    (void)state;
    const char *why = NULL;
    snprintf(buf, sizeof buf, "2014-13-29T23:59:33Z|x|1");
    assert_int_equal(gb_shdr_parse(buf, strlen(buf), kind_of, NULL, &L, &why), GB_EPROTO);
    assert_string_equal(why, "bad timestamp");
    assert_int_equal(parse("2014-09-29T23:59:33Z"), GB_EPROTO);
    assert_int_equal(parse("2014-09-29T23:59:33Z||x"), GB_EPROTO);
    assert_int_equal(parse("2014-09-29T23:59:33Z|exec"), GB_EPROTO);
    assert_int_equal(parse(""), GB_EPROTO);
    /* more items than a line may carry */
    char *big = malloc(8192);
    size_t n = (size_t)sprintf(big, "2014-09-29T23:59:33Z");
    for (int i = 0; i < GB_SHDR_MAX_ITEMS + 1; i++) n += (size_t)sprintf(big + n, "|k%d|1", i % 10);
    assert_int_equal(gb_shdr_parse(big, n, kind_of, NULL, &L, &why), GB_EPROTO);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_conditions_messages),
        cmocka_unit_test(test_series_sets_tables),
        cmocka_unit_test(test_assets_commands),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
