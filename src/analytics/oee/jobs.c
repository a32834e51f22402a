/* Job files: CSV through libcsv (header-driven columns), or a JSON array through jansson. */
#include "gemba/jobs.h"
#include "gemba/error.h"
#include "util/str.h"

#include <csv.h>
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

enum { C_JOB, C_PRODUCT, C_QTY, C_ICT, C_DUE, C_N };
static const char *const colnames[C_N] = {"job", "product", "quantity", "ideal_cycle_time", "due"};

uint32_t gb_jobs_find(const gb_jobs_t *jobs, const char *id)
{
    for (size_t i = 0; i < jobs->n; i++)
        if (!strcmp(jobs->j[i].id, id)) return (uint32_t)i;
    return UINT32_MAX;
}

static gb_job_t *add(gb_jobs_t *jobs)
{
    jobs->j = gb_xrealloc(jobs->j, (jobs->n + 1) * sizeof *jobs->j);
    gb_job_t *j = &jobs->j[jobs->n++];
    memset(j, 0, sizeof *j);
    return j;
}

uint32_t gb_jobs_intern(gb_jobs_t *jobs, const char *id)
{
    uint32_t i = gb_jobs_find(jobs, id);
    if (i != UINT32_MAX) return i;
    gb_job_t *j = add(jobs);
    j->id = gb_xstrdup(id);
    j->product = gb_xstrdup(id);
    return (uint32_t)(jobs->n - 1);
}

void gb_jobs_clear(gb_jobs_t *jobs)
{
    for (size_t i = 0; i < jobs->n; i++) {
        free(jobs->j[i].id);
        free(jobs->j[i].product);
    }
    free(jobs->j);
    memset(jobs, 0, sizeof *jobs);
}

/* Sets field C of a new job from text V; reports at LINE. */
static bool set_field(gb_job_t *j, int c, const char *v, int line, gb_diag_t *d)
{
    char *end;
    switch (c) {
    case C_JOB: /* a header may name a column twice: the last one wins */
        free(j->id);
        j->id = gb_xstrdup(v);
        return true;
    case C_PRODUCT:
        free(j->product);
        j->product = *v ? gb_xstrdup(v) : NULL;
        return true;
    case C_QTY:
        if (!*v) return true;
        errno = 0;
        j->quantity = strtoll(v, &end, 10);
        if (*end || errno || j->quantity < 0) {
            gb_diag_add(d, line, 1, "quantity '%s' is not a whole number", v);
            return false;
        }
        return true;
    case C_ICT:
        if (!*v) return true;
        if (gb_duration_parse(v, &j->ideal_ns) != 0 || j->ideal_ns <= 0) {
            gb_diag_add(d, line, 1, "ideal_cycle_time '%s' is not a positive duration such as 42s", v);
            return false;
        }
        return true;
    case C_DUE:
        if (!*v) return true;
        if (strlen(v) == 10) {
            char buf[32];
            snprintf(buf, sizeof buf, "%sT00:00:00Z", v);
            if (gb_time_parse_rfc3339(buf, strlen(buf), &j->due) == 0) return true;
        } else if (gb_time_parse_rfc3339(v, strlen(v), &j->due) == 0) {
            return true;
        }
        gb_diag_add(d, line, 1, "due '%s' is not a date (YYYY-MM-DD) or RFC 3339 time", v);
        return false;
    }
    return false;
}

static bool finish(gb_jobs_t *jobs, int line, gb_diag_t *d)
{
    gb_job_t *j = &jobs->j[jobs->n - 1];
    bool ok = true;
    if (!j->id || !*j->id) {
        gb_diag_add(d, line, 1, "a job needs its 'job' id");
        ok = false;
    } else {
        for (size_t i = 0; i + 1 < jobs->n && ok; i++)
            if (!strcmp(jobs->j[i].id, j->id)) {
                gb_diag_add(d, line, 1, "job '%s' is listed twice", j->id);
                ok = false;
            }
    }
    if (ok && !j->product) j->product = gb_xstrdup(j->id);
    if (!ok) {
        free(j->id);
        free(j->product);
        jobs->n--;
    }
    return ok;
}

typedef struct {
    gb_jobs_t *jobs;
    gb_diag_t *d;
    int line;
    int col[C_N + 8]; /* field position -> column, -1 ignored */
    size_t nfield, ncols;
    bool header_done, row_bad;
    gb_job_t *cur;
} cctx_t;

