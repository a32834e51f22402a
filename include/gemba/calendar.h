/*
 * The shift calendar in time: which stretches of real time are planned operation time (shifts)
 * and planned downtime (breaks), computed from the plant file's weekly pattern and exceptions in
 * the site's time zone. Local clock times are turned into UTC through the system's tz database, so
 * a night shift across a daylight-saving change lasts 7 or 9 hours, as it does on the floor.
 *
 * The time zone is process-wide (glibc's TZ): call gb_tz_set once, before threads start. A gemba
 * process serves one site, so one zone is all it needs.
 */
#ifndef GEMBA_CALENDAR_H
#define GEMBA_CALENDAR_H

#include "gemba/plant.h"
#include "gemba/time.h"

#include <stddef.h>
#include <stdint.h>

/* Sets the process time zone to the IANA NAME. Returns 0 or GB_ENOENT. */
int gb_tz_set(const char *name);

/* The local calendar date of T as YYYYMMDD, and the local time as minutes since midnight. */
int gb_tz_local_date(gb_time_t t, int *minute_of_day);

/* UTC time of local date YYYYMMDD at MINUTES after local midnight (may be >= 1440: next days). */
gb_time_t gb_tz_local_to_utc(int yyyymmdd, int minutes);

/* YYYYMMDD of the day after / before. */
int gb_date_add_days(int yyyymmdd, int days);

typedef struct gb_shift_instance {
    gb_time_t start, end;  /* UTC */
    uint32_t shift;        /* index in plant->shifts */
    int day;               /* local date the shift starts on, YYYYMMDD */
    size_t first_break, nbreaks; /* into the break array of the result */
} gb_shift_instance_t;

typedef struct gb_break_instance {
    gb_time_t start, end;  /* UTC, inside its shift instance */
    uint32_t shift, brk;   /* indices in the plant */
} gb_break_instance_t;

typedef struct gb_plan {
    gb_shift_instance_t *shifts; /* sorted by start, not overlapping */
    size_t nshifts;
    gb_break_instance_t *breaks; /* sorted by start */
    size_t nbreaks;
} gb_plan_t;

/*
 * Every shift instance that overlaps [FROM, TO), with its breaks, in the process time zone.
 * Instances are not clipped to the window. Free with gb_plan_clear.
 */
void gb_plan_build(const gb_plant_t *p, gb_time_t from, gb_time_t to, gb_plan_t *out);
void gb_plan_clear(gb_plan_t *plan);

#endif
