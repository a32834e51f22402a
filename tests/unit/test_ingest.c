/*
 * The historian's text codecs: InfluxDB line protocol (the reference's own examples and every
 * escaping rule), canonical series names, and the time,tag,value CSV with its exact round trip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gemba/error.h"
#include "store/csvio.h"
#include "store/export.h"
#include "store/lineproto.h"
#include "store/textio.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gb_lp_line_t L;
static gb_lp_err_t E;
static char lpbuf[8192];

static int lp_prec(const char *text, gb_lp_precision_t prec)
{
    size_t n = strlen(text);
    memcpy(lpbuf, text, n + 1);
    memset(&E, 0, sizeof E);
    return gb_lp_parse(lpbuf, n, prec, &L, &E);
}

static int lp(const char *text)
{
    return lp_prec(text, GB_LP_NS);
}

static void span_is(gb_textio_span_t s, const char *want)
{
    char got[1024];
    snprintf(got, sizeof got, "%.*s", (int)s.n, s.p);
    assert_int_equal(s.n, strlen(want));
    assert_string_equal(got, want);
}

/* The line parses and has TAGS tags and the single field KEY. */
static const gb_lp_value_t *one_field(const char *text, const char *measurement, size_t tags,
                                      const char *key)
{
    int rc = lp(text);
    if (rc) fprintf(stderr, "%s: column %zu: %s\n", text, E.column, E.why);
    assert_int_equal(rc, 0);
    assert_false(L.comment);
    span_is(L.measurement, measurement);
    assert_int_equal(L.ntags, tags);
    assert_int_equal(L.nfields, 1);
    span_is(L.fields[0].key, key);
    return &L.fields[0].value;
}

/* The line is refused at COLUMN with a reason that contains WHY. */
static void refused(const char *text, size_t column, const char *why)
{
    int rc = lp(text);
    if (rc != GB_EPROTO || E.column != column || !strstr(E.why, why))
        fprintf(stderr, "%s: rc %d column %zu '%s' (want %zu '%s')\n", text, rc, E.column, E.why,
                column, why);
    assert_int_equal(rc, GB_EPROTO);
    assert_int_equal(E.column, column);
    assert_non_null(strstr(E.why, why));
}

static void test_lp_reference_examples(void **state)
{
    (void)state;
    assert_int_equal(
        lp("myMeasurement,tag1=value1,tag2=value2 fieldKey=\"fieldValue\" 1556813561098000000"), 0);
    span_is(L.measurement, "myMeasurement");
    assert_int_equal(L.ntags, 2);
    span_is(L.tags[0].key, "tag1");
    span_is(L.tags[0].value, "value1");
    span_is(L.tags[1].key, "tag2");
    span_is(L.tags[1].value, "value2");
    assert_int_equal(L.fields[0].value.type, GB_LP_STRING);
    span_is(L.fields[0].value.v.s, "fieldValue");
    assert_true(L.has_time);
    assert_int_equal(L.t, INT64_C(1556813561098000000));

    assert_int_equal(
        lp("weather,location=us-midwest temperature=82,humidity=71 1465839830100400200"), 0);
    assert_int_equal(L.nfields, 2);
    assert_int_equal(L.fields[0].value.type, GB_LP_FLOAT);
    assert_true(L.fields[0].value.v.f == 82.0);
    span_is(L.fields[1].key, "humidity");
    assert_int_equal(L.t, INT64_C(1465839830100400200));

    /* no timestamp: the server stamps it */
    one_field("weather,location=us-midwest temperature=82", "weather", 1, "temperature");
    assert_false(L.has_time);

    /* the data types */
    assert_int_equal(one_field("myMeasurement fieldKey=1.0", "myMeasurement", 0, "fieldKey")->type,
                     GB_LP_FLOAT);
    assert_int_equal(one_field("myMeasurement fieldKey=1", "myMeasurement", 0, "fieldKey")->type,
                     GB_LP_FLOAT);
    assert_true(
        one_field("myMeasurement fieldKey=-1.234456e+78", "myMeasurement", 0, "fieldKey")->v.f ==
        -1.234456e+78);
    assert_int_equal(one_field("myMeasurement fieldKey=1i", "myMeasurement", 0, "fieldKey")->v.i,
                     1);
    assert_int_equal(
        one_field("myMeasurement fieldKey=12485903i", "myMeasurement", 0, "fieldKey")->v.i,
        12485903);
    const gb_lp_value_t *v =
        one_field("myMeasurement fieldKey=12485903u", "myMeasurement", 0, "fieldKey");
    assert_int_equal(v->type, GB_LP_UINT);
    assert_int_equal(v->v.u, 12485903);
    span_is(one_field("myMeasurement fieldKey=\"This is a string\"", "myMeasurement", 0, "fieldKey")
                ->v.s,
            "This is a string");
    assert_true(one_field("myMeasurement fieldKey=true", "myMeasurement", 0, "fieldKey")->v.b);

    /* the quoting examples */
    span_is(one_field("myMeasurement fieldKey=\"\\\"string\\\" within a string\"", "myMeasurement",
                      0, "fieldKey")
                ->v.s,
            "\"string\" within a string");
    one_field("my\\ Measurement fieldKey=\"string value\"", "my Measurement", 0, "fieldKey");
    one_field("my\\,Measurement fieldKey=\"string value\"", "my,Measurement", 0, "fieldKey");
    one_field("myMeasurement,tag\\ Key1=tag\\ Value1,tag\\ Key2=tag\\ Value2 fieldKey=100",
              "myMeasurement", 2, "fieldKey");
    span_is(L.tags[0].key, "tag Key1");
    span_is(L.tags[0].value, "tag Value1");
    span_is(L.tags[1].key, "tag Key2");

    /* the reference's everything-at-once line */
    v = one_field("measurement\\ with\\ quo\xe2\x9a\xa1\xef\xb8\x8f"
                  "es\\ and\\ emoji,tag\\ key\\ with\\ sp"
                  "\xf0\x9f\x9a\x80"
                  "ces=tag\\,value\\,with\"commas\" field_k\\ey=\"string field value, only "
                  "\\\" need be esc\xf0\x9f\x8d\xad"
                  "ped\"",
                  "measurement with quo\xe2\x9a\xa1\xef\xb8\x8f"
                  "es and emoji",
                  1, "field_k\\ey");
    span_is(L.tags[0].key, "tag key with sp\xf0\x9f\x9a\x80"
                           "ces");
    span_is(L.tags[0].value, "tag,value,with\"commas\"");
    span_is(v->v.s, "string field value, only \" need be esc\xf0\x9f\x8d\xad"
                    "ped");

    /* comments and blank lines */
    assert_int_equal(lp("# This is a comment"), 0);
    assert_true(L.comment);
    assert_int_equal(lp("   # indented comment"), 0);
    assert_true(L.comment);
    assert_int_equal(lp(""), 0);
    assert_true(L.comment);
    assert_int_equal(lp("  \r\n"), 0);
    assert_true(L.comment);
}

static void test_lp_escaping(void **state)
{
    (void)state;
    /* measurement: ',' and ' ' escape; '=' is an ordinary byte there, escaped or not */
    one_field("a=b f=1", "a=b", 0, "f");
    one_field("a\\=b f=1", "a\\=b", 0, "f");
    /* tag keys, tag values and field keys: ',' '=' ' ' */
    one_field("m,k\\,\\=\\ k=v\\,\\=\\ v f\\,\\=\\ f=1", "m", 1, "f,= f");
    span_is(L.tags[0].key, "k,= k");
    span_is(L.tags[0].value, "v,= v");
    /* two backslashes are one; a backslash before anything else is itself */
    one_field("m,path=C:\\temp\\new f=1", "m", 1, "f");
    span_is(L.tags[0].value, "C:\\temp\\new");
    one_field("m,path=C:\\\\ f=1", "m", 1, "f");
    span_is(L.tags[0].value, "C:\\");
    one_field("m\\\\ f=1", "m\\", 0, "f");
    one_field("m,t=a\\\\\\,b f=1", "m", 1, "f");
    span_is(L.tags[0].value, "a\\,b");
    /* strings: only \" and \\ are escapes */
    span_is(one_field("m s=\"a\\\"b\\\\c\\nd\\\\\"", "m", 0, "s")->v.s, "a\"b\\c\\nd\\");
    span_is(one_field("m s=\"\"", "m", 0, "s")->v.s, "");
    /* quotes, commas, spaces and equals are plain inside a string; a line break too */
    span_is(one_field("m s=\"a, b=c \\\"d\\\"\"", "m", 0, "s")->v.s, "a, b=c \"d\"");
    span_is(one_field("m s=\"two\nlines\" 5\n", "m", 0, "s")->v.s, "two\nlines");
    assert_int_equal(L.t, 5);
    /* a quote inside a name is a plain byte */
    one_field("m\"x,t\"=v\" f\"=1", "m\"x", 1, "f\"");
    /* runs of spaces between the sections; CRLF */
    one_field("m,t=1   f=1   7   \r\n", "m", 1, "f");
    assert_int_equal(L.t, 7);
    /* tags come out sorted by key, in byte order */
    assert_int_equal(lp("m,zz=1,a=2,B=3,aa=4 f=1"), 0);
    span_is(L.tags[0].key, "B");
    span_is(L.tags[1].key, "a");
    span_is(L.tags[2].key, "aa");
    span_is(L.tags[3].key, "zz");
    span_is(L.tags[3].value, "1");
}

