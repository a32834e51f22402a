/*
 * The MTConnect agent document codec: golden documents of the 1.3 and 2.x shapes
 * (tests/data/mtconnect), conditions, time series, data sets, tables, errors, and malformed input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "adapters/mtconnect/codec_streams.h"
#include "gemba/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *slurp(const char *name, size_t *len)
{
    const char *dir = getenv("GB_TEST_DATA");
    char path[1024];
    snprintf(path, sizeof path, "%s/mtconnect/%s", dir ? dir : "tests/data", name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = malloc(1 << 20);
    *len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

static gb_mtc_doc_t *load(const char *name)
{
    size_t len;
    char *buf = slurp(name, &len);
    gb_mtc_doc_t *d = NULL;
    const char *why = NULL;
    int rc = gb_mtc_parse(buf, len, &d, &why);
    if (rc) fprintf(stderr, "%s: %s\n", name, why);
    assert_int_equal(rc, 0);
    free(buf);
    return d;
}

static const gb_mtc_obs_t *find(const gb_mtc_doc_t *d, uint64_t seq)
{
    for (size_t i = 0; i < d->nobs; i++)
        if (d->obs[i].sequence == seq) return &d->obs[i];
    fail_msg("no observation %llu", (unsigned long long)seq);
    return NULL;
}

static int parse_text(const char *text, gb_mtc_doc_t **d, const char **why)
{
    return gb_mtc_parse(text, strlen(text), d, why);
}

static void test_sample_2_0(void **state)
{
    (void)state;
    gb_mtc_doc_t *d = load("sample-2.0.xml");
    assert_int_equal(d->kind, GB_MTC_DOC_STREAMS);
    assert_int_equal(d->header.instance_id, 1633590000);
    assert_int_equal(d->header.first_seq, 91553);
    assert_int_equal(d->header.last_seq, 222700);
    assert_int_equal(d->header.next_seq, 222624);
    assert_int_equal(d->header.buffer_size, 131072);
    assert_int_equal(d->header.creation_time, INT64_C(1634018673) * 1000000000);
    assert_string_equal(d->header.version, "2.0.0.12");
    assert_string_equal(d->header.model_change_time, "2021-10-07T05:00:00.000000Z");
    assert_int_equal(d->nobs, 15);
    assert_int_equal(d->skipped, 0);
    /* document order: the agent's own device first */
    assert_string_equal(d->obs[0].device_name, "Agent");
    assert_string_equal(d->obs[0].data_item_id, "agent_avail");
    assert_string_equal(d->obs[0].name, "");

    const gb_mtc_obs_t *o = find(d, 222623);
    assert_string_equal(o->device_name, "M12346");
    assert_string_equal(o->device_uuid, "M8010W4194N");
    assert_string_equal(o->component, "Path");
    assert_string_equal(o->component_name, "path");
    assert_string_equal(o->component_id, "path1");
    assert_string_equal(o->data_item_id, "execution");
    assert_string_equal(o->name, "execution");
    assert_string_equal(o->element, "Execution");
    assert_int_equal(o->category, GB_MTC_EVENT);
    assert_int_equal(o->rep, GB_MTC_REP_VALUE);
    assert_string_equal(o->value, "INTERRUPTED");
    assert_int_equal(o->value_len, 11);
    assert_false(o->unavailable);
    /* fractional seconds to ns, and fewer digits, and none */
    assert_int_equal(o->t, INT64_C(1634018672) * 1000000000 + 761198000);
    assert_int_equal(find(d, 222604)->t, INT64_C(1634018670) * 1000000000 + 900000000);
    assert_int_equal(find(d, 222605)->t, INT64_C(1634018671) * 1000000000);

    o = find(d, 222610);
    assert_int_equal(o->category, GB_MTC_SAMPLE);
    assert_string_equal(o->value, "1763070.0");
    o = find(d, 222603);
    assert_string_equal(o->value, "UNAVAILABLE");
    assert_true(o->unavailable);
    /* a message's code */
    o = find(d, 222605);
    assert_string_equal(o->native_code, "TB1010");
    assert_string_equal(o->value, "Tool T2 broken, replace insert");
    assert_string_equal(o->level, "");
    gb_mtc_doc_free(d);
}

