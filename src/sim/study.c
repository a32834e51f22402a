/*
 * What-if studies: independent replications of one model, each with the warm-up deleted,
 * summarised as means with 95 % confidence intervals (Student t over the replication means, the
 * textbook method for terminating and steady-state runs alike). Replications run on several
 * threads but are gathered in order, so the output depends only on the model, the options and
 * the seed -- never on scheduling.
 *
 * The bottleneck of a line is named by the active-period rule (Roser, Nakano and Tanaka): the
 * machine whose share of working time it is active -- running, in setup, micro-stopped or down,
 * i.e. neither starved nor blocked -- is largest limits the line; the fraction of replications in
 * which it came first says how firmly (a low one is a shifting bottleneck).
 */
#include "gemba/error.h"
#include "sim/sim_internal.h"
#include "util/str.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char gb_sim_bottleneck_rule[] =
    "active period: the largest share of working time active (running, setup, micro-stop or "
    "down), not starved and not blocked";

typedef struct rep {
    double *share;    /* [nm * NSTATES] */
    double *good, *scrap, *active, *fails, *down_time;
    double *th, *lscrap, *wip, *lead, *lost, *little, *lw;
    uint32_t *bneck;  /* per line */
    uint64_t events;
} rep_t;

typedef struct job {
    const gb_sim_model_t *md;
    const gb_sim_study_opts_t *o;
    rep_t *reps;
    uint32_t next;
    pthread_mutex_t mu;
} job_t;

static void run_rep(const gb_sim_model_t *md, const gb_sim_study_opts_t *o, uint32_t k, rep_t *r)
{
    gb_sim_t *s = gb_sim_new(md, o->seed, k, o->t0);
    if (o->warmup > 0) {
        gb_sim_run(s, o->warmup);
        gb_sim_reset_stats(s);
    }
    gb_sim_run(s, o->until);
    double span = o->until - (o->warmup > 0 ? o->warmup : 0);
    double hours = span / 3600;
    uint32_t nm = md->nm, nl = md->nline;
    r->share = gb_xcalloc((size_t)nm * GB_SIM_NSTATES, sizeof *r->share);
    r->good = gb_xcalloc(nm, sizeof(double));
    r->scrap = gb_xcalloc(nm, sizeof(double));
    r->active = gb_xcalloc(nm, sizeof(double));
    r->fails = gb_xcalloc(nm, sizeof(double));
    r->down_time = gb_xcalloc(nm, sizeof(double));
    r->th = gb_xcalloc(nl, sizeof(double));
    r->lscrap = gb_xcalloc(nl, sizeof(double));
    r->wip = gb_xcalloc(nl, sizeof(double));
    r->lead = gb_xcalloc(nl, sizeof(double));
    r->lost = gb_xcalloc(nl, sizeof(double));
    r->little = gb_xcalloc(nl, sizeof(double));
    r->lw = gb_xcalloc(nl, sizeof(double));
    r->bneck = gb_xcalloc(nl, sizeof(uint32_t));
    for (uint32_t i = 0; i < nm; i++) {
        sim_mrt_t *m = &s->m[i];
        m->acc[m->st] += s->now - m->since; /* close the open interval */
        m->since = s->now;
        double planned = m->acc[GB_SIM_PLANNED];
        for (int st = 0; st < GB_SIM_NSTATES; st++) r->share[(size_t)i * GB_SIM_NSTATES + st] = m->acc[st] / span;
        double act = m->acc[GB_SIM_RUNNING] + m->acc[GB_SIM_SETUP] + m->acc[GB_SIM_MICRO] +
                     m->acc[GB_SIM_DOWN];
        r->active[i] = span - planned > 0 ? act / (span - planned) : 0;
        r->good[i] = (double)m->good / hours;
        r->scrap[i] = (double)m->scrap / hours;
        r->fails[i] = (double)m->failures;
        /* down time of failures that began before the warm-up ended counts from its end */
        double open = m->down ? s->now - (m->down_since > s->stats_from ? m->down_since
                                                                         : s->stats_from)
                              : 0;
        r->down_time[i] = m->repair_time + open;
    }
    for (uint32_t l = 0; l < nl; l++) {
        sim_lrt_t *lr = &s->l[l];
        lr->wip_acc += (double)lr->wip * (s->now - lr->wip_since);
        lr->wip_since = s->now;
        r->th[l] = (double)lr->good / hours;
        r->lscrap[l] = (double)lr->scrap / hours;
        r->lost[l] = (double)lr->lost / hours;
        r->wip[l] = lr->wip_acc / span;
        r->lead[l] = lr->exits ? lr->sojourn / (double)lr->exits : NAN;
        double lw = (double)lr->exits / span * r->lead[l];
        r->lw[l] = lr->exits ? lw : 0;
        r->little[l] = r->wip[l] > 0 && lr->exits ? fabs(r->wip[l] - lw) / r->wip[l] : 0;
        uint32_t best = SIM_NONE;
        for (uint32_t i = 0; i < nm; i++)
            if (md->m[i].line == l && (best == SIM_NONE || r->active[i] > r->active[best])) best = i;
        r->bneck[l] = best;
    }
    r->events = gb_sim_events(s);
    gb_sim_free(s);
}