static void test_lp_types(void **state)
{
    (void)state;
    assert_int_equal(one_field("m f=-9223372036854775808i", "m", 0, "f")->v.i, INT64_MIN);
    assert_int_equal(one_field("m f=9223372036854775807i", "m", 0, "f")->v.i, INT64_MAX);
    refused("m f=9223372036854775808i", 5, "integer out of range '9223372036854775808i'");
    refused("m f=-9223372036854775809i", 5, "integer out of range");
    assert_true(one_field("m f=18446744073709551615u", "m", 0, "f")->v.u == UINT64_MAX);
    assert_int_equal(one_field("m f=0u", "m", 0, "f")->v.u, 0);
    refused("m f=18446744073709551616u", 5, "unsigned integer out of range");
    refused("m f=-1u", 5, "bad unsigned integer '-1u'");
    refused("m f=12xi", 5, "bad integer '12xi'");
    refused("m f=i", 5, "bad field value 'i'");
    refused("m f=-i", 5, "bad integer '-i'");
    refused("m f=1.5i", 5, "bad integer '1.5i'");
    /* floats: "1." and ".5" are floats; "-0" keeps its sign; too large is refused */
    assert_true(one_field("m f=1.", "m", 0, "f")->v.f == 1.0);
    assert_true(one_field("m f=.5", "m", 0, "f")->v.f == 0.5);
    assert_true(one_field("m f=-.5e-1", "m", 0, "f")->v.f == -0.05);
    const gb_lp_value_t *v = one_field("m f=-0", "m", 0, "f");
    assert_true(v->v.f == 0 && signbit(v->v.f));
    assert_true(one_field("m f=5e-324", "m", 0, "f")->v.f == 5e-324);
    assert_true(one_field("m f=1e-400", "m", 0, "f")->v.f == 0); /* underflow rounds to zero */
    assert_true(one_field("m f=1.7976931348623157e308", "m", 0, "f")->v.f == DBL_MAX);
    refused("m f=1e309", 5, "float out of range '1e309'");
    refused("m f=-1e309", 5, "float out of range");
    refused("m f=1.2.3", 5, "bad float '1.2.3'");
    refused("m f=12x", 5, "bad float '12x'");
    refused("m f=1e", 5, "bad float");
    refused("m f=.", 5, "bad float");
    refused("m f=-", 5, "bad float");
    refused("m f=+1", 5, "bad field value '+1'");
    refused("m f=NaN", 5, "bad field value 'NaN'");
    refused("m f=inf", 5, "bad field value 'inf'");
    refused("m f=0x10", 5, "bad float");
    /* booleans: exactly the ten words */
    const char *yes[] = {"t", "T", "true", "True", "TRUE"},
               *no[] = {"f", "F", "false", "False", "FALSE"};
    char line[64];
    for (int i = 0; i < 5; i++) {
        snprintf(line, sizeof line, "m b=%s", yes[i]);
        v = one_field(line, "m", 0, "b");
        assert_int_equal(v->type, GB_LP_BOOL);
        assert_true(v->v.b);
        snprintf(line, sizeof line, "m b=%s", no[i]);
        assert_false(one_field(line, "m", 0, "b")->v.b);
    }
    refused("m b=tru", 5, "bad boolean 'tru'");
    refused("m b=TRue", 5, "bad boolean");
    refused("m b=falsey", 5, "bad boolean");
    /* all types on one line */
    assert_int_equal(lp("m a=1,b=2i,c=3u,d=t,e=\"x\" 1"), 0);
    assert_int_equal(L.nfields, 5);
    assert_int_equal(L.fields[0].value.type, GB_LP_FLOAT);
    assert_int_equal(L.fields[1].value.type, GB_LP_INT);
    assert_int_equal(L.fields[2].value.type, GB_LP_UINT);
    assert_int_equal(L.fields[3].value.type, GB_LP_BOOL);
    assert_int_equal(L.fields[4].value.type, GB_LP_STRING);
}

static void test_lp_timestamps(void **state)
{
    (void)state;
    static const struct {
        const char *word;
        int64_t ns;
    } precisions[] = {{"n", 1},
                      {"ns", 1},
                      {"u", 1000},
                      {"us", 1000},
                      {"ms", 1000000},
                      {"s", 1000000000},
                      {"m", INT64_C(60000000000)},
                      {"h", INT64_C(3600000000000)}};
    for (size_t i = 0; i < sizeof precisions / sizeof precisions[0]; i++) {
        gb_lp_precision_t p;
        assert_int_equal(gb_lp_precision_parse(precisions[i].word, strlen(precisions[i].word), &p),
                         0);
        assert_int_equal(lp_prec("m f=1 3", p), 0);
        assert_int_equal(L.t, 3 * precisions[i].ns);
        assert_int_equal(lp_prec("m f=1 -2", p), 0);
        assert_int_equal(L.t, -2 * precisions[i].ns);
    }
    gb_lp_precision_t p;
    assert_int_equal(gb_lp_precision_parse("sec", 3, &p), GB_EINVAL);
    assert_int_equal(gb_lp_precision_parse("", 0, &p), GB_EINVAL);
    assert_int_equal(gb_lp_precision_parse("MS", 2, &p), GB_EINVAL);
    assert_int_equal(lp_prec("m f=1 1", (gb_lp_precision_t)42), GB_EINVAL);

    /* the edges of int64 nanoseconds, and overflow once scaled */
    assert_int_equal(lp("m f=1 9223372036854775807"), 0);
    assert_int_equal(L.t, INT64_MAX);
    assert_int_equal(lp("m f=1 -9223372036854775808"), 0);
    assert_int_equal(L.t, INT64_MIN);
    refused("m f=1 9223372036854775808", 7, "timestamp out of range");
    assert_int_equal(lp_prec("m f=1 9223372036854", GB_LP_MS), 0);
    assert_int_equal(L.t, INT64_C(9223372036854000000));
    assert_int_equal(lp_prec("m f=1 9223372036855", GB_LP_MS), GB_EPROTO);
    assert_non_null(strstr(E.why, "timestamp out of range '9223372036855'"));
    assert_int_equal(lp_prec("m f=1 9223372036854775", GB_LP_US), 0);
    assert_int_equal(lp_prec("m f=1 9223372036854776", GB_LP_US), GB_EPROTO);
    assert_int_equal(lp_prec("m f=1 9223372036", GB_LP_S), 0);
    assert_int_equal(lp_prec("m f=1 9223372037", GB_LP_S), GB_EPROTO);
    assert_int_equal(lp_prec("m f=1 2562047", GB_LP_H), 0);
    assert_int_equal(lp_prec("m f=1 2562048", GB_LP_H), GB_EPROTO);
    assert_int_equal(lp_prec("m f=1 -153722867", GB_LP_M), 0);
    assert_int_equal(lp_prec("m f=1 -153722868", GB_LP_M), GB_EPROTO);
    refused("m f=1 12a", 7, "bad timestamp '12a'");
    refused("m f=1 1.5", 7, "bad timestamp");
    refused("m f=1 +5", 7, "bad timestamp");
    refused("m f=1 2026-01-01T00:00:00Z", 7, "bad timestamp");
}

static void test_lp_malformed(void **state)
{
    (void)state;
    refused("m", 2, "missing field");
    refused("m   ", 5, "missing field");
    refused("m,t=1", 6, "missing field");
    refused(",t=1 f=1", 1, "missing measurement");
    refused(" f=1", 5, "missing field"); /* "f=1" is the measurement */
    refused("m,=1 f=1", 3, "missing tag key");
    refused("m,t f=1", 4, "missing '=' after tag key 't'");
    refused("m,t= f=1", 5, "missing value of tag 't'");
    refused("m,t=a=b f=1", 6, "unescaped '=' in a tag value");
    refused("m, f=1", 3, "missing tag key");
    refused("m f", 4, "missing '=' after field key 'f'");
    refused("m =1", 3, "missing field key");
    refused("m f=", 5, "missing field value");
    refused("m f= 1", 5, "missing field value");
    refused("m f=1,", 7, "missing field key");
    refused("m f=1,,g=2", 7, "missing field key");
    refused("m f=\"abc", 5, "unterminated string");
    refused("m f=\"abc\\\"", 5, "unterminated string");
    refused("m f=\"a\"x", 8, "unexpected 'x' after a field value");
    refused("m f=abc", 5, "bad field value 'abc'");
    refused("m f=1 1 2", 9, "unexpected '2' after the timestamp");
    refused("m f=1,f=2", 7, "duplicate field 'f'");
    refused("m f=1,g=2,f=\"x\"", 11, "duplicate field 'f'");
    refused("m,a=1,a=2 f=1", 7, "duplicate tag 'a'");
    refused("m f=1\nm f=2", 6, "unexpected line break");
    refused("m\nx f=1", 2, "unexpected line break");
    /* a long bad value is cut in the reason */
    char line[200] = "m f=";
    memset(line + 4, 'x', 100);
    line[104] = 0;
    refused(line, 5, "bad field value 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...'");
}

