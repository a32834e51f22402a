/*
 * The per-machine engine. Rules are compiled once (literals parsed to the tag's type, tags to
 * indices), so evaluating them on every sample is a few comparisons. The timeline is kept as
 * closed segments plus the open current state; stops and KPIs are derived from it on demand, so
 * a reason set or a scrap entry never rewrites history, and live and offline use one code path.
 */
#include "gemba/oee.h"
#include "gemba/error.h"
#include "util/str.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STR_MAX 128 /* longest string value compared by rules; longer values compare by prefix */

typedef struct cval {
    bool has;
    gb_vtype_t type;
    double f64;
    int64_t i64;
    bool b;
    char str[STR_MAX];
    size_t len;
} cval_t;

typedef struct ccond {
    gb_cond_kind_t kind;
    gb_op_t op;
    int32_t tag;        /* machine tag index */
    size_t nvals;
    double *f64;        /* literals, for number tags */
    int *b;             /* for bool tags */
    char **str;         /* for string tags */
    struct ccond *sub;
    size_t nsub;
} ccond_t;

/* A timeline of labels (the job running, the operator logged in): closed intervals, then the
 * open one written into spare room when viewed. */
typedef struct label_tl {
    int tag;              /* machine tag whose value sets it, -1 */
    uint32_t cur;         /* index in its table, UINT32_MAX: none */
    gb_time_t since;
    gb_job_interval_t *iv;
    size_t n, cap;
} label_tl_t;

static void label_room(label_tl_t *l)
{
    if (l->n + 1 >= l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->iv = gb_xrealloc(l->iv, l->cap * sizeof *l->iv);
    }
}

static void label_change(label_tl_t *l, gb_time_t t, uint32_t v)
{
    if (v == l->cur) return;
    if (l->cur != UINT32_MAX && t > l->since) {
        label_room(l);
        l->iv[l->n++] = (gb_job_interval_t){l->since, t, l->cur};
    }
    l->cur = v;
    l->since = t;
}

static size_t label_view(label_tl_t *l, gb_time_t until, const gb_job_interval_t **out)
{
    label_room(l);
    size_t n = l->n;
    if (l->cur != UINT32_MAX && until > l->since) l->iv[n++] = (gb_job_interval_t){l->since, until, l->cur};
    *out = l->iv;
    return n;
}

struct gb_mengine {
    const gb_plant_t *p;
    const gb_machine_t *m;
    const gb_ruleset_t *rs;
    ccond_t *rules;      /* compiled, one per rule */
    int32_t *rule_reason; /* reason index per rule, -1 none */
    cval_t *vals;        /* current value per tag */
    bool *in_rules;      /* per tag: does any rule read it? (else no need to re-evaluate) */
    int total_tag, good_tag, scrap_tag, key_tag;
    int64_t last_count[3];
    bool has_count[3];
    gb_time_t last_t, last_data, first_data;
    bool any_data;
    uint8_t cur_state;
    int32_t cur_rule;
    gb_time_t cur_since;
    gb_seg_t *segs;
    size_t nsegs, cap_segs;
    gb_part_t *parts;
    size_t nparts, cap_parts;
    gb_scrap_entry_t *scraps;
    size_t nscraps;
    gb_reason_set_t *reasons;
    size_t nreasons;
    gb_time_t *splits; /* kept sorted */
    size_t nsplits;
    gb_jobs_t *jobs;            /* borrowed: job table */
    gb_jobs_t *operators;       /* borrowed: operator names (id = name) */
    label_tl_t job, oper;       /* which job, which operator, over time */
    gb_stop_t *stops;
    size_t cap_stops;
    int64_t micro_ns, disc_ns;
};

/* ---- rules -------------------------------------------------------------------------------- */

static int tag_index(const gb_machine_t *m, const char *name)
{
    for (size_t i = 0; i < m->ntags; i++)
        if (!strcmp(m->tags[i].name, name)) return (int)i;
    return -1;
}

