/*
 * The OEE engine against numbers worked out by hand from ISO 22400-2's definitions (docs/oee.md).
 * Times in the comments are local (Europe/Berlin); the arithmetic is in minutes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gemba/calendar.h"
#include "gemba/error.h"
#include "gemba/oee.h"
#include "gemba/oee_live.h"
#include "gemba/oee_report.h"
#include "gemba/store.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const PLANT =
    "site: {name: s1, timezone: Europe/Berlin}\n"
    "reasons:\n"
    "  planned: [maintenance]\n"
    "  unplanned: {tooling: [breakage]}\n"
    "state_rules:\n"
    "  default:\n"
    "    - {name: manual mode, state: setup, when: {tag: mode, eq: MANUAL}}\n"
    "    - {name: stopped, state: down, when: {tag: execution, eq: STOPPED}}\n"
    "    - {name: cutting, state: running, when: {tag: execution, eq: ACTIVE}}\n"
    "    - {state: idle, when: always}\n"
    "oee: {late_window: 9h}\n"
    "calendar:\n"
    "  shifts:\n"
    "    - {name: day, days: [mon-fri], start: \"06:00\", end: \"14:00\",\n"
    "       breaks: [{start: \"10:00\", duration: 15m}]}\n"
    "    - {name: night, days: [sat], start: \"22:00\", end: \"06:00\"}\n"
    "areas: [{name: a, lines: [{name: l, machines: [\n"
    "  {name: m1, ideal_cycle_time: 60s, disconnected_after: 2h,\n"
    "   counts: {total: part_count, scrap: scrap_count},\n"
    "   tags: [{name: execution, type: string}, {name: mode, type: string},\n"
    "          {name: part_count, type: int}, {name: scrap_count, type: int}]},\n"
    "  {name: m2, ideal_cycle_time: 30s, disconnected_after: 10m,\n"
    "   counts: {total: count, counter_max: 65535},\n"
    "   tags: [{name: execution, type: string}, {name: mode, type: string},\n"
    "          {name: count, type: int}]}\n"
    "]}]}]\n";

static gb_plant_t *plant;
enum { EXEC, MODE, PARTS, SCRAP };

static int setup(void **state)
{
    (void)state;
    gb_diag_t d;
    gb_diag_init(&d, "plant");
    int rc = gb_plant_load_mem("plant", PLANT, strlen(PLANT), &plant, &d);
    if (rc) gb_diag_print(&d, stderr);
    gb_diag_clear(&d);
    assert_int_equal(rc, 0);
    assert_int_equal(gb_tz_set("Europe/Berlin"), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    gb_plant_free(plant);
    return 0;
}

/* Local time on a date, e.g. at(20261123, "07:30"). */
static gb_time_t at(int day, const char *hhmm)
{
    int min;
    assert_int_equal(gb_clock_parse(hhmm, &min), 0);
    return gb_tz_local_to_utc(day, min);
}

static void str(gb_mengine_t *e, gb_time_t t, uint32_t tag, const char *v)
{
    gb_value_t val = {.type = GB_VT_STR, .str = v, .len = strlen(v)};
    assert_int_equal(gb_mengine_feed(e, t, tag, &val), 0);
}

static void num(gb_mengine_t *e, gb_time_t t, uint32_t tag, int64_t v)
{
    gb_value_t val = {.type = GB_VT_I64, .i64 = v};
    assert_int_equal(gb_mengine_feed(e, t, tag, &val), 0);
}

#define MIN 60.0
#define near(a, b) assert_float_equal((a), (b), 1e-9)

/*
 * Monday 2026-11-23, shift 06:00-14:00 (480 min), break 10:00-10:15.
 *   06:00-07:00 running 60 | 07:00-07:30 down 30 (failure) | 07:30-08:00 running 30
 *   08:00-08:01 idle 1 (micro-stop) | 08:01-09:00 running 59 | 09:00-09:20 setup 20
 *   09:20-10:00 running 40 | 10:00-10:15 break 15 | 10:15-11:00 running 45
 *   11:00-11:10 idle 10 (stop) | 11:10-12:00 running 50
 *   12:00-12:20 down 20, classified unplanned then reclassified planned/maintenance
 *   12:20-14:00 running 100
 * APT = 384 running + 1 micro = 385; AUST 20; ADET 30; ADOT 10; PDOT 15 + 20 = 35 -> sums to 480.
 * Parts: counter 100 -> 150 (07:00) -> 200 (09:00) -> reset to 0 (09:20) -> 100 (13:00): PQ 200.
 * Scrap counter 5 -> 15 (+10), operator scrap 3: SQ 13, GQ 187. PRI 60 s.
 */
