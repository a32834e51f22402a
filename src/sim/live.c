/*
 * The `sim` adapter: the plant simulator run at wall-clock speed (or `speed` times faster),
 * publishing for the machines bound to it exactly what an MTConnect adapter would -- execution,
 * controller mode, program, job and product, alarm, emergency stop, part counts (total, good,
 * scrap) -- and, sampled every `interval`, spindle load and speed, power, and a bearing
 * temperature and vibration that climb as the machine wears towards its next failure, so that
 * predictive maintenance has a real precursor to find. It is the engine of `gemba serve --demo`.
 *
 * A thread advances the simulation to the current simulated time, turning each change the engine
 * reports into a sample stamped with the wall-clock time it stands for; then it samples the
 * analog signals. Simulated time maps to real time as t0 + elapsed * speed, and the shift
 * calendar applies in that time, so at speed 1 the simulated plant keeps the real shifts.
 */
#include "gemba/adapter.h"
#include "gemba/error.h"
#include "gemba/log.h"
#include "gemba/sim.h"
#include "gemba/time.h"
#include "sim/rng.h"
#include "util/str.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct signal_def {
    const char *name;
    gb_vtype_t type;
    const char *what;
} signal_def_t;

enum {
    SIG_EXECUTION, SIG_MODE, SIG_PROGRAM, SIG_JOB, SIG_PRODUCT, SIG_ALARM, SIG_ESTOP,
    SIG_PART_COUNT, SIG_GOOD_COUNT, SIG_SCRAP_COUNT, SIG_STATE, SIG_SPINDLE_LOAD,
    SIG_SPINDLE_SPEED, SIG_TEMPERATURE, SIG_VIBRATION, SIG_POWER, SIG_COUNT_
};

static const signal_def_t signals[SIG_COUNT_] = {
    {"execution", GB_VT_STR, "ACTIVE, READY, INTERRUPTED or STOPPED"},
    {"mode", GB_VT_STR, "AUTOMATIC, or MANUAL during a setup"},
    {"program", GB_VT_STR, "the program of the current product"},
    {"job", GB_VT_STR, "the current job (lot)"},
    {"product", GB_VT_STR, "the product being made"},
    {"alarm", GB_VT_STR, "the active alarm, empty when none"},
    {"estop", GB_VT_STR, "ARMED or TRIGGERED"},
    {"part_count", GB_VT_I64, "parts made (good and scrap)"},
    {"good_count", GB_VT_I64, "good parts"},
    {"scrap_count", GB_VT_I64, "scrapped parts"},
    {"sim_state", GB_VT_STR, "the simulator's own state: running, starved, blocked, down, ..."},
    {"spindle_load", GB_VT_F64, "spindle load, %"},
    {"spindle_speed", GB_VT_F64, "spindle speed, rpm"},
    {"temperature", GB_VT_F64, "spindle bearing temperature, degC"},
    {"vibration", GB_VT_F64, "vibration RMS, mm/s"},
    {"power", GB_VT_F64, "electrical power, kW"},
};

static const char *const sim_keys[] = {"seed", "speed", "interval", NULL};

/* The changes of one machine at one instant wait here until time moves on, then go out together
 * in a fixed order. So changes at one instant (a machine blocked and unblocked by the same
 * departure) become one sample instead of two at one timestamp, of which the store would keep
 * only the last, and each machine's samples leave in time order. */
typedef struct pending {
    bool any, state, counts, job;
    gb_time_t t;
    gb_sim_state_t st;
    const char *alarm;
    uint64_t good, scrap;
} pending_t;

typedef struct lmachine {
    uint32_t tag[SIG_COUNT_]; /* GB_NONE when the plant file does not bind the signal */
    bool bound;
    double temp;
    pending_t p;
} lmachine_t;

