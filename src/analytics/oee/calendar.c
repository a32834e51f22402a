/*
 * Shift instances from the weekly pattern. For each local date that could hold a shift touching
 * the window (one day of margin each side, for shifts across midnight), the shifts that run that
 * day are the exception's list when an exception covers the date, else those whose weekday
 * pattern includes it. Each local clock time goes through mktime with tm_isdst = -1, so the
 * tz database decides the offset: a 22:00-06:00 shift is 7 h long on the spring-forward night and
 * 9 h on the fall-back night, and a clock time inside the skipped hour moves forward.
 */
#include "gemba/calendar.h"
#include "gemba/error.h"
#include "util/str.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

int gb_tz_set(const char *name)
{
    if (gb_timezone_check(name) != 0) return GB_ENOENT;
    char *tz = gb_xasprintf(":%s", name);
    setenv("TZ", tz, 1);
    free(tz);
    tzset();
    return 0;
}

int gb_tz_local_date(gb_time_t t, int *minute_of_day)
{
    time_t s = (time_t)(t / GB_NS_PER_S - (t % GB_NS_PER_S < 0));
    struct tm tm;
    localtime_r(&s, &tm);
    if (minute_of_day) *minute_of_day = tm.tm_hour * 60 + tm.tm_min;
    return (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
}

gb_time_t gb_tz_local_to_utc(int yyyymmdd, int minutes)
{
    struct tm tm = {0};
    tm.tm_year = yyyymmdd / 10000 - 1900;
    tm.tm_mon = yyyymmdd / 100 % 100 - 1;
    tm.tm_mday = yyyymmdd % 100 + minutes / 1440;
    tm.tm_hour = minutes % 1440 / 60;
    tm.tm_min = minutes % 60;
    tm.tm_isdst = -1;
    return (gb_time_t)mktime(&tm) * GB_NS_PER_S;
}

int gb_date_add_days(int yyyymmdd, int days)
{
    /* noon UTC arithmetic on the civil date: no time zone involved */
    struct tm tm = {0};
    tm.tm_year = yyyymmdd / 10000 - 1900;
    tm.tm_mon = yyyymmdd / 100 % 100 - 1;
    tm.tm_mday = yyyymmdd % 100 + days;
    tm.tm_hour = 12;
    time_t t = timegm(&tm);
    gmtime_r(&t, &tm);
    return (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
}

static int weekday(int yyyymmdd)
{
    struct tm tm = {0};
    tm.tm_year = yyyymmdd / 10000 - 1900;
    tm.tm_mon = yyyymmdd / 100 % 100 - 1;
    tm.tm_mday = yyyymmdd % 100;
    tm.tm_hour = 12;
    time_t t = timegm(&tm);
    gmtime_r(&t, &tm);
    return (tm.tm_wday + 6) % 7; /* 0 = Monday, as in the plant model */
}

static const gb_cal_exception_t *exception_for(const gb_plant_t *p, int day)
{
    const gb_cal_exception_t *hit = NULL;
    for (size_t i = 0; i < p->nexceptions; i++) {
        const gb_cal_exception_t *x = &p->exceptions[i];
        int from = x->from_y * 10000 + x->from_m * 100 + x->from_d;
        int to = x->to_y * 10000 + x->to_m * 100 + x->to_d;
        if (day >= from && day <= to) hit = x; /* the last one listed wins */
    }
    return hit;
}

static bool runs_on(const gb_plant_t *p, uint32_t shift, int day)
{
    const gb_cal_exception_t *x = exception_for(p, day);
    if (x) {
        for (size_t i = 0; i < x->nshifts; i++)
            if (x->shifts[i] == shift) return true;
        return false;
    }
    return p->shifts[shift].days & (1u << weekday(day));
}

static int by_start(const void *a, const void *b)
{
    const gb_shift_instance_t *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

static int break_by_start(const void *a, const void *b)
{
    const gb_break_instance_t *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

void gb_plan_build(const gb_plant_t *p, gb_time_t from, gb_time_t to, gb_plan_t *out)
{
    memset(out, 0, sizeof *out);
    if (from >= to || p->nshifts == 0) return;
    int first = gb_date_add_days(gb_tz_local_date(from, NULL), -1);
    int last = gb_tz_local_date(to, NULL);
    size_t cap = 0;
    for (int day = first; day <= last; day = gb_date_add_days(day, 1)) {
        for (uint32_t s = 0; s < p->nshifts; s++) {
            if (!runs_on(p, s, day)) continue;
            const gb_shift_t *sh = &p->shifts[s];
            int end_min = sh->end_min > sh->start_min ? sh->end_min : sh->end_min + 1440;
            gb_time_t a = gb_tz_local_to_utc(day, sh->start_min);
            gb_time_t b = gb_tz_local_to_utc(day, end_min);
            if (b <= from || a >= to || b <= a) continue;
            if (out->nshifts == cap) {
                cap = cap ? cap * 2 : 16;
                out->shifts = gb_xrealloc(out->shifts, cap * sizeof *out->shifts);
            }
            out->shifts[out->nshifts++] = (gb_shift_instance_t){a, b, s, day, 0, 0};
        }
    }
    if (out->nshifts > 1) qsort(out->shifts, out->nshifts, sizeof *out->shifts, by_start);
    /* breaks, in shift order (and so in time order: breaks of a shift do not overlap) */
    size_t bcap = 0;
    for (size_t i = 0; i < out->nshifts; i++) {
        gb_shift_instance_t *si = &out->shifts[i];
        const gb_shift_t *sh = &p->shifts[si->shift];
        si->first_break = out->nbreaks;
        for (size_t k = 0; k < sh->nbreaks; k++) {
            const gb_break_t *br = &sh->breaks[k];
            int bm = br->start_min >= sh->start_min ? br->start_min : br->start_min + 1440;
            gb_time_t a = gb_tz_local_to_utc(si->day, bm);
            gb_time_t b = a + br->duration_ns;
            if (a < si->start) a = si->start; /* clock times in a skipped hour */
            if (b > si->end) b = si->end;
            if (b <= a) continue;
            if (out->nbreaks == bcap) {
                bcap = bcap ? bcap * 2 : 16;
                out->breaks = gb_xrealloc(out->breaks, bcap * sizeof *out->breaks);
            }
            out->breaks[out->nbreaks++] = (gb_break_instance_t){a, b, si->shift, (uint32_t)k};
        }
        si->nbreaks = out->nbreaks - si->first_break;
        if (si->nbreaks > 1)
            qsort(out->breaks + si->first_break, si->nbreaks, sizeof *out->breaks, break_by_start);
    }
}

void gb_plan_clear(gb_plan_t *plan)
{
    free(plan->shifts);
    free(plan->breaks);
    memset(plan, 0, sizeof *plan);
}