static gb_mengine_t *monday(void)
{
    int d = 20261123;
    gb_mengine_t *e = gb_mengine_new(plant, &plant->machines[0], at(d, "00:00"));
    str(e, at(d, "05:50"), EXEC, "READY");
    str(e, at(d, "05:50"), MODE, "AUTOMATIC");
    num(e, at(d, "05:50"), PARTS, 100);
    num(e, at(d, "05:50"), SCRAP, 5);
    str(e, at(d, "06:00"), EXEC, "ACTIVE");
    str(e, at(d, "07:00"), EXEC, "STOPPED");
    num(e, at(d, "07:00"), PARTS, 150);
    str(e, at(d, "07:30"), EXEC, "ACTIVE");
    str(e, at(d, "08:00"), EXEC, "READY");
    str(e, at(d, "08:01"), EXEC, "ACTIVE");
    str(e, at(d, "09:00"), MODE, "MANUAL");
    num(e, at(d, "09:00"), PARTS, 200);
    str(e, at(d, "09:20"), MODE, "AUTOMATIC");
    num(e, at(d, "09:20"), PARTS, 0);
    str(e, at(d, "11:00"), EXEC, "READY");
    str(e, at(d, "11:10"), EXEC, "ACTIVE");
    str(e, at(d, "12:00"), EXEC, "STOPPED");
    assert_int_equal(gb_mengine_reason(e, at(d, "12:05"), "unplanned/tooling/breakage", "bob", 1), 0);
    str(e, at(d, "12:20"), EXEC, "ACTIVE");
    assert_int_equal(gb_mengine_reason(e, at(d, "12:30"), "planned/maintenance", "carol", 2), 0);
    assert_int_equal(gb_mengine_scrap(e, at(d, "12:30"), 3, "dave"), 0);
    num(e, at(d, "13:00"), PARTS, 100);
    num(e, at(d, "13:00"), SCRAP, 15);
    str(e, at(d, "14:00"), EXEC, "READY");
    return e;
}

static void test_shift_by_hand(void **state)
{
    (void)state;
    int d = 20261123;
    gb_mengine_t *e = monday();
    gb_time_t from = at(d, "00:00"), to = at(20261124, "00:00");
    gb_plan_t plan;
    gb_plan_build(plant, from, to, &plan);
    gb_oee_t k = {.ideal_known = true};
    gb_mengine_oee(e, &plan, from, to, NULL, &k);
    gb_oee_finish(&k);
    near(k.pot, 480 * MIN);
    near(k.pdot, 35 * MIN);
    near(k.pbt, 445 * MIN);
    near(k.apt, 385 * MIN);
    near(k.micro, 1 * MIN);
    near(k.aust, 20 * MIN);
    near(k.adet, 30 * MIN);
    near(k.adet_down, 30 * MIN);
    near(k.adot, 10 * MIN);
    near(k.outside_run, 0);
    assert_int_equal(k.pq, 200);
    assert_int_equal(k.sq, 13);
    assert_int_equal(k.gq, 187);
    near(k.ideal, 200 * MIN);
    near(k.availability, 385.0 / 445);
    near(k.effectiveness, 200.0 / 385);
    near(k.quality, 187.0 / 200);
    near(k.oee, 187.0 / 445);
    /* property: A x E x Q = GQ x PRI / PBT (one PRI) */
    near(k.oee, 187 * MIN / k.pbt);
    near(k.nee, 405.0 / 445 * 200.0 / 385 * 187.0 / 200);
    near(k.setup_ratio, 20.0 / 405);
    near(k.scrap_ratio, 13.0 / 200);
    near(k.allocation, 435.0 / 445);
    near(k.utilisation, 385.0 / 435);
    near(k.technical, 385.0 / 415);
    assert_int_equal(k.failures, 1);
    assert_int_equal(k.stops, 2);
    assert_int_equal(k.micro_stops, 1);
    near(k.mtbf, 405 * MIN);
    near(k.mttr, 30 * MIN);
    /* the six big losses, and their identity: PBT = fully productive time + losses */
    near(k.loss_breakdowns, 40 * MIN);
    near(k.loss_setup, 20 * MIN);
    near(k.loss_small_stops, 1 * MIN);
    near(k.loss_reduced_speed, 184 * MIN);
    near(k.loss_rejects, 13 * MIN);
    near(187 * MIN + k.loss_breakdowns + k.loss_setup + k.loss_small_stops +
             k.loss_reduced_speed + k.loss_rejects,
         k.pbt);

    /* the timeline says why: the 07:00 stop came from the rule "stopped" */
    const gb_seg_t *seg;
    size_t n = gb_mengine_timeline(e, to, &seg);
    bool found = false;
    for (size_t i = 0; i < n; i++) {
        if (seg[i].start != at(d, "07:00")) continue;
        found = true;
        assert_int_equal(seg[i].state, GB_STATE_DOWN);
        assert_int_equal(seg[i].end, at(d, "07:30"));
        char name[64];
        gb_mengine_rule_name(e, seg[i].rule, name, sizeof name);
        assert_string_equal(name, "stopped");
    }
    assert_true(found);
    /* the first segment: no data until 05:50 */
    assert_int_equal(seg[0].state, GB_STATE_DISCONNECTED);
    assert_int_equal(seg[0].rule, GB_RULE_NODATA);
    assert_int_equal(seg[0].end, at(d, "05:50"));
    /* after the last sample (14:00) the machine is disconnected from 16:00 */
    assert_int_equal(seg[n - 1].state, GB_STATE_DISCONNECTED);
    assert_int_equal(seg[n - 1].start, at(d, "16:00"));

    /* the reclassified stop keeps its history */
    const gb_stop_t *stops;
    size_t ns = gb_mengine_stops(e, to, &stops);
    const gb_stop_t *noon = NULL;
    for (size_t i = 0; i < ns; i++)
        if (stops[i].start == at(d, "12:00")) noon = &stops[i];
    assert_non_null(noon);
    assert_int_equal(noon->nchanges, 2);
    assert_string_equal(noon->last_change->who, "carol");
    assert_string_equal(plant->reasons[noon->reason].path, "planned/maintenance");
    assert_false(noon->micro);
    gb_plan_clear(&plan);
    gb_mengine_free(e);
}

