/*
 * The `demo` adapter: a built-in signal generator standing in for real machines, so that
 * `gemba serve --demo` shows a plant that runs, idles, fails, is repaired, changes over and makes
 * scrap. Each machine is a small random state machine (seeded, so runs are repeatable in shape)
 * advanced in simulated time, `speed` times faster than the wall clock. It publishes what an
 * MTConnect adapter would: execution, controller mode, program, alarms, part counts, spindle load
 * and speed, and a temperature and vibration that climb as a failure approaches.
 *
 * The discrete-event simulator replaces this generator as the demo's engine; the adapter keeps
 * the same signal names.
 */
#include "gemba/adapter.h"
#include "gemba/error.h"
#include "gemba/log.h"
#include "gemba/time.h"
#include "util/str.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef enum { M_RUNNING, M_IDLE, M_DOWN, M_SETUP } mstate_t;

typedef struct signal_def {
    const char *name;
    gb_vtype_t type;
    const char *what;
} signal_def_t;

enum {
    SIG_EXECUTION, SIG_MODE, SIG_PROGRAM, SIG_ALARM, SIG_ESTOP, SIG_PART_COUNT, SIG_GOOD_COUNT,
    SIG_SCRAP_COUNT, SIG_SPINDLE_LOAD, SIG_SPINDLE_SPEED, SIG_TEMPERATURE, SIG_VIBRATION,
    SIG_POWER, SIG_COUNT_
};

static const signal_def_t signals[SIG_COUNT_] = {
    {"execution", GB_VT_STR, "ACTIVE, READY, STOPPED or INTERRUPTED"},
    {"mode", GB_VT_STR, "AUTOMATIC, MANUAL or MANUAL_DATA_INPUT"},
    {"program", GB_VT_STR, "the running program"},
    {"alarm", GB_VT_STR, "the active alarm code and text, empty when none"},
    {"estop", GB_VT_STR, "ARMED or TRIGGERED"},
    {"part_count", GB_VT_I64, "parts made (good and scrap)"},
    {"good_count", GB_VT_I64, "good parts"},
    {"scrap_count", GB_VT_I64, "scrapped parts"},
    {"spindle_load", GB_VT_F64, "spindle load, %"},
    {"spindle_speed", GB_VT_F64, "spindle speed, rpm"},
    {"temperature", GB_VT_F64, "spindle bearing temperature, degC"},
    {"vibration", GB_VT_F64, "vibration RMS, mm/s"},
    {"power", GB_VT_F64, "electrical power, kW"},
};

static const char *const demo_keys[] = {"seed", "speed", "interval", NULL};

/* Chosen so that an eight-machine plant shows a failure, a changeover or a starved machine
 * about every minute at wall-clock speed: lively enough to watch, still plausible. */
#define MTBF_S 1200.0     /* mean operating time between failures */
#define MTTR_S 150.0      /* mean repair time, plus 30 s to respond */
#define PARTS_PER_LOT 30  /* a changeover (setup) after this many parts */
#define P_STARVED 0.05    /* chance, after each part, of waiting for material */

typedef struct machine {
    const gb_machine_t *cfg;
    uint32_t tag[SIG_COUNT_]; /* GB_NONE when the plant file does not bind the signal */
    mstate_t state;
    double state_left;     /* simulated seconds left in IDLE / DOWN / SETUP */
    double cycle_left;     /* seconds left in the current part */
    double ttf, ttf0;      /* operating seconds to the next failure, and its draw */
    double cycle;          /* ideal cycle time, s */
    int64_t parts, good, scrap;
    int program, parts_since_setup;
    double temp, vib;
    const char *alarm;
    bool estop;
} machine_t;

typedef struct demo {
    gb_adapter_state_t st;
    const gb_adapter_env_t *env;
    machine_t *m;
    size_t nm;
    uint64_t rng;
    double speed;
    int64_t interval_ns;
    gb_batch_t *pending; /* not yet accepted by the bus (push-back) */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop, running;
} demo_t;

/* xorshift64*: small, fast and good enough to shape a demo */
static double urand(demo_t *d)
{
    d->rng ^= d->rng >> 12;
    d->rng ^= d->rng << 25;
    d->rng ^= d->rng >> 27;
    return (double)((d->rng * 2685821657736338717ull) >> 11) * 0x1.0p-53;
}

static double expo(demo_t *d, double mean)
{
    return -mean * log(1.0 - urand(d));
}

