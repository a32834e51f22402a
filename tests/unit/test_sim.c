/*
 * The simulator against theory. Each queueing case has an exact answer; with replications and the
 * warm-up deleted, the 95 % confidence interval of the simulated estimate must contain it:
 * M/M/1 (number and time in system), M/M/1/K (throughput), two exponential machines with a
 * buffer between them and blocking after service (throughput), one machine with failures
 * (availability), the machine-repairman model (a limited repair crew), and Little's law on every
 * run. Deterministic lines are checked against numbers worked out by hand. Also: the same seed
 * gives the same bytes, distributions have their means, and bad models report their positions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cli/cli.h"
#include "gemba/calendar.h"
#include "gemba/error.h"
#include "gemba/plant.h"
#include "gemba/sim.h"
#include "sim/dist.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 (INT64_C(4) * 86400 * GB_NS_PER_S) /* a Monday, 00:00 UTC */
#define HEAD "site: {name: theory, timezone: UTC}\n"

typedef struct run {
    gb_plant_t *p;
    gb_sim_model_t *md;
    gb_sim_study_t *s;
} run_t;

/* Little's law is checked on every steady-state run; a run that ends with parts parked over a
 * weekend (below) has a boundary term as large as the law itself, so it turns the check off. */
static bool check_little = true;

static run_t study(const char *yaml, double until, double warmup, uint32_t reps, uint64_t seed)
{
    run_t r = {0};
    gb_diag_t d;
    gb_diag_init(&d, "model.yaml");
    if (gb_plant_load_mem("model.yaml", yaml, strlen(yaml), &r.p, &d) != 0 ||
        gb_sim_model_build(r.p, &r.md, &d) != 0) {
        gb_diag_print(&d, stderr);
        fail_msg("the model does not load");
    }
    gb_diag_clear(&d);
    gb_sim_study_opts_t o = {until, warmup, reps, seed, T0, 0};
    assert_int_equal(gb_sim_study_run(r.md, &o, &r.s), 0);
    /* Little's law, L = lambda W, on every run of every test */
    for (uint32_t l = 0; check_little && l < r.s->nlines; l++)
        if (r.s->lines[l].little_max_dev > 0.02)
            fail_msg("line %s: |L - lambda W| / L = %g", r.s->lines[l].name,
                     r.s->lines[l].little_max_dev);
    return r;
}

static void run_free(run_t *r)
{
    gb_sim_study_free(r->s);
    gb_sim_model_free(r->md);
    gb_plant_free(r->p);
}

static void contains(const char *what, const gb_sim_estimate_t *e, double exact)
{
    fprintf(stderr, "  %-40s %.5f in [%.5f, %.5f]?\n", what, exact, e->lo, e->hi);
    if (!(e->lo <= exact && exact <= e->hi))
        fail_msg("%s: the 95%% interval [%g, %g] misses the exact %g", what, e->lo, e->hi, exact);
}

static void near(const char *what, double got, double want, double tol)
{
    if (fabs(got - want) > tol) fail_msg("%s: %.9g, want %.9g (within %g)", what, got, want, tol);
}

static const gb_sim_machine_result_t *machine(const run_t *r, const char *name)
{
    for (uint32_t i = 0; i < r->s->nmachines; i++)
        if (!strcmp(r->s->machines[i].name, name)) return &r->s->machines[i];
    fail_msg("no machine %s", name);
    return NULL;
}

/* ---- queueing theory ---------------------------------------------------------------------- */