static void test_conditions(void **state)
{
    (void)state;
    gb_mtc_doc_t *d = load("sample-2.0.xml");
    /* `nativecode` as some agents write it */
    const gb_mtc_obs_t *o = find(d, 222611);
    assert_int_equal(o->category, GB_MTC_CONDITION);
    assert_string_equal(o->level, "WARNING");
    assert_string_equal(o->element, "Warning");
    assert_string_equal(o->native_code, "313");
    assert_string_equal(o->native_severity, "50");
    assert_string_equal(o->qualifier, "");
    assert_string_equal(o->condition_type, "LOGIC_PROGRAM");
    assert_string_equal(o->value, "PALLET ARM DOWN RS. MALF.");
    /* two active conditions of one data item */
    o = find(d, 222612);
    assert_string_equal(o->data_item_id, "cont_system");
    assert_string_equal(o->level, "FAULT");
    assert_string_equal(o->native_code, "1010");
    assert_string_equal(o->qualifier, "HIGH");
    assert_string_equal(o->value, "Spindle drive overload");
    o = find(d, 222608);
    assert_string_equal(o->level, "NORMAL");
    assert_string_equal(o->value, "");
    assert_false(o->unavailable);
    o = find(d, 222609);
    assert_string_equal(o->level, "UNAVAILABLE");
    assert_true(o->unavailable);
    assert_string_equal(o->condition_type, "MOTION_PROGRAM");
    gb_mtc_doc_free(d);
}

static void test_series_sets_tables(void **state)
{
    (void)state;
    gb_mtc_doc_t *d = load("sample-2.0.xml");
    const gb_mtc_obs_t *o = find(d, 222620);
    assert_int_equal(o->rep, GB_MTC_REP_TIMESERIES);
    assert_int_equal(o->sample_count, 5);
    assert_true(o->sample_rate == 100.0);
    assert_string_equal(o->value, "0.12 0.15 0.11 0.09 0.14");
    assert_string_equal(o->name, "spindle_vibration");
    o = find(d, 222606);
    assert_int_equal(o->rep, GB_MTC_REP_DATASET);
    assert_string_equal(o->value, "100=66.3314 101=167.2 102= note='first article'");
    o = find(d, 222607);
    assert_int_equal(o->rep, GB_MTC_REP_TABLE);
    assert_string_equal(o->value, "G53.1={X=1 Y=2 Z=3} G53.2={X=4 Y=5 Z=6}");
    gb_mtc_doc_free(d);
    /* an unavailable data set keeps its word */
    const char *doc =
        "<MTConnectStreams><Header instanceId='1' firstSequence='1' lastSequence='9' "
        "nextSequence='10'/><Streams><DeviceStream name='d' uuid='u'><ComponentStream "
        "component='Path' name='p' componentId='p1'><Events><VariableDataSet dataItemId='v' "
        "sequence='3' timestamp='2021-10-12T03:57:31Z'>UNAVAILABLE</VariableDataSet></Events>"
        "</ComponentStream></DeviceStream></Streams></MTConnectStreams>";
    assert_int_equal(parse_text(doc, &d, NULL), 0);
    assert_true(d->obs[0].unavailable);
    assert_string_equal(d->obs[0].value, "UNAVAILABLE");
    gb_mtc_doc_free(d);
}

static void test_current_1_3(void **state)
{
    (void)state;
    /* prefixed elements (m:), a 1.3 namespace, CDATA and an entity in values */
    gb_mtc_doc_t *d = load("current-1.3.xml");
    assert_int_equal(d->kind, GB_MTC_DOC_STREAMS);
    assert_int_equal(d->header.instance_id, 1458833329);
    assert_int_equal(d->header.next_seq, 2781);
    assert_int_equal(d->header.first_seq, 1);
    assert_int_equal(d->header.last_seq, 2780);
    assert_string_equal(d->header.version, "1.3.0.18");
    assert_string_equal(d->header.model_change_time, "");
    assert_int_equal(d->nobs, 7);
    const gb_mtc_obs_t *o = find(d, 2779);
    assert_string_equal(o->element, "SpindleSpeed");
    assert_string_equal(o->value, "1200.0000000000");
    assert_string_equal(o->component, "Rotary");
    assert_string_equal(find(d, 14)->value, "O1010 <main>");
    assert_string_equal(find(d, 2771)->value, "G01 X1.1492 Y1.0489 F&20");
    assert_string_equal(find(d, 5)->level, "NORMAL");
    assert_int_equal(find(d, 2770)->t, INT64_C(1458844159) * 1000000000 + 120000000);
    gb_mtc_doc_free(d);
}