static double gauss(demo_t *d)
{
    double u = urand(d), v = urand(d);
    return sqrt(-2.0 * log(1.0 - u)) * cos(6.283185307179586 * v);
}

static int signal_index(const char *name)
{
    for (int i = 0; i < SIG_COUNT_; i++)
        if (!strcmp(signals[i].name, name)) return i;
    return -1;
}

static int demo_check(const gb_adapter_cfg_t *cfg, const gb_adapter_binding_t *b, size_t n,
                      gb_diag_t *diag)
{
    int64_t seed;
    double speed;
    int64_t ns;
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
                        "tag '%s': the demo adapter has no signal '%s'%s%s%s (it has: execution, "
                        "mode, program, alarm, estop, part_count, good_count, scrap_count, "
                        "spindle_load, spindle_speed, temperature, vibration, power)",
                        t->name, t->address, near ? "; did you mean '" : "", near ? near : "",
                        near ? "'?" : "");
            bad++;
        } else if (t->type != 0 && signals[k].type != t->type) {
            gb_diag_add(diag, t->line, t->col,
                        "tag '%s': demo signal '%s' is %s (%s), but the tag is declared %s",
                        t->name, t->address, gb_vtype_name(signals[k].type), signals[k].what,
                        gb_vtype_name(t->type));
            bad++;
        }
    }
    return bad ? GB_EINVAL : 0;
}

static int demo_create(const gb_adapter_env_t *env, void **state)
{
    demo_t *d = gb_xcalloc(1, sizeof *d);
    gb_adapter_state_init(&d->st, env->cfg->name);
    d->env = env;
    gb_diag_t diag;
    gb_diag_init(&diag, "");
    int64_t seed = 1;
    d->speed = 1;
    d->interval_ns = GB_NS_PER_S;
    gb_cfg_int(env->cfg->node, "seed", false, "adapter", 0, INT64_MAX, &seed, &diag);
    gb_cfg_double(env->cfg->node, "speed", false, "adapter", &d->speed, &diag);
    gb_cfg_duration(env->cfg->node, "interval", false, "adapter", &d->interval_ns, &diag);
    gb_diag_clear(&diag);
    d->rng = (uint64_t)seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull;
    /* one generator per machine that has at least one tag bound here */
    for (size_t i = 0; i < env->nbindings; i++) {
        const gb_adapter_binding_t *b = &env->bindings[i];
        machine_t *m = NULL;
        for (size_t k = 0; k < d->nm && !m; k++)
            if (d->m[k].cfg == b->machine) m = &d->m[k];
        if (!m) {
            d->m = gb_xrealloc(d->m, (d->nm + 1) * sizeof *d->m);
            m = &d->m[d->nm++];
            memset(m, 0, sizeof *m);
            m->cfg = b->machine;
            for (int s = 0; s < SIG_COUNT_; s++) m->tag[s] = GB_NONE;
            m->cycle = b->machine->ideal_cycle_ns ? (double)b->machine->ideal_cycle_ns / 1e9 : 30;
            m->state = M_RUNNING;
            m->cycle_left = m->cycle * (0.2 + urand(d));
            m->ttf = m->ttf0 = expo(d, MTBF_S);
            m->temp = 35 + 5 * urand(d);
            m->program = 1000 + (int)(urand(d) * 8) * 10;
            m->parts_since_setup = (int)(urand(d) * 30);
        }
        int k = signal_index(b->ptag->address);
        if (k >= 0) m->tag[k] = b->tag;
    }
    *state = d;
    return 0;
}

static void emit_str(gb_batch_t *b, const machine_t *m, int sig, gb_time_t t, const char *v)
{
    if (m->tag[sig] != GB_NONE) gb_batch_add_str(b, t, m->tag[sig], GB_Q_GOOD, v, strlen(v));
}

static void emit_i64(gb_batch_t *b, const machine_t *m, int sig, gb_time_t t, int64_t v)
{
    if (m->tag[sig] != GB_NONE) gb_batch_add_i64(b, t, m->tag[sig], GB_Q_GOOD, v);
}

static void emit_f64(gb_batch_t *b, const machine_t *m, int sig, gb_time_t t, double v)
{
    if (m->tag[sig] != GB_NONE) gb_batch_add_f64(b, t, m->tag[sig], GB_Q_GOOD, round(v * 100) / 100);
}