/* Per shift and per day give the same numbers as the whole window when only one shift ran. */
static void test_filters(void **state)
{
    (void)state;
    int d = 20261123;
    gb_mengine_t *e = monday();
    gb_time_t from = at(d, "00:00"), to = at(20261124, "00:00");
    gb_plan_t plan;
    gb_plan_build(plant, from, to, &plan);
    assert_int_equal(plan.nshifts, 1);
    gb_oee_t all = {.ideal_known = true}, one = {.ideal_known = true}, day = {.ideal_known = true},
             other = {.ideal_known = true};
    gb_mengine_oee(e, &plan, from, to, NULL, &all);
    gb_oee_filter_t f1 = {.shift = &plan.shifts[0]};
    gb_mengine_oee(e, &plan, from, to, &f1, &one);
    gb_oee_filter_t f2 = {.day = d};
    gb_mengine_oee(e, &plan, from, to, &f2, &day);
    gb_oee_filter_t f3 = {.day = 20261124};
    gb_mengine_oee(e, &plan, from, to, &f3, &other);
    near(one.apt, all.apt);
    near(day.pbt, all.pbt);
    assert_int_equal(day.gq, all.gq);
    near(other.pot, 0);
    assert_int_equal(other.pq, 0);
    /* roll-up of two identical machines: times and counts add, ratios stay */
    gb_oee_t sum = {.ideal_known = true};
    gb_mengine_oee(e, &plan, from, to, NULL, &sum);
    gb_mengine_oee(e, &plan, from, to, NULL, &sum);
    gb_oee_finish(&sum);
    gb_oee_finish(&all);
    near(sum.pbt, 2 * all.pbt);
    assert_int_equal(sum.pq, 400);
    near(sum.oee, all.oee);
    gb_plan_clear(&plan);
    gb_mengine_free(e);
}

/* The Saturday night shift, 22:00-06:00: 7 h when the clocks go forward (2026-03-29), 9 h when
 * they go back (2026-10-25), 8 h otherwise. A machine running throughout has A = 1. */
