/*
 * The discrete-event plant simulator. A model is built from a plant file: each machine's `sim:`
 * section (cycle times by product, failures, setups, micro-stops, scrap, its input buffer) and
 * the plant's `simulation:` section (products and their routes, sources, parallel stations, the
 * repair crew), with the plant's lines and shift calendar. docs/simulation.md documents the keys.
 *
 * The same engine answers what-if questions (gb_sim_study_run: replications, confidence
 * intervals, bottlenecks; `gemba sim`) and runs at wall-clock speed as the `sim` adapter, the
 * demo plant of `gemba serve --demo`.
 *
 * Time inside the engine is seconds (double) since the start of the run.
 */
#ifndef GEMBA_SIM_H
#define GEMBA_SIM_H

#include "gemba/adapter.h"
#include "gemba/plant.h"
#include "gemba/time.h"

#include <stdbool.h>
#include <stdint.h>

/* What a simulated machine is doing, for the time shares of a run. */
typedef enum {
    GB_SIM_RUNNING,      /* processing a part */
    GB_SIM_STARVED,      /* waiting for a part */
    GB_SIM_BLOCKED,      /* holding a finished part: no room downstream (blocking after service) */
    GB_SIM_DOWN,         /* failed: waiting for a repairer or being repaired */
    GB_SIM_SETUP,        /* changing over to another product */
    GB_SIM_MICRO,        /* a micro-stop */
    GB_SIM_PLANNED,      /* outside the shifts, or on a break */
    GB_SIM_NSTATES
} gb_sim_state_t;

/* "running", "starved", "blocked", "down", "setup", "micro_stop", "planned_stop". */
const char *gb_sim_state_name(gb_sim_state_t s);

typedef struct gb_sim_model gb_sim_model_t;
typedef struct gb_sim gb_sim_t;

/* Registers the plant-file check of `simulation:` and `sim:` (gemba/plant.h). Call at startup. */
void gb_sim_register(void);

/* The `sim` adapter class: runs the machines bound to it in the simulator at wall-clock speed. */
extern const gb_adapter_class_t gb_sim_adapter;

/*
 * Builds the model of plant P. A machine is simulated when it has a `sim:` section, or a tag
 * bound to an adapter of type `sim` (then, without a `sim:` section, it gets a generic model
 * derived from its ideal cycle time). Problems go to D at their FILE:LINE:COL; returns 0 or
 * GB_EINVAL. The model keeps a pointer to P, which must outlive it.
 */
int gb_sim_model_build(const gb_plant_t *p, gb_sim_model_t **out, gb_diag_t *d);
void gb_sim_model_free(gb_sim_model_t *m);

/* ---- running the engine directly --------------------------------------------------------- */

typedef enum {
    GB_SIM_NOTE_STATE,   /* machine changed state (state) */
    GB_SIM_NOTE_PART,    /* machine finished a part (good or scrap) */
    GB_SIM_NOTE_FAILURE, /* machine failed (mode: index of the failure) */
    GB_SIM_NOTE_REPAIRED,
    GB_SIM_NOTE_JOB      /* machine started a new lot (another product, or after its lot size) */
} gb_sim_note_kind_t;

typedef struct gb_sim_note {
    gb_sim_note_kind_t kind;
    double t;
    uint32_t machine;    /* model machine index */
    gb_sim_state_t state;
    bool good;
    uint32_t mode;
} gb_sim_note_t;

/*
 * A run of model MD: replication REP under SEED (each replication draws independent random
 * numbers). T0 is the real time that engine time 0 stands for, used only to lay the shift
 * calendar (in the process time zone, gemba/calendar.h). Free with gb_sim_free.
 */
gb_sim_t *gb_sim_new(const gb_sim_model_t *md, uint64_t seed, uint32_t rep, gb_time_t t0);
void gb_sim_free(gb_sim_t *s);

/* Calls FN for every change, as it happens, from inside gb_sim_run. */
void gb_sim_observe(gb_sim_t *s, void (*fn)(void *ctx, const gb_sim_note_t *n), void *ctx);

/* Runs every event up to and including time T; the clock then reads T. */
void gb_sim_run(gb_sim_t *s, double t);

/* Forgets the statistics gathered so far (the end of a warm-up). */
void gb_sim_reset_stats(gb_sim_t *s);

