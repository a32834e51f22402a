/*
 * Machine states, counts, downtime and OEE (ISO 22400-2), computed from time-ordered signals.
 *
 * One engine per machine (gb_mengine_t) takes the machine's samples in time order and keeps:
 *  - the state timeline: segments of running / idle / down / setup / planned_stop / disconnected,
 *    each with the rule that produced it (its index in the rule set, or a GB_RULE_* reason);
 *  - part events: counter deltas (resets and roll-over handled) with the ideal cycle time in force;
 *  - operator inputs: scrap entries and reason assignments, each with who and when.
 * Stops (downtime events) and KPIs are derived from these on demand for any window, against the
 * shift calendar (gemba/calendar.h). The same engine runs offline (`gemba oee`) and live inside
 * `gemba serve`, so both give the same numbers for the same samples. docs/oee.md has the time
 * model and every formula.
 *
 * Not thread-safe: one owner per engine.
 */
#ifndef GEMBA_OEE_H
#define GEMBA_OEE_H

#include "gemba/calendar.h"
#include "gemba/jobs.h"
#include "gemba/plant.h"

#include <stdbool.h>
#include <stdint.h>

/* Rule indices below 0: states that no rule of the rule set produced. */
#define GB_RULE_NODATA (-1)  /* disconnected: no sample for disconnected_after (or none yet) */
#define GB_RULE_NOMATCH (-2) /* idle: no rule matched */
#define GB_RULE_NORULES (-3) /* running: the machine has no rule set; its counts decide */

typedef struct gb_seg {
    gb_time_t start, end;
    uint8_t state;  /* gb_state_t */
    int32_t rule;   /* index in the machine's rule set, or GB_RULE_* */
} gb_seg_t;

typedef struct gb_part {
    gb_time_t t;
    int64_t total, good, scrap; /* deltas from each counter (0 when that counter did not move) */
    int64_t ideal_ns;           /* ideal cycle time per item in force at t (0: unknown) */
} gb_part_t;

typedef struct gb_reason_set {
    gb_time_t t;       /* a time inside the stop it classifies (or just after it) */
    int32_t reason;    /* index in plant->reasons */
    char who[48];
    gb_time_t at;      /* wall-clock time of the change */
} gb_reason_set_t;

typedef struct gb_scrap_entry {
    gb_time_t t;
    int64_t n;
    char who[48];
} gb_scrap_entry_t;

/* A stop: a run of idle / down / disconnected segments, with its classification. */
typedef struct gb_stop {
    gb_time_t start, end;
    uint8_t state;     /* of its first segment */
    int32_t rule;      /* of its first segment */
    bool micro;        /* shorter than the micro-stop threshold: speed loss, not downtime */
    int32_t reason;    /* index in plant->reasons, -1 while unclassified */
    bool reason_auto;  /* set by a rule's `reason`, not by a person */
    size_t nchanges;   /* how many times a person (re)classified it */
    const gb_reason_set_t *last_change; /* the latest of those, or NULL */
} gb_stop_t;

typedef struct gb_mengine gb_mengine_t;

/* An engine for machine M of plant P, whose history starts at START (disconnected until data). */
gb_mengine_t *gb_mengine_new(const gb_plant_t *p, const gb_machine_t *m, gb_time_t start);
void gb_mengine_free(gb_mengine_t *e);

/*
 * Feeds one sample of the machine's tag TAG (index in m->tags) at T. Times must not go backwards:
 * GB_ERANGE for a sample older than the last one fed (the caller re-sorts or rebuilds), GB_EINVAL
 * for a value whose type does not fit the tag.
 */
int gb_mengine_feed(gb_mengine_t *e, gb_time_t t, uint32_t tag, const gb_value_t *v);

/*
 * Data arrived at T for the machine without a value the engine reads (a sensor it has no rule
 * for): it only proves the machine connected. Same ordering rules as gb_mengine_feed.
 */
int gb_mengine_touch(gb_mengine_t *e, gb_time_t t);

/* True when the engine's state depends on tag TAG (a rule, a counter or the cycle-time key). */
bool gb_mengine_reads(const gb_mengine_t *e, uint32_t tag);

/* An operator's scrap entry of N parts at T. */
int gb_mengine_scrap(gb_mengine_t *e, gb_time_t t, int64_t n, const char *who);

/*
 * Classifies the stop containing T (or, when none does, the last stop that ended before T) with
 * REASON (a path of the plant's reason tree), by WHO at wall-clock AT. Later calls reclassify;
 * all are kept. Returns 0 or GB_ENOENT for an unknown reason.
 */
int gb_mengine_reason(gb_mengine_t *e, gb_time_t t, const char *reason, const char *who,
                      gb_time_t at);

/*
 * Splits the stop containing T (strictly inside it) into two at T, by WHO at AT, so each part can
 * have its own reason. Returns 0 (a split outside any stop changes nothing when the stops are
 * next derived).
 */
int gb_mengine_split(gb_mengine_t *e, gb_time_t t, const char *who, gb_time_t at);

/* The timeline up to UNTIL (the open segment ends there). *OUT is the engine's; valid until the
 * next feed or timeline call on E. */
size_t gb_mengine_timeline(gb_mengine_t *e, gb_time_t until, const gb_seg_t **out);

/* Current state and rule, and since when. */
void gb_mengine_current(const gb_mengine_t *e, gb_time_t now, gb_state_t *state, int32_t *rule,
                        gb_time_t *since);