static void compile(const gb_machine_t *m, const gb_cond_t *c, ccond_t *out)
{
    memset(out, 0, sizeof *out);
    out->kind = c->kind;
    out->op = c->op;
    if (c->nsub) {
        out->sub = gb_xcalloc(c->nsub, sizeof *out->sub);
        out->nsub = c->nsub;
        for (size_t i = 0; i < c->nsub; i++) compile(m, &c->sub[i], &out->sub[i]);
    }
    if (c->kind != GB_COND_CMP) return;
    out->tag = tag_index(m, c->tag); /* the loader checked it exists */
    out->nvals = c->nvalues;
    gb_vtype_t t = m->tags[out->tag].type;
    if (t == GB_VT_STR) {
        out->str = gb_xcalloc(c->nvalues, sizeof *out->str);
        for (size_t i = 0; i < c->nvalues; i++) out->str[i] = gb_xstrdup(c->values[i]);
    } else if (t == GB_VT_BOOL) {
        out->b = gb_xcalloc(c->nvalues, sizeof *out->b);
        for (size_t i = 0; i < c->nvalues; i++) out->b[i] = !strcmp(c->values[i], "true");
    } else {
        out->f64 = gb_xcalloc(c->nvalues, sizeof *out->f64);
        for (size_t i = 0; i < c->nvalues; i++) out->f64[i] = strtod(c->values[i], NULL);
    }
}

static void ccond_clear(ccond_t *c)
{
    for (size_t i = 0; i < c->nsub; i++) ccond_clear(&c->sub[i]);
    free(c->sub);
    free(c->f64);
    free(c->b);
    for (size_t i = 0; c->str && i < c->nvals; i++) free(c->str[i]);
    free(c->str);
}

/* -1, 0, 1 comparing the tag's current value with literal I. */
static int cmp_lit(const ccond_t *c, const cval_t *v, size_t i)
{
    switch (v->type) {
    case GB_VT_STR: {
        int r = strcmp(v->str, c->str[i]);
        return r < 0 ? -1 : r > 0;
    }
    case GB_VT_BOOL: return (int)v->b - c->b[i];
    case GB_VT_I64: {
        double x = (double)v->i64;
        return x < c->f64[i] ? -1 : x > c->f64[i];
    }
    default: return v->f64 < c->f64[i] ? -1 : v->f64 > c->f64[i];
    }
}

static bool eval(const ccond_t *c, const cval_t *vals)
{
    switch (c->kind) {
    case GB_COND_ALWAYS: return true;
    case GB_COND_ALL:
        for (size_t i = 0; i < c->nsub; i++)
            if (!eval(&c->sub[i], vals)) return false;
        return true;
    case GB_COND_ANY:
        for (size_t i = 0; i < c->nsub; i++)
            if (eval(&c->sub[i], vals)) return true;
        return false;
    case GB_COND_NOT: return !eval(&c->sub[0], vals);
    case GB_COND_CMP: break;
    }
    const cval_t *v = &vals[c->tag];
    if (!v->has) return false; /* a tag never seen matches nothing */
    if (c->op == GB_OP_IN) {
        for (size_t i = 0; i < c->nvals; i++)
            if (cmp_lit(c, v, i) == 0) return true;
        return false;
    }
    int r = cmp_lit(c, v, 0);
    switch (c->op) {
    case GB_OP_EQ: return r == 0;
    case GB_OP_NE: return r != 0;
    case GB_OP_LT: return r < 0;
    case GB_OP_LE: return r <= 0;
    case GB_OP_GT: return r > 0;
    case GB_OP_GE: return r >= 0;
    default: return false;
    }
}

static void mark_tags(const ccond_t *c, bool *in_rules)
{
    if (c->kind == GB_COND_CMP) in_rules[c->tag] = true;
    for (size_t i = 0; i < c->nsub; i++) mark_tags(&c->sub[i], in_rules);
}

static int32_t reason_index(const gb_plant_t *p, const char *path)
{
    for (size_t i = 0; i < p->nreasons; i++)
        if (!strcmp(p->reasons[i].path, path)) return (int32_t)i;
    return -1;
}

/* ---- life ---------------------------------------------------------------------------------- */