/*
 * Switches S to a naive event calendar, a sorted linked list, for benchmarks that measure the
 * heap against it. Results are the same bit for bit; only the speed differs.
 */
void gb_sim_use_list_calendar(gb_sim_t *s);

/* The number of events processed. */
uint64_t gb_sim_events(const gb_sim_t *s);

/* What a machine looks like now, for live signals. */
typedef struct gb_sim_machine_view {
    const char *name;
    uint32_t plant;          /* index in plant->machines */
    gb_sim_state_t state;
    const char *product, *program; /* current or last product; NULL before the first */
    uint64_t lot;            /* lots started so far */
    const char *alarm;       /* when down: the failure's alarm (or name) */
    uint64_t good, scrap;    /* since the start (or the last gb_sim_reset_stats) */
    double wear;             /* 0 just repaired .. 1 about to fail (first operating-time mode) */
    double ideal_cycle;      /* seconds */
} gb_sim_machine_view_t;

uint32_t gb_sim_machine_count(const gb_sim_t *s);
void gb_sim_machine_view(const gb_sim_t *s, uint32_t i, gb_sim_machine_view_t *out);

/* ---- what-if studies --------------------------------------------------------------------- */

typedef struct gb_sim_study_opts {
    double until;            /* seconds of each replication, warm-up included */
    double warmup;           /* seconds whose statistics are deleted */
    uint32_t reps;
    uint64_t seed;
    gb_time_t t0;            /* see gb_sim_new */
    uint32_t threads;        /* replications run side by side; 0 = one per CPU */
} gb_sim_study_opts_t;

/* A mean over replications with its 95 % confidence interval (Student t; 0 wide for one rep). */
typedef struct gb_sim_estimate {
    double mean, half, lo, hi;
} gb_sim_estimate_t;

typedef struct gb_sim_machine_result {
    const char *name, *line;
    gb_sim_estimate_t share[GB_SIM_NSTATES]; /* fraction of the measured time in each state */
    gb_sim_estimate_t good_ph, scrap_ph;     /* parts per hour finished here */
    gb_sim_estimate_t active;                /* share of non-planned time not starved/blocked */
    double failures;                         /* per replication, mean */
    double mttr_s;                           /* mean time down per failure, NAN without one */
} gb_sim_machine_result_t;

typedef struct gb_sim_line_result {
    const char *name;
    gb_sim_estimate_t throughput_ph;         /* good parts leaving the line per hour */
    gb_sim_estimate_t scrap_ph;
    gb_sim_estimate_t wip;                   /* time-average parts in the line */
    gb_sim_estimate_t lead_time_s;           /* mean time in the line of the parts that left */
    gb_sim_estimate_t lost_ph;               /* arrivals turned away by a full first buffer */
    gb_sim_estimate_t lambda_w;              /* exits per second times lead time: Little's
                                                L = lambda W, apart from the parts inside at
                                                the run's ends (parked over a weekend, say) */
    double little_max_dev;                   /* max over reps of |L - lambda W| / L */
    uint32_t bottleneck;                     /* model machine index, SIM_NONE without machines */
    double bottleneck_share;                 /* fraction of reps in which it was the bottleneck */
    uint32_t runner_up;                      /* SIM_NONE when the line has one machine */
} gb_sim_line_result_t;

typedef struct gb_sim_study {
    gb_sim_study_opts_t o;
    gb_sim_machine_result_t *machines;
    uint32_t nmachines;
    gb_sim_line_result_t *lines;
    uint32_t nlines;
    uint64_t events;
} gb_sim_study_t;

/* The rule that names a line's bottleneck, as printed. */
extern const char gb_sim_bottleneck_rule[];

/* Runs O->reps replications of MD and summarises them. Returns 0 or GB_EINVAL for bad options. */
int gb_sim_study_run(const gb_sim_model_t *md, const gb_sim_study_opts_t *o,
                     gb_sim_study_t **out);
void gb_sim_study_free(gb_sim_study_t *s);

/* The study as JSON (pretty, stable key order and number formatting) or as a text table. */
char *gb_sim_study_json(const gb_sim_study_t *s, const char *model_name, char *const *overrides,
                        size_t noverrides);
char *gb_sim_study_table(const gb_sim_study_t *s, const char *model_name);

/* The model's own defaults for a study (simulation: until, warmup, reps, seed). */
void gb_sim_model_defaults(const gb_sim_model_t *md, gb_sim_study_opts_t *o);

#endif