static void *worker(void *arg)
{
    job_t *j = arg;
    for (;;) {
        pthread_mutex_lock(&j->mu);
        uint32_t k = j->next++;
        pthread_mutex_unlock(&j->mu);
        if (k >= j->o->reps) return NULL;
        run_rep(j->md, j->o, k, &j->reps[k]);
    }
}

static void rep_free(rep_t *r)
{
    free(r->share);
    free(r->good);
    free(r->scrap);
    free(r->active);
    free(r->fails);
    free(r->down_time);
    free(r->th);
    free(r->lscrap);
    free(r->wip);
    free(r->lead);
    free(r->lost);
    free(r->little);
    free(r->lw);
    free(r->bneck);
}

/* The 97.5 % quantile of Student's t with DF degrees of freedom. */
static double t975(uint32_t df)
{
    static const double tab[] = {0,      12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365,
                                 2.306,  2.262,  2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
                                 2.120,  2.110,  2.101, 2.093, 2.086, 2.080, 2.074, 2.069,
                                 2.064,  2.060,  2.056, 2.052, 2.048, 2.045, 2.042};
    if (df == 0) return 0;
    if (df <= 30) return tab[df];
    /* Cornish-Fisher expansion around the normal quantile: good to 1e-4 from 30 on */
    double z = 1.959963984540054, n = df;
    double z3 = z * z * z, z5 = z3 * z * z, z7 = z5 * z * z;
    return z + (z3 + z) / (4 * n) + (5 * z5 + 16 * z3 + 3 * z) / (96 * n * n) +
           (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * n * n * n);
}

/* Mean and 95 % interval of GET(rep)[IDX] over the N replications (NaNs skipped). */
static gb_sim_estimate_t estimate(const rep_t *reps, uint32_t n, const double *(*get)(const rep_t *),
                                  size_t idx)
{
    double sum = 0, sq = 0;
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        double v = get(&reps[i])[idx];
        if (isnan(v)) continue;
        sum += v;
        k++;
    }
    gb_sim_estimate_t e = {NAN, 0, NAN, NAN};
    if (!k) return e;
    e.mean = sum / k;
    for (uint32_t i = 0; i < n; i++) {
        double v = get(&reps[i])[idx];
        if (!isnan(v)) sq += (v - e.mean) * (v - e.mean);
    }
    e.half = k > 1 ? t975(k - 1) * sqrt(sq / (k - 1) / k) : 0;
    e.lo = e.mean - e.half;
    e.hi = e.mean + e.half;
    return e;
}

#define GETTER(f) \
    static const double *get_##f(const rep_t *r) { return r->f; }
GETTER(share)
GETTER(good)
GETTER(scrap)
GETTER(active)
GETTER(th)
GETTER(lscrap)
GETTER(wip)
GETTER(lead)
GETTER(lost)
GETTER(lw)