static void test_probe(void **state)
{
    (void)state;
    gb_mtc_doc_t *d = load("probe-2.0.xml");
    assert_int_equal(d->kind, GB_MTC_DOC_DEVICES);
    assert_int_equal(d->header.instance_id, 1633590000);
    assert_int_equal(d->header.buffer_size, 131072);
    assert_int_equal(d->ndevices, 2);
    assert_string_equal(d->devices[0].element, "Agent");
    assert_string_equal(d->devices[0].name, "Agent");
    assert_string_equal(d->devices[1].element, "Device");
    assert_string_equal(d->devices[1].name, "M12346");
    assert_string_equal(d->devices[1].uuid, "M8010W4194N");
    assert_string_equal(d->devices[1].id, "d1");
    /* every DataItem at any depth; not DataItemRef, not Source */
    assert_int_equal(d->nitems, 14);
    assert_string_equal(d->items[0].id, "agent_avail");
    assert_int_equal(d->items[0].device, 0);
    const gb_mtc_item_t *it = NULL;
    for (size_t i = 0; i < d->nitems; i++)
        if (!strcmp(d->items[i].id, "vib")) it = &d->items[i];
    assert_non_null(it);
    assert_int_equal(it->device, 1);
    assert_string_equal(it->name, "spindle_vibration");
    assert_string_equal(it->type, "DISPLACEMENT");
    assert_string_equal(it->units, "MILLIMETER");
    assert_int_equal(it->category, GB_MTC_SAMPLE);
    assert_int_equal(it->rep, GB_MTC_REP_TIMESERIES);
    assert_true(it->sample_rate == 100.0);
    for (size_t i = 0; i < d->nitems; i++) {
        if (!strcmp(d->items[i].id, "cont_system")) assert_int_equal(d->items[i].category, GB_MTC_CONDITION);
        if (!strcmp(d->items[i].id, "cvars")) assert_int_equal(d->items[i].rep, GB_MTC_REP_DATASET);
        if (!strcmp(d->items[i].id, "woffset")) assert_int_equal(d->items[i].rep, GB_MTC_REP_TABLE);
        if (!strcmp(d->items[i].id, "cut_time")) assert_string_equal(d->items[i].sub_type, "CUT_TIME");
        if (!strcmp(d->items[i].id, "Sspeed")) assert_string_equal(d->items[i].name, "Sspeed");
    }
    gb_mtc_doc_free(d);
}

static void test_errors(void **state)
{
    (void)state;
    gb_mtc_doc_t *d = load("error-out-of-range.xml");
    assert_int_equal(d->kind, GB_MTC_DOC_ERROR);
    assert_int_equal(d->header.instance_id, 1633590000);
    assert_int_equal(d->nerrors, 1);
    assert_string_equal(d->errors[0].code, "OUT_OF_RANGE");
    assert_string_equal(d->errors[0].text, "'from' must be greater than 91552");
    assert_string_equal(d->errors[0].parameter, "");
    gb_mtc_doc_free(d);
    /* 2.6: an element per error, the text in ErrorMessage, the parameter named */
    d = load("error-2.6.xml");
    assert_int_equal(d->nerrors, 1);
    assert_string_equal(d->errors[0].code, "OUT_OF_RANGE");
    assert_string_equal(d->errors[0].text, "'from' must be greater than 120");
    assert_string_equal(d->errors[0].parameter, "from");
    gb_mtc_doc_free(d);
    /* 1.0: Error right under the root, an empty instanceId */
    assert_int_equal(parse_text("<MTConnectError xmlns='urn:mtconnect.com:MTConnectError:1.0'>"
                                "<Header creationTime='' sender='localhost' instanceId='' "
                                "bufferSize='' version='1.0'/><Error errorCode='NO_DEVICE'>Could not "
                                "find the device 'x'</Error></MTConnectError>", &d, NULL), GB_EPROTO);
    assert_int_equal(parse_text("<MTConnectError><Header version='1.1'/><Error "
                                "errorCode='NO_DEVICE'>Could not find the device 'x'</Error>"
                                "</MTConnectError>", &d, NULL), 0);
    assert_int_equal(d->header.instance_id, 0);
    assert_string_equal(d->errors[0].code, "NO_DEVICE");
    gb_mtc_doc_free(d);
}

