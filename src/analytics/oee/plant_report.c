/*
 * OEE for a whole plant: an engine per machine and the grouped reports. Roll-ups add the time
 * elements and counts of every machine in a group and compute ratios once from the sums, so a
 * line's OEE is never an average of its machines' percentages.
 */
#include "gemba/oee_report.h"
#include "gemba/error.h"
#include "util/str.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int gb_oee_by_parse(const char *s, gb_oee_by_t *out)
{
    static const char *const names[] = {"machine", "shift", "day", "reason", "job", "product",
                                        "operator", "week"};
    for (int i = 0; i < 8; i++)
        if (!strcmp(s, names[i])) return *out = (gb_oee_by_t)i, 0;
    return GB_EINVAL;
}

gb_oee_plant_t *gb_oee_plant_new(const gb_plant_t *p, gb_time_t start)
{
    gb_oee_plant_t *op = gb_xcalloc(1, sizeof *op);
    op->plant = p;
    op->m = gb_xcalloc(p->nmachines ? p->nmachines : 1, sizeof *op->m);
    for (size_t i = 0; i < p->nmachines; i++) {
        op->m[i] = gb_mengine_new(p, &p->machines[i], start);
        gb_mengine_set_jobs(op->m[i], &op->jobs);
        gb_mengine_set_operators(op->m[i], &op->operators);
    }
    return op;
}

void gb_oee_plant_take_jobs(gb_oee_plant_t *op, gb_jobs_t *jobs)
{
    gb_jobs_clear(&op->jobs);
    op->jobs = *jobs;
    memset(jobs, 0, sizeof *jobs);
}

void gb_oee_plant_free(gb_oee_plant_t *op)
{
    if (!op) return;
    for (size_t i = 0; i < op->plant->nmachines; i++) gb_mengine_free(op->m[i]);
    free(op->m);
    gb_jobs_clear(&op->jobs);
    gb_jobs_clear(&op->operators);
    free(op);
}

int gb_oee_plant_feed(gb_oee_plant_t *op, const gb_event_t *ev, const char *who)
{
    if (ev->machine >= op->plant->nmachines) return GB_EINVAL;
    gb_mengine_t *e = op->m[ev->machine];
    switch (ev->kind) {
    case GB_EV_TAG: return gb_mengine_feed(e, ev->t, ev->tag, &ev->value);
    case GB_EV_SCRAP: return gb_mengine_scrap(e, ev->t, ev->n, who);
    case GB_EV_REASON: return gb_mengine_reason(e, ev->t, ev->value.str, who, ev->t);
    case GB_EV_JOB: return gb_mengine_job(e, ev->t, ev->value.str);
    case GB_EV_OPERATOR: return gb_mengine_operator(e, ev->t, ev->value.str);
    }
    return GB_EINVAL;
}

/* Does machine I lie under ASSET (its name, or a path prefix of its full path, or a bare name of
 * one of its ancestors)? */
static bool under(const gb_plant_t *p, size_t i, const char *asset)
{
    if (!asset) return true;
    const gb_machine_t *m = &p->machines[i];
    const gb_line_t *l = &p->lines[m->line];
    const gb_area_t *a = &p->areas[l->area];
    if (!strcmp(asset, m->name) || !strcmp(asset, l->name) || !strcmp(asset, a->name) ||
        !strcmp(asset, p->site) || (p->enterprise && !strcmp(asset, p->enterprise)))
        return true;
    char *path = gb_plant_machine_path(p, m);
    size_t n = strlen(asset);
    bool hit = !strncmp(path, asset, n) && (path[n] == '/' || path[n] == 0);
    free(path);
    return hit;
}

typedef struct row {
    char key[160];
    int32_t job;     /* by job: index in the job table, -1 for time without a job */
    gb_oee_t k;
    int64_t stops;   /* by reason */
    double seconds;  /* by reason */
    bool planned;
} row_t;

typedef struct rows {
    row_t *r;
    size_t n;
    gb_oee_t total;
    bool any;
} rows_t;