int gb_sim_study_run(const gb_sim_model_t *md, const gb_sim_study_opts_t *o,
                     gb_sim_study_t **out)
{
    *out = NULL;
    if (o->reps < 1 || !(o->until > 0) || !(o->warmup >= 0) || o->warmup >= o->until)
        return GB_EINVAL;
    job_t j = {md, o, gb_xcalloc(o->reps, sizeof(rep_t)), 0, PTHREAD_MUTEX_INITIALIZER};
    uint32_t nt = o->threads;
    if (nt == 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        nt = c > 0 ? (uint32_t)c : 1;
    }
    if (nt > o->reps) nt = o->reps;
    pthread_t *th = gb_xcalloc(nt, sizeof *th);
    uint32_t started = 0;
    for (uint32_t i = 1; i < nt; i++)
        if (pthread_create(&th[started], NULL, worker, &j) == 0) started++;
    worker(&j); /* this thread works too; without helpers it does everything */
    for (uint32_t i = 0; i < started; i++) pthread_join(th[i], NULL);
    free(th);

    gb_sim_study_t *s = gb_xcalloc(1, sizeof *s);
    s->o = *o;
    s->nmachines = md->nm;
    s->nlines = md->nline;
    s->machines = gb_xcalloc(md->nm ? md->nm : 1, sizeof *s->machines);
    s->lines = gb_xcalloc(md->nline ? md->nline : 1, sizeof *s->lines);
    for (uint32_t k = 0; k < o->reps; k++) s->events += j.reps[k].events;
    for (uint32_t i = 0; i < md->nm; i++) {
        gb_sim_machine_result_t *mr = &s->machines[i];
        mr->name = md->m[i].name;
        mr->line = md->line[md->m[i].line].name;
        for (int st = 0; st < GB_SIM_NSTATES; st++)
            mr->share[st] = estimate(j.reps, o->reps, get_share, (size_t)i * GB_SIM_NSTATES + st);
        mr->good_ph = estimate(j.reps, o->reps, get_good, i);
        mr->scrap_ph = estimate(j.reps, o->reps, get_scrap, i);
        mr->active = estimate(j.reps, o->reps, get_active, i);
        double f = 0, dt = 0;
        for (uint32_t k = 0; k < o->reps; k++) {
            f += j.reps[k].fails[i];
            dt += j.reps[k].down_time[i];
        }
        mr->failures = f / o->reps;
        mr->mttr_s = f > 0 ? dt / f : NAN;
    }
    for (uint32_t l = 0; l < md->nline; l++) {
        gb_sim_line_result_t *lr = &s->lines[l];
        lr->name = md->line[l].name;
        lr->throughput_ph = estimate(j.reps, o->reps, get_th, l);
        lr->scrap_ph = estimate(j.reps, o->reps, get_lscrap, l);
        lr->wip = estimate(j.reps, o->reps, get_wip, l);
        lr->lead_time_s = estimate(j.reps, o->reps, get_lead, l);
        lr->lost_ph = estimate(j.reps, o->reps, get_lost, l);
        lr->lambda_w = estimate(j.reps, o->reps, get_lw, l);
        lr->bottleneck = lr->runner_up = SIM_NONE;
        for (uint32_t k = 0; k < o->reps; k++)
            if (j.reps[k].little[l] > lr->little_max_dev) lr->little_max_dev = j.reps[k].little[l];
        /* highest mean active share first; ties by machine order */
        for (uint32_t i = 0; i < md->nm; i++) {
            if (md->m[i].line != l) continue;
            double a = s->machines[i].active.mean;
            if (lr->bottleneck == SIM_NONE || a > s->machines[lr->bottleneck].active.mean) {
                lr->runner_up = lr->bottleneck;
                lr->bottleneck = i;
            } else if (lr->runner_up == SIM_NONE || a > s->machines[lr->runner_up].active.mean) {
                lr->runner_up = i;
            }
        }
        uint32_t hits = 0;
        for (uint32_t k = 0; k < o->reps; k++) hits += j.reps[k].bneck[l] == lr->bottleneck;
        lr->bottleneck_share = (double)hits / o->reps;
    }
    for (uint32_t k = 0; k < o->reps; k++) rep_free(&j.reps[k]);
    free(j.reps);
    pthread_mutex_destroy(&j.mu);
    *out = s;
    return 0;
}

void gb_sim_study_free(gb_sim_study_t *s)
{
    if (!s) return;
    free(s->machines);
    free(s->lines);
    free(s);
}

/* ---- output ------------------------------------------------------------------------------- */