static void test_bad_observations(void **state)
{
    (void)state;
    /* broken observations are left out and counted; the rest stands */
    const char *doc =
        "<MTConnectStreams><Header instanceId='7' firstSequence='1' lastSequence='20' "
        "nextSequence='21'/><Streams><DeviceStream name='d' uuid='u'><ComponentStream "
        "component='Path' name='p' componentId='p1'><Events>"
        "<Execution sequence='2' timestamp='2021-10-12T03:57:31Z'>ACTIVE</Execution>"
        "<Execution dataItemId='e' sequence='x3' timestamp='2021-10-12T03:57:31Z'>ACTIVE</Execution>"
        "<Execution dataItemId='e' sequence='4' timestamp='yesterday'>ACTIVE</Execution>"
        "<Execution dataItemId='e' sequence='5'>ACTIVE</Execution>"
        "<Execution dataItemId='e' sequence='6' timestamp='2021-10-12T03:57:31.5Z'>READY</Execution>"
        "</Events><Condition><Critical dataItemId='c' sequence='7' timestamp='2021-10-12T03:57:31Z'/>"
        "<fault dataItemId='c' sequence='8' timestamp='2021-10-12T03:57:32Z'>x</fault></Condition>"
        "<Nonsense><Load dataItemId='l' sequence='9' timestamp='2021-10-12T03:57:31Z'>1</Load></Nonsense>"
        "</ComponentStream></DeviceStream></Streams></MTConnectStreams>";
    gb_mtc_doc_t *d;
    const char *why = NULL;
    assert_int_equal(parse_text(doc, &d, &why), 0);
    assert_int_equal(d->nobs, 2);
    assert_int_equal(d->obs[0].sequence, 6);
    assert_string_equal(d->obs[0].value, "READY");
    assert_string_equal(d->obs[1].level, "FAULT"); /* levels match without regard to case */
    assert_int_equal(d->skipped, 5);
    assert_string_equal(d->skip_why, "an observation without a dataItemId");
    gb_mtc_doc_free(d);
}

static void expect_refused(const char *doc, const char *want)
{
    gb_mtc_doc_t *d = (gb_mtc_doc_t *)1;
    const char *why = NULL;
    assert_int_equal(gb_mtc_parse(doc, strlen(doc), &d, &why), GB_EPROTO);
    assert_null(d);
    assert_non_null(why);
    if (!strstr(why, want)) fail_msg("'%s' is not '%s'", why, want);
}

