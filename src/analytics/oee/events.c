/*
 * The events-file codec. libcsv does the CSV (quotes, separators); we feed it one physical line
 * at a time so every record knows the line it ended on, and we check each field against the plant
 * file. A malformed quote stops the parse (there is no reliable way to resynchronise); any other
 * bad line is reported and skipped.
 */
#include "gemba/events.h"
#include "gemba/error.h"
#include "util/str.h"

#include <csv.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const gb_plant_t *p;
    gb_events_t *out;
    gb_diag_t *diag;
    uint32_t line;        /* physical line being fed */
    uint32_t record;      /* records seen, the header included */
    char *field[4];
    size_t nfield;
    bool too_many, bad;
} ctx_t;

static void on_field(void *data, size_t len, void *c_)
{
    ctx_t *c = c_;
    if (c->nfield >= 4) {
        c->too_many = true;
        c->nfield++;
        return;
    }
    if (len > GB_EVENTS_FIELD_MAX) {
        c->bad = true;
        len = GB_EVENTS_FIELD_MAX;
    }
    c->field[c->nfield++] = gb_xstrndup(data ? data : "", len);
}

static char *keep(gb_events_t *ev, const char *s)
{
    if (ev->nstrs == ev->cap_strs) {
        ev->cap_strs = ev->cap_strs ? ev->cap_strs * 2 : 64;
        ev->strs = gb_xrealloc(ev->strs, ev->cap_strs * sizeof *ev->strs);
    }
    return ev->strs[ev->nstrs++] = gb_xstrdup(s);
}

static int machine_index(const gb_plant_t *p, const char *name)
{
    for (size_t i = 0; i < p->nmachines; i++)
        if (!strcmp(p->machines[i].name, name)) return (int)i;
    return -1;
}

static bool parse_i64(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno) return false;
    *out = v;
    return true;
}