/* Stops up to UNTIL, classified. *OUT is the engine's; valid until the next call on E. */
size_t gb_mengine_stops(gb_mengine_t *e, gb_time_t until, const gb_stop_t **out);

size_t gb_mengine_parts(const gb_mengine_t *e, const gb_part_t **out);
size_t gb_mengine_scraps(const gb_mengine_t *e, const gb_scrap_entry_t **out);
size_t gb_mengine_reason_log(const gb_mengine_t *e, const gb_reason_set_t **out);

/* Moves the people's changes (reasons, splits, scrap entries) of FROM to TO, which has none yet:
 * for rebuilding an engine's history without losing what people entered. */
void gb_mengine_take_changes(gb_mengine_t *to, gb_mengine_t *from);

/* A copy of E as it stands -- its current values, timeline, parts, jobs and operators -- without
 * people's changes: a checkpoint to replay newer samples onto. */
gb_mengine_t *gb_mengine_clone(const gb_mengine_t *e);

/* A human-readable name for a segment's rule: the rule's name, "rule 3 of cnc", "no data for 30s". */
void gb_mengine_rule_name(const gb_mengine_t *e, int32_t rule, char *buf, size_t size);

const gb_machine_t *gb_mengine_machine(const gb_mengine_t *e);

/* Jobs: the table (borrowed; may grow) that job ids are looked up and interned in. */
void gb_mengine_set_jobs(gb_mengine_t *e, gb_jobs_t *jobs);

/* Starts job ID on the machine at T (NULL or "" ends the running one). Same ordering rules as
 * gb_mengine_feed. GB_EINVAL when no job table was set. */
int gb_mengine_job(gb_mengine_t *e, gb_time_t t, const char *id);

typedef struct gb_job_interval {
    gb_time_t start, end;
    uint32_t job; /* index in the job table */
} gb_job_interval_t;

/* The jobs that ran up to UNTIL, in order. *OUT is the engine's, valid until the next call. */
size_t gb_mengine_jobs(gb_mengine_t *e, gb_time_t until, const gb_job_interval_t **out);

/* Operators, the same way: a name table (gb_jobs_t used for names: id = name), who logs in at T
 * (NULL or "" logs out), and who ran the machine when (interval .job = index in the table). */
void gb_mengine_set_operators(gb_mengine_t *e, gb_jobs_t *names);
int gb_mengine_operator(gb_mengine_t *e, gb_time_t t, const char *id);
size_t gb_mengine_operators(gb_mengine_t *e, gb_time_t until, const gb_job_interval_t **out);

/* Time of the newest sample fed (the history's start when none). */
gb_time_t gb_mengine_last_time(const gb_mengine_t *e);
const gb_plant_t *gb_mengine_plant(const gb_mengine_t *e);

/* ---- KPIs ----------------------------------------------------------------------------------- */

/* Time elements in seconds (doubles: exact for whole seconds, and roll-ups of many machine-years
 * do not overflow), counts as integers. Sums of these are the roll-up; ratios come after. */
typedef struct gb_oee {
    double pot;       /* planned operation time: shifts */
    double pdot;      /* planned downtime: breaks and stops classified as planned */
    double pbt;       /* planned busy time = pot - pdot */
    double apt;       /* actual production time: running, including micro-stops */
    double aust;      /* actual unit setup time */
    double adet;      /* actual unit delay time: down or disconnected, at least micro_stop long */
    double adot;      /* actual unit down time: idle (available, not producing), likewise */
    double adet_down, adet_disconnected; /* adet by state */
    double micro;     /* micro-stop time (inside apt) */
    double ideal;     /* sum over parts of ideal cycle time x quantity (PRI x PQ) */
    double ideal_scrap; /* the same over scrapped parts (PRI x SQ) */
    double ttr;       /* time to repair: duration of failures (down stops) */
    double outside_run; /* running outside planned operation time (not in any ratio) */
    int64_t pq, gq, sq; /* produced, good and scrap quantity inside planned operation time */
    int64_t pq_outside; /* produced outside planned operation time */
    int64_t stops;      /* unplanned stops (downtime events) */
    int64_t failures;   /* unplanned stops in state down */
    int64_t micro_stops;
    bool ideal_known;   /* every part had an ideal cycle time */
    /* ratios (NAN when undefined: a zero denominator) */
    double aupt, aubt; /* apt + aust; aupt + adet */
    double availability, effectiveness, quality, oee, nee, setup_ratio, scrap_ratio,
        allocation, utilisation, technical, mtbf, mttr;
    /* the Nakajima view: the same A x P x Q, with the six big losses as time (seconds) */
    double loss_breakdowns, loss_setup, loss_small_stops, loss_reduced_speed, loss_rejects;
} gb_oee_t;

/* What part of the window to count: everything, one shift instance, or one production day. */
typedef struct gb_oee_filter {
    const gb_shift_instance_t *shift; /* NULL: all */
    int day;                          /* YYYYMMDD of the shift start; 0: all */
} gb_oee_filter_t;

/*
 * Adds machine E's time elements and counts over [FROM, TO) against PLAN (which must cover the
 * window) into ACC, honouring FILTER (NULL for all). Call gb_oee_finish on the sum.
 */
void gb_mengine_oee(gb_mengine_t *e, const gb_plan_t *plan, gb_time_t from, gb_time_t to,
                    const gb_oee_filter_t *filter, gb_oee_t *acc);

/* Computes the ratios of K from its sums. */
void gb_oee_finish(gb_oee_t *k);

#endif
