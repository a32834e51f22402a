/*
 * The OEE engine live inside `gemba serve`: a bus consumer that feeds each sample to its
 * machine's engine, and the JSON views the API serves (current states, timelines, stops, OEE).
 * One lock guards the engines: the bus thread feeds, API threads read.
 *
 * A sample older than the last one its machine's engine has taken is put in its place: the
 * machine's engine is rebuilt (once per batch) from a compact history -- every sample of a tag it
 * reads, and its connectivity as spans -- keeping people's changes.
 */
#ifndef GEMBA_OEE_LIVE_H
#define GEMBA_OEE_LIVE_H

#include "gemba/bus.h"
#include "gemba/oee_report.h"
#include "gemba/tags.h"

#include <jansson.h>

typedef struct gb_oee_live gb_oee_live_t;

gb_oee_live_t *gb_oee_live_new(const gb_plant_t *p, const gb_tags_t *tags, gb_time_t start);

/*
 * Rebuilds the engines from what the store in DATA_DIR holds since SINCE, before the bus starts:
 * every sample of a tag an engine reads, and at most one sample a second per machine of the
 * others (they only show the machine was connected). The engines' history then starts at the
 * first such sample. *N gets the number of samples fed. Returns 0, or the store's error.
 */
int gb_oee_live_rebuild(gb_oee_live_t *l, const char *data_dir, gb_time_t since, uint64_t *n);
void gb_oee_live_free(gb_oee_live_t *l);

/*
 * Where the engines' results go: each machine's state changes (oee.state) and, when a shift
 * ends, its KPIs (oee.availability, oee.effectiveness, oee.quality_ratio, oee.oee). SINK is called
 * on the bus thread, outside the engines' lock; a non-zero return keeps the batch to retry.
 */
typedef int (*gb_oee_sink_fn)(void *ctx, const gb_batch_t *b);
void gb_oee_live_set_sink(gb_oee_live_t *l, gb_oee_sink_fn sink, void *ctx);

/* Subscribe with the live engine as context. */
extern const gb_consumer_ops_t gb_oee_live_consumer;

/* Every machine: state, rule, since, and its OEE for the current shift. */
json_t *gb_oee_live_machines(gb_oee_live_t *l, gb_time_t now);

/*
 * The same as compact JSON text (caller frees; *LEN its length), computed at most once per
 * MAX_AGE_NS however many ask: concurrent requests within that age share one computation. NULL
 * only when the text cannot be built.
 */
char *gb_oee_live_machines_text(gb_oee_live_t *l, int64_t max_age_ns, size_t *len);

/* One machine's timeline or stops over [FROM, TO); NULL for an unknown machine. */
json_t *gb_oee_live_timeline(gb_oee_live_t *l, const char *machine, gb_time_t from, gb_time_t to);
json_t *gb_oee_live_stops(gb_oee_live_t *l, const char *machine, gb_time_t from, gb_time_t to);

/* gb_oee_report over the live engines. NULL when ASSET names nothing. */
json_t *gb_oee_live_report(gb_oee_live_t *l, gb_time_t from, gb_time_t to, gb_oee_by_t by,
                           const char *asset);

/*
 * The work orders: the job file's jobs and the ad-hoc ones machines started, in that order, each
 * with what was made for it over the engines' history (produced, good and scrap in planned time,
 * as OEE counts them, and produced outside it) and, when its quantity is known, how many good
 * parts remain. A JSON array (new reference).
 */
json_t *gb_oee_live_jobs(gb_oee_live_t *l, gb_time_t now);

/* Takes a parsed job file as the live engines' job table (before gb_oee_live_rebuild). */
void gb_oee_live_take_jobs(gb_oee_live_t *l, gb_jobs_t *jobs);

/* When the engines' history begins (the daemon's start, or the first sample rebuilt). */
gb_time_t gb_oee_live_history_start(gb_oee_live_t *l);

/* How late a sample may arrive and still be placed in its machine's history, unless set. */
#define GB_OEE_LATE_WINDOW (8 * 3600 * GB_NS_PER_S)

/* Sets that window (0: the default). Older samples are stored but OEE does not count them. */
void gb_oee_live_set_late_window(gb_oee_live_t *l, gb_time_t window);

/* Samples and connectivity spans kept to place late samples, over all machines. */
size_t gb_oee_live_history_size(gb_oee_live_t *l);

/* Samples taken, those among them that came out of order, and those too late to place. */
void gb_oee_live_counters(gb_oee_live_t *l, uint64_t *fed, uint64_t *late, uint64_t *too_late);

/* How often a machine's history was recomputed to place late samples. */
uint64_t gb_oee_live_rebuilds(gb_oee_live_t *l);



/* ---- changes people make: reasons, splits, scrap ------------------------------------------- */

/*
 * Opens DATA_DIR/oee/changes.jsonl: applies every change recorded there (those whose stop is no
 * longer in the rebuilt history are skipped), then keeps it open to append new ones. Call after
 * gb_oee_live_rebuild. Returns 0 or GB_EIO (logged).
 */
int gb_oee_live_changes_open(gb_oee_live_t *l, const char *data_dir);

/*
 * Each change is written to the changes log and synced before it is applied, so an accepted
 * change survives a crash. BEFORE/AFTER (may be NULL) get short descriptions for the audit log.
 * Returns 0; GB_ENOENT for an unknown machine; GB_ERANGE when no stop starts at STOP_START (or,
 * for a split, AT is not strictly inside it; for scrap, T is before the history); GB_EINVAL for an
 * unknown reason or a count below 1; GB_EIO when the log cannot be written.
 */
int gb_oee_live_set_reason(gb_oee_live_t *l, const char *machine, gb_time_t stop_start,
                           const char *reason, const char *who, gb_time_t now, char *before,
                           char *after, size_t size);
int gb_oee_live_split(gb_oee_live_t *l, const char *machine, gb_time_t stop_start, gb_time_t at,
                      const char *who, gb_time_t now, char *before, char *after, size_t size);
int gb_oee_live_scrap(gb_oee_live_t *l, const char *machine, gb_time_t t, int64_t n,
                      const char *who, gb_time_t now);

#endif