static row_t *row_for(rows_t *rs, const char *key)
{
    for (size_t i = 0; i < rs->n; i++)
        if (!strcmp(rs->r[i].key, key)) return &rs->r[i];
    rs->r = gb_xrealloc(rs->r, (rs->n + 1) * sizeof *rs->r);
    row_t *r = &rs->r[rs->n++];
    memset(r, 0, sizeof *r);
    gb_strlcpy(r->key, key, sizeof r->key);
    r->k.ideal_known = true;
    r->job = -1;
    return r;
}

static int by_seconds_desc(const void *a, const void *b)
{
    const row_t *x = a, *y = b;
    return x->seconds < y->seconds ? 1 : x->seconds > y->seconds ? -1 : strcmp(x->key, y->key);
}

static void build(gb_oee_plant_t *op, gb_time_t from, gb_time_t to, gb_oee_by_t by,
                  const char *asset, rows_t *rs)
{
    const gb_plant_t *p = op->plant;
    memset(rs, 0, sizeof *rs);
    rs->total.ideal_known = true;
    gb_plan_t plan;
    gb_plan_build(p, from, to, &plan);
    for (size_t i = 0; i < p->nmachines; i++) {
        if (!under(p, i, asset)) continue;
        rs->any = true;
        gb_mengine_t *e = op->m[i];
        gb_mengine_oee(e, &plan, from, to, NULL, &rs->total);
        if (by == GB_BY_MACHINE) {
            gb_mengine_oee(e, &plan, from, to, NULL, &row_for(rs, p->machines[i].name)->k);
        } else if (by == GB_BY_SHIFT) {
            for (size_t j = 0; j < plan.nshifts; j++) {
                const gb_shift_instance_t *si = &plan.shifts[j];
                char key[160], ts[40];
                gb_time_format(si->start, ts, sizeof ts);
                snprintf(key, sizeof key, "%d %s (%s)", si->day, p->shifts[si->shift].name, ts);
                gb_oee_filter_t f = {.shift = si};
                gb_mengine_oee(e, &plan, from, to, &f, &row_for(rs, key)->k);
            }
        } else if (by == GB_BY_DAY) {
            for (size_t j = 0; j < plan.nshifts; j++) {
                int day = plan.shifts[j].day;
                bool seen = false;
                for (size_t q = 0; q < j && !seen; q++) seen = plan.shifts[q].day == day;
                if (seen) continue;
                char key[16];
                snprintf(key, sizeof key, "%04d-%02d-%02d", day / 10000, day / 100 % 100, day % 100);
                gb_oee_filter_t f = {.day = day};
                gb_mengine_oee(e, &plan, from, to, &f, &row_for(rs, key)->k);
            }
        } else if (by == GB_BY_WEEK) {
            /* ISO weeks of the days the shifts start on */
            for (size_t j = 0; j < plan.nshifts; j++) {
                int day = plan.shifts[j].day;
                bool seen = false;
                for (size_t q = 0; q < j && !seen; q++) seen = plan.shifts[q].day == day;
                if (seen) continue;
                struct tm tm = {.tm_year = day / 10000 - 1900, .tm_mon = day / 100 % 100 - 1,
                                .tm_mday = day % 100, .tm_hour = 12};
                time_t tt = timegm(&tm);
                gmtime_r(&tt, &tm);
                char key[16];
                strftime(key, sizeof key, "%G-W%V", &tm);
                gb_oee_filter_t f = {.day = day};
                gb_mengine_oee(e, &plan, from, to, &f, &row_for(rs, key)->k);
            }
        } else if (by == GB_BY_JOB || by == GB_BY_PRODUCT || by == GB_BY_OPERATOR) {
            const gb_job_interval_t *jv;
            size_t nj = by == GB_BY_OPERATOR ? gb_mengine_operators(e, to, &jv)
                                             : gb_mengine_jobs(e, to, &jv);
            const char *none = by == GB_BY_OPERATOR ? "(nobody)" : "(no job)";
            gb_time_t cursor = from;
            for (size_t j = 0; j <= nj; j++) {
                /* the time before this job (since the last) ran without one */
                gb_time_t js = j < nj ? (jv[j].start > from ? jv[j].start : from) : to;
                if (js > to) js = to;
                if (js > cursor) gb_mengine_oee(e, &plan, cursor, js, NULL, &row_for(rs, none)->k);
                if (j == nj) break;
                gb_time_t a = jv[j].start > from ? jv[j].start : from, b = jv[j].end < to ? jv[j].end : to;
                if (b <= a) continue;
                const gb_job_t *job = by == GB_BY_OPERATOR ? &op->operators.j[jv[j].job]
                                                           : &op->jobs.j[jv[j].job];
                row_t *r = row_for(rs, by == GB_BY_PRODUCT ? job->product : job->id);
                if (by == GB_BY_JOB) r->job = (int32_t)jv[j].job;
                gb_mengine_oee(e, &plan, a, b, NULL, &r->k);
                cursor = b;
            }
        } else {
            const gb_stop_t *st;
            size_t ns = gb_mengine_stops(e, to, &st);
            for (size_t j = 0; j < ns; j++) {
                if (st[j].micro) continue;
                double s = gb_plan_busy_overlap(&plan, st[j].start > from ? st[j].start : from,
                                                st[j].end < to ? st[j].end : to);
                if (s <= 0) continue;
                const char *key = st[j].reason >= 0 ? p->reasons[st[j].reason].path
                                                    : "(unclassified)";
                row_t *r = row_for(rs, key);
                r->stops++;
                r->seconds += s;
                r->planned = st[j].reason >= 0 && p->reasons[st[j].reason].planned;
            }
        }
    }
    for (size_t i = 0; i < rs->n; i++) gb_oee_finish(&rs->r[i].k);
    gb_oee_finish(&rs->total);
    if (by == GB_BY_REASON && rs->n > 1) qsort(rs->r, rs->n, sizeof *rs->r, by_seconds_desc);
    gb_plan_clear(&plan);
}

