/*
 * The simulator's model and engine structures, shared by the files of src/sim: model.c builds a
 * model from the plant file, engine.c runs it, study.c runs replications and summarises them,
 * live.c runs it at wall-clock speed as the `sim` adapter. Not for use outside src/sim.
 */
#ifndef GB_SIM_INTERNAL_H
#define GB_SIM_INTERNAL_H

#include "gemba/plant.h"
#include "gemba/sim.h"
#include "sim/dist.h"
#include "sim/rng.h"

#include <stdbool.h>
#include <stdint.h>

#define SIM_NONE UINT32_MAX
#define SIM_MAX_FAILURES 16
#define SIM_UNLIMITED UINT64_MAX

typedef struct sim_failure {
    char *name;      /* "failure N" when not given */
    char *alarm;     /* the alarm text a live machine shows, or NULL */
    gb_dist_t ttf;   /* time to failure: operating time, or calendar time after the last repair */
    gb_dist_t ttr;   /* time to repair, once a repairer is at the machine */
    bool calendar;   /* counted in calendar time instead of operating time */
} sim_failure_t;

typedef struct sim_machine {
    char *name;
    uint32_t plant;          /* index in plant->machines */
    uint32_t line;           /* index in model->lines */
    uint32_t station;        /* index in model->stations */
    gb_dist_t *cycle;        /* [nproducts]: processing time of one part, by product */
    sim_failure_t *fail;
    uint32_t nfail;
    gb_dist_t *setup;        /* [nproducts * nproducts], from * np + to; kind CONST 0 = none */
    bool has_setup;
    bool micro;
    gb_dist_t micro_every;   /* operating time between micro-stops */
    gb_dist_t micro_len;
    double scrap;            /* probability that a finished part is scrap */
    double ideal_cycle;      /* seconds, for live signals: the plant's ideal cycle or mean cycle */
} sim_machine_t;

typedef struct sim_station {
    char *name;
    uint32_t *m;             /* its machines, in parallel */
    uint32_t nm;
    uint64_t cap;            /* input buffer places; SIM_UNLIMITED */
    uint32_t supply;         /* index in model->sources of its unlimited supply, or SIM_NONE */
} sim_station_t;

typedef struct sim_product {
    char *name, *program;
    uint32_t *route;         /* stations in order */
    uint32_t nroute;
    uint32_t line;           /* index in model->lines: whose throughput it counts in */
    double mix;              /* weight among the products of a source */
    uint32_t lot;            /* parts per lot at an unlimited supply */
} sim_product_t;

typedef struct sim_source {
    char *name;
    bool unlimited;          /* a route's first station that never runs dry */
    gb_dist_t inter;         /* time between arrivals (not unlimited) */
    bool lose;               /* when the first buffer is full: the part is lost (else it waits) */
    uint32_t *products;
    double *cum;             /* cumulative mix weights, last = 1 */
    uint32_t np;
} sim_source_t;

typedef struct sim_line {
    char *name;
    uint32_t plant;          /* index in plant->lines */
} sim_line_t;

struct gb_sim_model {
    const gb_plant_t *plant; /* for the shift calendar; NULL or no shifts: always working */
    bool calendar;
    sim_machine_t *m;     uint32_t nm;
    sim_station_t *st;    uint32_t nst;
    sim_product_t *prod;  uint32_t nprod;
    sim_source_t *src;    uint32_t nsrc;
    sim_line_t *line;     uint32_t nline;
    uint32_t crew;           /* repairers; 0 = one per machine (never waits) */
    /* defaults for `gemba sim`, from simulation: (the command line overrides them) */
    double until, warmup;
    uint32_t reps;
    uint64_t seed;
};

/* ---- the engine ------------------------------------------------------------------------- */

typedef struct sim_part {
    double born;             /* when it entered the system */
    uint32_t product;
    uint32_t step;           /* index in its route of the station it is at */
} sim_part_t;

