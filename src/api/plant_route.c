/*
 * GET /api/v1/plant: the plant model as loaded from the plant file -- site, areas, lines and
 * machines (kind, ideal cycle times, count tags, tags), the shift calendar's weekly pattern and
 * the reason trees. It changes only when the daemon restarts with another file, so clients read
 * it once; the dashboard takes its lines, its targets and the operator's reason buttons from it.
 * Everything here is read from the immutable plant, so no lock is needed.
 */
#include "api/web.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

static json_t *clock_json(int minutes)
{
    char b[8];
    snprintf(b, sizeof b, "%02d:%02d", (minutes / 60) % 24, minutes % 60);
    return json_string(b);
}

static json_t *reasons_json(const gb_reason_t *r, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:s, s:b, s:b}", "path", r[i].path, "planned",
                                             r[i].planned, "leaf", r[i].leaf));
    return arr;
}

static json_t *machine_json(const gb_plant_t *p, const gb_machine_t *m)
{
    const gb_line_t *ln = &p->lines[m->line];
    char *path = gb_plant_machine_path(p, m);
    json_t *o = json_pack("{s:s, s:s, s:o, s:o, s:s, s:s}", "name", m->name, "path", path, "kind",
                          str_or_null(m->kind), "description", str_or_null(m->description),
                          "line", ln->name, "area", p->areas[ln->area].name);
    free(path);
    json_object_set_new(o, "ideal_cycle_time_s",
                        m->ideal_cycle_ns ? json_real((double)m->ideal_cycle_ns / 1e9) : json_null());
    json_t *ct = json_object();
    for (size_t i = 0; i < m->ncycle_times; i++)
        json_object_set_new(ct, m->cycle_times[i].key,
                            json_real((double)m->cycle_times[i].ns / 1e9));
    json_object_set_new(o, "cycle_times", ct);
    json_object_set_new(o, "cycle_times_by", str_or_null(m->cycle_times_by));
    json_object_set_new(o, "job_tag", str_or_null(m->job_tag));
    json_object_set_new(o, "operator_tag", str_or_null(m->operator_tag));
    json_object_set_new(o, "counts", json_pack("{s:o, s:o, s:o}", "total",
                                               str_or_null(m->count_total), "good",
                                               str_or_null(m->count_good), "scrap",
                                               str_or_null(m->count_scrap)));
    json_t *tags = json_array();
    for (size_t i = 0; i < m->ntags; i++) {
        const gb_plant_tag_t *t = &m->tags[i];
        json_array_append_new(tags, json_pack("{s:s, s:s, s:o, s:o}", "name", t->name, "type",
                                              gb_vtype_name(t->type), "unit", str_or_null(t->unit),
                                              "description", str_or_null(t->description)));
    }
    json_object_set_new(o, "tags", tags);
    return o;
}

json_t *gb_api_plant(const gb_api_source_t *src)
{
    static const char *const day_names[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
    const gb_plant_t *p = src->plant;
    json_t *areas = json_array();
    for (size_t a = 0; a < p->nareas; a++) {
        json_t *lines = json_array();
        for (size_t l = 0; l < p->nlines; l++) {
            if (p->lines[l].area != a) continue;
            json_t *names = json_array();
            char *lpath = NULL;
            for (size_t m = 0; m < p->nmachines; m++) {
                if (p->machines[m].line != l) continue;
                json_array_append_new(names, json_string(p->machines[m].name));
                if (!lpath) {
                    /* a line's path is its machines' path without the machine's name */
                    lpath = gb_plant_machine_path(p, &p->machines[m]);
                    char *slash = strrchr(lpath, '/');
                    if (slash) *slash = 0;
                }
            }
            json_array_append_new(lines, json_pack("{s:s, s:o, s:o, s:o}", "name",
                                                   p->lines[l].name, "path", str_or_null(lpath),
                                                   "description",
                                                   str_or_null(p->lines[l].description),
                                                   "machines", names));
            free(lpath);
        }
        json_array_append_new(areas, json_pack("{s:s, s:o, s:o}", "name", p->areas[a].name,
                                               "description", str_or_null(p->areas[a].description),
                                               "lines", lines));
    }
    json_t *machines = json_array();
    for (size_t m = 0; m < p->nmachines; m++)
        json_array_append_new(machines, machine_json(p, &p->machines[m]));
    json_t *shifts = json_array();
    for (size_t s = 0; s < p->nshifts; s++) {
        const gb_shift_t *sh = &p->shifts[s];
        json_t *days = json_array(), *breaks = json_array();
        for (int d = 0; d < 7; d++)
            if (sh->days & (1u << d)) json_array_append_new(days, json_string(day_names[d]));
        for (size_t b = 0; b < sh->nbreaks; b++)
            json_array_append_new(breaks, json_pack("{s:s, s:o, s:f}", "name", sh->breaks[b].name,
                                                    "start", clock_json(sh->breaks[b].start_min),
                                                    "duration_s",
                                                    (double)sh->breaks[b].duration_ns / 1e9));
        json_array_append_new(shifts, json_pack("{s:s, s:o, s:o, s:o, s:o}", "name", sh->name,
                                                "days", days, "start", clock_json(sh->start_min),
                                                "end", clock_json(sh->end_min), "breaks", breaks));
    }
    return json_pack("{s:o, s:s, s:o, s:s, s:b, s:o, s:o, s:o, s:o, s:o}", "enterprise",
                     str_or_null(p->enterprise), "site", p->site, "description",
                     str_or_null(p->site_description), "timezone",
                     p->timezone ? p->timezone : "UTC", "demo", src->demo, "areas", areas,
                     "machines", machines, "shifts", shifts, "reasons",
                     reasons_json(p->reasons, p->nreasons), "scrap_reasons",
                     reasons_json(p->scrap_reasons, p->nscrap_reasons));
}