static void test_lp_limits(void **state)
{
    (void)state;
    static char big[64 * 1024];
    size_t n = (size_t)snprintf(big, sizeof big, "m");
    for (int i = 0; i < GB_LP_MAX_TAGS; i++)
        n += (size_t)snprintf(big + n, sizeof big - n, ",t%03d=v", i);
    n += (size_t)snprintf(big + n, sizeof big - n, " f=1");
    static gb_lp_line_t l;
    char *copy = strdup(big);
    assert_int_equal(gb_lp_parse(copy, n, GB_LP_NS, &l, NULL), 0);
    assert_int_equal(l.ntags, GB_LP_MAX_TAGS);
    free(copy);
    n = (size_t)snprintf(big, sizeof big, "m,x=1");
    for (int i = 0; i <= GB_LP_MAX_TAGS; i++)
        n += (size_t)snprintf(big + n, sizeof big - n, ",t%03d=v", i);
    n += (size_t)snprintf(big + n, sizeof big - n, " f=1");
    gb_lp_err_t err;
    assert_int_equal(gb_lp_parse(big, n, GB_LP_NS, &l, &err), GB_EPROTO);
    assert_non_null(strstr(err.why, "too many tags"));

    n = (size_t)snprintf(big, sizeof big, "m ");
    for (int i = 0; i < GB_LP_MAX_FIELDS; i++)
        n += (size_t)snprintf(big + n, sizeof big - n, "%sf%04d=%di", i ? "," : "", i, i);
    copy = strdup(big);
    assert_int_equal(gb_lp_parse(copy, n, GB_LP_NS, &l, NULL), 0);
    assert_int_equal(l.nfields, GB_LP_MAX_FIELDS);
    assert_int_equal(l.fields[GB_LP_MAX_FIELDS - 1].value.v.i, GB_LP_MAX_FIELDS - 1);
    free(copy);
    n += (size_t)snprintf(big + n, sizeof big - n, ",one=1i");
    assert_int_equal(gb_lp_parse(big, n, GB_LP_NS, &l, &err), GB_EPROTO);
    assert_non_null(strstr(err.why, "too many fields"));
}

static void test_lp_line_end(void **state)
{
    (void)state;
    const char *text = "# a \"comment\n"
                       "m,t=a\\ b s=\"one\ntwo \\\" three\",g=1 5\n"
                       "\r\n"
                       "m f\\=\"=\"x\ny\"\r\n"
                       "m f=1i";
    const char *want[] = {"# a \"comment\n", "m,t=a\\ b s=\"one\ntwo \\\" three\",g=1 5\n", "\r\n",
                          "m f\\=\"=\"x\ny\"\r\n", "m f=1i"};
    size_t pos = 0, len = strlen(text);
    for (size_t i = 0; i < 5; i++) {
        size_t n;
        assert_int_equal(gb_lp_line_end(text + pos, len - pos, 1 << 20, &n), 0);
        assert_int_equal(n, strlen(want[i]));
        assert_memory_equal(text + pos, want[i], n);
        pos += n;
    }
    assert_int_equal(pos, len);
    /* the cut lines parse */
    char line[64];
    snprintf(line, sizeof line, "%s", want[3]);
    assert_int_equal(gb_lp_parse(line, strlen(line), GB_LP_NS, &L, NULL), 0);
    span_is(L.fields[0].key, "f=\"");
    span_is(L.fields[0].value.v.s, "x\ny");
    /* a line over the limit: refused, and the caller resumes after the next raw line break */
    size_t n;
    assert_int_equal(gb_lp_line_end("m f=\"long\nline\" 1\nm f=2\n", 25, 8, &n), GB_ERANGE);
    assert_int_equal(n, 10);
    assert_int_equal(gb_lp_line_end("m f=1\n", 6, 6, &n), 0);
    assert_int_equal(n, 6);
    assert_int_equal(gb_lp_line_end("m f=12\n", 7, 6, &n), GB_ERANGE);
    assert_int_equal(n, 7);
    /* an escape just before the limit steps over it: the line is still cut there */
    assert_int_equal(gb_lp_line_end("m\\ xy f=1\n", 10, 2, &n), GB_ERANGE);
    assert_int_equal(n, 10);
    assert_int_equal(gb_lp_line_end("", 0, 6, &n), 0);
    assert_int_equal(n, 0);
}

/* Builds the series name of field F of the parsed line TEXT. */
static const char *series_of(const char *text, size_t f)
{
    static char name[1024];
    assert_int_equal(lp(text), 0);
    assert_int_equal(gb_lp_series_name(&L, f, name, sizeof name, NULL), 0);
    return name;
}

static void test_lp_series_names(void **state)
{
    (void)state;
    assert_string_equal(series_of("cpu,host=a,region=eu usage=1,idle=2", 0),
                        "cpu,host=a,region=eu#usage");
    assert_string_equal(series_of("cpu,region=eu,host=a usage=1,idle=2", 1),
                        "cpu,host=a,region=eu#idle");
    assert_string_equal(series_of("cpu f=1", 0), "cpu#f");
    assert_string_equal(series_of("a\\ b\\,c=d#e\\\\,t\\=k=v\\ 1\\,x#y\\\\ f#\\=\\ g=1", 0),
                        "a\\ b\\,c\\=d\\#e\\\\,t\\=k=v\\ 1\\,x\\#y\\\\#f\\#\\=\\ g");

    /* split gives the parts back */
    char name[256];
    static gb_lp_series_t s;
    snprintf(name, sizeof name, "%s", "a\\ b\\,c\\=d\\#e\\\\,t\\=k=v\\ 1\\,x\\#y\\\\#f\\#\\=\\ g");
    assert_int_equal(gb_lp_series_split(name, strlen(name), &s), 0);
    span_is(s.measurement, "a b,c=d#e\\");
    assert_int_equal(s.ntags, 1);
    span_is(s.tags[0].key, "t=k");
    span_is(s.tags[0].value, "v 1,x#y\\");
    span_is(s.field, "f#= g");
    snprintf(name, sizeof name, "cpu,host=a,region=eu#usage");
    assert_int_equal(gb_lp_series_split(name, strlen(name), &s), 0);
    assert_int_equal(s.ntags, 2);
    span_is(s.tags[1].key, "region");
    span_is(s.tags[1].value, "eu");
    span_is(s.field, "usage");

    /* names not in the canonical form are refused */
    const char *bad[] = {"",
                         "cpu",
                         "cpu#",
                         "#f",
                         "cpu,#f",
                         "cpu,a#f",
                         "cpu,a=#f",
                         "cpu,=1#f",
                         "cpu,b=1,a=2#f",
                         "cpu,a=1,a=2#f",
                         "cpu#f#g",
                         "cpu#f,g",
                         "cpu#f=g",
                         "cp u#f",
                         "cpu\\x#f",
                         "cpu\\#f",
                         "cpu#f\\",
                         "cpu,a=1=2#f",
                         "c=pu#f",
                         "cpu,a=b c#f"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(name, sizeof name, "%s", bad[i]);
        if (gb_lp_series_split(name, strlen(name), &s) != GB_EINVAL)
            fail_msg("accepted '%s'", bad[i]);
        assert_int_equal(gb_lp_format(bad[i], strlen(bad[i]), &(gb_lp_value_t){.type = GB_LP_BOOL},
                                      0, name, sizeof name, NULL),
                         GB_EINVAL);
    }
    /* the builder checks its input too, and the size of the buffer */
    assert_int_equal(lp("m,b=1,a=2 f=1"), 0);
    gb_lp_tag_t t = L.tags[0];
    L.tags[0] = L.tags[1];
    L.tags[1] = t;
    assert_int_equal(gb_lp_series_name(&L, 0, name, sizeof name, NULL), GB_EINVAL);
    L.tags[1] = L.tags[0];
    assert_int_equal(gb_lp_series_name(&L, 0, name, sizeof name, NULL), GB_EINVAL);
    assert_int_equal(lp("m,a=1 f=1"), 0);
    assert_int_equal(gb_lp_series_name(&L, 1, name, sizeof name, NULL), GB_EINVAL);
    size_t n;
    assert_int_equal(gb_lp_series_name(&L, 0, name, 7, &n), GB_ERANGE);
    assert_int_equal(gb_lp_series_name(&L, 0, name, 8, &n), 0);
    assert_int_equal(n, 7);
    assert_string_equal(name, "m,a=1#f");
}