static void test_night_shift_across_dst(void **state)
{
    (void)state;
    struct { int sat; double hours; } cases[] = {{20260328, 7}, {20261024, 9}, {20261107, 8}};
    for (size_t c = 0; c < 3; c++) {
        int sat = cases[c].sat, sun = gb_date_add_days(sat, 1);
        gb_time_t from = at(sat, "12:00"), to = at(sun, "12:00");
        gb_plan_t plan;
        gb_plan_build(plant, from, to, &plan);
        assert_int_equal(plan.nshifts, 1);
        assert_int_equal(plan.shifts[0].start, at(sat, "22:00"));
        assert_int_equal(plan.shifts[0].end, at(sun, "06:00"));
        assert_int_equal(plan.shifts[0].day, sat);
        near((double)(plan.shifts[0].end - plan.shifts[0].start) / 3.6e12, cases[c].hours);
        gb_mengine_t *e = gb_mengine_new(plant, &plant->machines[0], from);
        str(e, at(sat, "21:00"), EXEC, "ACTIVE");
        num(e, at(sat, "21:00"), PARTS, 0);
        for (int h = 22; h < 30; h++) { /* hourly counts keep the machine connected */
            int day = h < 24 ? sat : sun;
            char hhmm[6];
            snprintf(hhmm, sizeof hhmm, "%02d:30", h % 24);
            num(e, at(day, hhmm), PARTS, (h - 21) * 40);
        }
        gb_oee_t k = {.ideal_known = true};
        gb_mengine_oee(e, &plan, from, to, NULL, &k);
        gb_oee_finish(&k);
        near(k.pot, cases[c].hours * 3600);
        near(k.apt, cases[c].hours * 3600);
        near(k.availability, 1.0);
        gb_plan_clear(&plan);
        gb_mengine_free(e);
    }
}

/* Counters: a repeated value adds nothing, a drop is a reset, a wrap past counter_max is not. */
static void test_counters(void **state)
{
    (void)state;
    int d = 20261124;
    gb_mengine_t *e = gb_mengine_new(plant, &plant->machines[1], at(d, "05:00"));
    enum { E2, M2, C2 };
    str(e, at(d, "05:55"), E2, "ACTIVE");
    num(e, at(d, "06:00"), C2, 65500);  /* baseline */
    num(e, at(d, "06:05"), C2, 65530);  /* +30 */
    num(e, at(d, "06:06"), C2, 65530);  /* repeated: +0 */
    num(e, at(d, "06:10"), C2, 4);      /* wrapped at 65535: +6 to 65535, +1 to 0, +4 = +10 */
    num(e, at(d, "06:15"), C2, 24);     /* +20 */
    num(e, at(d, "06:20"), C2, 24);     /* +0 */
    num(e, at(d, "06:25"), C2, 50);     /* +26 */
    gb_value_t late = {.type = GB_VT_I64, .i64 = 30};
    assert_int_equal(gb_mengine_feed(e, at(d, "06:21"), C2, &late), GB_ERANGE);
    gb_plan_t plan;
    gb_plan_build(plant, at(d, "00:00"), at(d, "23:00"), &plan);
    gb_oee_t k = {.ideal_known = true};
    gb_mengine_oee(e, &plan, at(d, "00:00"), at(d, "06:30"), NULL, &k);
    gb_oee_finish(&k);
    assert_int_equal(k.pq, 86);
    /* 30 s a part, 86 parts in the 30 minutes since 06:00 */
    near(k.ideal, 86 * 30.0);
    near(k.apt, 30 * MIN);
    near(k.effectiveness, 86 * 30.0 / (30 * MIN));
    gb_plan_clear(&plan);
    gb_mengine_free(e);
}

/* A machine that goes quiet is disconnected from disconnected_after on, and that time is ADET. */
static void test_disconnected(void **state)
{
    (void)state;
    int d = 20261124;
    gb_mengine_t *e = gb_mengine_new(plant, &plant->machines[1], at(d, "06:00"));
    str(e, at(d, "06:00"), 0, "ACTIVE");
    str(e, at(d, "07:00"), 0, "ACTIVE"); /* after 60 min of silence: disconnected 06:10-07:00 */
    gb_plan_t plan;
    gb_plan_build(plant, at(d, "00:00"), at(d, "23:00"), &plan);
    gb_oee_t k = {.ideal_known = true};
    gb_mengine_oee(e, &plan, at(d, "06:00"), at(d, "07:30"), NULL, &k);
    gb_oee_finish(&k);
    /* running 06:00-06:10 and 07:00-07:10; silent again from 07:00, so disconnected from 07:10 */
    near(k.apt, 20 * MIN);
    near(k.adet_disconnected, 50 * MIN + 20 * MIN);
    assert_int_equal(k.failures, 0);
    assert_int_equal(k.stops, 2);
    gb_state_t st;
    int32_t rule;
    gb_time_t since;
    gb_mengine_current(e, at(d, "07:05"), &st, &rule, &since);
    assert_int_equal(st, GB_STATE_RUNNING);
    gb_mengine_current(e, at(d, "07:20"), &st, &rule, &since);
    assert_int_equal(st, GB_STATE_DISCONNECTED);
    assert_int_equal(since, at(d, "07:10"));
    gb_plan_clear(&plan);
    gb_mengine_free(e);
}