static json_t *num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *est_json(const gb_sim_estimate_t *e, uint32_t reps)
{
    json_t *o = json_object();
    json_object_set_new(o, "mean", num(e->mean));
    if (reps > 1 && isfinite(e->mean)) {
        json_t *ci = json_array();
        json_array_append_new(ci, num(e->lo));
        json_array_append_new(ci, num(e->hi));
        json_object_set_new(o, "ci95", ci);
    } else {
        json_object_set_new(o, "ci95", json_null());
    }
    return o;
}

static void fmt_dur(double s, char *buf, size_t n)
{
    gb_duration_format((int64_t)llround(s * 1e9), buf, n);
}

char *gb_sim_study_json(const gb_sim_study_t *s, const char *model_name, char *const *overrides,
                        size_t noverrides)
{
    uint32_t R = s->o.reps;
    json_t *doc = json_object();
    char b1[48], b2[48];
    fmt_dur(s->o.until, b1, sizeof b1);
    fmt_dur(s->o.warmup, b2, sizeof b2);
    json_object_set_new(doc, "model", json_string(model_name));
    json_t *set = json_array();
    for (size_t i = 0; i < noverrides; i++) json_array_append_new(set, json_string(overrides[i]));
    json_object_set_new(doc, "set", set);
    json_object_set_new(doc, "seed", json_integer((json_int_t)s->o.seed));
    json_object_set_new(doc, "reps", json_integer(R));
    json_object_set_new(doc, "until", json_string(b1));
    json_object_set_new(doc, "warmup", json_string(b2));
    json_object_set_new(doc, "events", json_integer((json_int_t)s->events));
    json_t *lines = json_array();
    for (uint32_t l = 0; l < s->nlines; l++) {
        const gb_sim_line_result_t *lr = &s->lines[l];
        json_t *o = json_object();
        json_object_set_new(o, "line", json_string(lr->name));
        json_object_set_new(o, "throughput_per_hour", est_json(&lr->throughput_ph, R));
        json_object_set_new(o, "scrap_per_hour", est_json(&lr->scrap_ph, R));
        json_object_set_new(o, "lost_per_hour", est_json(&lr->lost_ph, R));
        json_object_set_new(o, "wip", est_json(&lr->wip, R));
        json_object_set_new(o, "lead_time_s", est_json(&lr->lead_time_s, R));
        json_t *ll = json_object();
        json_object_set_new(ll, "L", num(lr->wip.mean));
        json_object_set_new(ll, "lambda_W", num(lr->lambda_w.mean));
        json_object_set_new(ll, "max_deviation", num(lr->little_max_dev));
        json_object_set_new(o, "littles_law", ll);
        json_t *bn = json_object();
        if (lr->bottleneck != SIM_NONE) {
            const gb_sim_machine_result_t *m = &s->machines[lr->bottleneck];
            json_object_set_new(bn, "machine", json_string(m->name));
            json_object_set_new(bn, "rule", json_string(gb_sim_bottleneck_rule));
            json_object_set_new(bn, "active_share", num(m->active.mean));
            json_object_set_new(bn, "share_of_reps", num(lr->bottleneck_share));
            if (lr->runner_up != SIM_NONE) {
                json_t *ru = json_object();
                json_object_set_new(ru, "machine", json_string(s->machines[lr->runner_up].name));
                json_object_set_new(ru, "active_share", num(s->machines[lr->runner_up].active.mean));
                json_object_set_new(bn, "runner_up", ru);
            }
        }
        json_object_set_new(o, "bottleneck", bn);
        json_array_append_new(lines, o);
    }
    json_object_set_new(doc, "lines", lines);
    json_t *ms = json_array();
    for (uint32_t i = 0; i < s->nmachines; i++) {
        const gb_sim_machine_result_t *m = &s->machines[i];
        json_t *o = json_object();
        json_object_set_new(o, "machine", json_string(m->name));
        json_object_set_new(o, "line", json_string(m->line));
        json_t *sh = json_object();
        for (int st = 0; st < GB_SIM_NSTATES; st++)
            json_object_set_new(sh, gb_sim_state_name((gb_sim_state_t)st), est_json(&m->share[st], R));
        json_object_set_new(o, "time_share", sh);
        json_object_set_new(o, "active_share", est_json(&m->active, R));
        json_object_set_new(o, "good_per_hour", est_json(&m->good_ph, R));
        json_object_set_new(o, "scrap_per_hour", est_json(&m->scrap_ph, R));
        json_object_set_new(o, "failures_per_rep", num(m->failures));
        json_object_set_new(o, "mttr_s", num(m->mttr_s));
        json_array_append_new(ms, o);
    }
    json_object_set_new(doc, "machines", ms);
    char *txt = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    json_decref(doc);
    if (!txt) abort(); /* only allocation fails here */
    size_t n = strlen(txt);
    char *res = gb_xmalloc(n + 2);
    memcpy(res, txt, n);
    res[n] = '\n';
    res[n + 1] = 0;
    free(txt);
    return res;
}

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf_t;