gb_mengine_t *gb_mengine_new(const gb_plant_t *p, const gb_machine_t *m, gb_time_t start)
{
    gb_mengine_t *e = gb_xcalloc(1, sizeof *e);
    e->p = p;
    e->m = m;
    e->rs = m->ruleset != GB_NONE ? &p->rulesets[m->ruleset] : NULL;
    if (e->rs) {
        e->rules = gb_xcalloc(e->rs->n, sizeof *e->rules);
        e->rule_reason = gb_xcalloc(e->rs->n, sizeof *e->rule_reason);
        for (size_t i = 0; i < e->rs->n; i++) {
            compile(m, &e->rs->rules[i].when, &e->rules[i]);
            e->rule_reason[i] = e->rs->rules[i].reason ? reason_index(p, e->rs->rules[i].reason) : -1;
        }
    }
    e->vals = gb_xcalloc(m->ntags ? m->ntags : 1, sizeof *e->vals);
    e->in_rules = gb_xcalloc(m->ntags ? m->ntags : 1, sizeof *e->in_rules);
    for (size_t i = 0; e->rs && i < e->rs->n; i++) mark_tags(&e->rules[i], e->in_rules);
    e->total_tag = m->count_total ? tag_index(m, m->count_total) : -1;
    e->good_tag = m->count_good ? tag_index(m, m->count_good) : -1;
    e->scrap_tag = m->count_scrap ? tag_index(m, m->count_scrap) : -1;
    e->key_tag = m->cycle_times_by ? tag_index(m, m->cycle_times_by) : -1;
    e->job = (label_tl_t){.tag = m->job_tag ? tag_index(m, m->job_tag) : -1, .cur = UINT32_MAX};
    e->oper = (label_tl_t){.tag = m->operator_tag ? tag_index(m, m->operator_tag) : -1,
                           .cur = UINT32_MAX};
    e->micro_ns = m->micro_stop_ns ? m->micro_stop_ns : p->micro_stop_ns;
    e->disc_ns = m->disconnected_after_ns;
    e->cur_state = GB_STATE_DISCONNECTED;
    e->cur_rule = GB_RULE_NODATA;
    e->cur_since = start;
    e->last_t = start;
    return e;
}

void gb_mengine_free(gb_mengine_t *e)
{
    if (!e) return;
    for (size_t i = 0; e->rs && i < e->rs->n; i++) ccond_clear(&e->rules[i]);
    free(e->rules);
    free(e->rule_reason);
    free(e->vals);
    free(e->in_rules);
    free(e->segs);
    free(e->parts);
    free(e->scraps);
    free(e->reasons);
    free(e->splits);
    free(e->job.iv);
    free(e->oper.iv);
    free(e->stops);
    free(e);
}

const gb_machine_t *gb_mengine_machine(const gb_mengine_t *e)
{
    return e->m;
}

/* ---- feeding ------------------------------------------------------------------------------- */

static void set_state(gb_mengine_t *e, gb_time_t t, uint8_t state, int32_t rule)
{
    if (state == e->cur_state && rule == e->cur_rule) return;
    if (t > e->cur_since) {
        if (e->nsegs == e->cap_segs) {
            e->cap_segs = e->cap_segs ? e->cap_segs * 2 : 64;
            e->segs = gb_xrealloc(e->segs, e->cap_segs * sizeof *e->segs);
        }
        e->segs[e->nsegs++] = (gb_seg_t){e->cur_since, t, e->cur_state, e->cur_rule};
    }
    e->cur_state = state;
    e->cur_rule = rule;
    if (t > e->cur_since) e->cur_since = t;
}

static void evaluate(gb_mengine_t *e, gb_time_t t)
{
    if (!e->rs) {
        set_state(e, t, GB_STATE_RUNNING, GB_RULE_NORULES);
        return;
    }
    for (size_t i = 0; i < e->rs->n; i++) {
        if (eval(&e->rules[i], e->vals)) {
            set_state(e, t, (uint8_t)e->rs->rules[i].state, (int32_t)i);
            return;
        }
    }
    set_state(e, t, GB_STATE_IDLE, GB_RULE_NOMATCH);
}

static int64_t ideal_now(const gb_mengine_t *e)
{
    if (e->job.cur != UINT32_MAX && e->jobs->j[e->job.cur].ideal_ns > 0)
        return e->jobs->j[e->job.cur].ideal_ns; /* the work order's own cycle time wins */
    if (e->key_tag >= 0 && e->vals[e->key_tag].has) {
        const cval_t *k = &e->vals[e->key_tag];
        char buf[64];
        const char *key = k->str;
        if (k->type == GB_VT_I64) {
            snprintf(buf, sizeof buf, "%lld", (long long)k->i64);
            key = buf;
        }
        for (size_t i = 0; i < e->m->ncycle_times; i++)
            if (!strcmp(e->m->cycle_times[i].key, key)) return e->m->cycle_times[i].ns;
    }
    return e->m->ideal_cycle_ns;
}