typedef struct live {
    gb_adapter_state_t st;
    const gb_adapter_env_t *env;
    gb_sim_model_t *md;
    gb_sim_t *sim;
    lmachine_t *m;           /* per model machine */
    uint32_t nm;
    gb_rng_t rng;            /* noise of the analog signals */
    double speed;
    int64_t interval_ns;
    gb_time_t t0;            /* wall time of simulated time 0 */
    gb_batch_t *b;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop, running;
} live_t;

static int signal_index(const char *name)
{
    for (int i = 0; i < SIG_COUNT_; i++)
        if (!strcmp(signals[i].name, name)) return i;
    return -1;
}

static int sim_check(const gb_adapter_cfg_t *cfg, const gb_adapter_binding_t *b, size_t n,
                     gb_diag_t *diag)
{
    int64_t seed, ns;
    double speed;
    gb_cfg_int(cfg->node, "seed", false, "adapter", 0, INT64_MAX, &seed, diag);
    if (gb_cfg_double(cfg->node, "speed", false, "adapter", &speed, diag) == 0 &&
        (speed <= 0 || speed > 1e6)) {
        const gb_cnode_t *sn = gb_cnode_get(cfg->node, "speed");
        gb_diag_add(diag, sn->line, sn->col, "'speed' must be above 0 and at most 1000000");
    }
    if (gb_cfg_duration(cfg->node, "interval", false, "adapter", &ns, diag) == 0 &&
        (ns < GB_NS_PER_MS || ns > 3600 * GB_NS_PER_S)) {
        const gb_cnode_t *in = gb_cnode_get(cfg->node, "interval");
        gb_diag_add(diag, in->line, in->col, "'interval' must be between 1ms and 1h");
    }
    const char *names[SIG_COUNT_ + 1];
    for (int i = 0; i < SIG_COUNT_; i++) names[i] = signals[i].name;
    names[SIG_COUNT_] = NULL;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        const gb_plant_tag_t *t = b[i].ptag;
        int k = signal_index(t->address);
        if (k < 0) {
            const char *near = gb_did_you_mean(t->address, names);
            gb_diag_add(diag, t->line, t->col,
                        "tag '%s': the sim adapter has no signal '%s'%s%s%s (it has: execution, "
                        "mode, program, job, product, alarm, estop, part_count, good_count, "
                        "scrap_count, sim_state, spindle_load, spindle_speed, temperature, "
                        "vibration, power)",
                        t->name, t->address, near ? "; did you mean '" : "", near ? near : "",
                        near ? "'?" : "");
            bad++;
        } else if (t->type != 0 && signals[k].type != t->type) {
            gb_diag_add(diag, t->line, t->col,
                        "tag '%s': sim signal '%s' is %s (%s), but the tag is declared %s",
                        t->name, t->address, gb_vtype_name(signals[k].type), signals[k].what,
                        gb_vtype_name(t->type));
            bad++;
        }
    }
    return bad ? GB_EINVAL : 0;
}

/* ---- samples ------------------------------------------------------------------------------ */

static void put_str(live_t *L, uint32_t mi, int sig, gb_time_t t, const char *v)
{
    uint32_t tag = L->m[mi].tag[sig];
    if (tag != GB_NONE) gb_batch_add_str(L->b, t, tag, GB_Q_GOOD, v, strlen(v));
}

static void put_i64(live_t *L, uint32_t mi, int sig, gb_time_t t, int64_t v)
{
    uint32_t tag = L->m[mi].tag[sig];
    if (tag != GB_NONE) gb_batch_add_i64(L->b, t, tag, GB_Q_GOOD, v);
}

static void put_f64(live_t *L, uint32_t mi, int sig, gb_time_t t, double v)
{
    uint32_t tag = L->m[mi].tag[sig];
    if (tag != GB_NONE) gb_batch_add_f64(L->b, t, tag, GB_Q_GOOD, round(v * 100) / 100);
}

