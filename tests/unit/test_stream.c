/*
 * The live-stream hub: events come out in order with growing numbers, a client's filter lets
 * through only what it asked for, a client that resumes after an event the ring has forgotten
 * gets a `reset` first, and waiting clients are woken by new events and by closing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gemba/error.h"
#include "gemba/plant.h"
#include "gemba/stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const PLANT =
    "site: {name: s1, timezone: UTC}\n"
    "areas: [{name: a, lines: [{name: l, machines: [\n"
    "  {name: m1, counts: {total: parts}, tags: [{name: parts, type: int}, {name: temp, type: float},\n"
    "                                            {name: mode, type: string}]},\n"
    "  {name: m2, tags: [{name: temp, type: float}]}]}]}]\n";

typedef struct fix {
    gb_plant_t *p;
    gb_tags_t *tags;
    gb_stream_t *s;
} fix_t;

static int setup(void **state)
{
    fix_t *f = calloc(1, sizeof *f);
    gb_diag_t d;
    gb_diag_init(&d, "p.yaml");
    assert_int_equal(gb_plant_load_mem("p.yaml", PLANT, strlen(PLANT), &f->p, &d), 0);
    gb_diag_clear(&d);
    f->tags = gb_plant_build_tags(f->p);
    f->s = gb_stream_new(f->p, f->tags);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fix_t *f = *state;
    gb_stream_free(f->s);
    gb_tags_free(f->tags);
    gb_plant_free(f->p);
    free(f);
    return 0;
}

static uint32_t tag(fix_t *f, const char *path)
{
    const gb_tag_t *t = gb_tags_find(f->tags, path);
    assert_non_null(t);
    return t->id;
}

static int count(const char *text, const char *what)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, what)); p++) n++;
    return n;
}

static void test_order_and_filter(void **state)
{
    fix_t *f = *state;
    gb_batch_t *b = gb_batch_new(8);
    gb_batch_add_i64(b, 1000, tag(f, "m1/parts"), GB_Q_GOOD, 7);
    gb_batch_add_f64(b, 1000, tag(f, "m1/temp"), GB_Q_GOOD, 41.5);
    gb_batch_add_f64(b, 2000, tag(f, "m2/temp"), GB_Q_BAD, 0.1);
    gb_batch_add_str(b, 3000, tag(f, "m1/mode"), GB_Q_GOOD, "say \"hi\"\n", 9);
    gb_stream_batch(f->s, b);
    gb_batch_free(b);
    /* every sample is an event, and the counter one more: 5 in all */
    assert_int_equal(gb_stream_last_id(f->s), 5);

    char out[8192];
    uint64_t after = 0;
    gb_stream_filter_t none = {0};
    size_t n = gb_stream_collect(f->s, &after, &none, out, sizeof out - 1);
    out[n] = 0;
    assert_int_equal(after, 5);
    /* without tags asked for: only the count */
    assert_int_equal(count(out, "event: "), 1);
    assert_non_null(strstr(out, "id: 2\nevent: count\ndata: {\"machine\":\"m1\",\"t\":\"1970-01-01T00:00:00.000001Z\",\"counter\":\"total\",\"value\":7}\n\n"));

    gb_stream_filter_t flt;
    char err[200];
    assert_int_equal(gb_stream_filter_parse(f->s, "m1/temp,m1/mode", NULL, &flt, err, sizeof err), 0);
    after = 0;
    n = gb_stream_collect(f->s, &after, &flt, out, sizeof out - 1);
    out[n] = 0;
    assert_int_equal(count(out, "event: sample"), 2);
    assert_non_null(strstr(out, "\"v\":41.5,\"q\":\"good\""));
    assert_non_null(strstr(out, "\"v\":\"say \\\"hi\\\"\\n\"")); /* JSON-escaped text */
    assert_null(strstr(out, "m2/temp"));
    gb_stream_filter_clear(&flt);

    /* by machine: m2 only */
    assert_int_equal(gb_stream_filter_parse(f->s, "*", "m2", &flt, err, sizeof err), 0);
    after = 0;
    n = gb_stream_collect(f->s, &after, &flt, out, sizeof out - 1);
    out[n] = 0;
    assert_int_equal(count(out, "event: "), 1);
    assert_non_null(strstr(out, "\"q\":\"bad\""));
    gb_stream_filter_clear(&flt);

    /* unknown names are refused with their name */
    assert_int_equal(gb_stream_filter_parse(f->s, "m1/nope", NULL, &flt, err, sizeof err), GB_ENOENT);
    assert_non_null(strstr(err, "m1/nope"));
    assert_int_equal(gb_stream_filter_parse(f->s, NULL, "m9", &flt, err, sizeof err), GB_ENOENT);

    /* a small buffer takes whole events only, and the rest comes next time */
    after = 0;
    assert_int_equal(gb_stream_filter_parse(f->s, "*", NULL, &flt, err, sizeof err), 0);
    n = gb_stream_collect(f->s, &after, &flt, out, 200);
    assert_true(n > 0 && n <= 200);
    assert_true(after < 5);
    uint64_t mid = after;
    n = gb_stream_collect(f->s, &after, &flt, out, sizeof out);
    assert_true(n > 0);
    assert_true(after > mid);
    gb_stream_filter_clear(&flt);
}