static void test_malformed(void **state)
{
    (void)state;
    expect_refused("", "empty");
    expect_refused("not xml at all", "well-formed");
    expect_refused("<MTConnectStreams><Header", "well-formed");
    expect_refused("<html><body>502 Bad Gateway</body></html>", "not an MTConnect document");
    expect_refused("<MTConnectStreams><Streams/></MTConnectStreams>", "no Header");
    expect_refused("<MTConnectStreams><Header firstSequence='1' lastSequence='1' "
                   "nextSequence='2'/></MTConnectStreams>", "instanceId");
    expect_refused("<MTConnectStreams><Header instanceId='1' firstSequence='1' "
                   "lastSequence='1'/></MTConnectStreams>", "sequence number");
    expect_refused("<MTConnectStreams><Header instanceId='1' firstSequence='1' lastSequence='-1' "
                   "nextSequence='2'/></MTConnectStreams>", "sequence number");
    expect_refused("<MTConnectStreams><Header instanceId='1' firstSequence='10' lastSequence='5' "
                   "nextSequence='6'/></MTConnectStreams>", "out of order");
    expect_refused("<MTConnectStreams><Header instanceId='1' firstSequence='1' lastSequence='5' "
                   "nextSequence='9'/></MTConnectStreams>", "out of order");
    expect_refused("<MTConnectStreams><Header instanceId='99999999999999999999' firstSequence='1' "
                   "lastSequence='5' nextSequence='6'/></MTConnectStreams>", "instanceId");
    expect_refused("<MTConnectError><Header instanceId='1'/></MTConnectError>", "no Error");
    /* no DTD, no entities, however they are dressed */
    expect_refused("<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'><!ENTITY lol2 "
                   "'&lol;&lol;&lol;'>]><MTConnectStreams><Header instanceId='&lol2;' "
                   "firstSequence='1' lastSequence='1' nextSequence='2'/></MTConnectStreams>",
                   "DOCTYPE");
    expect_refused("<!DOCTYPE x SYSTEM 'http://127.0.0.1:1/evil.dtd'><MTConnectStreams/>", "DOCTYPE");
    expect_refused("<MTConnectStreams><Header instanceId='&undefined;' firstSequence='1' "
                   "lastSequence='1' nextSequence='2'/></MTConnectStreams>", "well-formed");
    /* too large */
    size_t big = GB_MTC_DOC_MAX + 1;
    char *buf = malloc(big);
    memset(buf, ' ', big);
    gb_mtc_doc_t *d;
    const char *why;
    assert_int_equal(gb_mtc_parse(buf, big, &d, &why), GB_EPROTO);
    assert_non_null(strstr(why, "larger"));
    free(buf);
}

static void test_limits(void **state)
{
    (void)state;
    /* a value longer than the limit is cut and marked */
    size_t n = GB_MTC_VALUE_MAX + 100;
    char *doc = malloc(n + 1024);
    int k = sprintf(doc, "<MTConnectStreams><Header instanceId='1' firstSequence='1' "
                         "lastSequence='1' nextSequence='2'/><Streams><DeviceStream name='d' "
                         "uuid='u'><ComponentStream component='P' name='p' componentId='p'>"
                         "<Events><Block dataItemId='b' sequence='1' "
                         "timestamp='2021-10-12T03:57:31Z'>");
    memset(doc + k, 'x', n);
    k += (int)n;
    k += sprintf(doc + k, "</Block></Events></ComponentStream></DeviceStream></Streams>"
                          "</MTConnectStreams>");
    gb_mtc_doc_t *d;
    assert_int_equal(gb_mtc_parse(doc, (size_t)k, &d, NULL), 0);
    assert_int_equal(d->obs[0].value_len, GB_MTC_VALUE_MAX);
    assert_true(d->obs[0].truncated);
    assert_int_equal(strlen(d->obs[0].value), GB_MTC_VALUE_MAX);
    gb_mtc_doc_free(d);
    /* an identifier longer than the limit spoils its observation only */
    memset(doc, 0, 16);
    k = sprintf(doc, "<MTConnectStreams><Header instanceId='1' firstSequence='1' "
                     "lastSequence='1' nextSequence='2'/><Streams><DeviceStream name='d' "
                     "uuid='u'><ComponentStream component='P' name='p' componentId='p'>"
                     "<Events><Block dataItemId='");
    memset(doc + k, 'i', GB_MTC_ATTR_MAX + 1);
    k += GB_MTC_ATTR_MAX + 1;
    k += sprintf(doc + k, "' sequence='1' timestamp='2021-10-12T03:57:31Z'>x</Block></Events>"
                          "</ComponentStream></DeviceStream></Streams></MTConnectStreams>");
    assert_int_equal(gb_mtc_parse(doc, (size_t)k, &d, NULL), 0);
    assert_int_equal(d->nobs, 0);
    assert_int_equal(d->skipped, 1);
    gb_mtc_doc_free(d);
    free(doc);
    assert_string_equal(gb_mtc_category_name(GB_MTC_CONDITION), "CONDITION");
    gb_mtc_doc_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_2_0),
        cmocka_unit_test(test_conditions),
        cmocka_unit_test(test_series_sets_tables),
        cmocka_unit_test(test_current_1_3),
        cmocka_unit_test(test_probe),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_bad_observations),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
