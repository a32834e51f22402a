/* The bus: push-back from a full blocking consumer, exact drop counts, late marks, transforms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gemba/bus.h"
#include "gemba/error.h"
#include "gemba/time.h"

#include <pthread.h>
#include <string.h>

static gb_tags_t *registry(void)
{
    gb_tags_t *r = gb_tags_new();
    uint32_t site, area, line, m;
    assert_int_equal(gb_tags_add_asset(r, GB_ASSET_SITE, GB_NONE, "plant1", &site), 0);
    assert_int_equal(gb_tags_add_asset(r, GB_ASSET_AREA, site, "machining", &area), 0);
    assert_int_equal(gb_tags_add_asset(r, GB_ASSET_LINE, area, "line1", &line), 0);
    assert_int_equal(gb_tags_add_asset(r, GB_ASSET_MACHINE, line, "cnc07", &m), 0);
    gb_tag_t load = {.name = "spindle_load", .type = GB_VT_F64, .scale = 0.1, .offset = 2,
                     .adapter = GB_NONE};
    gb_tag_t temp = {.name = "temperature", .type = GB_VT_F64, .scale = 1, .deadband = 0.5,
                     .adapter = GB_NONE};
    gb_tag_t parts = {.name = "part_count", .type = GB_VT_I64, .adapter = GB_NONE};
    gb_tag_t exec = {.name = "execution", .type = GB_VT_STR, .adapter = GB_NONE};
    assert_int_equal(gb_tags_add(r, m, &load, NULL), 0);
    assert_int_equal(gb_tags_add(r, m, &temp, NULL), 0);
    assert_int_equal(gb_tags_add(r, m, &parts, NULL), 0);
    assert_int_equal(gb_tags_add(r, m, &exec, NULL), 0);
    return r;
}

/* A consumer that waits on a gate: it takes nothing until the test opens it. */
typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool open;
    uint64_t got;
    int fail_first; /* return an error this many times first */
    double last_f64;
    uint8_t flags_seen;
} gate_t;

static int gate_deliver(void *ctx, const gb_batch_t *b)
{
    gate_t *g = ctx;
    pthread_mutex_lock(&g->mu);
    while (!g->open) pthread_cond_wait(&g->cv, &g->mu);
    if (g->fail_first > 0) {
        g->fail_first--;
        pthread_mutex_unlock(&g->mu);
        return GB_ENOSPC;
    }
    g->got += b->n;
    for (size_t i = 0; i < b->n; i++) {
        g->flags_seen |= b->samples[i].flags;
        if (b->samples[i].type == GB_VT_F64) g->last_f64 = b->samples[i].v.f64;
    }
    pthread_mutex_unlock(&g->mu);
    return 0;
}

static const gb_consumer_ops_t gate_ops = {GB_CONSUMER_API_VERSION, gate_deliver, NULL};

static void gate_init(gate_t *g, bool open)
{
    memset(g, 0, sizeof *g);
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->open = open;
}

