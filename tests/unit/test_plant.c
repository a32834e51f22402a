/* The plant-file loader: the example loads with the right model; broken files report every
 * problem at its line and column (the golden list in tests/data/plants/broken.expected). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cli/cli.h"
#include "gemba/adapter.h"
#include "gemba/error.h"
#include "gemba/plant.h"
#include "gemba/time.h"
#include "gemba/sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Loads TEXT and returns what check-config would print (caller frees), NULL when valid. */
static char *problems(const char *text)
{
    gb_diag_t d;
    gb_diag_init(&d, "p.yaml");
    gb_plant_t *p = NULL;
    int rc = gb_plant_load_mem("p.yaml", text, strlen(text), &p, &d);
    char *out = NULL;
    size_t len = 0;
    if (rc) {
        FILE *f = open_memstream(&out, &len);
        gb_diag_print(&d, f);
        fclose(f);
    } else if (d.n) {
        fail_msg("load succeeded with %zu problems recorded", d.n);
    } else {
        assert_int_equal(d.n, 0);
    }
    gb_plant_free(p);
    gb_diag_clear(&d);
    return out;
}

static void expect(const char *text, const char *want)
{
    char *got = problems(text);
    if (!want) {
        if (got) fprintf(stderr, "unexpected problems:\n%s", got);
        assert_null(got);
        return;
    }
    assert_non_null(got);
    if (strcmp(got, want)) {
        fprintf(stderr, "got:\n%swant:\n%s", got, want);
        free(got);
        fail();
    }
    free(got);
}

#define HEAD "site: {name: s1, timezone: UTC}\nadapters: [{name: sim, type: sim}]\n"

static void test_demo_plant_model(void **state)
{
    (void)state;
    gb_diag_t d;
    gb_diag_init(&d, "demo");
    gb_plant_t *p;
    assert_int_equal(gb_plant_load_mem("demo", gb_demo_plant_yaml, gb_demo_plant_yaml_len, &p, &d), 0);
    assert_int_equal(d.n, 0);
    assert_string_equal(p->enterprise, "acme");
    assert_string_equal(p->site, "plant1");
    assert_string_equal(p->timezone, "Europe/Berlin");
    assert_int_equal(p->nareas, 2);
    assert_int_equal(p->nlines, 2);
    assert_int_equal(p->nmachines, 8);
    /* the alias *cnc_tags gives lathe02 the same 13 tags as lathe01 */
    assert_int_equal(p->machines[1].ntags, 13);
    assert_string_equal(p->machines[1].tags[8].name, "spindle_load");
    assert_float_equal(p->machines[1].tags[8].deadband, 0.5, 0);
    assert_int_equal(p->machines[0].ideal_cycle_ns, 80 * GB_NS_PER_S);
    assert_int_equal(p->machines[2].ideal_cycle_ns, 45 * GB_NS_PER_S);
    assert_int_equal(p->machines[0].ncycle_times, 2);
    assert_int_equal(p->machines[0].cycle_times[1].ns, 95 * GB_NS_PER_S);
    assert_int_equal(p->machines[0].disconnected_after_ns, 30 * GB_NS_PER_S);
    assert_int_equal(p->machines[1].disconnected_after_ns, 60 * GB_NS_PER_S);
    assert_string_equal(p->machines[7].count_good, "good_count");
    assert_null(p->machines[7].count_scrap);
    /* every machine gets the `default` rule set: first rule is the emergency stop */
    assert_int_equal(p->nrulesets, 1);
    for (size_t i = 0; i < p->nmachines; i++) assert_int_equal(p->machines[i].ruleset, 0);
    const gb_rule_t *r = &p->rulesets[0].rules[0];
    assert_int_equal(r->state, GB_STATE_DOWN);
    assert_int_equal(r->when.kind, GB_COND_CMP);
    assert_string_equal(r->when.tag, "estop");
    assert_string_equal(r->when.values[0], "TRIGGERED");
    assert_int_equal(p->rulesets[0].rules[1].when.kind, GB_COND_ALL);
    assert_int_equal(p->rulesets[0].rules[1].when.nsub, 2);
    assert_int_equal(p->rulesets[0].rules[4].when.kind, GB_COND_ALWAYS);
    assert_int_equal(p->rulesets[0].rules[4].state, GB_STATE_IDLE);
    /* the night shift crosses midnight; breaks kept */
    assert_int_equal(p->nshifts, 3);
    assert_int_equal(p->shifts[2].start_min, 22 * 60);
    assert_int_equal(p->shifts[2].end_min, 6 * 60);
    assert_int_equal(p->shifts[2].days, 0x7f);
    assert_int_equal(p->shifts[0].nbreaks, 2);
    assert_int_equal(p->shifts[0].breaks[1].duration_ns, 30 * 60 * GB_NS_PER_S);
    assert_int_equal(p->nexceptions, 0); /* the demo runs every day (see the file) */
    /* reasons: paths, planned or not */
    bool breakage = false, setup = false;
    for (size_t i = 0; i < p->nreasons; i++) {
        if (!strcmp(p->reasons[i].path, "unplanned/tooling/breakage"))
            breakage = !p->reasons[i].planned && p->reasons[i].leaf;
        if (!strcmp(p->reasons[i].path, "planned/changeover/setup")) setup = p->reasons[i].planned;
    }
    assert_true(breakage);
    assert_true(setup);
    assert_int_equal(p->nscrap_reasons, 7);

    gb_tags_t *tags = gb_plant_build_tags(p);
    assert_int_equal(gb_tags_count(tags), 96 + 8 * 5); /* and 5 derived OEE results each */
    assert_true(gb_tags_find(tags, "lathe02/oee.state")->derived);
    const gb_tag_t *t = gb_tags_find(tags, "acme/plant1/machining/line1/lathe02/temperature");
    assert_non_null(t);
    assert_ptr_equal(gb_tags_find(tags, "lathe02/temperature"), t);
    assert_int_equal(t->type, GB_VT_F64);
    assert_string_equal(t->unit, "degC");
    assert_string_equal(gb_tags_asset(tags, t->machine)->path, "acme/plant1/machining/line1/lathe02");
    char *mp = gb_plant_machine_path(p, &p->machines[4]);
    assert_string_equal(mp, "acme/plant1/assembly/line2/press01");
    free(mp);
    gb_tags_free(tags);
    gb_plant_free(p);
    gb_diag_clear(&d);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) fwrite(chunk, 1, n, m);
    fclose(f);
    fclose(m);
    return buf;
}