static void test_job_files(void **state)
{
    (void)state;
    gb_diag_t d;
    gb_diag_init(&d, "jobs");
    gb_jobs_t jobs;
    const char *csv = "product,job,due,ideal_cycle_time,quantity,erp_note\n"
                      "P-1,A100,2026-12-01,1m30s,40,rush\n"
                      "P-2,A101,,,,\n";
    assert_int_equal(gb_jobs_parse(csv, strlen(csv), &jobs, &d), 0);
    assert_int_equal(jobs.n, 2);
    assert_string_equal(jobs.j[0].id, "A100");
    assert_string_equal(jobs.j[0].product, "P-1");
    assert_int_equal(jobs.j[0].ideal_ns, 90 * GB_NS_PER_S);
    assert_int_equal(jobs.j[0].quantity, 40);
    assert_int_equal(jobs.j[0].due, INT64_C(1796083200) * GB_NS_PER_S);
    assert_int_equal(jobs.j[1].ideal_ns, 0);
    assert_int_equal(gb_jobs_intern(&jobs, "A101"), 1);
    assert_int_equal(gb_jobs_intern(&jobs, "Z9"), 2);
    assert_string_equal(jobs.j[2].product, "Z9");
    gb_jobs_clear(&jobs);
    const char *json = "[{\"job\": \"B1\", \"product\": \"P-7\", \"quantity\": 12, "
                       "\"ideal_cycle_time\": \"45s\"}, {\"job\": 77}, {\"product\": \"x\"}]";
    assert_int_equal(gb_jobs_parse(json, strlen(json), &jobs, &d), GB_EINVAL);
    assert_int_equal(jobs.n, 2);
    assert_string_equal(jobs.j[1].id, "77");
    assert_int_equal(jobs.j[0].quantity, 12);
    assert_int_equal(d.n, 1); /* the third has no id */
    gb_jobs_clear(&jobs);
    gb_diag_clear(&d);
}

/* The live engine places late samples: the Monday shift with its 07:00-07:30 failure arriving
 * last -- after a reason was set on the 12:00 stop and scrap was entered -- gives exactly the
 * numbers worked out by hand, with those changes kept. WINDOW is the late window; LATE_SET picks
 * which samples come late: 0 the failure, 1 the afternoon's counts and restart (placed onto the
 * checkpoint even with a 2 h window), 2 nothing. */
/* The results a live engine writes, in the order written. */
typedef struct written {
    struct { gb_time_t t; uint32_t tag; double f; char s[16]; } *r;
    size_t n, cap;
} written_t;

static int collect(void *ctx, const gb_batch_t *b)
{
    written_t *w = ctx;
    for (size_t i = 0; i < b->n; i++) {
        if (w->n == w->cap) {
            w->cap = w->cap ? w->cap * 2 : 64;
            w->r = realloc(w->r, w->cap * sizeof *w->r);
        }
        const gb_sample_t *x = &b->samples[i];
        w->r[w->n].t = x->t;
        w->r[w->n].tag = x->tag;
        w->r[w->n].f = x->type == GB_VT_F64 ? x->v.f64 : 0;
        size_t len = 0;
        const char *str = x->type == GB_VT_STR ? gb_sample_str(b, x, &len) : "";
        snprintf(w->r[w->n].s, sizeof w->r[w->n].s, "%.*s", (int)len, str);
        w->n++;
    }
    return 0;
}

/* What a reader of the store sees for TAG at T: the value of the latest time at or before T, the
 * later write winning at equal times. NULL string and NAN for nothing. */
static const char *seen_at(const written_t *w, uint32_t tag, gb_time_t t, double *f)
{
    const char *s = NULL;
    gb_time_t best = INT64_MIN;
    *f = NAN;
    for (size_t i = 0; i < w->n; i++)
        if (w->r[i].tag == tag && w->r[i].t <= t && w->r[i].t >= best) {
            best = w->r[i].t;
            s = w->r[i].s;
            *f = w->r[i].f;
        }
    return s;
}