/* Formats (SERIES, V, T) as line protocol, parses it back and checks every part. */
static void lp_round_trip(const char *series, const gb_lp_value_t *v, gb_time_t t)
{
    char line[2048], name[1024];
    size_t n;
    if (gb_lp_format(series, strlen(series), v, t, line, sizeof line, &n))
        fail_msg("cannot format %s", series);
    if (gb_lp_parse(line, n, GB_LP_NS, &L, &E))
        fail_msg("%s: column %zu: %s", line, E.column, E.why);
    assert_int_equal(L.nfields, 1);
    assert_true(L.has_time);
    assert_int_equal(L.t, t);
    assert_int_equal(gb_lp_series_name(&L, 0, name, sizeof name, NULL), 0);
    assert_string_equal(name, series);
    const gb_lp_value_t *got = &L.fields[0].value;
    assert_int_equal(got->type, v->type);
    switch (v->type) {
    case GB_LP_FLOAT:
        assert_memory_equal(&got->v.f, &v->v.f, sizeof(double));
        break;
    case GB_LP_INT:
        assert_int_equal(got->v.i, v->v.i);
        break;
    case GB_LP_UINT:
        assert_true(got->v.u == v->v.u);
        break;
    case GB_LP_BOOL:
        assert_int_equal(got->v.b, v->v.b);
        break;
    case GB_LP_STRING:
        assert_int_equal(got->v.s.n, v->v.s.n);
        assert_memory_equal(got->v.s.p, v->v.s.p, v->v.s.n);
        break;
    }
}

static void test_lp_format(void **state)
{
    (void)state;
    char line[256];
    gb_lp_value_t v = {.type = GB_LP_FLOAT, .v.f = 21.5};
    assert_int_equal(gb_lp_format("cpu,host=a#usage", 16, &v, 1, line, sizeof line, NULL), 0);
    assert_string_equal(line, "cpu,host=a usage=21.5 1");
    v = (gb_lp_value_t){.type = GB_LP_STRING, .v.s = {"say \"hi\" C:\\", 12}};
    assert_int_equal(
        gb_lp_format("m\\ 1,path=C:\\\\x\\\\#f\\=", 21, &v, -5, line, sizeof line, NULL), 0);
    assert_string_equal(line, "m\\ 1,path=C:\\x\\\\ f\\==\"say \\\"hi\\\" C:\\\\\" -5");

    static const char *const series[] = {
        "cpu#f",
        "cpu,host=a,region=eu#usage",
        "a\\ b\\,c\\=d\\#e\\\\,t\\=k=v\\ 1\\,x\\#y\\\\#f\\#\\=\\ g",
        "C:\\\\temp\\\\,dir=\\\\\\\\server\\\\share#bytes\\\\",
        "m\"q,\"t\"=\"v\"#\"f\"",
        "\\ lead\\ space#f",
        "x\\#,a=\\#,b=\\#\\##\\#"};
    gb_lp_value_t values[] = {{.type = GB_LP_FLOAT, .v.f = 0.1},
                              {.type = GB_LP_FLOAT, .v.f = -0.0},
                              {.type = GB_LP_FLOAT, .v.f = 1e21},
                              {.type = GB_LP_FLOAT, .v.f = 5e-324},
                              {.type = GB_LP_FLOAT, .v.f = DBL_MAX},
                              {.type = GB_LP_FLOAT, .v.f = 100},
                              {.type = GB_LP_INT, .v.i = INT64_MIN},
                              {.type = GB_LP_INT, .v.i = INT64_MAX},
                              {.type = GB_LP_UINT, .v.u = UINT64_MAX},
                              {.type = GB_LP_BOOL, .v.b = true},
                              {.type = GB_LP_BOOL, .v.b = false},
                              {.type = GB_LP_STRING, .v.s = {"", 0}},
                              {.type = GB_LP_STRING, .v.s = {"\\", 1}},
                              {.type = GB_LP_STRING, .v.s = {"a\"\\\"b\n\\n", 9}},
                              {.type = GB_LP_STRING, .v.s = {"x\0y", 3}}};
    for (size_t i = 0; i < sizeof series / sizeof series[0]; i++)
        for (size_t j = 0; j < sizeof values / sizeof values[0]; j++)
            lp_round_trip(series[i], &values[j], (gb_time_t)(i * 1000 + j) - 5000);
    lp_round_trip("m#f", &values[0], INT64_MIN);
    lp_round_trip("m#f", &values[0], INT64_MAX);

    /* what line protocol cannot carry */
    v = (gb_lp_value_t){.type = GB_LP_FLOAT, .v.f = NAN};
    assert_int_equal(gb_lp_format("m#f", 3, &v, 0, line, sizeof line, NULL), GB_EINVAL);
    v.v.f = -INFINITY;
    assert_int_equal(gb_lp_format("m#f", 3, &v, 0, line, sizeof line, NULL), GB_EINVAL);
    v.v.f = 1;
    assert_int_equal(gb_lp_format("\\#m#f", 5, &v, 0, line, sizeof line, NULL), GB_EINVAL);
    assert_int_equal(gb_lp_format("m,t=a\nb#f", 9, &v, 0, line, sizeof line, NULL), GB_EINVAL);
    assert_int_equal(gb_lp_format("line1/press/temp", 16, &v, 0, line, sizeof line, NULL),
                     GB_EINVAL);
    assert_int_equal(gb_lp_format("m#f", 3, &v, 0, line, 7, NULL), GB_ERANGE);
    assert_int_equal(gb_lp_format("m#f", 3, &v, 0, line, 8, NULL), 0); /* "m f=1 0" */
}

static void test_lp_values_and_samples(void **state)
{
    (void)state;
    gb_lp_value_t v = {.type = GB_LP_UINT, .v.u = 5};
    gb_value_t s;
    assert_int_equal(gb_lp_value_to_sample(&v, &s), 0);
    assert_int_equal(s.type, GB_VT_I64);
    assert_int_equal(s.i64, 5);
    v.v.u = (uint64_t)INT64_MAX + 1;
    assert_int_equal(gb_lp_value_to_sample(&v, &s), GB_ERANGE);
    v = (gb_lp_value_t){.type = GB_LP_STRING, .v.s = {"abc", 3}};
    assert_int_equal(gb_lp_value_to_sample(&v, &s), 0);
    assert_int_equal(s.type, GB_VT_STR);
    assert_int_equal(s.len, 3);
    gb_lp_value_t back;
    gb_lp_value_from_sample(&s, &back);
    assert_int_equal(back.type, GB_LP_STRING);
    assert_ptr_equal(back.v.s.p, s.str);
    s = (gb_value_t){.type = GB_VT_BOOL, .b = true};
    gb_lp_value_from_sample(&s, &back);
    assert_true(back.type == GB_LP_BOOL && back.v.b);
}

/* ---- CSV ---- */

typedef struct rows {
    gb_csv_row_t row[16];
    char text[16][256]; /* series + "|" + value text, copied */
    char str[16][64];   /* a string value, copied */
    size_t n;
    gb_csv_err_t err[16];
    int rc[16];
    size_t nerr;
} rows_t;

/* Reads all of TEXT in pieces of CHUNK bytes (0: at once), collecting rows and errors. */
static void read_all(const char *text, size_t len, size_t chunk, rows_t *out)
{
    memset(out, 0, sizeof *out);
    gb_csv_reader_t r;
    gb_csv_reader_init(&r);
    size_t pos = 0;
    for (int guard = 0; guard < 100000; guard++) {
        size_t n = chunk && len - pos > chunk ? chunk : len - pos;
        bool eof = pos + n == len;
        size_t used;
        gb_csv_row_t row;
        gb_csv_err_t err;
        int rc = gb_csv_read(&r, text + pos, n, eof, &used, &row, &err);
        pos += used;
        if (rc == GB_CSV_ROW) {
            assert_true(out->n < 16);
            out->row[out->n] = row;
            if (row.value.type == GB_VT_STR) {
                assert_true(row.value.len < sizeof out->str[0]);
                memcpy(out->str[out->n], row.value.str, row.value.len);
            }
            snprintf(out->text[out->n], sizeof out->text[0], "%.*s|%.*s", (int)row.series.n,
                     row.series.p, (int)row.text.n, row.text.p);
            out->n++;
        } else if (rc < 0) {
            assert_true(out->nerr < 16);
            out->err[out->nerr] = err;
            out->rc[out->nerr++] = rc;
            if (r.failed) break;
        } else if (eof && used == n) {
            break;
        }
    }
    gb_csv_reader_clear(&r);
}

static void test_csv_reading(void **state)
{
    (void)state;
    static const char text[] = "\xEF\xBB\xBFTime,TAG,Value\r\n"
                               "2026-01-02T03:04:05Z,a/b,1.5\r\n"
                               "\r\n"
                               "1,\"cpu,host=x#usage\",\"say \"\"hi\"\"\"\n"
                               "\n"
                               "2,\"two\r\nlines\",\"\"\n"
                               "3,q,\"\"\"1.5\"\"\"\n"
                               "4,e,";
    static rows_t rows;
    for (size_t chunk = 0; chunk < 9; chunk++) {
        read_all(text, sizeof text - 1, chunk, &rows);
        assert_int_equal(rows.nerr, 0);
        assert_int_equal(rows.n, 5);
        assert_int_equal(rows.row[0].line, 2);
        assert_int_equal(rows.row[0].t, INT64_C(1767323045) * GB_NS_PER_S);
        assert_string_equal(rows.text[0], "a/b|1.5");
        assert_int_equal(rows.row[0].value.type, GB_VT_F64);
        assert_int_equal(rows.row[1].line, 4);
        assert_int_equal(rows.row[1].t, 1);
        assert_string_equal(rows.text[1], "cpu,host=x#usage|say \"hi\"");
        assert_int_equal(rows.row[1].value.type, GB_VT_STR);
        assert_int_equal(rows.row[2].line, 6);
        assert_string_equal(rows.text[2], "two\r\nlines|");
        assert_int_equal(rows.row[2].value.type, GB_VT_STR);
        assert_int_equal(rows.row[2].value.len, 0);
        assert_int_equal(rows.row[3].line, 8);
        assert_string_equal(rows.text[3], "q|\"1.5\"");
        assert_int_equal(rows.row[3].value.type, GB_VT_STR);
        assert_int_equal(rows.row[3].value.len, 3);
        assert_string_equal(rows.str[3], "1.5");
        assert_int_equal(rows.row[4].line, 9);
        assert_string_equal(rows.text[4], "e|");
    }
    /* only a header, with or without its line end; no rows */
    read_all("time,tag,value", 14, 0, &rows);
    assert_int_equal(rows.n + rows.nerr, 0);
    read_all("time,tag,value\n", 15, 0, &rows);
    assert_int_equal(rows.n + rows.nerr, 0);
}