static const char *const alarms[] = {"1010 TOOL BREAKAGE", "2035 SPINDLE OVERLOAD",
                                     "3002 COOLANT LOW", "4100 AXIS SERVO FAULT",
                                     "5020 DOOR INTERLOCK"};

static void emit_state(gb_batch_t *b, const machine_t *m, gb_time_t t)
{
    static const char *const exec[] = {"ACTIVE", "READY", "STOPPED", "READY"};
    static const char *const mode[] = {"AUTOMATIC", "AUTOMATIC", "AUTOMATIC", "MANUAL"};
    emit_str(b, m, SIG_EXECUTION, t, m->estop ? "STOPPED" : exec[m->state]);
    emit_str(b, m, SIG_MODE, t, mode[m->state]);
    emit_str(b, m, SIG_ALARM, t, m->alarm ? m->alarm : "");
    emit_str(b, m, SIG_ESTOP, t, m->estop ? "TRIGGERED" : "ARMED");
    char prog[16];
    snprintf(prog, sizeof prog, "O%04d", m->program);
    emit_str(b, m, SIG_PROGRAM, t, prog);
}

/* Advances machine M by DT simulated seconds; appends what changed to B. */
static void step(demo_t *d, machine_t *m, double dt, gb_time_t t, gb_batch_t *b)
{
    bool changed = false;
    while (dt > 0) {
        if (m->state == M_RUNNING) {
            double run = dt < m->cycle_left ? dt : m->cycle_left;
            if (m->ttf < run) run = m->ttf;
            m->cycle_left -= run;
            m->ttf -= run;
            dt -= run;
            if (m->ttf <= 0) {
                m->state = M_DOWN;
                m->alarm = alarms[(int)(urand(d) * 5) % 5];
                m->estop = urand(d) < 0.1;
                m->state_left = expo(d, MTTR_S) + 30;
                changed = true;
            } else if (m->cycle_left <= 0) {
                m->parts++;
                /* scrap grows as the spindle wears towards failure */
                if (urand(d) < 0.02 + 0.05 * (1 - m->ttf / m->ttf0)) m->scrap++;
                else m->good++;
                emit_i64(b, m, SIG_PART_COUNT, t, m->parts);
                emit_i64(b, m, SIG_GOOD_COUNT, t, m->good);
                emit_i64(b, m, SIG_SCRAP_COUNT, t, m->scrap);
                m->cycle_left = m->cycle * (1 + fabs(0.06 * gauss(d)));
                if (++m->parts_since_setup >= PARTS_PER_LOT) {
                    m->state = M_SETUP;
                    m->state_left = expo(d, 300) + 60;
                    m->parts_since_setup = 0;
                    changed = true;
                } else if (urand(d) < P_STARVED) {
                    m->state = M_IDLE; /* starved: waiting for material */
                    m->state_left = expo(d, 90);
                    changed = true;
                }
            }
        } else {
            double run = dt < m->state_left ? dt : m->state_left;
            m->state_left -= run;
            dt -= run;
            if (m->state_left <= 0) {
                if (m->state == M_DOWN) {
                    m->ttf = m->ttf0 = expo(d, MTBF_S);
                    m->alarm = NULL;
                    m->estop = false;
                    m->temp -= 5;
                } else if (m->state == M_SETUP) {
                    m->program = 1000 + (int)(urand(d) * 8) * 10;
                }
                m->state = M_RUNNING;
                m->cycle_left = m->cycle;
                changed = true;
            }
        }
    }
    if (changed) emit_state(b, m, t);
}

static void sample_analog(demo_t *d, machine_t *m, gb_time_t t, gb_batch_t *b)
{
    bool run = m->state == M_RUNNING;
    double wear = run ? 1 - m->ttf / m->ttf0 : 0; /* 0 fresh .. 1 about to fail */
    double target = run ? 48 + 14 * wear * wear : 28;
    m->temp += (target - m->temp) * 0.05 + 0.15 * gauss(d);
    m->vib = run ? 1.2 + 3.0 * pow(wear, 3) + 0.1 * gauss(d) : 0.05 + 0.02 * fabs(gauss(d));
    emit_f64(b, m, SIG_SPINDLE_LOAD, t, run ? 55 + 8 * gauss(d) + 10 * wear : 0);
    emit_f64(b, m, SIG_SPINDLE_SPEED, t, run ? 4000 + 50 * gauss(d) : 0);
    emit_f64(b, m, SIG_TEMPERATURE, t, m->temp);
    emit_f64(b, m, SIG_VIBRATION, t, fabs(m->vib));
    emit_f64(b, m, SIG_POWER, t, run ? 11 + 2 * gauss(d) : 1.5 + 0.1 * gauss(d));
}