/* Every problem of the deliberately broken plant, in order, with line and column. */
/* Calendar exceptions as the demo plant's comment shows them. */
static void test_calendar_exceptions(void **state)
{
    (void)state;
    const char *y = HEAD "calendar:\n  shifts: [{name: early, days: [mon-sun], start: \"06:00\", end: \"14:00\"}]\n"
                    "  exceptions:\n"
                    "    - {date: 2026-12-25, shifts: [], description: Christmas Day}\n"
                    "    - {from: 2026-12-31, to: 2027-01-01, shifts: [early], description: New Year}\n"
                    "areas: [{name: a, lines: [{name: l, machines: [{name: m}]}]}]\n";
    gb_diag_t d;
    gb_diag_init(&d, "p.yaml");
    gb_plant_t *p;
    assert_int_equal(gb_plant_load_mem("p.yaml", y, strlen(y), &p, &d), 0);
    assert_int_equal(p->nexceptions, 2);
    assert_int_equal(p->exceptions[0].nshifts, 0);
    assert_int_equal(p->exceptions[1].to_d, 1);
    assert_int_equal(p->exceptions[1].shifts[0], 0);
    gb_plant_free(p);
    gb_diag_clear(&d);
}

static void test_broken_golden(void **state)
{
    (void)state;
    const char *dir = getenv("GB_TEST_DATA");
    assert_non_null(dir);
    char path[512], exp_path[512];
    snprintf(path, sizeof path, "%s/plants/broken.yaml", dir);
    snprintf(exp_path, sizeof exp_path, "%s/plants/broken.expected", dir);
    char *text = slurp(path), *want = slurp(exp_path);
    char *got = problems(text);
    assert_non_null(got);
    /* the golden file names the file as check-config was called; compare what follows */
    const char *prefix = "tests/data/plants/broken.yaml";
    char *expect_text = NULL;
    size_t elen = 0;
    FILE *m = open_memstream(&expect_text, &elen);
    for (char *line = strtok(want, "\n"); line; line = strtok(NULL, "\n")) {
        assert_int_equal(strncmp(line, prefix, strlen(prefix)), 0);
        fprintf(m, "p.yaml%s\n", line + strlen(prefix));
    }
    fclose(m);
    assert_string_equal(got, expect_text);
    free(text);
    free(want);
    free(got);
    free(expect_text);
}