static const char *execution(gb_sim_state_t s)
{
    switch (s) {
    case GB_SIM_RUNNING: return "ACTIVE";
    case GB_SIM_DOWN: return "STOPPED";
    case GB_SIM_MICRO: return "INTERRUPTED";
    default: return "READY";
    }
}

static void put_job(live_t *L, uint32_t mi, gb_time_t t)
{
    gb_sim_machine_view_t v;
    gb_sim_machine_view(L->sim, mi, &v);
    if (!v.product) return;
    char job[96];
    snprintf(job, sizeof job, "%s-%06llu", v.product, (unsigned long long)v.lot);
    put_str(L, mi, SIG_PROGRAM, t, v.program);
    put_str(L, mi, SIG_PRODUCT, t, v.product);
    put_str(L, mi, SIG_JOB, t, job);
}

static void flush(live_t *L, uint32_t mi)
{
    pending_t *p = &L->m[mi].p;
    if (!p->any) return;
    gb_time_t t = p->t;
    if (p->job) put_job(L, mi, t); /* the view still holds this lot: a new one needs time */
    if (p->state) {
        put_str(L, mi, SIG_EXECUTION, t, execution(p->st));
        put_str(L, mi, SIG_MODE, t, p->st == GB_SIM_SETUP ? "MANUAL" : "AUTOMATIC");
        put_str(L, mi, SIG_ALARM, t, p->st == GB_SIM_DOWN && p->alarm ? p->alarm : "");
        put_str(L, mi, SIG_ESTOP, t, "ARMED");
        put_str(L, mi, SIG_STATE, t, gb_sim_state_name(p->st));
    }
    if (p->counts) {
        put_i64(L, mi, SIG_PART_COUNT, t, (int64_t)(p->good + p->scrap));
        put_i64(L, mi, SIG_GOOD_COUNT, t, (int64_t)p->good);
        put_i64(L, mi, SIG_SCRAP_COUNT, t, (int64_t)p->scrap);
    }
    memset(p, 0, sizeof *p);
}

/* Records what changed on machine MI at wall time T (KIND: a gb_sim_note_kind_t). */
static void note(live_t *L, uint32_t mi, gb_time_t t, int kind)
{
    pending_t *p = &L->m[mi].p;
    if (p->any && p->t != t) flush(L, mi);
    p->any = true;
    p->t = t;
    gb_sim_machine_view_t v;
    gb_sim_machine_view(L->sim, mi, &v);
    if (kind == GB_SIM_NOTE_STATE) {
        p->state = true;
        p->st = v.state;
        p->alarm = v.alarm;
    } else if (kind == GB_SIM_NOTE_PART) {
        p->counts = true;
        p->good = v.good;
        p->scrap = v.scrap;
    } else if (kind == GB_SIM_NOTE_JOB) {
        p->job = true;
    }
}

static gb_time_t wall(const live_t *L, double t)
{
    return L->t0 + (gb_time_t)(t / L->speed * 1e9);
}

static void on_note(void *ctx, const gb_sim_note_t *n)
{
    live_t *L = ctx;
    bool wanted = n->kind == GB_SIM_NOTE_STATE || n->kind == GB_SIM_NOTE_PART ||
                  n->kind == GB_SIM_NOTE_JOB; /* failures and repairs show as states */
    if (L->m[n->machine].bound && wanted) note(L, n->machine, wall(L, n->t), (int)n->kind);
}