typedef struct sim_event {
    double t;
    uint64_t seq;            /* ties in time go first in, first out: deterministic */
    uint32_t ent;
    uint16_t kind, aux;
    uint32_t gen;
} sim_event_t;

/* A growable first-in, first-out ring of ids. */
typedef struct sim_ring {
    uint32_t *v;
    uint32_t head, n, alloc;
} sim_ring_t;

typedef struct sim_buffer {
    sim_part_t *q;           /* ring */
    uint64_t head, n, alloc;
    sim_ring_t holders;      /* blocked holders, longest first: machine i, or nm + source j */
} sim_buffer_t;

enum { ACT_NONE, ACT_SETUP, ACT_PROC, ACT_MICRO };
enum { NEXT_FINISH = 0, NEXT_MICRO = 1, NEXT_FAIL = 2 /* + mode */ };

/* One failure mode of one machine, in a run. */
typedef struct sim_frt {
    double op_left;          /* operating-time mode: operating time left to the failure */
    double ttf0;             /* the time to failure last drawn */
    gb_rng_t r;              /* its own stream: time to failure and to repair */
} sim_frt_t;

/* One machine, in a run; the fields the event loop touches come first. */
typedef struct sim_mrt {
    uint8_t act, next, st;
    bool down, holding, has_part, paused;
    uint8_t failing;         /* the mode it is down for */
    uint32_t gen;            /* bumped to cancel the pending activity event */
    uint32_t last_product;   /* SIM_NONE before the first part */
    double act_end, act_left;
    double work_start;       /* start of the current stretch of processing */
    double proc_left;        /* processing time left for the current part */
    double micro_left;       /* operating time to the next micro-stop */
    double since, idle_since;
    sim_part_t part;         /* in work, or finished and held while blocked */
    sim_frt_t *f;            /* [nfail] */
    gb_rng_t r_cycle, r_scrap;
    uint64_t good, scrap;
    double acc[GB_SIM_NSTATES];
    uint32_t pending;        /* calendar failures that came while down: bit per mode */
    double down_since;
    uint64_t lot_seq;        /* jobs (lots) started, for live job ids */
    uint64_t failures;
    double repair_time;      /* summed time down (for MTTR) */
    gb_rng_t r_setup, r_micro;
} sim_mrt_t;

typedef struct sim_srt {
    gb_rng_t r;
    bool holding;
    sim_part_t part;
    uint32_t cur;            /* unlimited supply: product of the current lot */
    uint32_t left;           /* parts left in the lot */
    uint64_t lost, arrived;
} sim_srt_t;

typedef struct sim_lrt {
    int64_t wip;
    double wip_acc, wip_since;
    uint64_t exits, good, scrap, lost;
    double sojourn;          /* summed time in system of the exits */
} sim_lrt_t;

typedef struct sim_lnode {
    sim_event_t e;
    uint32_t next;
} sim_lnode_t;

struct gb_sim {
    const gb_sim_model_t *md;
    double now, stats_from;
    gb_time_t t0;
    sim_event_t *heap;       /* the calendar: a 4-ary heap */
    size_t hn, halloc;       /* pending events (in either calendar) */
    bool root_free;          /* the heap's root is the event being handled: reusable */
    bool listcal;            /* the naive sorted list instead (benchmark baseline) */
    sim_lnode_t *ln;
    uint32_t lhead, lfree, lalloc;
    uint64_t seq, events;
    sim_mrt_t *m;
    sim_frt_t *f;            /* every machine's failure modes, one block */
    sim_srt_t *s;
    sim_lrt_t *l;
    sim_buffer_t *b;         /* per station */
    bool planned;
    /* the shift calendar: transitions of the current window */
    double *cal_t;
    bool *cal_planned;
    size_t ncal, ical;
    double cal_window;       /* end of the window built so far, seconds */
    /* repair crew */
    uint32_t crew_free;
    sim_ring_t crew_q;       /* failed machines waiting for a repairer */
    void (*obs)(void *ctx, const gb_sim_note_t *n);
    void *obs_ctx;
};

#endif