static const char *by_name(gb_oee_by_t by)
{
    static const char *const names[] = {"machine", "shift", "day", "reason", "job", "product",
                                        "operator", "week"};
    return names[by];
}

json_t *gb_oee_report(gb_oee_plant_t *op, gb_time_t from, gb_time_t to, gb_oee_by_t by,
                      const char *asset)
{
    rows_t rs;
    build(op, from, to, by, asset, &rs);
    if (!rs.any) {
        free(rs.r);
        return NULL;
    }
    char f[40], t[40];
    gb_time_format(from, f, sizeof f);
    gb_time_format(to, t, sizeof t);
    json_t *rows = json_array();
    for (size_t i = 0; i < rs.n; i++) {
        json_t *o;
        if (by == GB_BY_REASON) {
            o = json_pack("{s:s, s:b, s:I, s:f}", "reason", rs.r[i].key, "planned",
                          rs.r[i].planned, "stops", (json_int_t)rs.r[i].stops, "seconds",
                          rs.r[i].seconds);
        } else {
            o = gb_oee_json(&rs.r[i].k);
            json_object_set_new(o, by_name(by), json_string(rs.r[i].key));
            if (by == GB_BY_JOB && rs.r[i].job >= 0) {
                /* the work order beside what was made for it */
                const gb_job_t *jb = &op->jobs.j[rs.r[i].job];
                json_object_set_new(o, "product", json_string(jb->product));
                json_object_set_new(o, "quantity", jb->quantity ? json_integer(jb->quantity) : json_null());
                char due[40];
                gb_time_format(jb->due, due, sizeof due);
                json_object_set_new(o, "due", jb->due ? json_string(due) : json_null());
            }
        }
        json_array_append_new(rows, o);
    }
    json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:o, s:o}", "site", op->plant->site, "from",
                            f, "to", t, "by", by_name(by), "asset", asset, "rows", rows, "total",
                            gb_oee_json(&rs.total));
    free(rs.r);
    return doc;
}