/* Analog signals now: what a running spindle shows, plus wear as a failure approaches. */
static void sample_analog(live_t *L, uint32_t mi, gb_time_t t)
{
    gb_sim_machine_view_t v;
    gb_sim_machine_view(L->sim, mi, &v);
    lmachine_t *m = &L->m[mi];
    bool run = v.state == GB_SIM_RUNNING;
    double w = run ? v.wear : 0;
    double target = run ? 48 + 14 * w * w : 28;
    m->temp += (target - m->temp) * 0.05 + 0.15 * gb_rng_normal(&L->rng);
    double vib = run ? 1.2 + 3.0 * w * w * w + 0.1 * gb_rng_normal(&L->rng)
                     : 0.05 + 0.02 * fabs(gb_rng_normal(&L->rng));
    put_f64(L, mi, SIG_SPINDLE_LOAD, t, run ? 55 + 8 * gb_rng_normal(&L->rng) + 10 * w : 0);
    put_f64(L, mi, SIG_SPINDLE_SPEED, t, run ? 4000 + 50 * gb_rng_normal(&L->rng) : 0);
    put_f64(L, mi, SIG_TEMPERATURE, t, m->temp);
    put_f64(L, mi, SIG_VIBRATION, t, fabs(vib));
    put_f64(L, mi, SIG_POWER, t, run ? 11 + 2 * gb_rng_normal(&L->rng)
                                     : 1.5 + 0.1 * gb_rng_normal(&L->rng));
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

static int sim_create(const gb_adapter_env_t *env, void **state)
{
    gb_diag_t diag;
    gb_diag_init(&diag, env->plant->file);
    gb_sim_model_t *md;
    if (gb_sim_model_build(env->plant, &md, &diag) != 0) {
        /* check-config reports these with positions; the daemon refuses to start before */
        gb_error("sim", "%s: the simulation model has %zu problems", env->cfg->name, diag.n);
        gb_diag_clear(&diag);
        return GB_EINVAL;
    }
    gb_diag_clear(&diag);
    live_t *L = gb_xcalloc(1, sizeof *L);
    gb_adapter_state_init(&L->st, env->cfg->name);
    L->env = env;
    L->md = md;
    int64_t seed = 1;
    L->speed = 1;
    L->interval_ns = GB_NS_PER_S;
    gb_cfg_int(env->cfg->node, "seed", false, "adapter", 0, INT64_MAX, &seed, NULL);
    gb_cfg_double(env->cfg->node, "speed", false, "adapter", &L->speed, NULL);
    gb_cfg_duration(env->cfg->node, "interval", false, "adapter", &L->interval_ns, NULL);
    gb_rng_seed(&L->rng, (uint64_t)seed, 0, UINT64_MAX);
    L->t0 = gb_now();
    L->sim = gb_sim_new(md, (uint64_t)seed, 0, L->t0);
    L->nm = gb_sim_machine_count(L->sim);
    L->m = gb_xcalloc(L->nm ? L->nm : 1, sizeof *L->m);
    for (uint32_t i = 0; i < L->nm; i++) {
        for (int s = 0; s < SIG_COUNT_; s++) L->m[i].tag[s] = GB_NONE;
        L->m[i].temp = 30 + 5 * gb_rng_u01(&L->rng);
    }
    for (size_t i = 0; i < env->nbindings; i++) {
        const gb_adapter_binding_t *b = &env->bindings[i];
        uint32_t pidx = (uint32_t)(b->machine - env->plant->machines);
        int k = signal_index(b->ptag->address);
        for (uint32_t mi = 0; mi < L->nm && k >= 0; mi++) {
            gb_sim_machine_view_t v;
            gb_sim_machine_view(L->sim, mi, &v);
            if (v.plant == pidx) {
                L->m[mi].tag[k] = b->tag;
                L->m[mi].bound = true;
            }
        }
    }
    *state = L;
    return 0;
}

static void *sim_main(void *arg)
{
    live_t *L = arg;
    gb_adapter_state_set(&L->st, GB_CONN_CONNECTED);
    L->b = gb_batch_new(256);
    gb_sim_observe(L->sim, on_note, L);
    gb_time_t now = gb_now();
    L->t0 = now;
    for (uint32_t i = 0; i < L->nm; i++) {
        if (!L->m[i].bound) continue;
        note(L, i, now, GB_SIM_NOTE_STATE);
        note(L, i, now, GB_SIM_NOTE_PART);
        note(L, i, now, GB_SIM_NOTE_JOB);
    }
    int64_t mono0 = gb_mono_ns(), next = mono0;
    bool pushed_back = false;
    pthread_mutex_lock(&L->mu);
    while (!L->stop) {
        pthread_mutex_unlock(&L->mu);
        /* while the bus pushes back, hold what we have instead of growing without bound */
        if (L->b->n < 200000) {
            double t = (double)(gb_mono_ns() - mono0) / 1e9 * L->speed;
            gb_sim_run(L->sim, t);
            gb_time_t w = wall(L, t);
            for (uint32_t i = 0; i < L->nm; i++) {
                if (!L->m[i].bound) continue;
                flush(L, i);
                sample_analog(L, i, w);
            }
        }
        size_t n = L->b->n;
        int rc = n ? gb_bus_publish(L->env->bus, L->b, 100 * GB_NS_PER_MS) : 0;
        if (rc == 0 && n) {
            gb_adapter_state_count(&L->st, n, 0, 0);
            L->b = gb_batch_new(256);
            pushed_back = false;
        } else if (rc == GB_EBUSY) {
            gb_adapter_state_count(&L->st, 0, 0, 1);
            if (!pushed_back)
                gb_warn("sim", "%s: the bus is full; holding %zu samples until it has room",
                        L->st.name, n);
            pushed_back = true;
        } else if (rc) {
            gb_adapter_state_error(&L->st, "publish failed: %s", gb_strerror(rc));
            gb_batch_reset(L->b);
        }
        next += L->interval_ns;
        if (next < gb_mono_ns()) next = gb_mono_ns();
        pthread_mutex_lock(&L->mu);
        struct timespec ts = {(time_t)(next / GB_NS_PER_S), (long)(next % GB_NS_PER_S)};
        while (!L->stop && pthread_cond_timedwait(&L->cv, &L->mu, &ts) == 0) {
        }
    }
    pthread_mutex_unlock(&L->mu);
    /* what the bus never accepted was never acknowledged; say so rather than hide it */
    if (L->b->n)
        gb_warn("sim", "%s: %zu simulated samples were not accepted before stop", L->st.name,
                L->b->n);
    gb_batch_free(L->b);
    L->b = NULL;
    gb_adapter_state_set(&L->st, GB_CONN_STOPPED);
    return NULL;
}

static int sim_start(void *state)
{
    live_t *L = state;
    pthread_mutex_init(&L->mu, NULL);
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&L->cv, &a);
    pthread_condattr_destroy(&a);
    if (pthread_create(&L->thread, NULL, sim_main, L) != 0) return GB_EIO;
    L->running = true;
    return 0;
}