static void test_csv_errors(void **state)
{
    (void)state;
    static rows_t rows;
    static const struct {
        const char *text;
        size_t line;
        const char *why;
    } header[] = {
        {"", 1, "no header"},
        {"\n\n", 3, "no header"},
        {"\xEF\xBB", 1, "no header"},
        {"time,tag\n1,a\n", 1, "header time,tag,value"},
        {"time,tag,value,x\n", 1, "header time,tag,value"},
        {"1,a,1\n", 1, "header time,tag,value"},
        {"\xEFtime,tag,value\n", 1, "header time,tag,value"},
        {"ti\"me,tag,value\n", 1, "a quote inside an unquoted field"},
        {"\"time,tag,value\n", 1, "a quoted field is not closed"},
    };
    for (size_t i = 0; i < sizeof header / sizeof header[0]; i++) {
        read_all(header[i].text, strlen(header[i].text), 0, &rows);
        if (rows.nerr != 1 || rows.err[0].line != header[i].line ||
            !strstr(rows.err[0].why, header[i].why))
            fail_msg("%zu: %zu errors, line %zu '%s'", i, rows.nerr, rows.err[0].line,
                     rows.err[0].why);
        assert_int_equal(rows.n, 0);
    }
    /* a wrong header is final */
    gb_csv_reader_t r;
    gb_csv_reader_init(&r);
    size_t used;
    gb_csv_row_t row;
    gb_csv_err_t err;
    assert_int_equal(gb_csv_read(&r, "a,b,c\n1,x,1\n", 12, false, &used, &row, &err), GB_EPROTO);
    assert_int_equal(gb_csv_read(&r, "1,x,1\n", 6, true, &used, &row, &err), GB_EPROTO);
    assert_int_equal(used, 6);
    gb_csv_reader_clear(&r);

    /* bad rows are refused one by one, with their lines, and reading goes on */
    static const char text[] = "time,tag,value\n"
                               "1,a\n"                      /* 2 */
                               "1,a,1,2\n"                  /* 3 */
                               "2026-02-30T00:00:00Z,a,1\n" /* 4 */
                               "x,a,1\n"                    /* 5 */
                               "1,,1\n"                     /* 6 */
                               "1,a,1e999\n"                /* 7 */
                               "1,a,9223372036854775808i\n" /* 8 */
                               "1,a\"b,1\n"                 /* 9 */
                               "1,\"a\"b,1\n"               /* 10 */
                               "1,\"a\"\rb,1\n"             /* 11 */
                               "2262-04-12T00:00:00Z,a,1\n" /* 12 */
                               "9223372036854775808,a,1\n"  /* 13 */
                               "7,ok,1\n"                   /* 14 */
                               "1,Z\xfcrich,1\n"            /* 15 */
                               "1,a,caf\xe9\n"              /* 16 */
                               "8,\"open\n";                /* 17 */
    static const struct {
        size_t line;
        const char *why;
    } want[] = {{2, "expected 3 fields (time,tag,value), got 2"},
                {3, "expected 3 fields (time,tag,value), got 4"},
                {4, "bad time '2026-02-30T00:00:00Z'"},
                {5, "bad time 'x'"},
                {6, "empty tag"},
                {7, "value out of range '1e999'"},
                {8, "value out of range '9223372036854775808i'"},
                {9, "a quote inside an unquoted field"},
                {10, "text after a closing quote"},
                {11, "a carriage return after a closing quote"},
                {12, "time out of range '2262-04-12T00:00:00Z'"},
                {13, "time out of range '9223372036854775808'"},
                {15, "a tag that is not UTF-8"},
                {16, "a value that is not UTF-8"},
                {17, "a quoted field is not closed"}};
    for (size_t chunk = 0; chunk < 4; chunk++) {
        read_all(text, sizeof text - 1, chunk * 7, &rows);
        assert_int_equal(rows.n, 1);
        assert_int_equal(rows.row[0].line, 14);
        assert_string_equal(rows.text[0], "ok|1");
        assert_int_equal(rows.nerr, sizeof want / sizeof want[0]);
        for (size_t i = 0; i < rows.nerr; i++) {
            if (rows.err[i].line != want[i].line || !strstr(rows.err[i].why, want[i].why))
                fail_msg("error %zu: line %zu '%s', want line %zu '%s'", i, rows.err[i].line,
                         rows.err[i].why, want[i].line, want[i].why);
            assert_int_equal(rows.rc[i], GB_EPROTO);
        }
    }

    /* a row over the limit is read to its end and refused; the next one is fine */
    size_t big = GB_CSV_ROW_MAX + 100;
    char *t = malloc(big + 64);
    size_t n = (size_t)sprintf(t, "time,tag,value\n1,a,\"");
    memset(t + n, 'x', big);
    n += big;
    n += (size_t)sprintf(t + n, "\"\n2,b,3\n");
    read_all(t, n, 4096, &rows);
    assert_int_equal(rows.nerr, 1);
    assert_int_equal(rows.rc[0], GB_ERANGE);
    assert_int_equal(rows.err[0].line, 2);
    assert_int_equal(rows.n, 1);
    assert_string_equal(rows.text[0], "b|3");
    free(t);
}

static void test_csv_times(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t t;
    } good[] = {
        {"2026-01-02T03:04:05Z", INT64_C(1767323045000000000)},
        {"2026-01-02t03:04:05z", INT64_C(1767323045000000000)},
        {"2026-01-02 03:04:05Z", INT64_C(1767323045000000000)},
        {"2026-01-02T03:04:05.5Z", INT64_C(1767323045500000000)},
        {"2026-01-02T03:04:05.000000001Z", INT64_C(1767323045000000001)},
        {"2026-01-02T03:04:05.123456789Z", INT64_C(1767323045123456789)},
        {"2026-01-02T05:04:05+02:00", INT64_C(1767323045000000000)},
        {"2026-01-01T23:34:05.25-03:30", INT64_C(1767323045250000000)},
        {"2026-01-02T03:04:05-00:00", INT64_C(1767323045000000000)},
        {"1970-01-01T00:00:00Z", 0},
        {"1969-12-31T23:59:59.999999999Z", -1},
        {"1677-09-21T00:12:43.145224192Z", INT64_MIN},
        {"2262-04-11T23:47:16.854775807Z", INT64_MAX},
        {"2024-02-29T00:00:00Z", INT64_C(1709164800000000000)},
        {"2000-02-29T00:00:00Z", INT64_C(951782400000000000)},
        {"2016-12-31T23:59:60Z", INT64_C(1483228799000000000)}, /* leap second held at :59 */
        {"1767323045000000000", INT64_C(1767323045000000000)},
        {"-1", -1},
        {"0", 0},
        {"-9223372036854775808", INT64_MIN},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        gb_time_t t = 42;
        int rc = gb_csv_time_parse(good[i].text, strlen(good[i].text), &t);
        if (rc || t != good[i].t) fail_msg("%s: rc %d, %lld", good[i].text, rc, (long long)t);
    }
    static const struct {
        const char *text;
        int rc;
    } bad[] = {
        {"", GB_EINVAL},
        {"2026-01-02", GB_EINVAL},
        {"2026-01-02T03:04:05", GB_EINVAL},
        {"2026-01-02T03:04:05.Z", GB_EINVAL},
        {"2026-01-02T03:04:05.1234567890Z", GB_EINVAL},
        {"2026-01-02T03:04:05.12345678901234567890Z", GB_EINVAL},
        {"2026-13-02T03:04:05Z", GB_EINVAL},
        {"2026-00-02T03:04:05Z", GB_EINVAL},
        {"2026-02-29T03:04:05Z", GB_EINVAL},
        {"1900-02-29T03:04:05Z", GB_EINVAL},
        {"2026-01-32T03:04:05Z", GB_EINVAL},
        {"2026-01-02T24:00:00Z", GB_EINVAL},
        {"2026-01-02T03:60:05Z", GB_EINVAL},
        {"2026-01-02T03:04:61Z", GB_EINVAL},
        {"2026-01-02T03:04:05+2:00", GB_EINVAL},
        {"2026-01-02T03:04:05+24:00", GB_EINVAL},
        {"2026-01-02T03:04:05+02:00x", GB_EINVAL},
        {"2026-01-02T03:04:05ZZ", GB_EINVAL},
        {"2026-01-02X03:04:05Z", GB_EINVAL},
        {"+1", GB_EINVAL},
        {"1.5", GB_EINVAL},
        {" 1", GB_EINVAL},
        {"1677-09-21T00:12:43.145224191Z", GB_ERANGE},
        {"2262-04-11T23:47:16.854775808Z", GB_ERANGE},
        {"2262-04-12T00:47:17+01:00", GB_ERANGE},
        {"9999-12-31T23:59:59Z", GB_ERANGE},
        {"0000-01-01T00:00:00Z", GB_ERANGE},
        {"9223372036854775808", GB_ERANGE},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gb_time_t t;
        int rc = gb_csv_time_parse(bad[i].text, strlen(bad[i].text), &t);
        if (rc != bad[i].rc) fail_msg("%s: rc %d, want %d", bad[i].text, rc, bad[i].rc);
    }
    char buf[GB_CSV_TIME_MAX];
    assert_int_equal(gb_csv_time_format(INT64_C(1767323045000000000), buf), 30);
    assert_string_equal(buf, "2026-01-02T03:04:05.000000000Z");
    gb_csv_time_format(-1, buf);
    assert_string_equal(buf, "1969-12-31T23:59:59.999999999Z");
    gb_csv_time_format(INT64_MIN, buf);
    assert_string_equal(buf, "1677-09-21T00:12:43.145224192Z");
    gb_csv_time_format(INT64_MAX, buf);
    assert_string_equal(buf, "2262-04-11T23:47:16.854775807Z");
    /* every format reads back, across the whole range */
    uint64_t x = 88172645463325252u;
    for (int i = 0; i < 100000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        gb_time_t t = (gb_time_t)x, back;
        size_t n = gb_csv_time_format(t, buf);
        assert_int_equal(gb_csv_time_parse(buf, n, &back), 0);
        assert_int_equal(back, t);
    }
}