static void sb_printf(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (b->n + (size_t)len + 1 > b->cap) {
        b->cap = (b->n + (size_t)len + 1) * 2;
        b->p = gb_xrealloc(b->p, b->cap);
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)len + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)len;
}

static void sb_est(sbuf_t *b, const gb_sim_estimate_t *e, int width, int prec)
{
    if (!isfinite(e->mean)) {
        sb_printf(b, "%*s", width, "-");
        return;
    }
    char t[64];
    if (e->half > 0) snprintf(t, sizeof t, "%.*f ± %.*f", prec, e->mean, prec, e->half);
    else snprintf(t, sizeof t, "%.*f", prec, e->mean);
    sb_printf(b, "%*s", width + (e->half > 0 ? 1 : 0), t); /* '±' is two bytes, one column */
}

char *gb_sim_study_table(const gb_sim_study_t *s, const char *model_name)
{
    sbuf_t b = {0};
    char b1[48], b2[48];
    fmt_dur(s->o.until, b1, sizeof b1);
    fmt_dur(s->o.warmup, b2, sizeof b2);
    sb_printf(&b, "%s: %u replications of %s (warm-up %s deleted), seed %llu, %llu events\n",
              model_name, s->o.reps, b1, b2, (unsigned long long)s->o.seed,
              (unsigned long long)s->events);
    sb_printf(&b, "means with 95%% confidence half-widths\n\n");
    sb_printf(&b, "%-14s %22s %18s %18s %20s  %s\n", "line", "good parts/h", "scrap/h", "WIP",
              "lead time (s)", "bottleneck");
    for (uint32_t l = 0; l < s->nlines; l++) {
        const gb_sim_line_result_t *lr = &s->lines[l];
        sb_printf(&b, "%-14s ", lr->name);
        sb_est(&b, &lr->throughput_ph, 22, 2);
        sb_printf(&b, " ");
        sb_est(&b, &lr->scrap_ph, 18, 2);
        sb_printf(&b, " ");
        sb_est(&b, &lr->wip, 18, 2);
        sb_printf(&b, " ");
        sb_est(&b, &lr->lead_time_s, 20, 1);
        if (lr->bottleneck != SIM_NONE)
            sb_printf(&b, "  %s (active %.1f%%, first in %.0f%% of runs)",
                      s->machines[lr->bottleneck].name,
                      100 * s->machines[lr->bottleneck].active.mean, 100 * lr->bottleneck_share);
        sb_printf(&b, "\n");
    }
    sb_printf(&b, "\nbottleneck rule: %s\n\n", gb_sim_bottleneck_rule);
    sb_printf(&b, "%-14s %-10s", "machine", "line");
    for (int st = 0; st < GB_SIM_NSTATES; st++)
        sb_printf(&b, " %12s", gb_sim_state_name((gb_sim_state_t)st));
    sb_printf(&b, " %10s %10s %9s\n", "good/h", "failures", "MTTR(s)");
    for (uint32_t i = 0; i < s->nmachines; i++) {
        const gb_sim_machine_result_t *m = &s->machines[i];
        sb_printf(&b, "%-14s %-10s", m->name, m->line);
        for (int st = 0; st < GB_SIM_NSTATES; st++)
            sb_printf(&b, " %11.1f%%", 100 * m->share[st].mean);
        sb_printf(&b, " %10.2f %10.1f", m->good_ph.mean, m->failures);
        if (isfinite(m->mttr_s)) sb_printf(&b, " %9.0f\n", m->mttr_s);
        else sb_printf(&b, " %9s\n", "-");
    }
    return b.p;
}
