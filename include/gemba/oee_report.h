/* OEE results as JSON and CSV, shared by `gemba oee` and the HTTP API. NaN ratios become null. */
#ifndef GEMBA_OEE_REPORT_H
#define GEMBA_OEE_REPORT_H

#include "gemba/oee.h"

#include <jansson.h>
#include <stdio.h>

/* The KPIs of K (finished) as a JSON object (new reference). */
json_t *gb_oee_json(const gb_oee_t *k);

/* The CSV header for gb_oee_csv_row, after a first column named KEY_NAME. */
void gb_oee_csv_header(FILE *out, const char *key_name);

/* One CSV row: KEY (quoted when needed), then the numbers in the header's order. */
void gb_oee_csv_row(FILE *out, const char *key, const gb_oee_t *k);

/* Seconds of [A, B) inside planned busy time as the plan knows it (shifts minus breaks). */
double gb_plan_busy_overlap(const gb_plan_t *plan, gb_time_t a, gb_time_t b);



/* ---- a whole plant: one engine per machine, reports by machine, shift, day or reason ------- */

#include "gemba/events.h"

typedef struct gb_oee_plant {
    const gb_plant_t *plant;
    gb_mengine_t **m; /* one per plant->machines[i] */
    gb_jobs_t jobs;   /* owned: the job file's jobs, and ad-hoc ones as they start */
    gb_jobs_t operators; /* owned: operators' names as they log in */
} gb_oee_plant_t;

typedef enum { GB_BY_MACHINE, GB_BY_SHIFT, GB_BY_DAY, GB_BY_REASON, GB_BY_JOB,
               GB_BY_PRODUCT, GB_BY_OPERATOR, GB_BY_WEEK } gb_oee_by_t;

/* Takes JOBS (a parsed job file) as OP's job table; OP must not have started any job yet. */
void gb_oee_plant_take_jobs(gb_oee_plant_t *op, gb_jobs_t *jobs);

/* Parses "machine", "shift", "day", "reason", "job", "product", "operator", "week". */
int gb_oee_by_parse(const char *s, gb_oee_by_t *out);

/* Engines for every machine of P, with history from START. */
gb_oee_plant_t *gb_oee_plant_new(const gb_plant_t *p, gb_time_t start);
void gb_oee_plant_free(gb_oee_plant_t *op);

/* Feeds one event (a tag sample, a reason, a scrap entry) to its machine's engine. */
int gb_oee_plant_feed(gb_oee_plant_t *op, const gb_event_t *ev, const char *who);

/*
 * The report over [FROM, TO) for the machines under ASSET (a machine, line, area or site name or
 * path; NULL for all), grouped BY. JSON: {from, to, by, asset, rows: [{key, ...}], total}. For
 * BY reason, rows hold {reason, stops, seconds} of unplanned and planned stops (no total KPIs).
 * Returns NULL when ASSET names nothing.
 */
json_t *gb_oee_report(gb_oee_plant_t *op, gb_time_t from, gb_time_t to, gb_oee_by_t by,
                      const char *asset);

/*
 * Applies the changes recorded in DATA_DIR/oee/changes.jsonl (reasons, splits, scrap, in the
 * order made) to OP's engines. A change whose stop is not in the engines' history, or whose time
 * is before HISTORY_START, is skipped. Counts go to the out-parameters (any may be NULL).
 * A missing file is no change. Returns 0.
 */
int gb_oee_changes_replay(gb_oee_plant_t *op, const char *data_dir, gb_time_t history_start,
                          size_t *applied, size_t *skipped, size_t *bad);

/* The same report as CSV on OUT. Returns 0 or GB_ENOENT for an unknown asset. */
int gb_oee_report_csv(gb_oee_plant_t *op, gb_time_t from, gb_time_t to, gb_oee_by_t by,
                      const char *asset, FILE *out);

#endif