static void test_yaml_syntax(void **state)
{
    (void)state;
    expect("site: {name: s1\nareas: []\n",
           "p.yaml:2:6: YAML syntax: did not find expected ',' or '}' while parsing a flow "
           "mapping (from line 1)\n");
    expect("site:\n  name: a\n   bad: b\n",
           "p.yaml:3:7: YAML syntax: mapping values are not allowed in this context\n");
    /* a key that is not text, then text keys (found by the fuzzer: crashed the duplicate check) */
    expect(HEAD "areas: []\nversion: {[a]: 1, b: 2, b: 3}\n",
           "p.yaml:4:10: expected a whole number, got a mapping (key: value)\n"
           "p.yaml:4:11: a key must be plain text, not a list\n"
           "p.yaml:4:25: duplicate key 'b' (first given at line 4)\n");
    expect(HEAD "areas: []\n---\nb: 2\n",
           "p.yaml:4:1: a plant file holds one YAML document; found a second one here\n");
}

static void test_empty_and_wrong_shapes(void **state)
{
    (void)state;
    expect("", "p.yaml:1:1: the plant file is missing required key 'site'\n"
               "p.yaml:1:1: plant is missing required key 'areas'\n");
    expect("- a\n- b\n", "p.yaml:1:1: a plant file is a mapping with keys such as site, adapters "
                         "and areas; found a list\n");
    expect(HEAD "areas: {name: x}\n", "p.yaml:3:8: 'areas' should be a list, not a mapping (key: value)\n");
}

static void test_minimal_valid(void **state)
{
    (void)state;
    expect(HEAD "areas:\n  - name: a\n    lines:\n      - name: l\n        machines:\n"
                "          - {name: m1, adapter: sim, tags: [{name: execution, type: string}]}\n",
           NULL);
    /* a tag without an adapter is allowed (written through the API) */
    expect("site: {name: s1, timezone: America/Chicago}\nareas: [{name: a, lines: [{name: l, "
           "machines: [{name: m1, tags: [{name: scrap, type: int}]}]}]}]\n",
           NULL);
}

static void test_rules_and_references(void **state)
{
    (void)state;
    expect(HEAD "state_rules:\n  r: [{state: running, when: {tag: speed, gt: 10, lt: 20}}]\n"
                "areas: [{name: a, lines: [{name: l, machines: [{name: m, state_rules: r, "
                "adapter: sim, tags: [{name: speed, address: spindle_speed}]}]}]}]\n",
           "p.yaml:4:51: a condition compares once; split it with 'all' or 'any'\n");
    expect(HEAD "state_rules:\n  r: [{state: disconnected}, {state: down, when: {not: {tag: x}}}]\n"
                "areas: []\n",
           "p.yaml:4:15: 'disconnected' comes from missing data (the machine's "
           "'disconnected_after'), not from a rule\n"
           "p.yaml:4:56: condition on tag 'x' needs one comparison: eq, ne, lt, le, gt, ge or in\n");
    expect(HEAD "areas: [{name: a, lines: [{name: l, machines: [{name: m, state_rules: "
                "[{state: idle, when: {tag: flag, in: [yes]}}], tags: [{name: flag, type: bool}]}]}]}]\n",
           "p.yaml:3:92: 'yes' cannot be a value of tag 'flag' of machine 'm', whose type is bool "
           "(true or false)\n");
    /* a machine's inline rules are its own: another machine cannot name them */
    expect(HEAD "areas: [{name: a, lines: [{name: l, machines: [\n"
                "  {name: m1, state_rules: [{state: idle}], tags: []},\n"
                "  {name: m2, state_rules: \"m1 (inline)\", tags: []}]}]}]\n",
           "p.yaml:5:27: unknown rule set 'm1 (inline)'\n");
}