static void test_csv_values(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        gb_vtype_t type;
        double f;
        int64_t i;
        const char *s;
    } cases[] = {
        {"true", GB_VT_BOOL, 0, 1, NULL},
        {"FALSE", GB_VT_BOOL, 0, 0, NULL},
        {"True", GB_VT_BOOL, 0, 1, NULL},
        {"1.5", GB_VT_F64, 1.5, 0, NULL},
        {"-2", GB_VT_F64, -2, 0, NULL},
        {"+2", GB_VT_F64, 2, 0, NULL},
        {".5", GB_VT_F64, 0.5, 0, NULL},
        {"1.", GB_VT_F64, 1, 0, NULL},
        {"1e3", GB_VT_F64, 1000, 0, NULL},
        {"1E-3", GB_VT_F64, 0.001, 0, NULL},
        {"+Inf", GB_VT_F64, INFINITY, 0, NULL},
        {"-inf", GB_VT_F64, -INFINITY, 0, NULL},
        {"Inf", GB_VT_F64, INFINITY, 0, NULL},
        {"12i", GB_VT_I64, 0, 12, NULL},
        {"-12i", GB_VT_I64, 0, -12, NULL},
        {"+12i", GB_VT_I64, 0, 12, NULL},
        {"-9223372036854775808i", GB_VT_I64, 0, INT64_MIN, NULL},
        {"\"1.5\"", GB_VT_STR, 0, 0, "1.5"},
        {"\"\"", GB_VT_STR, 0, 0, ""},
        {"\"", GB_VT_STR, 0, 0, "\""},
        {"\"a", GB_VT_STR, 0, 0, "\"a"},
        {"\"\"x\"\"", GB_VT_STR, 0, 0, "\"x\""},
        {"", GB_VT_STR, 0, 0, ""},
        {"running", GB_VT_STR, 0, 0, "running"},
        {" 1", GB_VT_STR, 0, 0, " 1"},
        {"1.5i", GB_VT_STR, 0, 0, "1.5i"},
        {"12u", GB_VT_STR, 0, 0, "12u"},
        {"i", GB_VT_STR, 0, 0, "i"},
        {"0x10", GB_VT_STR, 0, 0, "0x10"},
        {"infinity", GB_VT_STR, 0, 0, "infinity"},
        {"yes", GB_VT_STR, 0, 0, "yes"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gb_value_t v;
        assert_int_equal(gb_csv_value_parse(cases[i].text, strlen(cases[i].text), &v), 0);
        if (v.type != cases[i].type) fail_msg("%s: type %d", cases[i].text, v.type);
        switch (v.type) {
        case GB_VT_BOOL:
            assert_int_equal(v.b, cases[i].i);
            break;
        case GB_VT_F64:
            assert_true(v.f64 == cases[i].f);
            break;
        case GB_VT_I64:
            assert_int_equal(v.i64, cases[i].i);
            break;
        default:
            assert_int_equal(v.len, strlen(cases[i].s));
            assert_memory_equal(v.str, cases[i].s, v.len);
        }
    }
    gb_value_t v;
    assert_int_equal(gb_csv_value_parse("NaN", 3, &v), 0);
    assert_true(v.type == GB_VT_F64 && isnan(v.f64));
    assert_int_equal(gb_csv_value_parse("-0", 2, &v), 0);
    assert_true(v.f64 == 0 && signbit(v.f64));
    assert_int_equal(gb_csv_value_parse("1e999", 5, &v), GB_ERANGE);
    assert_int_equal(gb_csv_value_parse("-1e999", 6, &v), GB_ERANGE);
    assert_int_equal(gb_csv_value_parse("9223372036854775808i", 20, &v), GB_ERANGE);
}

static const char *f64_text(double d)
{
    static char buf[GB_TEXTIO_F64_MAX];
    gb_textio_f64_format(d, buf);
    return buf;
}

static void test_shortest_floats(void **state)
{
    (void)state;
    assert_string_equal(f64_text(0.1), "0.1");
    assert_string_equal(f64_text(0.1 + 0.2), "0.30000000000000004");
    assert_string_equal(f64_text(1e21), "1e+21");
    assert_string_equal(f64_text(1e20), "100000000000000000000");
    assert_string_equal(f64_text(5e-324), "5e-324");
    assert_string_equal(f64_text(DBL_MAX), "1.7976931348623157e+308");
    assert_string_equal(f64_text(DBL_MIN), "2.2250738585072014e-308");
    assert_string_equal(f64_text(-DBL_MIN), "-2.2250738585072014e-308");
    assert_string_equal(f64_text(100), "100");
    assert_string_equal(f64_text(123456789), "123456789");
    assert_string_equal(f64_text(1.5), "1.5");
    assert_string_equal(f64_text(-71.25), "-71.25");
    assert_string_equal(f64_text(1e-7), "0.0000001");
    assert_string_equal(f64_text(1.5e-8), "1.5e-08");
    assert_string_equal(f64_text(0), "0");
    assert_string_equal(f64_text(-0.0), "-0");
    assert_string_equal(f64_text(NAN), "NaN");
    assert_string_equal(f64_text(INFINITY), "+Inf");
    assert_string_equal(f64_text(-INFINITY), "-Inf");
    assert_string_equal(f64_text(9007199254740993.0), "9007199254740992");

    /* random bit patterns: the text reads back to the same bits, and no shorter text would */
    uint64_t x = 0x9E3779B97F4A7C15u;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double d;
        memcpy(&d, &x, sizeof d);
        if (isnan(d)) continue;
        const char *s = f64_text(d);
        gb_value_t v;
        assert_int_equal(gb_csv_value_parse(s, strlen(s), &v), 0);
        assert_int_equal(v.type, GB_VT_F64);
        if (memcmp(&v.f64, &d, sizeof d) != 0) fail_msg("%a printed as %s", d, s);
        if (isinf(d) || d == 0) continue;
        /* S is the decimal of the fewest digits that reads back, found by walking up from 1 */
        char e[40];
        for (int p = 1; p <= 17; p++) {
            snprintf(e, sizeof e, "%.*e", p - 1, d);
            if (strtod(e, NULL) == d) break;
        }
        char *end;
        long double a = strtold(s, &end), b = strtold(e, NULL);
        if (*end || a != b) fail_msg("%a printed as %s, shortest is %s", d, s, e);
    }
}

static uint64_t rng = 0x9E3779B97F4A7C15u;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static long compared;

/* D (and -D) formatted both ways: the same bytes. */
static void same_text(double d)
{
    for (int k = 0; k < 2; k++, d = -d) {
        char fast[GB_TEXTIO_F64_MAX], def[GB_TEXTIO_F64_MAX];
        size_t nf = gb_textio_f64_format(d, fast), nd = gb_textio_f64_format_printf(d, def);
        if (nf != nd || strcmp(fast, def) || strlen(fast) != nf)
            fail_msg("%a: %s, by definition %s", d, fast, def);
        compared++;
    }
}

/*
 * The shortest float's exact integer path against its printf definition, on the doubles where
 * the two could part: ties, powers of two, neighbours of powers of ten, 15 to 17 digits.
 */
