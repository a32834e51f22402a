/*
 * bench_oee: how fast the OEE engine recomputes a year of a 1,000-machine plant, beside a naive
 * baseline of our own, and how soon a signal reaches the live OEE through the bus.
 *
 * Data: a generated, seeded year (2025) of state changes for each machine -- execution, mode and
 * part-counter changes about every 10 minutes, ~52,000 per machine, ~52 M in all -- against a
 * three-shift calendar with breaks. Generation is not timed.
 *
 *   engine   gb_mengine_feed on every event (compiled rules), then the year's KPIs per machine
 *   naive    the same state timeline and counts, but every event re-evaluates the plant file's
 *            rule tree as written: tags found by name, literals parsed from text each time
 *   live     one sample published on the bus until /api/v1/machines-style state shows it
 *
 * usage: bench_oee [MACHINES] [DAYS]     (defaults 1000 and 365)
 */
#include "gemba/bus.h"
#include "gemba/calendar.h"
#include "gemba/oee.h"
#include "gemba/oee_live.h"
#include "gemba/plant.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { EXEC, MODE, PARTS };

typedef struct ev {
    gb_time_t t;
    uint8_t tag;
    uint8_t sv;  /* string value index */
    int64_t iv;
} ev_t;

static const char *const EXEC_V[] = {"ACTIVE", "READY", "STOPPED"};
static const char *const MODE_V[] = {"AUTOMATIC", "MANUAL"};

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static double urand(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (double)((rng * 2685821657736338717ull) >> 11) * 0x1.0p-53;
}

static char *plant_yaml(int machines)
{
    size_t cap = 4096 + (size_t)machines * 256, n = 0;
    char *y = malloc(cap);
    n += (size_t)snprintf(y + n, cap - n,
        "site: {name: bench, timezone: Europe/Berlin}\n"
        "reasons: {planned: [maintenance], unplanned: {failure: [tool]}}\n"
        "state_rules:\n  default:\n"
        "    - {name: manual, state: setup, when: {tag: mode, eq: MANUAL}}\n"
        "    - {name: stopped, state: down, when: {tag: execution, eq: STOPPED}, reason: unplanned/failure/tool}\n"
        "    - {name: cutting, state: running, when: {tag: execution, in: [ACTIVE]}}\n"
        "    - {state: idle, when: always}\n"
        "calendar:\n  shifts:\n"
        "    - {name: early, days: [mon-fri], start: \"06:00\", end: \"14:00\", breaks: [{start: \"09:00\", duration: 15m}]}\n"
        "    - {name: late, days: [mon-fri], start: \"14:00\", end: \"22:00\", breaks: [{start: \"18:00\", duration: 30m}]}\n"
        "    - {name: night, days: [sun-thu], start: \"22:00\", end: \"06:00\"}\n"
        "areas: [{name: a, lines: [{name: l, machines: [\n");
    for (int i = 0; i < machines; i++)
        n += (size_t)snprintf(y + n, cap - n,
            "  {name: m%d, ideal_cycle_time: 50s, disconnected_after: 1h, counts: {total: parts},"
            " tags: [{name: execution, type: string}, {name: mode, type: string}, {name: parts, type: int}]}%s\n",
            i, i + 1 < machines ? "," : "");
    snprintf(y + n, cap - n, "]}]}]\n");
    return y;
}