/* A counter's increase since its last value: resets restart from 0, roll-over wraps. */
static int64_t counter_delta(gb_mengine_t *e, int which, int64_t v)
{
    if (!e->has_count[which]) {
        e->has_count[which] = true;
        e->last_count[which] = v;
        return 0; /* the first value is the baseline */
    }
    int64_t old = e->last_count[which], d;
    if (v >= old)
        d = v - old;
    else if (e->m->counter_max && old > e->m->counter_max / 2 && v <= e->m->counter_max / 2)
        d = e->m->counter_max - old + 1 + v; /* wrapped past counter_max to 0 */
    else
        d = v; /* reset to 0, then counted up to v */
    e->last_count[which] = v;
    return d;
}

static void add_part(gb_mengine_t *e, gb_time_t t, int which, int64_t d)
{
    if (d <= 0) return;
    if (e->nparts == e->cap_parts) {
        e->cap_parts = e->cap_parts ? e->cap_parts * 2 : 64;
        e->parts = gb_xrealloc(e->parts, e->cap_parts * sizeof *e->parts);
    }
    gb_part_t *p = &e->parts[e->nparts++];
    *p = (gb_part_t){t, 0, 0, 0, ideal_now(e)};
    if (which == 0) p->total = d;
    else if (which == 1) p->good = d;
    else p->scrap = d;
}

void gb_mengine_set_jobs(gb_mengine_t *e, gb_jobs_t *jobs)
{
    e->jobs = jobs;
}

void gb_mengine_set_operators(gb_mengine_t *e, gb_jobs_t *names)
{
    e->operators = names;
}

int gb_mengine_job(gb_mengine_t *e, gb_time_t t, const char *id)
{
    if (!e->jobs) return GB_EINVAL;
    if (t < e->last_t) return GB_ERANGE;
    label_change(&e->job, t, id && *id ? gb_jobs_intern(e->jobs, id) : UINT32_MAX);
    return 0;
}

int gb_mengine_operator(gb_mengine_t *e, gb_time_t t, const char *id)
{
    if (!e->operators) return GB_EINVAL;
    if (t < e->last_t) return GB_ERANGE;
    label_change(&e->oper, t, id && *id ? gb_jobs_intern(e->operators, id) : UINT32_MAX);
    return 0;
}

size_t gb_mengine_jobs(gb_mengine_t *e, gb_time_t until, const gb_job_interval_t **out)
{
    return label_view(&e->job, until, out);
}

size_t gb_mengine_operators(gb_mengine_t *e, gb_time_t until, const gb_job_interval_t **out)
{
    return label_view(&e->oper, until, out);
}

/* The machine was heard from at T: a silence longer than disconnected_after before it was a
 * disconnection. */
static void data_at(gb_mengine_t *e, gb_time_t t)
{
    if (e->any_data && t - e->last_data > e->disc_ns)
        set_state(e, e->last_data + e->disc_ns, GB_STATE_DISCONNECTED, GB_RULE_NODATA);
    if (!e->any_data) e->first_data = t;
    e->last_t = t;
    e->last_data = t;
    e->any_data = true;
}