int gb_oee_report_csv(gb_oee_plant_t *op, gb_time_t from, gb_time_t to, gb_oee_by_t by,
                      const char *asset, FILE *out)
{
    rows_t rs;
    build(op, from, to, by, asset, &rs);
    if (!rs.any) {
        free(rs.r);
        return GB_ENOENT;
    }
    if (by == GB_BY_REASON) {
        fprintf(out, "reason,planned,stops,seconds\n");
        for (size_t i = 0; i < rs.n; i++)
            fprintf(out, "%s,%s,%lld,%.17g\n", rs.r[i].key, rs.r[i].planned ? "true" : "false",
                    (long long)rs.r[i].stops, rs.r[i].seconds);
    } else {
        gb_oee_csv_header(out, by_name(by));
        for (size_t i = 0; i < rs.n; i++) gb_oee_csv_row(out, rs.r[i].key, &rs.r[i].k);
        gb_oee_csv_row(out, "total", &rs.total);
    }
    free(rs.r);
    return 0;
}

static gb_time_t jtime(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    gb_time_t t = INT64_MIN;
    if (s) gb_time_parse_rfc3339(s, strlen(s), &t);
    return t;
}

static const gb_stop_t *stop_starting(gb_mengine_t *e, gb_time_t t, gb_time_t now)
{
    const gb_stop_t *st;
    size_t n = gb_mengine_stops(e, now, &st);
    for (size_t i = 0; i < n; i++)
        if (st[i].start == t) return &st[i];
    return NULL;
}

int gb_oee_changes_replay(gb_oee_plant_t *op, const char *data_dir, gb_time_t history_start,
                          size_t *applied_out, size_t *skipped_out, size_t *bad_out)
{
    char *file = gb_xasprintf("%s/oee/changes.jsonl", data_dir);
    FILE *f = fopen(file, "r");
    free(file);
    size_t applied = 0, skipped = 0, bad = 0;
    if (f) {
        char *line = NULL;
        size_t cap = 0;
        /* stops are judged up to the end of all data the engines hold */
        gb_time_t now = INT64_MAX / 2;
        while (getline(&line, &cap, f) > 0) {
            json_t *o = json_loads(line, 0, NULL);
            const char *kind = json_string_value(json_object_get(o, "kind"));
            const char *mach = json_string_value(json_object_get(o, "machine"));
            const char *who = json_string_value(json_object_get(o, "who"));
            int mi = -1;
            for (size_t i = 0; mach && i < op->plant->nmachines && mi < 0; i++)
                if (!strcmp(op->plant->machines[i].name, mach)) mi = (int)i;
            if (!o || !kind || mi < 0) {
                bad++;
                json_decref(o);
                continue;
            }
            gb_mengine_t *e = op->m[mi];
            gb_time_t at = jtime(o, "at"), stop = jtime(o, "stop");
            bool ok = false;
            if (!strcmp(kind, "reason")) {
                const char *r = json_string_value(json_object_get(o, "reason"));
                ok = r && stop_starting(e, stop, now) &&
                     gb_mengine_reason(e, stop, r, who ? who : "?", at) == 0;
            } else if (!strcmp(kind, "split")) {
                const gb_stop_t *s = stop_starting(e, stop, now);
                gb_time_t sp = jtime(o, "split_at");
                ok = s && sp > s->start && sp < s->end && gb_mengine_split(e, sp, who, at) == 0;
            } else if (!strcmp(kind, "scrap")) {
                gb_time_t t = jtime(o, "time");
                json_int_t n = json_integer_value(json_object_get(o, "count"));
                ok = t >= history_start && n > 0 && gb_mengine_scrap(e, t, n, who) == 0;
            }
            if (ok) applied++;
            else skipped++;
            json_decref(o);
        }
        free(line);
        fclose(f);
    }
    if (applied_out) *applied_out = applied;
    if (skipped_out) *skipped_out = skipped;
    if (bad_out) *bad_out = bad;
    return 0;
}