static void gate_open(gate_t *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static gb_batch_t *batch_of(size_t n, gb_time_t t0)
{
    gb_batch_t *b = gb_batch_new(n);
    for (size_t i = 0; i < n; i++) gb_batch_add_i64(b, t0 + (gb_time_t)i, 2, GB_Q_GOOD, (int64_t)i);
    return b;
}

/* A blocking consumer that stops taking data pushes back on the publisher: GB_EBUSY, the batch
 * stays with the caller, and once the consumer moves again everything arrives. */
static void test_block_pushes_back(void **state)
{
    (void)state;
    gb_tags_t *r = registry();
    gb_bus_t *bus = gb_bus_new(r);
    gate_t g;
    gate_init(&g, false);
    assert_int_equal(gb_bus_subscribe(bus, "slow", GB_BUS_BLOCK, 100, &gate_ops, &g), 0);
    assert_int_equal(gb_bus_start(bus), 0);
    uint64_t accepted = 0;
    gb_time_t t = 1000;
    /* the first batch is held at the gate (it counts as queued until delivered); the second
     * fills the queue to its bound of 100 */
    for (int i = 0; i < 2; i++) {
        gb_batch_t *b = batch_of(50, t);
        t += 50;
        assert_int_equal(gb_bus_publish(bus, b, 10 * GB_NS_PER_MS), 0);
        accepted += 50;
    }
    gb_batch_t *b = batch_of(50, t);
    t += 50;
    assert_int_equal(gb_bus_publish(bus, b, 20 * GB_NS_PER_MS), GB_EBUSY);
    gb_bus_stats_t tot;
    gb_consumer_stats_t cs[1];
    assert_int_equal(gb_bus_stats(bus, &tot, cs, 1), 1);
    assert_int_equal(tot.rejected, 50);
    assert_int_equal(cs[0].blocked, 1);
    assert_int_equal(cs[0].dropped, 0);
    assert_true(cs[0].queued <= 100);
    /* the refused batch is still ours: retry after the consumer moves */
    gate_open(&g);
    assert_int_equal(gb_bus_publish(bus, b, 5 * GB_NS_PER_S), 0);
    accepted += 50;
    uint64_t lost = 1;
    assert_int_equal(gb_bus_stop(bus, gb_mono_ns() + GB_NS_PER_S, &lost), 0);
    assert_int_equal(lost, 0);
    assert_int_equal(g.got, accepted);
    gb_bus_stats(bus, &tot, cs, 1);
    assert_int_equal(tot.published, accepted);
    assert_int_equal(cs[0].delivered, accepted);
    gb_bus_free(bus);
    gb_tags_free(r);
}

/* A dropping consumer that is full loses exactly the samples it could not queue, and the counter
 * says exactly how many; a blocking consumer beside it gets everything. */
static void test_drop_counts_exactly(void **state)
{
    (void)state;
    gb_tags_t *r = registry();
    gb_bus_t *bus = gb_bus_new(r);
    gate_t slow, fast;
    gate_init(&slow, false);
    gate_init(&fast, true);
    assert_int_equal(gb_bus_subscribe(bus, "view", GB_BUS_DROP, 100, &gate_ops, &slow), 0);
    assert_int_equal(gb_bus_subscribe(bus, "store", GB_BUS_BLOCK, 100000, &gate_ops, &fast), 0);
    assert_int_equal(gb_bus_start(bus), 0);
    gb_time_t t = 0;
    for (int i = 0; i < 40; i++) {
        assert_int_equal(gb_bus_publish(bus, batch_of(30, t), GB_NS_PER_S), 0);
        t += 30;
    }
    gb_consumer_stats_t cs[2];
    gb_bus_stats_t tot;
    gb_bus_stats(bus, &tot, cs, 2);
    /* the view holds at most 100 queued plus the batch at its gate; the rest is counted */
    uint64_t held = cs[0].queued;
    assert_true(held <= 100);
    assert_int_equal(tot.published, 1200);
    gate_open(&slow);
    assert_int_equal(gb_bus_stop(bus, gb_mono_ns() + GB_NS_PER_S, NULL), 0);
    gb_bus_stats(bus, &tot, cs, 2);
    assert_int_equal(cs[0].delivered + cs[0].dropped, 1200);
    assert_int_equal(slow.got, cs[0].delivered);
    assert_true(cs[0].dropped >= 1200 - 130);
    assert_int_equal(cs[1].dropped, 0);
    assert_int_equal(fast.got, 1200);
    gb_bus_free(bus);
    gb_tags_free(r);
}

/* A consumer whose deliver() fails keeps the batch and gets it again: errors become retries. */
static void test_failing_consumer_retries(void **state)
{
    (void)state;
    gb_tags_t *r = registry();
    gb_bus_t *bus = gb_bus_new(r);
    gate_t g;
    gate_init(&g, true);
    g.fail_first = 3;
    assert_int_equal(gb_bus_subscribe(bus, "disk", GB_BUS_BLOCK, 1000, &gate_ops, &g), 0);
    assert_int_equal(gb_bus_start(bus), 0);
    assert_int_equal(gb_bus_publish(bus, batch_of(10, 0), GB_NS_PER_S), 0);
    assert_int_equal(gb_bus_stop(bus, gb_mono_ns() + 5 * GB_NS_PER_S, NULL), 0);
    gb_consumer_stats_t cs[1];
    gb_bus_stats(bus, NULL, cs, 1);
    assert_int_equal(cs[0].errors, 3);
    assert_int_equal(cs[0].delivered, 10);
    assert_int_equal(g.got, 10);
    gb_bus_free(bus);
    gb_tags_free(r);
}

/* A consumer still failing at the shutdown deadline reports exactly what it did not store. */
static void test_shutdown_deadline_counts_loss(void **state)
{
    (void)state;
    gb_tags_t *r = registry();
    gb_bus_t *bus = gb_bus_new(r);
    gate_t g;
    gate_init(&g, true);
    g.fail_first = 1000000;
    assert_int_equal(gb_bus_subscribe(bus, "disk", GB_BUS_BLOCK, 1000, &gate_ops, &g), 0);
    assert_int_equal(gb_bus_start(bus), 0);
    assert_int_equal(gb_bus_publish(bus, batch_of(7, 0), GB_NS_PER_S), 0);
    assert_int_equal(gb_bus_publish(bus, batch_of(5, 100), GB_NS_PER_S), 0);
    uint64_t lost = 0;
    assert_int_equal(gb_bus_stop(bus, gb_mono_ns() + 50 * GB_NS_PER_MS, &lost), GB_ETIMEDOUT);
    assert_int_equal(lost, 12);
    gb_batch_t *late = batch_of(1, 0);
    assert_int_equal(gb_bus_publish(bus, late, 0), GB_ECLOSED);
    gb_batch_free(late);
    gb_bus_free(bus);
    gb_tags_free(r);
}

/* Scale/offset, deadband, late marks and validation, checked by hand. */
static void test_transforms(void **state)
{
    (void)state;
    gb_tags_t *r = registry();
    gb_bus_t *bus = gb_bus_new(r);
    gate_t g;
    gate_init(&g, true);
    assert_int_equal(gb_bus_subscribe(bus, "c", GB_BUS_BLOCK, 1000, &gate_ops, &g), 0);
    assert_int_equal(gb_bus_start(bus), 0);

    /* raw register 500 on spindle_load (scale 0.1, offset 2) -> 52.0 */
    gb_batch_t *b = gb_batch_new(4);
    gb_batch_add_i64(b, 10, 0, GB_Q_GOOD, 500);
    assert_int_equal(gb_bus_publish(bus, b, GB_NS_PER_S), 0);

    /* temperature deadband 0.5: 20.0 kept, 20.3 filtered, 20.6 kept, 20.2 filtered (vs 20.6) */
    b = gb_batch_new(4);
    gb_batch_add_f64(b, 10, 1, GB_Q_GOOD, 20.0);
    gb_batch_add_f64(b, 11, 1, GB_Q_GOOD, 20.3);
    gb_batch_add_f64(b, 12, 1, GB_Q_GOOD, 20.6);
    gb_batch_add_f64(b, 13, 1, GB_Q_GOOD, 20.2);
    assert_int_equal(gb_bus_publish(bus, b, GB_NS_PER_S), 0);

    /* a sample older than one already seen for the tag is marked late, still delivered */
    b = gb_batch_new(1);
    gb_batch_add_i64(b, 5, 0, GB_Q_GOOD, 100);
    assert_int_equal(gb_bus_publish(bus, b, GB_NS_PER_S), 0);

    /* unknown tag and wrong type are refused whole, and the batch stays the caller's */
    b = gb_batch_new(2);
    gb_batch_add_i64(b, 20, 2, GB_Q_GOOD, 1);
    gb_batch_add_i64(b, 20, 99, GB_Q_GOOD, 1);
    assert_int_equal(gb_bus_publish(bus, b, GB_NS_PER_S), GB_EINVAL);
    gb_batch_free(b);
    b = gb_batch_new(1);
    gb_batch_add_bool(b, 20, 3, GB_Q_GOOD, true);
    assert_int_equal(gb_bus_publish(bus, b, GB_NS_PER_S), GB_EINVAL);
    gb_batch_free(b);

    assert_int_equal(gb_bus_stop(bus, gb_mono_ns() + GB_NS_PER_S, NULL), 0);
    gb_bus_stats_t tot;
    gb_consumer_stats_t cs[1];
    gb_bus_stats(bus, &tot, cs, 1);
    assert_int_equal(tot.published, 4); /* 1 + 2 kept temperatures + 1 late */
    assert_int_equal(tot.filtered, 2);
    assert_int_equal(tot.late, 1);
    assert_int_equal(tot.invalid, 3);
    assert_int_equal(cs[0].late, 1);
    assert_int_equal(g.got, 4);
    assert_true(g.flags_seen & GB_SAMPLE_LATE);
    /* the late raw 100 -> 12.0 was the last float delivered */
    assert_float_equal(g.last_f64, 12.0, 1e-12);
    gb_bus_free(bus);
    gb_tags_free(r);
}

static void test_registry_lookup(void **state)
{
    (void)state;
    gb_tags_t *r = registry();
    const gb_tag_t *t = gb_tags_find(r, "plant1/machining/line1/cnc07/part_count");
    assert_non_null(t);
    assert_int_equal(t->id, 2);
    assert_ptr_equal(gb_tags_find(r, "cnc07/part_count"), t);
    assert_ptr_equal(gb_tags_get(r, 2), t);
    assert_null(gb_tags_find(r, "cnc07/nope"));
    assert_null(gb_tags_get(r, 4));
    const gb_asset_t *m = gb_tags_find_asset(r, "cnc07");
    assert_non_null(m);
    assert_string_equal(m->path, "plant1/machining/line1/cnc07");
    assert_ptr_equal(gb_tags_find_asset(r, "plant1/machining/line1/cnc07"), m);
    /* machine names are unique in the plant; tag names per machine */
    assert_int_equal(gb_tags_add_asset(r, GB_ASSET_MACHINE, 2, "cnc07", NULL), GB_EEXIST);
    gb_tag_t dup = {.name = "execution", .type = GB_VT_STR};
    assert_int_equal(gb_tags_add(r, m->id, &dup, NULL), GB_EEXIST);
    assert_int_equal(gb_tags_add_asset(r, GB_ASSET_MACHINE, 2, "bad/name", NULL), GB_EINVAL);
    gb_tags_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_pushes_back),
        cmocka_unit_test(test_drop_counts_exactly),
        cmocka_unit_test(test_failing_consumer_retries),
        cmocka_unit_test(test_shutdown_deadline_counts_loss),
        cmocka_unit_test(test_transforms),
        cmocka_unit_test(test_registry_lookup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