int gb_mengine_feed(gb_mengine_t *e, gb_time_t t, uint32_t tag, const gb_value_t *v)
{
    if (tag >= e->m->ntags) return GB_EINVAL;
    if (t < e->last_t) return GB_ERANGE;
    gb_vtype_t type = e->m->tags[tag].type;
    /* check the type before touching anything, so a refused sample changes nothing */
    if (type == GB_VT_F64 ? v->type != GB_VT_F64 && v->type != GB_VT_I64 : v->type != type)
        return GB_EINVAL;
    data_at(e, t);
    cval_t *c = &e->vals[tag];
    c->has = true;
    c->type = type;
    switch (type) {
    case GB_VT_F64: c->f64 = v->type == GB_VT_I64 ? (double)v->i64 : v->f64; break;
    case GB_VT_I64: c->i64 = v->i64; break;
    case GB_VT_BOOL: c->b = v->b; break;
    default:
        c->len = v->len < STR_MAX - 1 ? v->len : STR_MAX - 1;
        memcpy(c->str, v->str, c->len);
        c->str[c->len] = 0;
    }
    /* a job tag's value (a program, an order number) is the job that now runs; an operator
     * tag's, who runs the machine */
    label_tl_t *lt[2] = {&e->job, &e->oper};
    gb_jobs_t *tab[2] = {e->jobs, e->operators};
    for (int k = 0; k < 2 && ((int)tag == e->job.tag || (int)tag == e->oper.tag); k++) {
        if ((int)tag != lt[k]->tag || !tab[k]) continue;
        char id[64];
        if (type == GB_VT_I64) snprintf(id, sizeof id, "%lld", (long long)c->i64);
        else gb_strlcpy(id, c->str, sizeof id);
        label_change(lt[k], t, *id ? gb_jobs_intern(tab[k], id) : UINT32_MAX);
    }
    int which = (int)tag == e->total_tag ? 0 : (int)tag == e->good_tag ? 1
              : (int)tag == e->scrap_tag ? 2 : -1;
    if (which >= 0) {
        int64_t raw = type == GB_VT_I64 ? c->i64 : (int64_t)llround(c->f64);
        add_part(e, t, which, counter_delta(e, which, raw));
    }
    if (e->in_rules[tag] || e->cur_state == GB_STATE_DISCONNECTED || !e->rs) evaluate(e, t);
    return 0;
}

int gb_mengine_touch(gb_mengine_t *e, gb_time_t t)
{
    if (t < e->last_t) return GB_ERANGE;
    data_at(e, t);
    if (e->cur_state == GB_STATE_DISCONNECTED || !e->rs) evaluate(e, t);
    return 0;
}

bool gb_mengine_reads(const gb_mengine_t *e, uint32_t tag)
{
    return tag < e->m->ntags && (e->in_rules[tag] || (int)tag == e->total_tag ||
                                 (int)tag == e->good_tag || (int)tag == e->scrap_tag ||
                                 (int)tag == e->key_tag || (int)tag == e->job.tag ||
                                 (int)tag == e->oper.tag);
}

int gb_mengine_scrap(gb_mengine_t *e, gb_time_t t, int64_t n, const char *who)
{
    if (n <= 0) return GB_EINVAL;
    e->scraps = gb_xrealloc(e->scraps, (e->nscraps + 1) * sizeof *e->scraps);
    gb_scrap_entry_t *s = &e->scraps[e->nscraps++];
    memset(s, 0, sizeof *s);
    s->t = t;
    s->n = n;
    gb_strlcpy(s->who, who ? who : "", sizeof s->who);
    return 0;
}

int gb_mengine_split(gb_mengine_t *e, gb_time_t t, const char *who, gb_time_t at)
{
    (void)who; /* the audit log keeps who split what; the engine only needs where */
    (void)at;
    size_t i = e->nsplits;
    e->splits = gb_xrealloc(e->splits, (e->nsplits + 1) * sizeof *e->splits);
    while (i > 0 && e->splits[i - 1] > t) {
        e->splits[i] = e->splits[i - 1];
        i--;
    }
    e->splits[i] = t;
    e->nsplits++;
    return 0;
}

int gb_mengine_reason(gb_mengine_t *e, gb_time_t t, const char *reason, const char *who,
                      gb_time_t at)
{
    int32_t r = reason_index(e->p, reason);
    if (r < 0) return GB_ENOENT;
    e->reasons = gb_xrealloc(e->reasons, (e->nreasons + 1) * sizeof *e->reasons);
    gb_reason_set_t *s = &e->reasons[e->nreasons++];
    memset(s, 0, sizeof *s);
    s->t = t;
    s->reason = r;
    gb_strlcpy(s->who, who ? who : "", sizeof s->who);
    s->at = at;
    return 0;
}

/* ---- views --------------------------------------------------------------------------------- */