static void test_mm1(void **state)
{
    (void)state;
    /* lambda = 0.8/s, mu = 1/s: L = rho / (1 - rho) = 4, W = 1 / (mu - lambda) = 5 s */
    run_t r = study(HEAD "areas: [{name: a, lines: [{name: q, machines: [\n"
                         "  {name: server, sim: {cycle: exp(1s), buffer: unlimited}}]}]}]\n"
                         "simulation: {sources: [{name: arrivals, interarrival: exp(1.25s)}]}\n",
                    200000, 10000, 20, 1);
    const gb_sim_line_result_t *l = &r.s->lines[0];
    contains("M/M/1 mean number in system L", &l->wip, 4.0);
    contains("M/M/1 mean time in system W (s)", &l->lead_time_s, 5.0);
    contains("M/M/1 throughput (per hour)", &l->throughput_ph, 0.8 * 3600);
    contains("M/M/1 server utilisation", &machine(&r, "server")->share[GB_SIM_RUNNING], 0.8);
    run_free(&r);
}

static void test_mm1k(void **state)
{
    (void)state;
    /* K = 5 in the system (4 waiting places and the server); arrivals that find it full are
     * lost. TH = lambda (1 - P_K), P_K = (1 - rho) rho^K / (1 - rho^(K+1)) */
    double lambda = 1.0, mu = 1.25, rho = lambda / mu;
    int K = 5;
    double pk = (1 - rho) * pow(rho, K) / (1 - pow(rho, K + 1));
    run_t r = study(HEAD "areas: [{name: a, lines: [{name: q, machines: [\n"
                         "  {name: server, sim: {cycle: exp(0.8s), buffer: 4}}]}]}]\n"
                         "simulation: {sources: [{name: arrivals, interarrival: exp(1s), "
                         "when_full: lose}]}\n",
                    200000, 10000, 20, 1);
    contains("M/M/1/5 throughput (per hour)", &r.s->lines[0].throughput_ph,
             lambda * (1 - pk) * 3600);
    contains("M/M/1/5 lost (per hour)", &r.s->lines[0].lost_ph, lambda * pk * 3600);
    run_free(&r);
}

static char *two_machines(double mean1, double mean2, int buffer)
{
    char *y;
    if (asprintf(&y,
                 HEAD "areas: [{name: a, lines: [{name: l, machines: [\n"
                      "  {name: m1, sim: {cycle: exp(%gs)}},\n"
                      "  {name: m2, sim: {cycle: exp(%gs), buffer: %d}}]}]}]\n",
                 mean1, mean2, buffer) < 0)
        abort();
    return y;
}