/* Asserts that W and REF read the same state of TAG minute by minute over [FROM, TO]; returns
 * how many of those minutes were in state COUNT. */
static size_t same_states(const written_t *w, const written_t *ref, uint32_t tag, gb_time_t from,
                          gb_time_t to, const char *count)
{
    size_t n = 0;
    for (gb_time_t t = from; t <= to; t += 60 * GB_NS_PER_S) {
        double f;
        const char *a = seen_at(w, tag, t, &f), *b = seen_at(ref, tag, t, &f);
        assert_non_null(a);
        assert_non_null(b);
        assert_string_equal(a, b);
        n += !strcmp(a, count);
    }
    return n;
}

static gb_oee_live_t *live_monday_to(gb_tags_t *tags, gb_time_t window, int late_set, written_t *w)
{
    int d = 20261123;
    gb_oee_live_t *live = gb_oee_live_new(plant, tags, at(d, "00:00"));
    if (window) gb_oee_live_set_late_window(live, window);
    if (w) gb_oee_live_set_sink(live, collect, w);
    uint32_t ex = gb_tags_find(tags, "m1/execution")->id, mo = gb_tags_find(tags, "m1/mode")->id,
             pc = gb_tags_find(tags, "m1/part_count")->id, sc = gb_tags_find(tags, "m1/scrap_count")->id;
    struct { const char *t; uint32_t tag; const char *s; int64_t i; int late; } ev[] = {
        {"05:50", ex, "READY", 0, -1}, {"05:50", mo, "AUTOMATIC", 0, -1},
        {"05:50", pc, NULL, 100, -1},  {"05:50", sc, NULL, 5, -1},
        {"06:00", ex, "ACTIVE", 0, -1}, {"07:00", ex, "STOPPED", 0, 0},
        {"07:00", pc, NULL, 150, -1},  {"07:30", ex, "ACTIVE", 0, 0},
        {"08:00", ex, "READY", 0, -1}, {"08:01", ex, "ACTIVE", 0, -1},
        {"09:00", mo, "MANUAL", 0, -1}, {"09:00", pc, NULL, 200, -1},
        {"09:20", mo, "AUTOMATIC", 0, -1}, {"09:20", pc, NULL, 0, -1},
        {"11:00", ex, "READY", 0, -1}, {"11:10", ex, "ACTIVE", 0, -1},
        {"12:00", ex, "STOPPED", 0, -1}, {"12:20", ex, "ACTIVE", 0, 1},
        {"13:00", pc, NULL, 100, 1},  {"13:00", sc, NULL, 15, 1},
        {"14:00", ex, "READY", 0, -1},
    };
    size_t n = sizeof ev / sizeof ev[0];
    for (int pass = 0; pass < 2; pass++) {
        gb_batch_t *b = gb_batch_new(32);
        for (size_t i = 0; i < n; i++) {
            if ((ev[i].late == late_set) != (pass == 1)) continue;
            if (ev[i].s) gb_batch_add_str(b, at(d, ev[i].t), ev[i].tag, GB_Q_GOOD, ev[i].s, strlen(ev[i].s));
            else gb_batch_add_i64(b, at(d, ev[i].t), ev[i].tag, GB_Q_GOOD, ev[i].i);
        }
        assert_int_equal(gb_oee_live_consumer.deliver(live, b), 0);
        gb_batch_free(b);
        if (pass == 0) { /* people's changes before the late data comes */
            assert_int_equal(gb_oee_live_set_reason(live, "m1", at(d, "12:00"), "planned/maintenance",
                                                    "carol", at(d, "12:30"), NULL, NULL, 0), 0);
            assert_int_equal(gb_oee_live_scrap(live, "m1", at(d, "12:30"), 3, "dave", at(d, "12:30")), 0);
        }
    }
    return live;
}

static gb_oee_live_t *live_monday(gb_tags_t *tags, gb_time_t window, int late_set)
{
    return live_monday_to(tags, window, late_set, NULL);
}

/* The Monday report's times and counts, as worked out by hand (see test_engine_monday). */
static void check_monday(gb_oee_live_t *live)
{
    int d = 20261123;
    json_t *r = gb_oee_live_report(live, at(d, "00:00"), at(20261124, "00:00"), GB_BY_MACHINE, "m1");
    json_t *times = json_object_get(json_object_get(r, "total"), "times_s");
    near(json_real_value(json_object_get(times, "apt")), 385 * MIN);
    near(json_real_value(json_object_get(times, "adet")), 30 * MIN);
    near(json_real_value(json_object_get(times, "pdot")), 35 * MIN);
    json_t *counts = json_object_get(json_object_get(r, "total"), "counts");
    assert_int_equal(json_integer_value(json_object_get(counts, "produced")), 200);
    assert_int_equal(json_integer_value(json_object_get(counts, "scrap")), 13);
    assert_int_equal(json_integer_value(json_object_get(counts, "failures")), 1);
    near(json_real_value(json_object_get(json_object_get(r, "total"), "oee")), 187.0 / 445);
    json_decref(r);
}

