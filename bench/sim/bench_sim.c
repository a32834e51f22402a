/*
 * bench_sim: how fast the discrete-event engine runs, on one core, beside a naive baseline of our
 * own -- the same engine with its 4-ary heap replaced by a sorted linked list (the textbook
 * future-event list). Both runs use the same seed and must end in the same state: the table
 * says so, so a speed-up can never come from doing less.
 *
 *   line    a 20-machine serial line, 3 places between machines, normal cycle times around 60 s,
 *           two failure modes per machine (operating time), micro-stops, scrap, unlimited supply
 *   plant   ten such lines side by side (200 machines, some 400 pending events): where the
 *           calendar's structure starts to matter; runs a tenth of the time
 *   demo    the built-in demo plant (examples/demo-plant.yaml): 8 machines, two lines, products,
 *           setups, a 2-person repair crew, three shifts with breaks
 *
 * usage: bench_sim [YEARS]   (default 1: each model runs YEARS simulated years)
 */
#include "cli/cli.h"
#include "gemba/calendar.h"
#include "gemba/plant.h"
#include "gemba/sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* LINES serial lines of N machines each. */
static char *line_yaml(int lines, int n)
{
    size_t cap = 1 << 20, len = 0;
    char *y = malloc(cap);
    len += (size_t)snprintf(y + len, cap - len,
                            "site: {name: bench, timezone: UTC}\nareas: [{name: a, lines: [\n");
    for (int l = 0; l < lines; l++) {
        len += (size_t)snprintf(y + len, cap - len, " {name: line%02d, machines: [\n", l + 1);
        for (int i = 0; i < n; i++)
            len += (size_t)snprintf(
                y + len, cap - len,
                "  {name: l%02dm%02d, sim: {cycle: \"normal(%ds, 6s)\", buffer: %d, scrap: 0.5%%,\n"
                "   micro_stops: {every: exp(40m), duration: \"uniform(10s, 60s)\"},\n"
                "   failures: [{ttf: exp(3h), ttr: \"lognormal(12m, 6m)\"},\n"
                "              {ttf: \"weibull(2, 30h)\", ttr: \"lognormal(45m, 20m)\"}]}}%s\n",
                l + 1, i + 1, 55 + (i * 7) % 11, i ? 3 : 0, i + 1 < n ? "," : "");
        len += (size_t)snprintf(y + len, cap - len, " ]}%s\n", l + 1 < lines ? "," : "");
    }
    snprintf(y + len, cap - len, "]}]\n");
    return y;
}

typedef struct result {
    uint64_t events;
    double secs;
    gb_sim_machine_view_t last; /* the end state of the last machine, to compare runs */
} result_t;

static result_t run(const gb_sim_model_t *md, double until, gb_time_t t0, bool list)
{
    gb_sim_t *s = gb_sim_new(md, 1, 0, t0);
    if (list) gb_sim_use_list_calendar(s);
    double a = now_s();
    gb_sim_run(s, until);
    result_t r = {gb_sim_events(s), now_s() - a, {0}};
    gb_sim_machine_view(s, gb_sim_machine_count(s) - 1, &r.last);
    gb_sim_free(s);
    return r;
}

static int bench(const char *name, const char *label, const char *yaml, size_t len, double years,
                 gb_time_t t0)
{
    gb_diag_t d;
    gb_diag_init(&d, name);
    gb_plant_t *p;
    gb_sim_model_t *md;
    if (gb_plant_load_mem(name, yaml, len, &p, &d) != 0 || gb_sim_model_build(p, &md, &d) != 0) {
        gb_diag_print(&d, stderr);
        return 1;
    }
    gb_diag_clear(&d);
    if (p->timezone) gb_tz_set(p->timezone);
    double until = years * 365 * 86400;
    run(md, until / 50, t0, false); /* warm the caches */
    result_t h = run(md, until, t0, false);
    result_t l = run(md, until, t0, true);
    bool same = h.events == l.events && h.last.good == l.last.good &&
                h.last.scrap == l.last.scrap && h.last.state == l.last.state;
    printf("%-34s %9.2f M %8.2f M/s %7.3f s %8.2f M/s %7.3f s %7.2fx  %s\n", label,
           (double)h.events / 1e6, (double)h.events / h.secs / 1e6, h.secs,
           (double)l.events / l.secs / 1e6, l.secs, l.secs / h.secs, same ? "yes" : "NO");
    gb_sim_model_free(md);
    gb_plant_free(p);
    return same ? 0 : 1;
}

int main(int argc, char **argv)
{
    double years = argc > 1 ? atof(argv[1]) : 1;
    if (!(years > 0)) {
        fprintf(stderr, "usage: bench_sim [YEARS]\n");
        return 2;
    }
    gb_cli_register_adapters();
    printf("bench_sim: one replication on one core, %g simulated year(s) per model\n\n", years);
    printf("%-34s %11s %26s %26s %8s  %s\n", "", "", "4-ary heap (gemba)", "sorted list (naive)",
           "", "same");
    printf("%-34s %11s %12s %13s %12s %13s %8s  %s\n", "model", "events", "events/s", "time",
           "events/s", "time", "speed-up", "result");
    char *y = line_yaml(1, 20);
    char label[64];
    snprintf(label, sizeof label, "20-machine line, failures (%gy)", years);
    int rc = bench("line.yaml", label, y, strlen(y), years, 4 * 86400 * GB_NS_PER_S);
    free(y);
    y = line_yaml(10, 20);
    snprintf(label, sizeof label, "10 such lines, 200 machines (%gy)", years / 10);
    rc |= bench("plant.yaml", label, y, strlen(y), years / 10, 4 * 86400 * GB_NS_PER_S);
    free(y);
    /* the demo plant on its own calendar: a year from Monday 2026-01-05 in Europe/Berlin */
    snprintf(label, sizeof label, "demo plant, 8 machines (%gy)", years);
    gb_tz_set("Europe/Berlin");
    gb_time_t t0 = gb_tz_local_to_utc(20260105, 0);
    rc |= bench(GB_DEMO_PLANT_NAME, label, gb_demo_plant_yaml, gb_demo_plant_yaml_len, years, t0);
    printf("\ngoals: >= 10 M events/s on one core; a simulated year of the demo plant in < 1 s\n");
    return rc;
}