static void on_field(void *data, size_t len, void *c_)
{
    cctx_t *c = c_;
    char *v = gb_xstrndup(data ? data : "", len);
    if (!c->header_done) {
        int k = -1;
        for (int i = 0; i < C_N; i++)
            if (!strcmp(v, colnames[i])) k = i;
        if (c->nfield < sizeof c->col / sizeof c->col[0]) c->col[c->nfield] = k;
        c->nfield++;
        free(v);
        return;
    }
    if (!c->cur) c->cur = add(c->jobs);
    int k = c->nfield < c->ncols ? c->col[c->nfield] : -1;
    if (k >= 0 && !set_field(c->cur, k, v, c->line, c->d)) c->row_bad = true;
    c->nfield++;
    free(v);
}

static void on_row(int term, void *c_)
{
    (void)term;
    cctx_t *c = c_;
    if (!c->header_done) {
        c->header_done = true;
        c->ncols = c->nfield < sizeof c->col / sizeof c->col[0] ? c->nfield : sizeof c->col / sizeof c->col[0];
        bool has_job = false;
        for (size_t i = 0; i < c->ncols; i++) has_job |= c->col[i] == C_JOB;
        if (!has_job)
            gb_diag_add(c->d, c->line, 1, "the header needs a 'job' column (and may have product, "
                        "quantity, ideal_cycle_time, due)");
    } else if (c->cur) {
        if (c->row_bad) {
            free(c->cur->id);
            free(c->cur->product);
            c->jobs->n--;
        } else {
            finish(c->jobs, c->line, c->d);
        }
    }
    c->cur = NULL;
    c->nfield = 0;
    c->row_bad = false;
}

static int parse_json(const char *buf, size_t len, gb_jobs_t *out, gb_diag_t *d)
{
    json_error_t je;
    json_t *doc = json_loadb(buf, len, 0, &je);
    if (!doc || !json_is_array(doc)) {
        gb_diag_add(d, doc ? 1 : je.line, doc ? 1 : je.column, "%s",
                    doc ? "a JSON job file is an array of objects" : je.text);
        json_decref(doc);
        return GB_EINVAL;
    }
    size_t i;
    json_t *o;
    json_array_foreach(doc, i, o) {
        int line = (int)i + 1; /* JSON has no lines per job: number them instead */
        if (!json_is_object(o)) {
            gb_diag_add(d, 0, 0, "job %d is not an object", line);
            continue;
        }
        gb_job_t *j = add(out);
        bool ok = true;
        for (int k = 0; k < C_N; k++) {
            json_t *v = json_object_get(o, colnames[k]);
            if (!v || json_is_null(v)) continue;
            char num[64];
            const char *s = json_string_value(v);
            if (!s && json_is_integer(v)) {
                snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
                s = num;
            }
            if (!s) {
                gb_diag_add(d, 0, 0, "job %d: '%s' should be text or a whole number", line, colnames[k]);
                ok = false;
                continue;
            }
            if (!set_field(j, k, s, line, d)) ok = false;
        }
        if (!ok) {
            free(j->id);
            free(j->product);
            out->n--;
        } else {
            finish(out, line, d);
        }
    }
    json_decref(doc);
    return 0;
}

int gb_jobs_parse(const char *buf, size_t len, gb_jobs_t *out, gb_diag_t *diag)
{
    memset(out, 0, sizeof *out);
    size_t before = diag->n;
    size_t p = 0;
    while (p < len && isspace((unsigned char)buf[p])) p++;
    if (p < len && buf[p] == '[') {
        parse_json(buf, len, out, diag);
        return diag->n > before ? GB_EINVAL : 0;
    }
    struct csv_parser csv;
    if (csv_init(&csv, CSV_STRICT | CSV_STRICT_FINI) != 0) return GB_ENOMEM;
    cctx_t c = {.jobs = out, .d = diag};
    for (size_t i = 0; i < sizeof c.col / sizeof c.col[0]; i++) c.col[i] = -1;
    size_t pos = 0;
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (buf + pos)) + 1 : len - pos;
        c.line++;
        if (csv_parse(&csv, buf + pos, n, on_field, on_row, &c) != n) {
            gb_diag_add(diag, c.line, 1, "malformed CSV: %s", csv_strerror(csv_error(&csv)));
            break;
        }
        pos += n;
    }
    if (csv_fini(&csv, on_field, on_row, &c) != 0)
        gb_diag_add(diag, c.line, 1, "malformed CSV at the end: %s", csv_strerror(csv_error(&csv)));
    csv_free(&csv);
    if (c.cur) { /* a record the malformed CSV cut short: half a job is no job */
        free(c.cur->id);
        free(c.cur->product);
        out->n--;
    }
    return diag->n > before ? GB_EINVAL : 0;
}