static void test_live_late_samples(void **state)
{
    (void)state;
    gb_tags_t *tags = gb_plant_build_tags(plant);
    gb_oee_live_t *live = live_monday(tags, 0, 0);
    uint64_t fed, late, too_late;
    gb_oee_live_counters(live, &fed, &late, &too_late);
    assert_int_equal(late, 2);
    assert_int_equal(gb_oee_live_rebuilds(live), 1);
    assert_int_equal(too_late, 0);
    check_monday(live);
    gb_oee_live_free(live);
    gb_tags_free(tags);
}

/* With a 2 h late window, what is older than two hours before the newest sample is folded into a
 * checkpoint and dropped from the kept history; samples inside the window are still placed onto
 * that checkpoint exactly, and samples older than it are counted as too late. */
static void test_live_late_window(void **state)
{
    (void)state;
    gb_tags_t *tags = gb_plant_build_tags(plant);
    gb_oee_live_t *all = live_monday(tags, 0, 2);
    gb_oee_live_t *live = live_monday(tags, 2 * 3600 * GB_NS_PER_S, 1);
    uint64_t fed, late, too_late;
    gb_oee_live_counters(live, &fed, &late, &too_late);
    assert_int_equal(late, 3);
    assert_int_equal(too_late, 0);
    assert_int_equal(gb_oee_live_rebuilds(live), 1);
    assert_true(gb_oee_live_history_size(live) < gb_oee_live_history_size(all));
    check_monday(live);
    check_monday(all);
    gb_oee_live_free(live);
    gb_oee_live_free(all);

    assert_int_equal(plant->late_window_ns, 9 * 3600 * GB_NS_PER_S); /* oee.late_window */
    live = live_monday(tags, 2 * 3600 * GB_NS_PER_S, 0); /* the 07:00 failure comes hours late */
    gb_oee_live_counters(live, &fed, &late, &too_late);
    assert_int_equal(too_late, 2);
    assert_int_equal(late, 0);
    int d = 20261123;
    json_t *r = gb_oee_live_report(live, at(d, "00:00"), at(20261124, "00:00"), GB_BY_MACHINE, "m1");
    json_t *counts = json_object_get(json_object_get(r, "total"), "counts");
    assert_int_equal(json_integer_value(json_object_get(counts, "failures")), 0); /* not counted */
    json_decref(r);
    gb_oee_live_free(live);
    gb_tags_free(tags);
}

/* Results already written are corrected when a late sample changes the history: read back the
 * way the store is read (latest time at or before, later write winning), the states minute by
 * minute and the shift's KPIs are those of a run that had every sample in order -- the late
 * failure included, for a window that still holds it, and for one that had folded most of the
 * day into its checkpoint. */
static void test_live_results_corrected(void **state)
{
    (void)state;
    gb_tags_t *tags = gb_plant_build_tags(plant);
    uint32_t st = gb_tags_find(tags, "m1/oee.state")->id, av = gb_tags_find(tags, "m1/oee.availability")->id,
             oe = gb_tags_find(tags, "m1/oee.oee")->id;
    written_t in_order = {0};
    gb_oee_live_t *ref = live_monday_to(tags, 0, 2, &in_order);
    int sets[][2] = {{0, 0}, {1, 2}};
    for (size_t c = 0; c < 2; c++) {
        written_t w = {0};
        gb_oee_live_t *live = live_monday_to(tags, sets[c][1] * 3600 * GB_NS_PER_S, sets[c][0], &w);
        int d = 20261123;
        size_t down = same_states(&w, &in_order, st, at(d, "05:50"), at(d, "14:00"), "down");
        if (c == 0) assert_int_equal(down, 50); /* the failure, written after the fact, and the 12:00 stop */
        double fa, fb;
        seen_at(&w, av, at(d, "14:00"), &fa);
        seen_at(&in_order, av, at(d, "14:00"), &fb);
        assert_true(isfinite(fb));
        near(fa, fb);
        seen_at(&w, oe, at(d, "14:00"), &fa);
        seen_at(&in_order, oe, at(d, "14:00"), &fb);
        near(fa, fb);
        gb_oee_live_free(live);
        free(w.r);
    }
    gb_oee_live_free(ref);
    free(in_order.r);
    gb_tags_free(tags);
}

