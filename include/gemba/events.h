/*
 * The events file of `gemba oee`: CSV with the header `time,machine,signal,value`, one signal
 * change per line, as a recording or an export would give it. Time is RFC 3339; machine is as
 * named in the plant file; signal is one of that machine's tags, or `reason` (value: a path of the
 * reason tree, classifying the stop at that time), or `scrap` (value: a number of parts an
 * operator scrapped), or `job` (value: the job that starts running; empty ends it), or
 * `operator` (value: who logs in at the machine; empty logs out). Parsing is a pure function of the bytes (no I/O), so it can be fuzzed.
 */
#ifndef GEMBA_EVENTS_H
#define GEMBA_EVENTS_H

#include "gemba/diag.h"
#include "gemba/oee.h"
#include "gemba/plant.h"

typedef enum { GB_EV_TAG, GB_EV_REASON, GB_EV_SCRAP, GB_EV_JOB, GB_EV_OPERATOR } gb_event_kind_t;

typedef struct gb_event {
    gb_time_t t;
    uint32_t machine;     /* index in plant->machines */
    gb_event_kind_t kind;
    uint32_t tag;         /* GB_EV_TAG: index in the machine's tags */
    gb_value_t value;     /* GB_EV_TAG: typed; str points into the event list's arena */
    int64_t n;            /* GB_EV_SCRAP */
    uint32_t line;        /* line in the file, for messages */
} gb_event_t;

typedef struct gb_events {
    gb_event_t *ev;
    size_t n, cap;
    char **strs;          /* owned copies of string values and reason paths */
    size_t nstrs, cap_strs;
} gb_events_t;

/* Most lines a file may hold, and longest field, so input cannot exhaust memory. */
#define GB_EVENTS_MAX 50000000u
#define GB_EVENTS_FIELD_MAX 4096u

/*
 * Parses BUF. Every problem goes to DIAG as LINE:1 (line of the record); lines with problems are
 * skipped, the rest kept. Events are sorted by time, stably, so late lines in the file are fine.
 * Returns 0 when there was no problem, GB_EINVAL otherwise (OUT still holds the good lines).
 */
int gb_events_parse(const char *buf, size_t len, const gb_plant_t *p, gb_events_t *out,
                    gb_diag_t *diag);

void gb_events_clear(gb_events_t *ev);

#endif