size_t gb_mengine_timeline(gb_mengine_t *e, gb_time_t until, const gb_seg_t **out)
{
    /* the open tail is written just past the closed segments, in spare capacity, so a view costs
     * nothing however long the history; the next feed overwrites it */
    if (e->nsegs + 2 > e->cap_segs) {
        e->cap_segs = (e->nsegs + 2) * 2;
        e->segs = gb_xrealloc(e->segs, e->cap_segs * sizeof *e->segs);
    }
    gb_seg_t *tail = e->segs + e->nsegs;
    size_t n = e->nsegs;
    gb_time_t since = e->cur_since;
    if (until > since) {
        /* the open state, cut short by a silence that has already lasted too long */
        gb_time_t cut = e->any_data && e->cur_state != GB_STATE_DISCONNECTED
                            ? e->last_data + e->disc_ns : until;
        if (cut < until && cut > since) {
            tail[0] = (gb_seg_t){since, cut, e->cur_state, e->cur_rule};
            tail[1] = (gb_seg_t){cut, until, GB_STATE_DISCONNECTED, GB_RULE_NODATA};
            n += 2;
        } else if (cut < until) {
            tail[0] = (gb_seg_t){since, until, GB_STATE_DISCONNECTED, GB_RULE_NODATA};
            n += 1;
        } else {
            tail[0] = (gb_seg_t){since, until, e->cur_state, e->cur_rule};
            n += 1;
        }
    }
    *out = e->segs;
    return n;
}

void gb_mengine_current(const gb_mengine_t *e, gb_time_t now, gb_state_t *state, int32_t *rule,
                        gb_time_t *since)
{
    if (e->any_data && e->cur_state != GB_STATE_DISCONNECTED && now - e->last_data > e->disc_ns) {
        *state = GB_STATE_DISCONNECTED;
        *rule = GB_RULE_NODATA;
        *since = e->last_data + e->disc_ns;
        return;
    }
    *state = (gb_state_t)e->cur_state;
    *rule = e->cur_rule;
    *since = e->cur_since;
}

static bool is_stop(uint8_t s)
{
    return s == GB_STATE_IDLE || s == GB_STATE_DOWN || s == GB_STATE_DISCONNECTED;
}

size_t gb_mengine_stops(gb_mengine_t *e, gb_time_t until, const gb_stop_t **out)
{
    const gb_seg_t *seg;
    size_t nseg = gb_mengine_timeline(e, until, &seg), n = 0;
    for (size_t i = 0; i < nseg; i++) {
        if (!is_stop(seg[i].state)) continue;
        /* before the first sample nothing was watched: that is no stop of the machine's */
        if (!e->any_data || seg[i].end <= e->first_data) continue;
        if (n && e->stops[n - 1].end == seg[i].start) {
            gb_stop_t *s = &e->stops[n - 1];
            s->end = seg[i].end;
            if (s->reason < 0 && seg[i].rule >= 0 && e->rule_reason[seg[i].rule] >= 0) {
                s->reason = e->rule_reason[seg[i].rule];
                s->reason_auto = true;
            }
            continue;
        }
        if (n == e->cap_stops) {
            e->cap_stops = e->cap_stops ? e->cap_stops * 2 : 32;
            e->stops = gb_xrealloc(e->stops, e->cap_stops * sizeof *e->stops);
        }
        gb_stop_t *s = &e->stops[n++];
        *s = (gb_stop_t){seg[i].start, seg[i].end, seg[i].state, seg[i].rule, false, -1, false, 0, NULL};
        if (seg[i].rule >= 0 && e->rule_reason[seg[i].rule] >= 0) {
            s->reason = e->rule_reason[seg[i].rule];
            s->reason_auto = true;
        }
    }
    /* people's splits cut a stop in two; the second part starts afresh (its rule's reason) */
    for (size_t q = 0, i = 0; q < e->nsplits && i < n;) {
        gb_time_t t = e->splits[q];
        if (e->stops[i].end <= t) {
            i++;
            continue;
        }
        if (t <= e->stops[i].start) {
            q++;
            continue;
        }
        if (n == e->cap_stops) {
            e->cap_stops *= 2;
            e->stops = gb_xrealloc(e->stops, e->cap_stops * sizeof *e->stops);
        }
        memmove(&e->stops[i + 2], &e->stops[i + 1], (n - i - 1) * sizeof *e->stops);
        e->stops[i + 1] = e->stops[i];
        e->stops[i].end = t;
        e->stops[i + 1].start = t;
        n++;
        i++;
        q++;
    }
    for (size_t i = 0; i < n; i++) e->stops[i].micro = e->stops[i].end - e->stops[i].start < e->micro_ns;
    /* people's classifications, in the order they were made: each lands on the stop containing
     * its time, or on the last stop that ended before it */
    for (size_t r = 0; r < e->nreasons; r++) {
        const gb_reason_set_t *rs = &e->reasons[r];
        gb_stop_t *hit = NULL;
        for (size_t i = 0; i < n; i++) {
            if (e->stops[i].start > rs->t) break;
            hit = &e->stops[i]; /* starts at or before t: contains it or ended before it */
        }
        if (!hit) continue;
        hit->reason = rs->reason;
        hit->reason_auto = false;
        hit->nchanges++;
        hit->last_change = rs;
    }
    *out = e->stops;
    return n;
}