static void test_f64_matches_definition(void **state)
{
    (void)state;
    static const double fixed[] = {0.0,
                                   1e22,
                                   1e23,
                                   1e21,
                                   1e20,
                                   9.999999999999999e19,
                                   1e-7,
                                   1e-8,
                                   0.1 + 0.2,
                                   0.1,
                                   0.3,
                                   9007199254740992.0,
                                   9007199254740994.0,
                                   18014398509481984.0,
                                   123456789012345678.0,
                                   1e15,
                                   1e16,
                                   1e17,
                                   1e19,
                                   9.9999999999999995,
                                   0.30000000000000004,
                                   5e-324,
                                   DBL_MIN,
                                   DBL_MAX,
                                   65537.0 / 65536.0,
                                   1.5,
                                   2.5,
                                   100,
                                   99.999999999999986,
                                   0.000001,
                                   9.5367431640625e-07};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        same_text(fixed[i]);
    same_text(NAN);
    same_text(INFINITY);
    /* every power of two and its neighbours: the gap below is half the one above */
    for (int e = -1074; e <= 1023; e++) {
        double d = ldexp(1, e);
        same_text(d);
        same_text(nextafter(d, 0));
        same_text(nextafter(d, INFINITY));
    }
    /* powers of ten and the doubles next to them */
    for (int e = -25; e <= 25; e++) {
        double up = pow(10, e), down = up;
        for (int k = 0; k < 4; k++, up = nextafter(up, INFINITY), down = nextafter(down, 0)) {
            same_text(up);
            same_text(down);
        }
    }
    /* M / 2^k with few bits: exact decimals, so roundings that tie (half to even) */
    for (int k = 1; k <= 60; k++)
        for (int j = 0; j < 200; j++)
            same_text(ldexp((double)((rnd() >> (11 + rnd() % 53)) | 1), -k));
    for (int i = 0; i < 30000; i++) {
        uint64_t x = rnd();
        double d;
        memcpy(&d, &x, sizeof d); /* any bits */
        same_text(d);
        /* the exponents of the integer path */
        x = (x & ((UINT64_C(1) << 52) - 1)) | (uint64_t)(1023 - 30 + rnd() % 100) << 52;
        memcpy(&d, &x, sizeof d);
        same_text(d);
        /* what sensors send: a few decimals */
        same_text((double)(rnd() % 100000000) / pow(10, (double)(rnd() % 12)));
        /* averages: 16 or 17 digits */
        same_text(((double)(rnd() % 10000) / 100 + (double)(rnd() % 10000) / 1000) / 3);
        /* integers of every size */
        same_text((double)(rnd() >> (rnd() % 64)));
        /* decimals of 15 to 17 digits, near the edge of reading back */
        char t[32], text[48];
        snprintf(t, sizeof t, "%017" PRIu64, rnd() % UINT64_C(100000000000000000));
        t[15 + rnd() % 3] = 0;
        snprintf(text, sizeof text, "%c.%se%d", t[0] == '0' ? '1' : t[0], t + 1,
                 (int)(rnd() % 30) - 8);
        same_text(strtod(text, NULL));
    }
    assert_true(compared > 300000);
}

/* A random printable-or-not string with the CSV and line-protocol special characters in it. */
static size_t random_text(uint64_t *x, char *buf, size_t max)
{
    /* bytes, and one letter of two (text is UTF-8: its bytes come together) */
    static const char pool[] = "ab,= #\\\"\n\r\t1.5ei-+xTRUEfalseNaN~";
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    size_t n = (size_t)(*x % max), i = 0;
    while (i < n) {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        char c = pool[*x % (sizeof pool - 1)];
        if (c != '~') {
            buf[i++] = c;
        } else if (i + 2 <= n) {
            buf[i++] = '\xc3';
            buf[i++] = '\xa9';
        }
    }
    return n;
}

static void test_csv_export_import_export(void **state)
{
    (void)state;
    /* generate rows of every type, write them, read them back, write again: the same bytes */
    size_t cap = 4 << 20, len = 0;
    char *file = malloc(cap), *again = malloc(cap);
    memcpy(file, GB_CSV_HEADER, strlen(GB_CSV_HEADER));
    len = strlen(GB_CSV_HEADER);
    uint64_t x = 0x243F6A8885A308D3u;
    static const char *const fixed[] = {"1.5",  "true",       "FALSE", "NaN", "-inf",
                                        "12i",  "\"q\"",      "\"",    "",    "a,b",
                                        "x\"y", "two\nlines", "cr\r",  " 1",  "1 "};
    size_t rows = 0;
    for (int i = 0; i < 5000; i++) {
        char series[64], str[64];
        size_t sn = random_text(&x, series, sizeof series);
        if (sn == 0) series[sn++] = 's';
        gb_value_t v = {0};
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        switch (x % 5) {
        case 0:
            v.type = GB_VT_F64;
            memcpy(&v.f64, &x, sizeof v.f64);
            if (i % 7 == 0) v.f64 = (double)(int)(x % 1000) / 10;
            break;
        case 1:
            v.type = GB_VT_I64;
            v.i64 = (int64_t)x;
            break;
        case 2:
            v.type = GB_VT_BOOL;
            v.b = x & 8;
            break;
        case 3:
            v.type = GB_VT_STR;
            v.str = fixed[(x >> 8) % (sizeof fixed / sizeof fixed[0])];
            v.len = strlen(v.str);
            break;
        default:
            v.type = GB_VT_STR;
            v.len = random_text(&x, str, sizeof str);
            v.str = str;
        }
        gb_time_t t = (gb_time_t)(x * 0x9E3779B97F4A7C15u);
        size_t n;
        assert_int_equal(gb_csv_format_row(t, series, sn, &v, file + len, cap - len, &n), 0);
        len += n;
        rows++;
    }
    /* read in odd-sized pieces, write each row again */
    gb_csv_reader_t r;
    gb_csv_reader_init(&r);
    memcpy(again, GB_CSV_HEADER, strlen(GB_CSV_HEADER));
    size_t alen = strlen(GB_CSV_HEADER), pos = 0, got = 0;
    for (;;) {
        size_t piece = len - pos < 333 ? len - pos : 333, used;
        gb_csv_row_t row;
        gb_csv_err_t err;
        int rc = gb_csv_read(&r, file + pos, piece, pos + piece == len, &used, &row, &err);
        pos += used;
        if (rc < 0) fail_msg("line %zu: %s", err.line, err.why);
        if (rc == GB_CSV_ROW) {
            size_t n;
            assert_int_equal(gb_csv_format_row(row.t, row.series.p, row.series.n, &row.value,
                                               again + alen, cap - alen, &n),
                             0);
            alen += n;
            got++;
        } else if (pos == len) {
            break;
        }
    }
    gb_csv_reader_clear(&r);
    assert_int_equal(got, rows);
    assert_int_equal(alen, len);
    assert_memory_equal(again, file, len);
    free(file);
    free(again);

    /* the writer's own forms */
    char line[128];
    gb_value_t v = {.type = GB_VT_STR, .str = "1.5", .len = 3};
    assert_int_equal(gb_csv_format_row(0, "a,b", 3, &v, line, sizeof line, NULL), 0);
    assert_string_equal(line, "1970-01-01T00:00:00.000000000Z,\"a,b\",\"\"\"1.5\"\"\"\n");
    v = (gb_value_t){.type = GB_VT_I64, .i64 = -7};
    assert_int_equal(gb_csv_format_row(1, "t", 1, &v, line, sizeof line, NULL), 0);
    assert_string_equal(line, "1970-01-01T00:00:00.000000001Z,t,-7i\n");
    v = (gb_value_t){.type = GB_VT_F64, .f64 = -0.0};
    assert_int_equal(gb_csv_format_row(0, "t", 1, &v, line, sizeof line, NULL), 0);
    assert_string_equal(line, "1970-01-01T00:00:00.000000000Z,t,-0\n");
    assert_int_equal(gb_csv_format_row(0, "", 0, &v, line, sizeof line, NULL), GB_EINVAL);
    assert_int_equal(gb_csv_format_row(0, "t", 1, &v, line, 20, NULL), GB_ERANGE);
    v.type = (gb_vtype_t)9;
    assert_int_equal(gb_csv_format_row(0, "t", 1, &v, line, sizeof line, NULL), GB_EINVAL);
}

/* Whether gb_lp_fast takes TEXT (the whole buffer, at its end); its result in F. */
static gb_lp_fast_t F;
static bool fast(const char *text)
{
    return gb_lp_fast(text, strlen(text), true, GB_LP_NS, &F);
}

/* A line the quick reader takes reads the same as through the full parser. */
static void fast_agrees(const char *text)
{
    assert_true(fast(text));
    assert_int_equal(lp(text), 0);
    assert_int_equal(F.nfields, L.nfields);
    assert_int_equal(F.has_time, L.has_time);
    if (F.has_time) assert_int_equal(F.t, L.t);
    for (size_t f = 0; f < F.nfields; f++) {
        char want[512], got[512];
        size_t n;
        assert_int_equal(gb_lp_series_name(&L, f, want, sizeof want, &n), 0);
        snprintf(got, sizeof got, "%.*s#%.*s", (int)F.keylen, text, (int)F.fields[f].key.n,
                 F.fields[f].key.p);
        assert_string_equal(got, want);
        gb_value_t v;
        assert_int_equal(gb_lp_value_to_sample(&L.fields[f].value, &v), 0);
        assert_int_equal(v.type, F.fields[f].v.type);
        assert_memory_equal(&v.f64, &F.fields[f].v.f64, sizeof v.f64);
        assert_int_equal(v.i64, F.fields[f].v.i64);
        assert_int_equal(v.b, F.fields[f].v.b);
    }
}

