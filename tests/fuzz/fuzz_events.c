/*
 * libFuzzer target: the events-file codec of `gemba oee` (CSV through libcsv, RFC 3339 times,
 * typed values) against a fixed plant, then the engines fed with whatever parsed. Nothing may
 * crash, leak or read out of bounds.
 */
#include "gemba/calendar.h"
#include "gemba/events.h"
#include "gemba/oee_report.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const PLANT =
    "site: {name: s1, timezone: UTC}\n"
    "reasons: {planned: [maintenance], unplanned: {tooling: [breakage]}}\n"
    "state_rules:\n  default:\n"
    "    - {state: down, when: {tag: execution, eq: STOPPED}, reason: unplanned/tooling}\n"
    "    - {state: running, when: {any: [{tag: execution, eq: ACTIVE}, {tag: load, gt: 5}]}}\n"
    "calendar: {shifts: [{name: d, days: [mon-sun], start: \"06:00\", end: \"02:00\","
    " breaks: [{start: \"12:00\", duration: 30m}]}]}\n"
    "areas: [{name: a, lines: [{name: l, machines: [{name: m1, ideal_cycle_time: 60s,\n"
    "  counts: {total: part_count, scrap: scrap_count, counter_max: 999},\n"
    "  tags: [{name: execution, type: string}, {name: part_count, type: int},\n"
    "         {name: scrap_count, type: int}, {name: load, type: float}, {name: ok, type: bool}]}]}]}]\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static gb_plant_t *p;
    if (!p) {
        gb_diag_t d;
        gb_diag_init(&d, "plant");
        if (gb_plant_load_mem("plant", PLANT, strlen(PLANT), &p, &d) != 0) __builtin_trap();
        gb_diag_clear(&d);
        gb_tz_set("UTC");
    }
    gb_diag_t d;
    gb_diag_init(&d, "events.csv");
    gb_events_t ev;
    gb_events_parse((const char *)data, size, p, &ev, &d);
    if (ev.n) {
        gb_time_t from = ev.ev[0].t, to = ev.ev[ev.n - 1].t;
        /* keep the window small enough that one input stays fast */
        if (to - from > 40 * 86400 * GB_NS_PER_S) to = from + 40 * 86400 * GB_NS_PER_S;
        gb_oee_plant_t *op = gb_oee_plant_new(p, from);
        for (size_t i = 0; i < ev.n; i++) gb_oee_plant_feed(op, &ev.ev[i], "fuzz");
        if (to > from) {
            json_t *j = gb_oee_report(op, from, to, GB_BY_SHIFT, NULL);
            json_decref(j);
            j = gb_oee_report(op, from, to, GB_BY_REASON, NULL);
            json_decref(j);
        }
        gb_oee_plant_free(op);
    }
    gb_events_clear(&ev);
    gb_diag_clear(&d);
    return 0;
}