static void test_two_machines_blocking(void **state)
{
    (void)state;
    /* M1 never starves; B places between; blocking after service:
     * TH = mu1 (1 - r^(B+2)) / (1 - r^(B+3)), r = mu1 / mu2; TH = mu (B+2)/(B+3) when equal */
    static const struct { double mu1, mu2; int b; } cases[] = {
        {1.0, 1.25, 2}, {1.0, 1.0, 3}, {1.0, 1.0, 0}, {1.25, 1.0, 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double mu1 = cases[i].mu1, mu2 = cases[i].mu2, B = cases[i].b, r = mu1 / mu2;
        double th = mu1 == mu2 ? mu1 * (B + 2) / (B + 3)
                               : mu1 * (1 - pow(r, B + 2)) / (1 - pow(r, B + 3));
        char *y = two_machines(1 / mu1, 1 / mu2, cases[i].b);
        run_t rr = study(y, 100000, 5000, 20, 7);
        char what[96];
        snprintf(what, sizeof what, "two machines mu=%g,%g B=%d: TH/h", mu1, mu2, cases[i].b);
        contains(what, &rr.s->lines[0].throughput_ph, th * 3600);
        /* M1 is blocked exactly when M2 is busy, the buffer full and M1 done */
        assert_true(machine(&rr, "m1")->share[GB_SIM_BLOCKED].mean > 0.01);
        assert_true(machine(&rr, "m1")->share[GB_SIM_STARVED].mean == 0);
        run_free(&rr);
        free(y);
    }
}

static void test_availability(void **state)
{
    (void)state;
    /* one machine that always has work: availability = MTBF / (MTBF + MTTR), whether the time
     * to failure counts in operating time or in calendar time */
    const char *by[] = {"operating", "calendar"};
    for (int k = 0; k < 2; k++) {
        char *y;
        if (asprintf(&y,
                     HEAD "areas: [{name: a, lines: [{name: l, machines: [\n"
                          "  {name: m, sim: {cycle: 1s, failures: [{name: f, ttf: exp(100s), "
                          "ttr: exp(10s), by: %s}]}}]}]}]\n",
                     by[k]) < 0)
            abort();
        run_t r = study(y, 200000, 5000, 20, 3);
        gb_sim_estimate_t up = machine(&r, "m")->share[GB_SIM_DOWN];
        up.mean = 1 - up.mean;
        double lo = 1 - up.hi; /* the interval flips with the complement */
        up.hi = 1 - up.lo;
        up.lo = lo;
        char what[64];
        snprintf(what, sizeof what, "availability (%s time)", by[k]);
        contains(what, &up, 100.0 / 110.0);
        contains("  ... its good parts per hour", &machine(&r, "m")->good_ph, 3600 * 100.0 / 110.0);
        near("MTTR", machine(&r, "m")->mttr_s, 10, 0.5);
        run_free(&r);
        free(y);
    }
}

static void test_repair_crew(void **state)
{
    (void)state;
    /* machine-repairman: two machines, failure rate a = 1/100 s while up, repair rate b = 1/10 s,
     * one repairer. P(n down) is proportional to 2!/(2-n)! (a/b)^n; each machine is down
     * (P1 + 2 P2) / 2 of the time -- more than the 1/11 it would be with a repairer each */
    double q = 0.1, w0 = 1, w1 = 2 * q, w2 = 2 * q * q, z = w0 + w1 + w2;
    double down = (w1 / z + 2 * w2 / z) / 2;
    const char *y =
        HEAD "areas: [{name: a, lines: [\n"
             "  {name: l1, machines: [{name: m1, sim: {cycle: 1s, failures: [{ttf: exp(100s), "
             "ttr: exp(10s)}]}}]},\n"
             "  {name: l2, machines: [{name: m2, sim: {cycle: 1s, failures: [{ttf: exp(100s), "
             "ttr: exp(10s)}]}}]}]}]\n"
             "simulation: {repair_crew: 1}\n";
    run_t r = study(y, 400000, 5000, 20, 5);
    contains("machine-repairman: m1 down share", &machine(&r, "m1")->share[GB_SIM_DOWN], down);
    contains("machine-repairman: m2 down share", &machine(&r, "m2")->share[GB_SIM_DOWN], down);
    run_free(&r);
}

/* ---- hand-checked deterministic lines ----------------------------------------------------- */

static void test_deterministic_line(void **state)
{
    (void)state;
    /* 10 s then 20 s, no buffer: the second machine paces the line at 180 parts an hour; the
     * first works half the time and is blocked the other half. Lead time: 10 s at m1, then the
     * part waits in m1 (blocked) 10 s, then 20 s at m2 = 40 s; WIP = 180/h * 40 s = 2 parts. */
    run_t r = study(HEAD "areas: [{name: a, lines: [{name: l, machines: [\n"
                         "  {name: m1, sim: {cycle: 10s}}, {name: m2, sim: {cycle: 20s}}]}]}]\n",
                    36000, 3600, 2, 1);
    near("throughput", r.s->lines[0].throughput_ph.mean, 180, 1e-9);
    near("m1 running", machine(&r, "m1")->share[GB_SIM_RUNNING].mean, 0.5, 1e-9);
    near("m1 blocked", machine(&r, "m1")->share[GB_SIM_BLOCKED].mean, 0.5, 1e-9);
    near("m2 running", machine(&r, "m2")->share[GB_SIM_RUNNING].mean, 1.0, 1e-9);
    near("lead time", r.s->lines[0].lead_time_s.mean, 40, 1e-6);
    near("wip", r.s->lines[0].wip.mean, 2, 1e-3);
    assert_string_equal(machine(&r, "m2")->name, r.s->machines[r.s->lines[0].bottleneck].name);
    assert_int_equal(r.s->lines[0].bottleneck_share == 1.0, 1);
    assert_true(r.s->lines[0].throughput_ph.half == 0); /* no randomness, no spread */
    run_free(&r);
}

static void test_shifts_and_scrap(void **state)
{
    (void)state;
    /* one shift 06:00-14:00 on weekdays with a 30 min break: 7.5 h of work a weekday, none at
     * the weekend. Over the first two weeks (Monday 00:00 on): 10 * 7.5 h = 75 h working,
     * 336 h in all. A 60 s cycle makes 60 parts a working hour, and the shift and break
     * boundaries fall on whole cycles: 4500 parts, 4500 / 336 an hour. */
    check_little = false;
    run_t r = study(HEAD "calendar: {shifts: [{name: day, days: [mon-fri], start: \"06:00\", "
                         "end: \"14:00\", breaks: [{name: lunch, start: \"10:00\", duration: "
                         "30m}]}]}\n"
                         "areas: [{name: a, lines: [{name: l, machines: [\n"
                         "  {name: m, sim: {cycle: 60s}}]}]}]\n",
                    14 * 86400, 0, 1, 1);
    near("planned share", machine(&r, "m")->share[GB_SIM_PLANNED].mean, 1 - 75.0 / 336, 1e-9);
    near("running share", machine(&r, "m")->share[GB_SIM_RUNNING].mean, 75.0 / 336, 1e-9);
    near("throughput", r.s->lines[0].throughput_ph.mean, 4500.0 / 336, 1e-9);
    check_little = true;
    run_free(&r);
    /* scrap: 5 % of parts, checked against its confidence interval */
    run_t s = study(HEAD "areas: [{name: a, lines: [{name: l, machines: [\n"
                         "  {name: m, sim: {cycle: 1s, scrap: 5%}}]}]}]\n",
                    100000, 0, 10, 2);
    contains("scrap per hour", &s.s->lines[0].scrap_ph, 0.05 * 3600);
    contains("good per hour", &s.s->lines[0].throughput_ph, 0.95 * 3600);
    run_free(&s);
}

static void test_setups_and_routing(void **state)
{
    (void)state;
    /* two products, equal mix, lots of 10, 10 s cycles, 60 s setup on every change. A lot
     * follows one of the other product with probability 1/2, so a lot takes 100 s plus 30 s of
     * setup on average: setup share 30/130. */
    run_t r = study(HEAD "areas: [{name: a, lines: [{name: l, machines: [\n"
                         "  {name: m, sim: {cycle: 10s, setup: 60s}}]}]}]\n"
                         "simulation: {products: [{name: a, route: [m], lot_size: 10}, "
                         "{name: b, route: [m], lot_size: 10}]}\n",
                    200000, 1000, 20, 9);
    contains("setup share", &machine(&r, "m")->share[GB_SIM_SETUP], 30.0 / 130);
    run_free(&r);
    /* routing by product and parallel machines: a goes m1 -> m3, b goes m2 -> m3; the two
     * lathes in one station share a buffer. Deterministic: m3 (5 s) never limits; each of
     * m1 (20 s) and m2 (20 s) makes 180 an hour. */
    run_t q = study(HEAD "areas: [{name: a, lines: [{name: l, machines: [\n"
                         "  {name: m1, sim: {cycle: 20s}}, {name: m2, sim: {cycle: 20s}},\n"
                         "  {name: l1, sim: {cycle: 40s}}, {name: l2, sim: {cycle: 40s}},\n"
                         "  {name: m3, sim: {cycle: 5s, buffer: 5}}]}]}]\n"
                         "simulation:\n"
                         "  stations: [{name: lathes, machines: [l1, l2], buffer: 1}]\n"
                         "  products:\n"
                         "    - {name: a, route: [m1, m3]}\n"
                         "    - {name: b, route: [m2, m3]}\n"
                         "    - {name: c, route: [lathes, m3]}\n",
                    36000, 3600, 1, 1);
    near("throughput a + b + c", q.s->lines[0].throughput_ph.mean, 180 + 180 + 180, 1e-6);
    near("m3 running", machine(&q, "m3")->share[GB_SIM_RUNNING].mean, 540 * 5 / 3600.0, 1e-6);
    near("l1 running", machine(&q, "l1")->share[GB_SIM_RUNNING].mean, 1.0, 1e-9);
    run_free(&q);
}

/* ---- reproducibility, distributions, errors ----------------------------------------------- */

static char *json_of(const char *yaml, uint64_t seed, uint32_t threads)
{
    gb_diag_t d;
    gb_diag_init(&d, "m.yaml");
    gb_plant_t *p;
    gb_sim_model_t *md;
    assert_int_equal(gb_plant_load_mem("m.yaml", yaml, strlen(yaml), &p, &d), 0);
    assert_int_equal(gb_sim_model_build(p, &md, &d), 0);
    gb_sim_study_opts_t o = {8 * 3600, 3600, 6, seed, T0, threads};
    gb_sim_study_t *s;
    assert_int_equal(gb_sim_study_run(md, &o, &s), 0);
    char *j = gb_sim_study_json(s, "m.yaml", NULL, 0);
    gb_sim_study_free(s);
    gb_sim_model_free(md);
    gb_plant_free(p);
    gb_diag_clear(&d);
    return j;
}

static void test_same_seed_same_bytes(void **state)
{
    (void)state;
    const char *y = HEAD "areas: [{name: a, lines: [{name: l, machines: [\n"
                         "  {name: m1, sim: {cycle: \"lognormal(30s, 5s)\", failures: [{ttf: "
                         "\"weibull(1.5, 1h)\", ttr: \"triangular(1m, 3m, 10m)\"}], scrap: 0.02}},\n"
                         "  {name: m2, sim: {cycle: \"normal(28s, 4s)\", buffer: 3, micro_stops: "
                         "{every: exp(10m), duration: \"uniform(5s, 30s)\"}}}]}]}]\n";
    char *a = json_of(y, 42, 1), *b = json_of(y, 42, 4), *c = json_of(y, 43, 0);
    assert_string_equal(a, b); /* threads change nothing */
    assert_true(strcmp(a, c) != 0);
    free(a);
    free(b);
    free(c);
}

static void test_distribution_means(void **state)
{
    (void)state;
    static const struct { const char *txt; double mean; } cases[] = {
        {"42s", 42},
        {"exp(20m)", 1200},
        {"uniform(10s, 20s)", 15},
        {"normal(42s, 3s)", 42},
        {"normal(1s, 1s)", 1 + 0.2876000}, /* truncated at 0: mean + sd*phi(1)/Phi(1) */
        {"lognormal(42s, 3s)", 42},
        {"weibull(1.5, 2h)", 7200 * 0.9027452929509336},
        {"triangular(30s, 40s, 70s)", 140.0 / 3},
        {"empirical(1s, 2s, 6s)", 3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gb_dist_t d;
        char err[256];
        assert_int_equal(gb_dist_parse(cases[i].txt, &d, err, sizeof err), 0);
        near(cases[i].txt, gb_dist_mean(&d), cases[i].mean, 1e-3 * cases[i].mean);
        gb_rng_t r;
        gb_rng_seed(&r, 1, 0, i);
        double sum = 0, sq = 0;
        int n = 400000;
        for (int k = 0; k < n; k++) {
            double x = gb_dist_sample(&d, &r);
            assert_true(x >= 0);
            sum += x;
            sq += x * x;
        }
        double m = sum / n, sd = sqrt(sq / n - m * m);
        near(cases[i].txt, m, cases[i].mean, 4 * sd / sqrt(n) + 1e-9);
        gb_dist_clear(&d);
    }
    static const char *bad[] = {"exp(0)", "exp(-1s)", "uniform(2s, 1s)", "normal(1s)",
                                "normal(10s, 1s, 100s, 200s)", "weibull(x, 1h)", "gamma(1, 2)",
                                "exp(1s", "exp(1s) x", "empirical()", "fast", "-3s", "nan",
                                "exp(1s,,)", "triangular(3s, 1s, 2s)", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gb_dist_t d;
        char err[256] = "";
        if (gb_dist_parse(bad[i], &d, err, sizeof err) != GB_EINVAL)
            fail_msg("'%s' was accepted", bad[i]);
        assert_true(err[0] != 0);
    }
}

static char *problems(const char *yaml)
{
    gb_diag_t d;
    gb_diag_init(&d, "m.yaml");
    gb_plant_t *p = NULL;
    char *out = NULL;
    size_t len = 0;
    if (gb_plant_load_mem("m.yaml", yaml, strlen(yaml), &p, &d) == 0) {
        gb_plant_free(p);
        gb_diag_clear(&d);
        return NULL;
    }
    FILE *f = open_memstream(&out, &len);
    gb_diag_print(&d, f);
    fclose(f);
    gb_diag_clear(&d);
    return out;
}

static void test_bad_models(void **state)
{
    (void)state;
    /* the plant loader checks the simulation sections with everything else */
    char *got = problems(HEAD "areas: [{name: a, lines: [{name: l, machines: [\n"
                              "  {name: m1, sim: {cycle: exp(0), buffer: -1, scrap: 1.5}},\n"
                              "  {name: m2, sim: {cycl: 3s, failures: [{ttf: 1h}]}}]}]}]\n"
                              "simulation:\n"
                              "  repair_crew: 0\n"
                              "  products: [{name: p, route: [m1, m9]}]\n");
    assert_non_null(got);
    fprintf(stderr, "%s", got);
    assert_non_null(strstr(got, "m.yaml:3:27: exp(MEAN): the mean must be above 0"));
    assert_non_null(strstr(got, "m.yaml:3:43: a buffer is a number of places"));
    assert_non_null(strstr(got, "m.yaml:3:54: 'scrap' is the share"));
    assert_non_null(strstr(got, "m.yaml:4:20: unknown key 'cycl'"));
    assert_non_null(strstr(got, "a failure mode needs 'ttr'"));
    assert_non_null(strstr(got, "m.yaml:6:16: 'repair_crew' must be between 1"));
    assert_null(strstr(got, "no cycle time")); /* a bad cycle is not also a missing one */
    assert_non_null(strstr(got, "m.yaml:7:36: product 'p': route step 'm9' is not a station"));
    free(got);
    /* a distribution cut at a comma by YAML's flow syntax gets the fix, not "unknown key" */
    got = problems(HEAD "areas: [{name: a, lines: [{name: l, machines: [\n"
                        "  {name: m1, sim: {cycle: normal(42s, 3s)}}]}]}]\n");
    assert_non_null(got);
    assert_non_null(strstr(got, "quote a distribution that has commas"));
    free(got);
    /* and a model with nothing to simulate says so */
    got = problems(HEAD "areas: [{name: a, lines: [{name: l, machines: [{name: m1}]}]}]\n"
                        "simulation: {repair_crew: 2}\n");
    assert_non_null(got);
    assert_non_null(strstr(got, "no machine is simulated"));
    free(got);
}

int main(void)
{
    gb_cli_register_adapters();
    gb_tz_set("UTC");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mm1),
        cmocka_unit_test(test_mm1k),
        cmocka_unit_test(test_two_machines_blocking),
        cmocka_unit_test(test_availability),
        cmocka_unit_test(test_repair_crew),
        cmocka_unit_test(test_deterministic_line),
        cmocka_unit_test(test_shifts_and_scrap),
        cmocka_unit_test(test_setups_and_routing),
        cmocka_unit_test(test_same_seed_same_bytes),
        cmocka_unit_test(test_distribution_means),
        cmocka_unit_test(test_bad_models),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