static void test_resume_and_reset(void **state)
{
    fix_t *f = *state;
    gb_batch_t *b = gb_batch_new(GB_STREAM_RING_EVENTS + 10);
    for (int i = 0; i < GB_STREAM_RING_EVENTS + 10; i++)
        gb_batch_add_f64(b, i, tag(f, "m2/temp"), GB_Q_GOOD, i);
    gb_stream_batch(f->s, b);
    gb_batch_free(b);
    uint64_t last = gb_stream_last_id(f->s);
    assert_int_equal(last, GB_STREAM_RING_EVENTS + 10);
    /* resuming inside the ring: exactly what follows, nothing else */
    gb_stream_filter_t all = {.all_tags = true};
    char *out = malloc(1 << 20);
    uint64_t after = last - 2;
    size_t n = gb_stream_collect(f->s, &after, &all, out, 1 << 20);
    out[n] = 0;
    char want[64];
    snprintf(want, sizeof want, "id: %llu\n", (unsigned long long)(last - 1));
    assert_ptr_equal(strstr(out, "id: "), out);
    assert_non_null(strstr(out, want));
    assert_int_equal(count(out, "event: "), 2);
    /* resuming before the ring: a reset first, then from the oldest kept */
    after = 3;
    n = gb_stream_collect(f->s, &after, &all, out, 4096);
    out[n] = 0;
    assert_non_null(strstr(out, "event: reset\n"));
    snprintf(want, sizeof want, "id: %llu\nevent: reset", (unsigned long long)(last - GB_STREAM_RING_EVENTS));
    assert_non_null(strstr(out, want));
    free(out);
}

static int woken;
static void wake(void *ctx)
{
    (void)ctx;
    woken++;
}

static void test_wait_and_close(void **state)
{
    fix_t *f = *state;
    gb_stream_push(f->s, "downtime", GB_NONE, "{}");
    uint64_t last = gb_stream_last_id(f->s);
    assert_int_equal(last, 1);
    woken = 0;
    /* behind already: no wait */
    assert_false(gb_stream_wait(f->s, last - 1, wake, NULL));
    assert_true(gb_stream_wait(f->s, last, wake, NULL));
    gb_stream_push(f->s, "downtime", GB_NONE, "{\"machine\":\"m1\"}");
    assert_int_equal(woken, 1);
    /* a wake-up fires once, and can be taken back */
    gb_stream_push(f->s, "downtime", GB_NONE, "{}");
    assert_int_equal(woken, 1);
    assert_true(gb_stream_wait(f->s, gb_stream_last_id(f->s), wake, &woken));
    gb_stream_unwait(f->s, &woken);
    gb_stream_push(f->s, "downtime", GB_NONE, "{}");
    assert_int_equal(woken, 1);
    /* closing wakes everyone and refuses new waits */
    assert_true(gb_stream_wait(f->s, gb_stream_last_id(f->s), wake, NULL));
    gb_stream_close(f->s);
    assert_int_equal(woken, 2);
    assert_true(gb_stream_closing(f->s));
    assert_false(gb_stream_wait(f->s, gb_stream_last_id(f->s), wake, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_order_and_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume_and_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_and_close, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