/*
 * The quick reader takes the plain lines writers send, with the full parser's result, and leaves
 * everything else to it: escapes, quotes, comments, tags out of order, repeats, bad values.
 */
static void test_lp_fast(void **state)
{
    (void)state;
    fast_agrees("cpu,host=a,region=eu usage_idle=98.5,usage_user=1.25e0 1700000000123456789\n");
    assert_int_equal(F.keylen, strlen("cpu,host=a,region=eu"));
    assert_int_equal(F.len, strlen("cpu,host=a,region=eu usage_idle=98.5,usage_user=1.25e0 1700000000123456789\n"));
    fast_agrees("m f=1i,g=-9223372036854775807i,h=9223372036854775807u,b=t,c=FALSE,d=False\n");
    fast_agrees("m f=-0\r\n");
    fast_agrees("m f=.5 -1\n");
    fast_agrees("m f=5. 0");
    fast_agrees("m,a=1,ab=2,b=3 x=0.1,y=123456789012345678,z=1e-300,w=4.9e-324 17\n");
    /* past ASCII: the full parser, which takes UTF-8 and refuses other bytes where they are */
    const char *utf8 = "\xc3\xa9t\xc3\xa9,lieu=Z\xc3\xbcrich temp\xc3\xa9rature=21.5\n";
    assert_false(fast(utf8));
    assert_int_equal(lp(utf8), 0);
    assert_true(gb_textio_eq(L.tags[0].value, "Z\xc3\xbcrich"));
    assert_int_equal(lp("m,lieu=Z\xfcrich f=1\n"), GB_EPROTO); /* Latin-1 */
    assert_int_equal(E.column, 9);
    assert_non_null(strstr(E.why, "UTF-8"));
    assert_int_equal(lp("m s=\"ok \xe2\x82\"\n"), GB_EPROTO); /* cut short, in a string */
    assert_int_equal(E.column, 9);
    /* the rest of the buffer may be a longer line: only EOF ends one without a line break */
    assert_false(gb_lp_fast("m f=1 17", 8, false, GB_LP_NS, &F));
    assert_true(gb_lp_fast("m f=1 17\nm f=2 18\n", 18, false, GB_LP_NS, &F));
    assert_int_equal(F.len, 9);
    /* left to the full parser */
    const char *slow[] = {
        "",
        "\n",
        "# a comment\n",
        " m f=1\n",
        "m  f=1\n",
        "m f=1  17\n",
        "m f=1 17 \n",
        "m,b=1,a=2 f=1\n",             /* tags out of order: the name sorts them */
        "m,a=1,a=2 f=1\n",             /* a tag twice */
        "m f=1,f=2\n",                 /* a field twice */
        "m\\ x f=1\n",                 /* an escape */
        "m s=\"text\"\n",              /* a string */
        "m,a=b=c f=1\n",               /* '=' in a tag value */
        "m=1 f=1\n",                   /* '=' in the measurement: escaped in the name */
        "m#1 f=1\n",                   /* '#': escaped in the name */
        "m f#1=1\n",
        "m f=1\r 17\n",
        "m f=1x\n",
        "m f=tru\n",
        "m f=1e309\n",
        "m f=9223372036854775808u\n",
        "m f=-1u\n",
        "m f=1 99999999999999999999\n",
        "m f=1 9223372036854775807\n", /* fits int64 ns, but not as ms below */
        "m f= 17\n",
        "m f\n",
        "m\n",
        ",a=1 f=1\n",
    };
    for (size_t i = 0; i < sizeof slow / sizeof *slow; i++) {
        if (i == sizeof slow / sizeof *slow - 5) { /* ms: 9223372036854775807 * 10^6 overflows */
            assert_false(gb_lp_fast(slow[i], strlen(slow[i]), true, GB_LP_MS, &F));
            assert_true(fast(slow[i]));
            continue;
        }
        if (fast(slow[i])) fprintf(stderr, "taken: '%s'\n", slow[i]);
        assert_false(fast(slow[i]));
    }
    char many[600] = "m ";
    for (int i = 0; i <= GB_LP_FAST_FIELDS; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "%sf%d=%d", i ? "," : "", i, i);
    assert_false(fast(many)); /* more fields than it keeps */
    assert_int_equal(lp(many), 0);
}

/* Every byte at every place of a long tag value: an ordinary one is part of the value, any other
 * leaves the line to the full parser. */
static void test_lp_fast_bytes(void **state)
{
    (void)state;
    static const char special[] = " ,=\n\r#\\\"";
    for (int c = 0; c < 256; c++) {
        bool plain = c != 0 && c < 0x80 && !strchr(special, c);
        for (size_t at = 0; at < 90; at++) {
            char line[128];
            memcpy(line, "m,tag=", 6);
            memset(line + 6, 'x', 90);
            line[6 + at] = (char)c;
            memcpy(line + 96, " f=1 17\n", 8);
            assert_int_equal(gb_lp_fast(line, 104, true, GB_LP_NS, &F), plain);
            if (plain) {
                assert_int_equal(F.keylen, 96);
                assert_int_equal(F.len, 104);
                assert_int_equal(F.t, 17);
            }
        }
    }
}

/* Decimal text to the nearest double: the quick exact path and strtod agree on every input. */
static void test_f64_parse_exact(void **state)
{
    (void)state;
    uint64_t x = 88172645463325252u;
    char text[64];
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int digits = 1 + (int)(x % 17), point = (int)((x >> 8) % (unsigned)(digits + 2)) - 1;
        int e = (int)((x >> 16) % 61) - 30;
        size_t n = 0;
        if (x >> 63) text[n++] = '-';
        uint64_t d = x >> 20;
        for (int k = 0; k < digits; k++) {
            if (k == point) text[n++] = '.';
            text[n++] = (char)('0' + d % 10);
            d /= 10;
        }
        if ((x >> 40) % 3 == 0) n += (size_t)snprintf(text + n, sizeof text - n, "e%d", e);
        text[n] = 0;
        double got, want = strtod(text, NULL);
        assert_int_equal(gb_textio_f64_parse(text, n, 0, &got), 0);
        if (memcmp(&got, &want, sizeof got)) fprintf(stderr, "%s: %.17g, strtod %.17g\n", text, got, want);
        assert_memory_equal(&got, &want, sizeof got);
    }
}

/* A relative `from` of an aggregate starts on its step's window; other times stay as given. */
static void test_query_align_from(void **state)
{
    (void)state;
    const gb_time_t S = GB_NS_PER_S, now = 1700000123 * S + 456; /* 22:15:23.000000456 UTC */
    gb_query_t q = {.aggregate = true, .step = 60 * S};
    assert_int_equal(gb_query_time_parse("-1d", now, &q.from), 0);
    gb_query_align_from(&q, "-1d");
    assert_int_equal(q.from, (1700000123 - 86400 - 23) * S); /* 22:15:00 the day before */
    assert_int_equal(gb_query_time_parse("now", now, &q.from), 0);
    q.step = 3600 * S;
    gb_query_align_from(&q, "now");
    assert_int_equal(q.from, (1700000123 - 15 * 60 - 23) * S); /* 22:00:00 */
    q.from = -90 * S; /* before 1970, relative: down to -120 s with a 1 min step */
    q.step = 60 * S;
    gb_query_align_from(&q, "-1m");
    assert_int_equal(q.from, -120 * S);
    q.from = now; /* given as a time: kept */
    gb_query_align_from(&q, "2023-11-14T22:15:23.000000456Z");
    assert_int_equal(q.from, now);
    gb_query_align_from(&q, "1700000123000000456");
    assert_int_equal(q.from, now);
    gb_query_align_from(&q, NULL);
    assert_int_equal(q.from, now);
    q.aggregate = false; /* raw points: kept */
    gb_query_align_from(&q, "-1d");
    assert_int_equal(q.from, now);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lp_reference_examples),
        cmocka_unit_test(test_lp_escaping),
        cmocka_unit_test(test_lp_types),
        cmocka_unit_test(test_lp_timestamps),
        cmocka_unit_test(test_lp_malformed),
        cmocka_unit_test(test_lp_limits),
        cmocka_unit_test(test_lp_line_end),
        cmocka_unit_test(test_lp_series_names),
        cmocka_unit_test(test_lp_format),
        cmocka_unit_test(test_lp_values_and_samples),
        cmocka_unit_test(test_lp_fast),
        cmocka_unit_test(test_lp_fast_bytes),
        cmocka_unit_test(test_f64_parse_exact),
        cmocka_unit_test(test_query_align_from),
        cmocka_unit_test(test_csv_reading),
        cmocka_unit_test(test_csv_errors),
        cmocka_unit_test(test_csv_times),
        cmocka_unit_test(test_csv_values),
        cmocka_unit_test(test_shortest_floats),
        cmocka_unit_test(test_f64_matches_definition),
        cmocka_unit_test(test_csv_export_import_export),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