size_t gb_mengine_parts(const gb_mengine_t *e, const gb_part_t **out)
{
    *out = e->parts;
    return e->nparts;
}

size_t gb_mengine_scraps(const gb_mengine_t *e, const gb_scrap_entry_t **out)
{
    *out = e->scraps;
    return e->nscraps;
}

size_t gb_mengine_reason_log(const gb_mengine_t *e, const gb_reason_set_t **out)
{
    *out = e->reasons;
    return e->nreasons;
}

void gb_mengine_rule_name(const gb_mengine_t *e, int32_t rule, char *buf, size_t size)
{
    char d[32];
    switch (rule) {
    case GB_RULE_NODATA:
        gb_duration_format(e->disc_ns, d, sizeof d);
        snprintf(buf, size, "no data for %s", d);
        return;
    case GB_RULE_NOMATCH: snprintf(buf, size, "no rule matched"); return;
    case GB_RULE_NORULES: snprintf(buf, size, "no state rules"); return;
    }
    if (!e->rs || rule < 0 || (size_t)rule >= e->rs->n) {
        snprintf(buf, size, "?");
    } else if (e->rs->rules[rule].name) {
        snprintf(buf, size, "%s", e->rs->rules[rule].name);
    } else {
        snprintf(buf, size, "rule %d of %s", rule + 1, e->rs->name);
    }
}

gb_time_t gb_mengine_last_time(const gb_mengine_t *e)
{
    return e->last_t;
}

const gb_plant_t *gb_mengine_plant(const gb_mengine_t *e)
{
    return e->p;
}

void gb_mengine_take_changes(gb_mengine_t *to, gb_mengine_t *from)
{
    free(to->reasons);
    free(to->scraps);
    free(to->splits);
    to->reasons = from->reasons;
    to->nreasons = from->nreasons;
    to->scraps = from->scraps;
    to->nscraps = from->nscraps;
    to->splits = from->splits;
    to->nsplits = from->nsplits;
    from->reasons = NULL;
    from->scraps = NULL;
    from->splits = NULL;
    from->nreasons = from->nscraps = from->nsplits = 0;
}

static void *dup_array(const void *src, size_t n, size_t size)
{
    if (!n) return NULL;
    void *d = gb_xmalloc(n * size);
    memcpy(d, src, n * size);
    return d;
}

static void label_copy(label_tl_t *to, const label_tl_t *from)
{
    *to = *from;
    to->iv = dup_array(from->iv, from->n, sizeof *from->iv);
    to->cap = from->n;
}

gb_mengine_t *gb_mengine_clone(const gb_mengine_t *src)
{
    gb_mengine_t *e = gb_mengine_new(src->p, src->m, src->cur_since);
    memcpy(e->vals, src->vals, (src->m->ntags ? src->m->ntags : 1) * sizeof *e->vals);
    memcpy(e->last_count, src->last_count, sizeof e->last_count);
    memcpy(e->has_count, src->has_count, sizeof e->has_count);
    e->last_t = src->last_t;
    e->last_data = src->last_data;
    e->first_data = src->first_data;
    e->any_data = src->any_data;
    e->cur_state = src->cur_state;
    e->cur_rule = src->cur_rule;
    e->cur_since = src->cur_since;
    e->segs = dup_array(src->segs, src->nsegs, sizeof *src->segs);
    e->nsegs = e->cap_segs = src->nsegs;
    e->parts = dup_array(src->parts, src->nparts, sizeof *src->parts);
    e->nparts = e->cap_parts = src->nparts;
    e->jobs = src->jobs;
    e->operators = src->operators;
    label_copy(&e->job, &src->job);
    label_copy(&e->oper, &src->oper);
    return e;
}