static void sim_stop(void *state)
{
    live_t *L = state;
    if (!L->running) return;
    pthread_mutex_lock(&L->mu);
    L->stop = true;
    pthread_cond_signal(&L->cv);
    pthread_mutex_unlock(&L->mu);
    pthread_join(L->thread, NULL);
    L->running = false;
    pthread_cond_destroy(&L->cv);
    pthread_mutex_destroy(&L->mu);
}

static void sim_destroy(void *state)
{
    live_t *L = state;
    if (!L) return;
    sim_stop(L);
    gb_adapter_state_clear(&L->st);
    gb_sim_free(L->sim);
    gb_sim_model_free(L->md);
    free(L->m);
    free(L);
}

static void sim_status(void *state, gb_adapter_status_t *out)
{
    live_t *L = state;
    gb_adapter_state_get(&L->st, out);
}

const gb_adapter_class_t gb_sim_adapter = {
    .version = GB_ADAPTER_API_VERSION,
    .type = "sim",
    .summary = "the plant simulator: machines that run, starve, block, fail, are repaired, "
               "change over and make scrap (no hardware needed)",
    .keys = sim_keys,
    .check = sim_check,
    .create = sim_create,
    .start = sim_start,
    .stop = sim_stop,
    .destroy = sim_destroy,
    .status = sim_status,
};