/* historian.retention: rollup periods, their defaults, and mistakes at their line and column */
static void test_retention_rollups(void **state)
{
    (void)state;
    const char *text = HEAD "areas: []\nhistorian:\n  retention:\n"
                            "    - {tags: \"*/oee.*\", keep: 90d, keep_1m: 2y, keep_1h: forever}\n"
                            "    - {tags: \"a/*\", keep: 30d, keep_1m: 1y}\n"
                            "    - {tags: \"*\", keep: 1y}\n";
    gb_diag_t d;
    gb_diag_init(&d, "p.yaml");
    gb_plant_t *p;
    assert_int_equal(gb_plant_load_mem("p.yaml", text, strlen(text), &p, &d), 0);
    assert_int_equal(p->nretention, 3);
    const int64_t day = 86400 * GB_NS_PER_S;
    assert_int_equal(p->retention[0].keep_ns, 90 * day);
    assert_int_equal(p->retention[0].keep_1m_ns, 2 * 365 * day);
    assert_int_equal(p->retention[0].keep_1h_ns, INT64_MAX);
    assert_int_equal(p->retention[1].keep_1h_ns, 365 * day); /* as long as the minutes */
    assert_int_equal(p->retention[2].keep_1m_ns, 0);          /* none beyond the points */
    assert_int_equal(p->retention[2].keep_1h_ns, 0);
    gb_plant_free(p);
    gb_diag_clear(&d);
    expect(HEAD "areas: []\nhistorian:\n  retention:\n"
                "    - {tags: \"*\", keep: 90d, keep_1m: 30d}\n"
                "    - {tags: \"*\", keep: 90d, keep_1m: 2y, keep_1h: 1y}\n"
                "    - {tags: \"*\", keep: 1d, keep_1h: always}\n",
           "p.yaml:6:39: 'keep_1m' must be at least 'keep' (90d): rollups take over from the "
           "points once those are dropped\n"
           "p.yaml:7:52: 'keep_1h' must be at least 'keep_1m' (2y): hourly rollups are the ones "
           "kept longest\n"
           "p.yaml:8:38: 'always' is not a valid duration: expected a number with a unit (ns, us, "
           "ms, s, m, h, d) such as 90s, 2m or 1h30m\n");
}

static void test_calendar(void **state)
{
    (void)state;
    /* a Sunday night shift wraps into Monday morning and collides with an early Monday start */
    expect(HEAD "calendar:\n  shifts:\n"
                "    - {name: night, days: [sun], start: \"22:00\", end: \"06:00\"}\n"
                "    - {name: early, days: [mon], start: \"05:00\", end: \"13:00\"}\n"
                "areas: []\n",
           "p.yaml:6:7: shift 'early' overlaps shift 'night' (on mon)\n");
    /* fri-mon wraps over the weekend; 24:00 end is allowed; touching shifts do not overlap */
    expect(HEAD "calendar:\n  shifts:\n"
                "    - {name: a, days: [fri-mon], start: \"00:00\", end: \"12:00\"}\n"
                "    - {name: b, days: [fri-mon], start: \"12:00\", end: \"24:00\"}\n"
                "  exceptions:\n    - {from: 2026-08-10, to: 2026-08-03, shifts: []}\n"
                "    - {date: 2026-08-01}\n"
                "areas: []\n",
           "p.yaml:8:7: 'to' is before 'from'\n"
           "p.yaml:9:7: calendar exception needs 'shifts': the shifts that run on those days, or "
           "[] when the plant is closed\n");
    expect(HEAD "calendar: {shifts: [{name: a, days: [], start: \"06:00\", end: \"14:00\"}]}\n"
                "reasons: {unplanned: [jam, jam]}\nareas: []\n",
           "p.yaml:3:37: 'days' is empty: name the days the shift starts on, e.g. [mon-fri]\n"
           "p.yaml:4:28: reason 'unplanned/jam' is listed twice\n");
}

