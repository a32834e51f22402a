/*
 * The MQTT codecs: Sparkplug B topics and payloads (hand-encoded protobuf bytes, so the cases do
 * not depend on the encoder gemba links), and JSON pointers and values (RFC 6901's own examples).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "adapters/mqtt/codec_json.h"
#include "adapters/mqtt/codec_sparkplug.h"
#include "gemba/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- Sparkplug topics -------------------------------------------------------------------------
 */

static void test_topics(void **state)
{
    (void)state;
    gb_spb_topic_t t;
    assert_int_equal(gb_spb_topic_parse("spBv1.0/plant1/NBIRTH/E1", &t), 0);
    assert_int_equal(t.type, GB_SPB_NBIRTH);
    assert_string_equal(t.group, "plant1");
    assert_string_equal(t.edge, "E1");
    assert_string_equal(t.device, "");
    assert_int_equal(gb_spb_topic_parse("spBv1.0/plant1/DDATA/E1/press-01", &t), 0);
    assert_int_equal(t.type, GB_SPB_DDATA);
    assert_string_equal(t.device, "press-01");
    assert_int_equal(gb_spb_topic_parse("spBv1.0/STATE/scada-1", &t), 0);
    assert_int_equal(t.type, GB_SPB_STATE);
    assert_string_equal(t.edge, "scada-1");
    static const char *const bad[] = {
        "spBv1.0/plant1/NBIRTH",          /* no edge node */
        "spBv1.0/plant1/DDATA/E1",        /* a device message without the device */
        "spBv1.0/plant1/NDATA/E1/extra",  /* a node message with one */
        "spBv1.0/plant1/DDATA/E1/d/more", /* too deep */
        "spAv1.0/plant1/NDATA/E1",        /* another namespace */
        "spBv1.0/plant1/NFOO/E1",         /* unknown type */
        "spBv1.0//NDATA/E1",              /* empty group */
        "spBv1.0/plant1/NDATA/E+1",       /* wildcards are not ids */
        "spBv1.0/STATE/a/b",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(gb_spb_topic_parse(bad[i], &t), GB_EPROTO);
}

/* ---- Sparkplug payloads -----------------------------------------------------------------------
 */

static gb_spb_payload_t *decode(const uint8_t *b, size_t n)
{
    gb_spb_payload_t *p = NULL;
    assert_int_equal(gb_spb_decode(b, n, &p), 0);
    return p;
}

/*
 * timestamp=1700000000000, seq=5, one metric: name "a", alias 3, datatype Int16, int_value
 * 0xFFFFFF9C (-100 in the 32-bit field, as the specification carries negative Int16 values).
 */
static const uint8_t golden[] = {
    0x08, 0x80, 0xd0, 0x95, 0xff, 0xbc, 0x31, /* 1: timestamp 1700000000000 (varint) */
    0x12, 0x0f,                               /* 2: metric, 15 bytes */
    0x0a, 0x01, 'a',                          /*   1: name "a" */
    0x10, 0x03,                               /*   2: alias 3 */
    0x20, 0x02,                               /*   4: datatype 2 (Int16) */
    0x50, 0x9c, 0xff, 0xff, 0xff, 0x0f,       /*   10: int_value 4294967196 */
    0x38, 0x00,                               /*   7: is_null false */
    0x18, 0x05,                               /* 3: seq 5 */
};

static void test_golden_payload(void **state)
{
    (void)state;
    gb_spb_payload_t *p = decode(golden, sizeof golden);
    assert_true(p->has_timestamp);
    assert_int_equal(p->timestamp, 1700000000000ull);
    assert_true(p->has_seq);
    assert_int_equal(p->seq, 5);
    assert_int_equal(p->nmetrics, 1);
    const gb_spb_metric_t *m = &p->metrics[0];
    assert_string_equal(m->name, "a");
    assert_true(m->has_alias);
    assert_int_equal(m->alias, 3);
    assert_int_equal(m->datatype, GB_SPB_INT16);
    assert_false(m->is_null);
    assert_false(m->bad);
    assert_int_equal(m->kind, GB_SPB_V_INT);
    assert_int_equal(m->i, -100);
    assert_ptr_equal(gb_spb_find(p, "a"), m);
    assert_null(gb_spb_find(p, "b"));
    gb_spb_payload_free(p);
    /* every proper prefix is truncated input: refused, never read past */
    for (size_t n = 1; n < sizeof golden; n++) {
        uint8_t *cut = malloc(n);
        memcpy(cut, golden, n);
        gb_spb_payload_t *q = NULL;
        int rc = gb_spb_decode(cut, n, &q);
        if (rc == 0)
            gb_spb_payload_free(q); /* a prefix ending between fields is valid */
        else
            assert_int_equal(rc, GB_EPROTO);
        free(cut);
    }
}

/* One metric with DATATYPE and a value in FIELD (varint or fixed), decoded. */
static gb_spb_payload_t *one_metric(uint32_t datatype, const uint8_t *value, size_t vlen)
{
    uint8_t b[64];
    size_t n = 0;
    b[n++] = 0x12;
    b[n++] = (uint8_t)(2 + vlen);
    b[n++] = 0x20;
    b[n++] = (uint8_t)datatype;
    memcpy(b + n, value, vlen);
    n += vlen;
    return decode(b, n);
}

static void test_datatypes(void **state)
{
    (void)state;
    gb_spb_payload_t *p;
    /* Int8 -1 is 0xFF in the 32-bit field; UInt8 255 is the same bytes */
    static const uint8_t ff[] = {0x50, 0xff, 0x01};
    p = one_metric(GB_SPB_INT8, ff, sizeof ff);
    assert_int_equal(p->metrics[0].i, -1);
    gb_spb_payload_free(p);
    p = one_metric(GB_SPB_UINT8, ff, sizeof ff);
    assert_int_equal(p->metrics[0].i, 255);
    gb_spb_payload_free(p);
    /* Int32 -2 */
    static const uint8_t m2[] = {0x50, 0xfe, 0xff, 0xff, 0xff, 0x0f};
    p = one_metric(GB_SPB_INT32, m2, sizeof m2);
    assert_int_equal(p->metrics[0].i, -2);
    gb_spb_payload_free(p);
    /* Int64 -2 in long_value: ten bytes of varint */
    static const uint8_t l2[] = {0x58, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    p = one_metric(GB_SPB_INT64, l2, sizeof l2);
    assert_int_equal(p->metrics[0].kind, GB_SPB_V_INT);
    assert_int_equal(p->metrics[0].i, -2);
    gb_spb_payload_free(p);
    /* the same bits as UInt64 are 2^64 - 2 */
    p = one_metric(GB_SPB_UINT64, l2, sizeof l2);
    assert_int_equal(p->metrics[0].kind, GB_SPB_V_UINT);
    assert_true(p->metrics[0].u == UINT64_MAX - 1);
    gb_spb_payload_free(p);
    /* Float 1.5 = 0x3fc00000, little-endian fixed32 */
    static const uint8_t f[] = {0x65, 0x00, 0x00, 0xc0, 0x3f};
    p = one_metric(GB_SPB_FLOAT, f, sizeof f);
    assert_int_equal(p->metrics[0].kind, GB_SPB_V_DOUBLE);
    assert_true(p->metrics[0].d == 1.5);
    gb_spb_payload_free(p);
    /* Double -0.25 = 0xbfd0000000000000 */
    static const uint8_t d[] = {0x69, 0, 0, 0, 0, 0, 0, 0xd0, 0xbf};
    p = one_metric(GB_SPB_DOUBLE, d, sizeof d);
    assert_true(p->metrics[0].d == -0.25);
    gb_spb_payload_free(p);
    /* Boolean true; String "RUN" */
    static const uint8_t t[] = {0x70, 0x01};
    p = one_metric(GB_SPB_BOOLEAN, t, sizeof t);
    assert_int_equal(p->metrics[0].kind, GB_SPB_V_BOOL);
    assert_true(p->metrics[0].b);
    gb_spb_payload_free(p);
    static const uint8_t s[] = {0x7a, 0x03, 'R', 'U', 'N'};
    p = one_metric(GB_SPB_STRING, s, sizeof s);
    assert_int_equal(p->metrics[0].kind, GB_SPB_V_STRING);
    assert_string_equal(p->metrics[0].s, "RUN");
    gb_spb_payload_free(p);
    /* a string where the datatype says Float: kept, marked bad, no value */
    p = one_metric(GB_SPB_FLOAT, s, sizeof s);
    assert_true(p->metrics[0].bad);
    assert_int_equal(p->metrics[0].kind, GB_SPB_V_NONE);
    gb_spb_payload_free(p);
    /* is_null wins over any value */
    static const uint8_t nul[] = {0x38, 0x01, 0x70, 0x01};
    p = one_metric(GB_SPB_BOOLEAN, nul, sizeof nul);
    assert_true(p->metrics[0].is_null);
    assert_int_equal(p->metrics[0].kind, GB_SPB_V_NONE);
    gb_spb_payload_free(p);
    /* a DataSet (field 17, opaque) decodes without a value, whatever it holds */
    static const uint8_t ds[] = {0x8a, 0x01, 0x02, 0x08, 0x02};
    p = one_metric(GB_SPB_DATASET, ds, sizeof ds);
    assert_int_equal(p->metrics[0].kind, GB_SPB_V_NONE);
    assert_false(p->metrics[0].bad);
    gb_spb_payload_free(p);
}

static void test_refusals(void **state)
{
    (void)state;
    gb_spb_payload_t *p = NULL;
    static const uint8_t junk[] = {0x12, 0x7f, 0x01}; /* a metric longer than the input */
    assert_int_equal(gb_spb_decode(junk, sizeof junk, &p), GB_EPROTO);
    assert_null(p);
    static const uint8_t badwire[] = {0x0f}; /* field 1 with wire type 7 */
    assert_int_equal(gb_spb_decode(badwire, sizeof badwire, &p), GB_EPROTO);
    /* too large is refused before a byte is read */
    assert_int_equal(gb_spb_decode(golden, GB_SPB_PAYLOAD_MAX + 1, &p), GB_ERANGE);
    /* an empty payload is a valid message with nothing in it */
    assert_int_equal(gb_spb_decode(golden, 0, &p), 0);
    assert_int_equal(p->nmetrics, 0);
    assert_false(p->has_seq);
    gb_spb_payload_free(p);
}

static void test_rebirth_command(void **state)
{
    (void)state;
    uint8_t *buf;
    size_t len;
    assert_int_equal(gb_spb_encode_rebirth(1700000000000ull, &buf, &len), 0);
    gb_spb_payload_t *p = decode(buf, len);
    assert_int_equal(p->timestamp, 1700000000000ull);
    assert_false(p->has_seq); /* commands carry no seq */
    const gb_spb_metric_t *m = gb_spb_find(p, "Node Control/Rebirth");
    assert_non_null(m);
    assert_int_equal(m->datatype, GB_SPB_BOOLEAN);
    assert_int_equal(m->kind, GB_SPB_V_BOOL);
    assert_true(m->b);
    gb_spb_payload_free(p);
    free(buf);
}

/* ---- JSON -------------------------------------------------------------------------------------
 */

static void test_json_pointer_rfc6901(void **state)
{
    (void)state;
    json_t *doc = json_loads("{\"foo\": [\"bar\", \"baz\"], \"\": 0, \"a/b\": 1, \"c%d\": 2, "
                             "\"e^f\": 3, \"g|h\": 4, \"i\\\\j\": 5, \"k\\\"l\": 6, \" \": 7, "
                             "\"m~n\": 8}",
                             0, NULL);
    assert_non_null(doc);
    assert_ptr_equal(gb_json_pointer(doc, ""), doc);
    assert_true(json_is_array(gb_json_pointer(doc, "/foo")));
    assert_string_equal(json_string_value(gb_json_pointer(doc, "/foo/0")), "bar");
    static const struct {
        const char *p;
        int v;
    } cases[] = {{"/", 0},     {"/a~1b", 1}, {"/c%d", 2}, {"/e^f", 3}, {"/g|h", 4},
                 {"/i\\j", 5}, {"/k\"l", 6}, {"/ ", 7},   {"/m~0n", 8}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        assert_int_equal(json_integer_value(gb_json_pointer(doc, cases[i].p)), cases[i].v);
    assert_null(gb_json_pointer(doc, "/foo/2"));  /* past the end */
    assert_null(gb_json_pointer(doc, "/foo/01")); /* leading zero */
    assert_null(gb_json_pointer(doc, "/foo/-"));
    assert_null(gb_json_pointer(doc, "/nope"));
    assert_null(gb_json_pointer(doc, "/foo/0/x")); /* into a string */
    assert_null(gb_json_pointer(doc, "foo"));      /* not a pointer */
    assert_null(gb_json_pointer(doc, "/m~2n"));    /* bad escape */
    assert_int_equal(gb_json_pointer_check("/a/~0/~1"), 0);
    assert_int_equal(gb_json_pointer_check(""), 0);
    assert_int_equal(gb_json_pointer_check("a"), GB_EINVAL);
    assert_int_equal(gb_json_pointer_check("/a~"), GB_EINVAL);
    json_decref(doc);
}

static void test_json_values(void **state)
{
    (void)state;
    json_t *doc;
    gb_value_t v;
    char buf[48];
    static const char text[] = "{\"i\": 12, \"r\": 12.0, \"h\": 12.5, \"s\": \"x\", "
                               "\"n\": null, \"b\": true, \"o\": {}}";
    assert_int_equal(gb_mqtt_json_parse(text, strlen(text), false, &doc), 0);
    assert_int_equal(gb_mqtt_json_value(json_object_get(doc, "i"), GB_VT_I64, &v, buf, sizeof buf),
                     0);
    assert_int_equal(v.i64, 12);
    assert_int_equal(gb_mqtt_json_value(json_object_get(doc, "r"), GB_VT_I64, &v, buf, sizeof buf),
                     0);
    assert_int_equal(v.i64, 12);
    assert_int_equal(gb_mqtt_json_value(json_object_get(doc, "h"), GB_VT_I64, &v, buf, sizeof buf),
                     GB_EINVAL);
    assert_int_equal(gb_mqtt_json_value(json_object_get(doc, "h"), GB_VT_F64, &v, buf, sizeof buf),
                     0);
    assert_true(v.f64 == 12.5);
    assert_int_equal(gb_mqtt_json_value(json_object_get(doc, "s"), GB_VT_F64, &v, buf, sizeof buf),
                     GB_EINVAL);
    assert_int_equal(gb_mqtt_json_value(json_object_get(doc, "n"), GB_VT_F64, &v, buf, sizeof buf),
                     GB_ENOENT);
    assert_int_equal(gb_mqtt_json_value(json_object_get(doc, "i"), GB_VT_BOOL, &v, buf, sizeof buf),
                     GB_EINVAL);
    assert_int_equal(gb_mqtt_json_value(json_object_get(doc, "b"), GB_VT_BOOL, &v, buf, sizeof buf),
                     0);
    assert_true(v.b);
    assert_int_equal(gb_mqtt_json_value(json_object_get(doc, "i"), GB_VT_STR, &v, buf, sizeof buf),
                     0);
    assert_int_equal(v.len, 2);
    assert_memory_equal(v.str, "12", 2);
    assert_int_equal(gb_mqtt_json_value(json_object_get(doc, "o"), GB_VT_STR, &v, buf, sizeof buf),
                     GB_EINVAL);
    json_decref(doc);
    /* a bare number is a JSON document; text is one only when asked for */
    assert_int_equal(gb_mqtt_json_parse("31.25", 5, false, &doc), 0);
    assert_true(json_real_value(doc) == 31.25);
    json_decref(doc);
    assert_int_equal(gb_mqtt_json_parse("RUNNING\n", 8, false, &doc), GB_EPROTO);
    assert_int_equal(gb_mqtt_json_parse("RUNNING\n", 8, true, &doc), 0);
    assert_string_equal(json_string_value(doc), "RUNNING");
    json_decref(doc);
    assert_int_equal(gb_mqtt_json_parse("{}", GB_MQTT_JSON_MAX + 1, true, &doc), GB_ERANGE);
}

static void test_json_time(void **state)
{
    (void)state;
    gb_time_t t;
    json_t *v = json_integer(1700000000123);
    assert_int_equal(gb_mqtt_json_time(v, GB_TIME_UNIT_MS, &t), 0);
    assert_int_equal(t, 1700000000123000000ll);
    json_decref(v);
    v = json_real(1700000000.5);
    assert_int_equal(gb_mqtt_json_time(v, GB_TIME_UNIT_S, &t), 0);
    assert_int_equal(t, 1700000000500000000ll);
    json_decref(v);
    v = json_string("2023-11-14T22:13:20.123456789Z");
    assert_int_equal(gb_mqtt_json_time(v, GB_TIME_UNIT_MS, &t), 0);
    assert_int_equal(t, 1700000000123456789ll);
    json_decref(v);
    v = json_integer(-1);
    assert_int_equal(gb_mqtt_json_time(v, GB_TIME_UNIT_MS, &t), GB_EINVAL);
    json_decref(v);
    v = json_string("yesterday");
    assert_int_equal(gb_mqtt_json_time(v, GB_TIME_UNIT_MS, &t), GB_EINVAL);
    json_decref(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topics),          cmocka_unit_test(test_golden_payload),
        cmocka_unit_test(test_datatypes),       cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_rebirth_command), cmocka_unit_test(test_json_pointer_rfc6901),
        cmocka_unit_test(test_json_values),     cmocka_unit_test(test_json_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