/* A machine's year: a change about every 10 minutes. */
static size_t gen(ev_t *out, size_t cap, gb_time_t from, gb_time_t to)
{
    size_t n = 0;
    int64_t parts = 0;
    for (gb_time_t t = from; t < to && n < cap; t += (gb_time_t)(urand() * 1200e9) + 1) {
        double u = urand();
        if (u < 0.70) out[n++] = (ev_t){t, EXEC, (uint8_t)(urand() < 0.8 ? 0 : urand() < 0.5 ? 1 : 2), 0};
        else if (u < 0.95) out[n++] = (ev_t){t, PARTS, 0, parts += 1 + (int64_t)(urand() * 20)};
        else out[n++] = (ev_t){t, MODE, (uint8_t)(urand() < 0.5), 0};
    }
    return n;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the naive baseline: rules interpreted from the plant model on every event ---------------- */

typedef struct naive {
    const gb_machine_t *m;
    const gb_ruleset_t *rs;
    char vals[3][32];
    bool has[3];
    int state, rule;
    gb_time_t since;
    gb_seg_t *segs;   /* the same outputs as the engine: segments and part events */
    size_t nsegs, cap_segs;
    gb_part_t *parts;
    size_t nparts, cap_parts;
    int64_t last_parts, produced;
    bool has_parts;
} naive_t;

static bool naive_eval(const naive_t *n, const gb_cond_t *c)
{
    switch (c->kind) {
    case GB_COND_ALWAYS: return true;
    case GB_COND_ALL:
        for (size_t i = 0; i < c->nsub; i++) if (!naive_eval(n, &c->sub[i])) return false;
        return true;
    case GB_COND_ANY:
        for (size_t i = 0; i < c->nsub; i++) if (naive_eval(n, &c->sub[i])) return true;
        return false;
    case GB_COND_NOT: return !naive_eval(n, &c->sub[0]);
    default: break;
    }
    for (size_t i = 0; i < n->m->ntags; i++) {            /* the tag, by name */
        if (strcmp(n->m->tags[i].name, c->tag)) continue;
        if (!n->has[i]) return false;
        for (size_t v = 0; v < c->nvalues; v++) {         /* literals as text */
            bool eq = n->m->tags[i].type == GB_VT_STR ? !strcmp(n->vals[i], c->values[v])
                                                      : strtod(n->vals[i], NULL) == strtod(c->values[v], NULL);
            if (c->op == GB_OP_EQ || c->op == GB_OP_IN) { if (eq) return true; }
            else if (c->op == GB_OP_NE) return !eq;
        }
        return false;
    }
    return false;
}

static void naive_feed(naive_t *n, const ev_t *e)
{
    if (e->tag == PARTS) {
        snprintf(n->vals[PARTS], sizeof n->vals[PARTS], "%lld", (long long)e->iv);
        if (n->has_parts) {
            int64_t dlt = e->iv >= n->last_parts ? e->iv - n->last_parts : e->iv;
            n->produced += dlt;
            if (n->nparts == n->cap_parts) {
                n->cap_parts = n->cap_parts ? n->cap_parts * 2 : 64;
                n->parts = realloc(n->parts, n->cap_parts * sizeof *n->parts);
            }
            n->parts[n->nparts++] = (gb_part_t){e->t, dlt, 0, 0, n->m->ideal_cycle_ns};
        }
        n->last_parts = e->iv;
        n->has_parts = true;
    } else {
        strcpy(n->vals[e->tag], e->tag == EXEC ? EXEC_V[e->sv] : MODE_V[e->sv]);
    }
    n->has[e->tag] = true;
    for (size_t r = 0; r < n->rs->n; r++) {
        if (!naive_eval(n, &n->rs->rules[r].when)) continue;
        if ((int)n->rs->rules[r].state != n->state || (int)r != n->rule) {
            if (n->nsegs == n->cap_segs) {
                n->cap_segs = n->cap_segs ? n->cap_segs * 2 : 64;
                n->segs = realloc(n->segs, n->cap_segs * sizeof *n->segs);
            }
            n->segs[n->nsegs++] = (gb_seg_t){n->since, e->t, (uint8_t)n->state, n->rule};
            n->state = (int)n->rs->rules[r].state;
            n->rule = (int)r;
            n->since = e->t;
        }
        return;
    }
}

/* ---- live latency ----------------------------------------------------------------------------- */

static double percentile(double *v, size_t n, double p)
{
    for (size_t i = 1; i < n; i++) { /* insertion sort: n is small */
        double x = v[i];
        size_t j = i;
        while (j > 0 && v[j - 1] > x) { v[j] = v[j - 1]; j--; }
        v[j] = x;
    }
    return v[(size_t)(p * (double)(n - 1))];
}

static void live_latency(const gb_plant_t *p)
{
    gb_tags_t *tags = gb_plant_build_tags(p);
    gb_bus_t *bus = gb_bus_new(tags);
    gb_oee_live_t *live = gb_oee_live_new(p, tags, gb_now());
    gb_bus_subscribe(bus, "oee", GB_BUS_BLOCK, 1 << 20, &gb_oee_live_consumer, live);
    gb_bus_start(bus);
    uint32_t exec = gb_tags_find(tags, "m0/execution")->id;
    enum { N = 2000 };
    static double lat[N];
    for (int i = 0; i < N; i++) {
        const char *v = i % 2 ? "STOPPED" : "ACTIVE";
        gb_batch_t *b = gb_batch_new(1);
        gb_batch_add_str(b, gb_now(), exec, GB_Q_GOOD, v, strlen(v));
        uint64_t fed0, late, too_late;
        gb_oee_live_counters(live, &fed0, &late, &too_late);
        double t0 = now_s();
        gb_bus_publish(bus, b, GB_NS_PER_S);
        uint64_t fed = fed0;
        while (fed == fed0) gb_oee_live_counters(live, &fed, &late, &too_late);
        lat[i] = now_s() - t0;
    }
    printf("%-8s %12s %10s %12.1f %12.1f   (signal on the bus -> live engine updated; p50 / p99 in us)\n",
           "live", "2000", "", percentile(lat, N, 0.5) * 1e6, percentile(lat, N, 0.99) * 1e6);
    gb_bus_stop(bus, gb_mono_ns() + GB_NS_PER_S, NULL);
    gb_bus_free(bus);
    gb_oee_live_free(live);
    gb_tags_free(tags);
}

int main(int argc, char **argv)
{
    int machines = argc > 1 ? atoi(argv[1]) : 1000;
    int days = argc > 2 ? atoi(argv[2]) : 365;
    char *yaml = plant_yaml(machines);
    gb_diag_t d;
    gb_diag_init(&d, "bench");
    gb_plant_t *p;
    if (gb_plant_load_mem("bench", yaml, strlen(yaml), &p, &d) != 0) {
        gb_diag_print(&d, stderr);
        return 1;
    }
    gb_diag_clear(&d);
    free(yaml);
    gb_tz_set(p->timezone);
    gb_time_t from = gb_tz_local_to_utc(20250101, 0), to = from + (gb_time_t)days * 86400 * GB_NS_PER_S;
    gb_plan_t plan;
    gb_plan_build(p, from, to, &plan);

    size_t cap = (size_t)days * 24 * 6 * 2 + 16;
    ev_t *evs = malloc(cap * sizeof *evs);
    uint64_t total = 0;
    double t_engine = 0, t_kpi = 0, t_naive = 0;
    gb_oee_t sum = {.ideal_known = true};
    uint64_t naive_segs = 0, naive_pq = 0;
    for (int i = 0; i < machines; i++) {
        size_t n = gen(evs, cap, from, to);
        total += n;
        /* engine */
        double t0 = now_s();
        gb_mengine_t *e = gb_mengine_new(p, &p->machines[i], from);
        for (size_t k = 0; k < n; k++) {
            gb_value_t v;
            if (evs[k].tag == PARTS) v = (gb_value_t){.type = GB_VT_I64, .i64 = evs[k].iv};
            else {
                const char *s = evs[k].tag == EXEC ? EXEC_V[evs[k].sv] : MODE_V[evs[k].sv];
                v = (gb_value_t){.type = GB_VT_STR, .str = s, .len = strlen(s)};
            }
            gb_mengine_feed(e, evs[k].t, evs[k].tag, &v);
        }
        double t1 = now_s();
        gb_mengine_oee(e, &plan, from, to, NULL, &sum);
        double t2 = now_s();
        gb_mengine_free(e);
        t_engine += t1 - t0;
        t_kpi += t2 - t1;
        /* naive */
        naive_t nv = {.m = &p->machines[i], .rs = &p->rulesets[p->machines[i].ruleset], .state = -1};
        double t3 = now_s();
        for (size_t k = 0; k < n; k++) naive_feed(&nv, &evs[k]);
        t_naive += now_s() - t3;
        naive_segs += nv.nsegs;
        naive_pq += (uint64_t)nv.produced;
        free(nv.segs);
        free(nv.parts);
    }
    gb_oee_finish(&sum);
    double eng_rate = (double)total / (t_engine + t_kpi), naive_rate = (double)total / t_naive;
    printf("bench_oee: %d machines x %d days, %llu events (generated, seeded), one core\n\n",
           machines, days, (unsigned long long)total);
    printf("%-8s %12s %10s %12s %12s\n", "", "events", "seconds", "M events/s", "vs naive");
    printf("%-8s %12llu %10.3f %12.2f %11.2fx   (feed %.3f s + year of KPIs %.3f s)\n", "engine",
           (unsigned long long)total, t_engine + t_kpi, eng_rate / 1e6, eng_rate / naive_rate,
           t_engine, t_kpi);
    printf("%-8s %12llu %10.3f %12.2f %11.2fx   (same timeline and part list; no KPIs)\n",
           "naive", (unsigned long long)total, t_naive, naive_rate / 1e6, 1.0);
    live_latency(p);
    printf("\nplant year: OEE %.4f, availability %.4f, %lld parts in planned time (%llu in all)\n"
           "goal >= 20 M events/s on one core (feed + KPIs): %s\n", sum.oee, sum.availability,
           (long long)sum.pq, (unsigned long long)naive_pq, eng_rate >= 20e6 ? "met" : "NOT met");
    (void)naive_segs;
    gb_plan_clear(&plan);
    free(evs);
    gb_plant_free(p);
    return 0;
}