/* A machine may share its name with the site or the enterprise: paths keep them apart. */
static void test_machine_named_like_site(void **state)
{
    (void)state;
    const char *text = "enterprise: acme\nsite: {name: plant1, timezone: UTC}\n"
                       "areas: [{name: a, lines: [{name: l, machines: [\n"
                       "  {name: plant1, tags: [{name: x}]}, {name: acme, tags: [{name: y}]}]}]}]\n";
    expect(text, NULL);
    gb_diag_t d;
    gb_diag_init(&d, "p.yaml");
    gb_plant_t *p;
    assert_int_equal(gb_plant_load_mem("p.yaml", text, strlen(text), &p, &d), 0);
    gb_tags_t *tags = gb_plant_build_tags(p);
    assert_int_equal(gb_tags_count(tags), 2 + 2 * 5);
    assert_non_null(gb_tags_find(tags, "acme/plant1/a/l/plant1/x"));
    assert_non_null(gb_tags_find(tags, "acme/y"));
    assert_int_equal(gb_tags_find_asset(tags, "acme")->kind, GB_ASSET_ENTERPRISE);
    assert_int_equal(gb_tags_find_asset(tags, "acme/plant1/a/l/acme")->kind, GB_ASSET_MACHINE);
    gb_tags_free(tags);
    gb_plant_free(p);
    gb_diag_clear(&d);
}

static void test_alias_bomb_is_refused(void **state)
{
    (void)state;
    /* nine levels of ten aliases: a billion nodes from a few hundred bytes */
    const char *bomb =
        "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
        "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
        "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
        "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
        "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
    char *got = problems(bomb);
    assert_non_null(got);
    assert_non_null(strstr(got, "refusing to load it"));
    free(got);
}

static void test_durations_and_names(void **state)
{
    (void)state;
    int64_t ns;
    assert_int_equal(gb_duration_parse("1h30m", &ns), 0);
    assert_int_equal(ns, 5400 * GB_NS_PER_S);
    assert_int_equal(gb_duration_parse("250ms", &ns), 0);
    assert_int_equal(ns, 250 * GB_NS_PER_MS);
    assert_int_equal(gb_duration_parse("1.5h", &ns), 0);
    assert_int_equal(ns, 5400 * GB_NS_PER_S);
    assert_int_equal(gb_duration_parse("2d", &ns), 0);
    assert_int_equal(ns, 172800 * GB_NS_PER_S);
    assert_int_equal(gb_duration_parse("45", &ns), GB_EINVAL);
    assert_int_equal(gb_duration_parse("5 s", &ns), GB_EINVAL);
    assert_int_equal(gb_duration_parse("-5s", &ns), GB_ERANGE);
    assert_int_equal(gb_duration_parse("s", &ns), GB_EINVAL);
    assert_int_equal(gb_duration_parse("5sec", &ns), GB_EINVAL);
    assert_int_equal(gb_duration_parse("99999999999d", &ns), GB_ERANGE);
    char buf[32];
    gb_duration_format(5400 * GB_NS_PER_S + 250 * GB_NS_PER_MS, buf, sizeof buf);
    assert_string_equal(buf, "1h30m250ms");
    int m;
    assert_int_equal(gb_clock_parse("24:00", &m), 0);
    assert_int_equal(m, 1440);
    assert_int_equal(gb_clock_parse("24:01", &m), GB_EINVAL);
    assert_int_equal(gb_clock_parse("6:00", &m), GB_EINVAL);
    int y, mo, d;
    assert_int_equal(gb_date_parse("2028-02-29", &y, &mo, &d), 0);
    assert_int_equal(gb_date_parse("2026-02-29", &y, &mo, &d), GB_EINVAL);
    assert_int_equal(gb_date_parse("2100-02-29", &y, &mo, &d), GB_EINVAL);
    assert_int_equal(gb_timezone_check("Europe/Berlin"), 0);
    assert_int_equal(gb_timezone_check("UTC"), 0);
    assert_int_equal(gb_timezone_check("Mars/Olympus"), GB_ENOENT);
    assert_int_equal(gb_timezone_check("../../etc/passwd"), GB_EINVAL);
    assert_int_equal(gb_timezone_check("/etc/localtime"), GB_EINVAL);
}

int main(void)
{
    gb_cli_register_adapters(); /* the same adapter classes as the binary */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_demo_plant_model),   cmocka_unit_test(test_broken_golden),
        cmocka_unit_test(test_calendar_exceptions),
        cmocka_unit_test(test_yaml_syntax),        cmocka_unit_test(test_empty_and_wrong_shapes),
        cmocka_unit_test(test_minimal_valid),      cmocka_unit_test(test_rules_and_references),
        cmocka_unit_test(test_calendar),           cmocka_unit_test(test_alias_bomb_is_refused),
        cmocka_unit_test(test_machine_named_like_site),
        cmocka_unit_test(test_durations_and_names),
        cmocka_unit_test(test_retention_rollups),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