static void record(ctx_t *c)
{
    const int L = (int)c->line;
    gb_diag_t *d = c->diag;
    if (c->nfield != 4) {
        gb_diag_add(d, L, 1, "expected 4 fields (time,machine,signal,value), found %zu", c->nfield);
        return;
    }
    if (c->bad) {
        gb_diag_add(d, L, 1, "a field is longer than %u bytes", GB_EVENTS_FIELD_MAX);
        return;
    }
    if (c->record == 1) {
        const char *h = c->field[0];
        if (!strncmp(h, "\xEF\xBB\xBF", 3)) h += 3; /* a byte-order mark from a spreadsheet */
        if (strcmp(h, "time") || strcmp(c->field[1], "machine") || strcmp(c->field[2], "signal") ||
            strcmp(c->field[3], "value"))
            gb_diag_add(d, L, 1, "the first line must be the header time,machine,signal,value");
        return;
    }
    if (c->out->n >= GB_EVENTS_MAX) {
        if (c->out->n == GB_EVENTS_MAX)
            gb_diag_add(d, L, 1, "more than %u events; the rest is ignored", GB_EVENTS_MAX);
        return;
    }
    gb_event_t ev = {.line = c->line};
    if (gb_time_parse_rfc3339(c->field[0], strlen(c->field[0]), &ev.t) != 0) {
        gb_diag_add(d, L, 1, "'%s' is not an RFC 3339 time such as 2026-11-23T06:00:00Z",
                    c->field[0]);
        return;
    }
    int m = machine_index(c->p, c->field[1]);
    if (m < 0) {
        const char **names = gb_xcalloc(c->p->nmachines + 1, sizeof *names);
        for (size_t i = 0; i < c->p->nmachines; i++) names[i] = c->p->machines[i].name;
        const char *near = gb_did_you_mean(c->field[1], names);
        gb_diag_add(d, L, 1, "unknown machine '%s'%s%s%s", c->field[1],
                    near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
        free(names);
        return;
    }
    ev.machine = (uint32_t)m;
    const gb_machine_t *mc = &c->p->machines[m];
    const char *sig = c->field[2], *val = c->field[3];
    if (!strcmp(sig, "reason")) {
        bool ok = false;
        for (size_t i = 0; i < c->p->nreasons && !ok; i++) ok = !strcmp(c->p->reasons[i].path, val);
        if (!ok) {
            gb_diag_add(d, L, 1, "unknown reason '%s'; reasons are paths of the plant's reason tree",
                        val);
            return;
        }
        ev.kind = GB_EV_REASON;
        ev.value = (gb_value_t){.type = GB_VT_STR, .str = keep(c->out, val), .len = strlen(val)};
    } else if (!strcmp(sig, "job") || !strcmp(sig, "operator")) {
        ev.kind = !strcmp(sig, "job") ? GB_EV_JOB : GB_EV_OPERATOR;
        ev.value = (gb_value_t){.type = GB_VT_STR, .str = keep(c->out, val), .len = strlen(val)};
    } else if (!strcmp(sig, "scrap")) {
        if (!parse_i64(val, &ev.n) || ev.n <= 0) {
            gb_diag_add(d, L, 1, "scrap takes a positive whole number of parts, not '%s'", val);
            return;
        }
        ev.kind = GB_EV_SCRAP;
    } else {
        int t = -1;
        for (size_t i = 0; i < mc->ntags && t < 0; i++)
            if (!strcmp(mc->tags[i].name, sig)) t = (int)i;
        if (t < 0) {
            const char **names = gb_xcalloc(mc->ntags + 5, sizeof *names);
            for (size_t i = 0; i < mc->ntags; i++) names[i] = mc->tags[i].name;
            names[mc->ntags] = "reason";
            names[mc->ntags + 1] = "scrap";
            names[mc->ntags + 2] = "job";
            names[mc->ntags + 3] = "operator";
            const char *near = gb_did_you_mean(sig, names);
            gb_diag_add(d, L, 1, "machine '%s' has no tag '%s'%s%s%s (signals are its tags, "
                        "'reason' and 'scrap')", mc->name, sig, near ? "; did you mean '" : "",
                        near ? near : "", near ? "'?" : "");
            free(names);
            return;
        }
        ev.kind = GB_EV_TAG;
        ev.tag = (uint32_t)t;
        gb_vtype_t type = mc->tags[t].type;
        ev.value.type = type;
        char *end;
        bool ok = true;
        switch (type) {
        case GB_VT_F64:
            errno = 0;
            ev.value.f64 = strtod(val, &end);
            ok = *val && !*end && !errno;
            break;
        case GB_VT_I64: ok = parse_i64(val, &ev.value.i64); break;
        case GB_VT_BOOL:
            ok = !strcmp(val, "true") || !strcmp(val, "false") || !strcmp(val, "1") ||
                 !strcmp(val, "0");
            ev.value.b = !strcmp(val, "true") || !strcmp(val, "1");
            break;
        default:
            ev.value.str = keep(c->out, val);
            ev.value.len = strlen(val);
        }
        if (!ok) {
            gb_diag_add(d, L, 1, "'%s' is not a value of tag '%s', which is %s", val, sig,
                        gb_vtype_name(type));
            return;
        }
    }
    if (c->out->n == c->out->cap) {
        c->out->cap = c->out->cap ? c->out->cap * 2 : 1024;
        c->out->ev = gb_xrealloc(c->out->ev, c->out->cap * sizeof *c->out->ev);
    }
    c->out->ev[c->out->n++] = ev;
}

static void on_record(int term, void *c_)
{
    (void)term;
    ctx_t *c = c_;
    c->record++;
    if (!c->too_many) record(c);
    else gb_diag_add(c->diag, (int)c->line, 1, "expected 4 fields (time,machine,signal,value), found %zu", c->nfield);
    for (size_t i = 0; i < c->nfield && i < 4; i++) free(c->field[i]);
    c->nfield = 0;
    c->too_many = c->bad = false;
}

static int by_time(const void *a, const void *b)
{
    const gb_event_t *x = a, *y = b;
    if (x->t != y->t) return x->t < y->t ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

int gb_events_parse(const char *buf, size_t len, const gb_plant_t *p, gb_events_t *out,
                    gb_diag_t *diag)
{
    memset(out, 0, sizeof *out);
    size_t before = diag->n;
    struct csv_parser csv;
    if (csv_init(&csv, CSV_STRICT | CSV_STRICT_FINI) != 0) return GB_ENOMEM;
    ctx_t c = {.p = p, .out = out, .diag = diag};
    size_t pos = 0;
    bool broken = false;
    while (pos < len && !broken) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (buf + pos)) + 1 : len - pos;
        c.line++;
        if (csv_parse(&csv, buf + pos, n, on_field, on_record, &c) != n) {
            gb_diag_add(diag, (int)c.line, 1, "malformed CSV: %s", csv_strerror(csv_error(&csv)));
            broken = true;
        }
        pos += n;
    }
    if (!broken && csv_fini(&csv, on_field, on_record, &c) != 0)
        gb_diag_add(diag, (int)c.line, 1, "malformed CSV at the end: %s",
                    csv_strerror(csv_error(&csv)));
    for (size_t i = 0; i < c.nfield && i < 4; i++) free(c.field[i]);
    csv_free(&csv);
    if (c.record == 0) gb_diag_add(diag, 1, 1, "empty file: expected the header time,machine,signal,value");
    if (out->n > 1) qsort(out->ev, out->n, sizeof *out->ev, by_time);
    return diag->n > before ? GB_EINVAL : 0;
}

void gb_events_clear(gb_events_t *ev)
{
    for (size_t i = 0; i < ev->nstrs; i++) free(ev->strs[i]);
    free(ev->strs);
    free(ev->ev);
    memset(ev, 0, sizeof *ev);
}