static void *demo_main(void *arg)
{
    demo_t *d = arg;
    gb_adapter_state_set(&d->st, GB_CONN_CONNECTED);
    gb_batch_t *b = gb_batch_new(256);
    gb_time_t t = gb_now();
    for (size_t i = 0; i < d->nm; i++) {
        emit_state(b, &d->m[i], t);
        emit_i64(b, &d->m[i], SIG_PART_COUNT, t, 0);
        emit_i64(b, &d->m[i], SIG_GOOD_COUNT, t, 0);
        emit_i64(b, &d->m[i], SIG_SCRAP_COUNT, t, 0);
    }
    int64_t next = gb_mono_ns();
    int64_t last = next;
    bool pushed_back = false;
    pthread_mutex_lock(&d->mu);
    while (!d->stop) {
        pthread_mutex_unlock(&d->mu);
        int64_t now = gb_mono_ns();
        double dt = (double)(now - last) / 1e9 * d->speed;
        last = now;
        /* while the bus pushes back, hold what we have instead of growing without bound */
        if (b->n < 200000) {
            t = gb_now();
            for (size_t i = 0; i < d->nm; i++) {
                step(d, &d->m[i], dt, t, b);
                sample_analog(d, &d->m[i], t, b);
            }
        }
        size_t n = b->n;
        int rc = n ? gb_bus_publish(d->env->bus, b, 100 * GB_NS_PER_MS) : 0;
        if (rc == 0 && n) {
            gb_adapter_state_count(&d->st, n, 0, 0);
            b = gb_batch_new(256);
            pushed_back = false;
        } else if (rc == GB_EBUSY) {
            gb_adapter_state_count(&d->st, 0, 0, 1);
            if (!pushed_back)
                gb_warn("demo", "%s: the bus is full; holding %zu samples until it has room",
                        d->st.name, n);
            pushed_back = true;
        } else if (rc) {
            gb_adapter_state_error(&d->st, "publish failed: %s", gb_strerror(rc));
            gb_batch_reset(b);
        }
        next += d->interval_ns;
        if (next < gb_mono_ns()) next = gb_mono_ns();
        pthread_mutex_lock(&d->mu);
        struct timespec ts = {(time_t)(next / GB_NS_PER_S), (long)(next % GB_NS_PER_S)};
        while (!d->stop && pthread_cond_timedwait(&d->cv, &d->mu, &ts) == 0) {
        }
    }
    pthread_mutex_unlock(&d->mu);
    /* what the bus never accepted was never acknowledged; say so rather than hide it */
    if (b->n) gb_warn("demo", "%s: %zu generated samples were not accepted before stop", d->st.name, b->n);
    gb_batch_free(b);
    gb_adapter_state_set(&d->st, GB_CONN_STOPPED);
    return NULL;
}

static int demo_start(void *state)
{
    demo_t *d = state;
    pthread_mutex_init(&d->mu, NULL);
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&d->cv, &a);
    pthread_condattr_destroy(&a);
    if (pthread_create(&d->thread, NULL, demo_main, d) != 0) return GB_EIO;
    d->running = true;
    return 0;
}

static void demo_stop(void *state)
{
    demo_t *d = state;
    if (!d->running) return;
    pthread_mutex_lock(&d->mu);
    d->stop = true;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
    pthread_join(d->thread, NULL);
    d->running = false;
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
}

static void demo_destroy(void *state)
{
    demo_t *d = state;
    if (!d) return;
    demo_stop(d);
    gb_adapter_state_clear(&d->st);
    free(d->m);
    free(d);
}

static void demo_status(void *state, gb_adapter_status_t *out)
{
    demo_t *d = state;
    gb_adapter_state_get(&d->st, out);
}

const gb_adapter_class_t gb_demo_adapter = {
    .version = GB_ADAPTER_API_VERSION,
    .type = "demo",
    .summary = "built-in generator of realistic machine signals (no hardware needed)",
    .keys = demo_keys,
    .check = demo_check,
    .create = demo_create,
    .start = demo_start,
    .stop = demo_stop,
    .destroy = demo_destroy,
    .status = demo_status,
};