/* A sink that stores the results, as gemba serve does, and collects them. */
typedef struct store_sink {
    gb_store_t *st;
    const gb_tags_t *tags;
    written_t w;
} store_sink_t;

static int store_and_collect(void *ctx, const gb_batch_t *b)
{
    store_sink_t *ss = ctx;
    assert_int_equal(gb_store_append(ss->st, ss->tags, b), 0);
    return collect(&ss->w, b);
}

/* Corrections after a restart: the state points written before it are read back from the store,
 * so a late change of mode that turns the stored 08:00 "idle" into setup rewrites that point too,
 * and the stored states read as an in-order run's. */
static void test_live_results_corrected_after_restart(void **state)
{
    (void)state;
    int d = 20261123;
    gb_tags_t *tags = gb_plant_build_tags(plant);
    uint32_t ex = gb_tags_find(tags, "m1/execution")->id, mo = gb_tags_find(tags, "m1/mode")->id,
             pc = gb_tags_find(tags, "m1/part_count")->id, sc = gb_tags_find(tags, "m1/scrap_count")->id,
             st = gb_tags_find(tags, "m1/oee.state")->id;
    struct { const char *t; uint32_t tag; const char *s; int64_t i; bool late; } ev[] = {
        {"05:50", ex, "READY", 0, false}, {"05:50", mo, "AUTOMATIC", 0, false},
        {"05:50", pc, NULL, 100, false},  {"05:50", sc, NULL, 5, false},
        {"06:00", ex, "ACTIVE", 0, false}, {"07:55", mo, "MANUAL", 0, true},
        {"08:00", ex, "READY", 0, false}, {"08:01", ex, "ACTIVE", 0, false},
        {"08:30", mo, "AUTOMATIC", 0, true}, {"09:00", ex, "READY", 0, false},
    };
    size_t n = sizeof ev / sizeof ev[0];
    char tmpl[] = "/tmp/gemba-oee-XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    store_sink_t ss = {.tags = tags};
    /* 0: the run before the restart, 1: after it with the late samples, 2: all in order */
    written_t ref = {0};
    for (int run = 0; run < 3; run++) {
        gb_oee_live_t *live = gb_oee_live_new(plant, tags, at(d, "00:00"));
        if (run < 2) {
            assert_int_equal(gb_store_open(dir, NULL, &ss.st), 0);
            gb_oee_live_set_sink(live, store_and_collect, &ss);
        } else {
            gb_oee_live_set_sink(live, collect, &ref);
        }
        if (run == 1) assert_int_equal(gb_oee_live_rebuild(live, dir, 0, NULL), 0);
        gb_batch_t *b = gb_batch_new(16);
        for (size_t i = 0; i < n; i++) {
            if (run < 2 && ev[i].late != (run == 1)) continue;
            if (ev[i].s) gb_batch_add_str(b, at(d, ev[i].t), ev[i].tag, GB_Q_GOOD, ev[i].s, strlen(ev[i].s));
            else gb_batch_add_i64(b, at(d, ev[i].t), ev[i].tag, GB_Q_GOOD, ev[i].i);
        }
        if (run < 2) assert_int_equal(gb_store_append(ss.st, tags, b), 0); /* the signals */
        assert_int_equal(gb_oee_live_consumer.deliver(live, b), 0);
        gb_batch_free(b);
        gb_oee_live_free(live);
        if (run < 2) assert_int_equal(gb_store_close(ss.st), 0);
    }
    size_t setup = same_states(&ss.w, &ref, st, at(d, "05:50"), at(d, "09:30"), "setup");
    assert_int_equal(setup, 35); /* 07:55 to 08:30 */
    free(ss.w.r);
    free(ref.r);
    char cmd[100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    gb_tags_free(tags);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shift_by_hand),
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_night_shift_across_dst),
        cmocka_unit_test(test_counters),
        cmocka_unit_test(test_disconnected),
        cmocka_unit_test(test_job_files),
        cmocka_unit_test(test_live_late_samples),
        cmocka_unit_test(test_live_late_window),
        cmocka_unit_test(test_live_results_corrected),
        cmocka_unit_test(test_live_results_corrected_after_restart),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
