/*
 * Live OEE: registry tag ids map once to (machine, tag index), so feeding is an array lookup and
 * an engine call per sample. Everything else here turns engine views into JSON under the lock.
 */
#include "gemba/oee_live.h"
#include "gemba/error.h"
#include "gemba/log.h"
#include "gemba/store.h"
#include "util/str.h"

#include <errno.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct map_entry {
    int32_t machine; /* -1: not a machine tag */
    uint32_t tag;
} map_entry_t;

/* What a machine's engine has read, kept so a late sample can be put in its place: every sample
 * of a tag the engine reads, and the machine's connectivity as spans (runs of samples no further
 * apart than disconnected_after) instead of every sensor sample. Only the last late window is
 * kept: older samples are folded into a checkpoint engine (BASE), and a rebuild replays the
 * window onto a copy of it, so memory and rebuild time stay bounded however long gemba runs. */
typedef struct hev {
    gb_time_t t;
    uint32_t tag; /* machine tag index */
    gb_value_t v; /* str owned */
} hev_t;

typedef struct span {
    gb_time_t a, b;
} span_t;

typedef struct mhist {
    hev_t *ev;
    size_t n, cap;
    span_t *sp;
    size_t nsp, capsp;
    bool dirty; /* a late sample arrived: rebuild the engine from this */
    gb_mengine_t *base; /* everything before UNTIL, fed in time order */
    gb_time_t until;
    gb_time_t redo;     /* states from here on changed with a late sample; INT64_MAX: none */
    gb_time_t rekpi;    /* shift KPIs from here on changed (late sample, people's change) */
    gb_time_t *wt;      /* times at which oee.state was written, ascending, from UNTIL on */
    size_t nwt, capwt;
} mhist_t;

struct gb_oee_live {
    pthread_mutex_t mu;
    const gb_plant_t *plant;
    const gb_tags_t *tags;
    gb_oee_plant_t *op;
    map_entry_t *map;
    uint32_t nmap;
    uint64_t fed, late, too_late;
    bool late_logged, too_late_logged;
    gb_time_t window; /* how late a sample may come and still be placed */
    gb_time_t start; /* monitoring began: no data exists before it */
    FILE *changes;   /* DATA/oee/changes.jsonl, appended */
    gb_oee_sink_fn sink;
    void *sink_ctx;
    gb_batch_t *out;         /* results not yet taken by the sink */
    uint32_t *derived;       /* per machine: registry id of oee.state, then the 4 KPIs */
    uint8_t *last_state;     /* per machine: the state last written */
    gb_time_t *last_since;
    gb_time_t checked;       /* shifts ending up to here have had their KPIs written */
    mhist_t *hist;           /* per machine */
    uint64_t rebuilds;
    /* the machines view as text, shared by the requests of a short while (see _machines_text) */
    pthread_mutex_t view_mu;
    char *view;
    size_t view_len;
    int64_t view_mono;
};

static void hist_clear(mhist_t *h)
{
    for (size_t i = 0; i < h->n; i++) free((char *)h->ev[i].v.str);
    free(h->ev);
    free(h->sp);
    free(h->wt);
    gb_mengine_free(h->base);
    memset(h, 0, sizeof *h);
}

/* Machine M's history, empty, from the engines' start. Caller holds the lock (or owns L). */
static void hist_reset(gb_oee_live_t *l, size_t m)
{
    mhist_t *h = &l->hist[m];
    hist_clear(h);
    h->base = gb_mengine_new(l->plant, &l->plant->machines[m], l->start);
    gb_mengine_set_jobs(h->base, &l->op->jobs);
    gb_mengine_set_operators(h->base, &l->op->operators);
    h->until = l->start;
    h->redo = h->rekpi = INT64_MAX;
}

static void wt_add(mhist_t *h, gb_time_t t)
{
    if (h->nwt == h->capwt) {
        h->capwt = h->capwt ? h->capwt * 2 : 64;
        h->wt = gb_xrealloc(h->wt, h->capwt * sizeof *h->wt);
    }
    h->wt[h->nwt++] = t;
}

/* The plant file's oee.late_window, or 8 h. */
static gb_time_t default_window(const gb_plant_t *p)
{
    return p->late_window_ns > 0 ? p->late_window_ns : GB_OEE_LATE_WINDOW;
}

gb_oee_live_t *gb_oee_live_new(const gb_plant_t *p, const gb_tags_t *tags, gb_time_t start)
{
    gb_oee_live_t *l = gb_xcalloc(1, sizeof *l);
    pthread_mutex_init(&l->mu, NULL);
    pthread_mutex_init(&l->view_mu, NULL);
    l->plant = p;
    l->tags = tags;
    l->start = start;
    l->checked = start;
    l->out = gb_batch_new(64);
    l->window = default_window(p);
    l->hist = gb_xcalloc(p->nmachines ? p->nmachines : 1, sizeof *l->hist);
    l->derived = gb_xcalloc((p->nmachines ? p->nmachines : 1) * 5, sizeof *l->derived);
    l->last_state = gb_xcalloc(p->nmachines ? p->nmachines : 1, sizeof *l->last_state);
    l->last_since = gb_xcalloc(p->nmachines ? p->nmachines : 1, sizeof *l->last_since);
    static const char *const dn[] = {"oee.state", "oee.availability", "oee.effectiveness",
                                     "oee.quality_ratio", "oee.oee"};
    for (size_t m = 0; m < p->nmachines; m++) {
        l->last_state[m] = 0xff; /* nothing written yet */
        for (int k = 0; k < 5; k++) {
            char path[200];
            snprintf(path, sizeof path, "%s/%s", p->machines[m].name, dn[k]);
            const gb_tag_t *t = gb_tags_find(tags, path);
            l->derived[m * 5 + (size_t)k] = t ? t->id : GB_NONE;
        }
    }
    l->op = gb_oee_plant_new(p, start);
    for (size_t m = 0; m < p->nmachines; m++) hist_reset(l, m);
    l->nmap = gb_tags_count(tags);
    l->map = gb_xcalloc(l->nmap ? l->nmap : 1, sizeof *l->map);
    for (uint32_t i = 0; i < l->nmap; i++) {
        const gb_tag_t *t = gb_tags_get(tags, i);
        const gb_asset_t *a = gb_tags_asset(tags, t->machine);
        l->map[i].machine = -1;
        for (size_t m = 0; m < p->nmachines && l->map[i].machine < 0; m++) {
            if (strcmp(p->machines[m].name, a->name)) continue;
            for (size_t k = 0; k < p->machines[m].ntags; k++)
                if (!strcmp(p->machines[m].tags[k].name, t->name)) {
                    l->map[i] = (map_entry_t){(int32_t)m, (uint32_t)k};
                    break;
                }
        }
    }
    return l;
}

void gb_oee_live_free(gb_oee_live_t *l)
{
    if (!l) return;
    if (l->changes) fclose(l->changes);
    gb_batch_free(l->out);
    for (size_t m = 0; m < l->plant->nmachines; m++) hist_clear(&l->hist[m]);
    free(l->hist);
    free(l->derived);
    free(l->last_state);
    free(l->last_since);
    gb_oee_plant_free(l->op);
    free(l->map);
    free(l->view);
    pthread_mutex_destroy(&l->view_mu);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

static void put_state(gb_oee_live_t *l, size_t m, gb_time_t t, uint8_t state)
{
    const char *name = gb_state_name((gb_state_t)state);
    gb_batch_add_str(l->out, t, l->derived[m * 5], GB_Q_GOOD, name, strlen(name));
    wt_add(&l->hist[m], t);
}

/* The first interval is the time before the first sample: nothing was watched, nothing to write. */
static bool unwatched(const gb_oee_live_t *l, const gb_seg_t *s)
{
    return s->state == GB_STATE_DISCONNECTED && s->rule == GB_RULE_NODATA && s->start <= l->start;
}

/*
 * Machine M's history changed from h->redo on: writes its state again at every time from there
 * at which a state was written before or the new timeline changes state, so that, the later
 * write winning at equal times, the stored states read as the new timeline. Caller holds the lock.
 */
static void restate(gb_oee_live_t *l, size_t m, const gb_seg_t *seg, size_t n)
{
    mhist_t *h = &l->hist[m];
    size_t k = h->nwt;
    while (k > 0 && h->wt[k - 1] >= h->redo) k--;
    size_t nold = h->nwt - k;
    gb_time_t *old = gb_xmalloc((nold ? nold : 1) * sizeof *old);
    if (nold) memcpy(old, h->wt + k, nold * sizeof *old);
    h->nwt = k;
    size_t i = 0, j = 0, at = 0; /* segments (changes), old times, segment holding the time */
    for (;;) {
        while (i < n && (seg[i].start < h->redo || unwatched(l, &seg[i]) ||
                         (i > 0 && seg[i].state == seg[i - 1].state)))
            i++;
        gb_time_t tc = i < n ? seg[i].start : INT64_MAX, to = j < nold ? old[j] : INT64_MAX;
        gb_time_t t = tc < to ? tc : to;
        if (t == INT64_MAX) break;
        if (tc == t) i++;
        if (to == t) j++;
        while (at + 1 < n && seg[at + 1].start <= t) at++;
        if (n) put_state(l, m, t, seg[at].state);
    }
    free(old);
    h->redo = INT64_MAX;
}

/* KPIs of the shifts ending in (LO, HI], stamped at the shift's end; of machine ONLY, or all when
 * ONLY is -1. Caller holds the lock. */
static void shift_kpis(gb_oee_live_t *l, gb_time_t lo, gb_time_t hi, long only)
{
    const gb_plant_t *p = l->plant;
    gb_plan_t plan;
    gb_plan_build(p, lo - 86400 * GB_NS_PER_S, hi, &plan);
    for (size_t j = 0; j < plan.nshifts; j++) {
        const gb_shift_instance_t *si = &plan.shifts[j];
        if (si->end <= lo || si->end > hi) continue;
        gb_time_t from = si->start > l->start ? si->start : l->start;
        if (from >= si->end) continue;
        for (size_t m = 0; m < p->nmachines; m++) {
            if (l->derived[m * 5] == GB_NONE || (only >= 0 && (size_t)only != m)) continue;
            gb_oee_t k = {.ideal_known = true};
            gb_oee_filter_t f = {.shift = si};
            gb_mengine_oee(l->op->m[m], &plan, from, si->end, &f, &k);
            gb_oee_finish(&k);
            double v[] = {k.availability, k.effectiveness, k.quality, k.oee};
            for (int q = 0; q < 4; q++)
                if (isfinite(v[q]))
                    gb_batch_add_f64(l->out, si->end, l->derived[m * 5 + 1 + (size_t)q], GB_Q_GOOD, v[q]);
        }
    }
    gb_plan_clear(&plan);
}

/* Results since the last call, into l->out: state changes, and KPIs of shifts that ended by NOW;
 * and, for a machine whose history a late sample changed, its results from there on again.
 * Caller holds the lock. */
static void derive(gb_oee_live_t *l, gb_time_t now)
{
    const gb_plant_t *p = l->plant;
    if (!l->sink) return;
    if (l->out->n > 100000) return; /* the sink is not taking them; do not grow without bound */
    for (size_t m = 0; m < p->nmachines; m++) {
        if (l->derived[m * 5] == GB_NONE) continue;
        gb_mengine_t *e = l->op->m[m];
        const gb_seg_t *seg;
        size_t n = gb_mengine_timeline(e, gb_mengine_last_time(e), &seg);
        if (l->hist[m].rekpi < l->checked) shift_kpis(l, l->hist[m].rekpi, l->checked, (long)m);
        l->hist[m].rekpi = INT64_MAX;
        if (l->hist[m].redo != INT64_MAX) {
            restate(l, m, seg, n);
            if (n) {
                l->last_state[m] = seg[n - 1].state;
                l->last_since[m] = seg[n - 1].start;
            }
            continue;
        }
        /* every new state interval since the last one written, in order: a batch may hold many */
        for (size_t i = 0; i < n; i++) {
            if (seg[i].start <= l->last_since[m] && l->last_state[m] != 0xff) continue;
            if (unwatched(l, &seg[i])) continue;
            if (seg[i].state != l->last_state[m]) put_state(l, m, seg[i].start, seg[i].state);
            l->last_state[m] = seg[i].state;
            l->last_since[m] = seg[i].start;
        }
    }
    if (now <= l->checked) return;
    shift_kpis(l, l->checked, now, -1);
    l->checked = now;
}

/* Records sample T of machine M's tag TAG in its history. Caller holds the lock. */
static void remember(gb_oee_live_t *l, size_t m, gb_time_t t, uint32_t tag, const gb_value_t *v)
{
    mhist_t *h = &l->hist[m];
    gb_time_t disc = l->plant->machines[m].disconnected_after_ns;
    /* connectivity spans, merged as they touch */
    size_t i = h->nsp;
    while (i > 0 && h->sp[i - 1].a > t) i--;
    if (i > 0 && t <= h->sp[i - 1].b + disc) {
        if (t > h->sp[i - 1].b) h->sp[i - 1].b = t;
    } else {
        if (h->nsp == h->capsp) {
            h->capsp = h->capsp ? h->capsp * 2 : 16;
            h->sp = gb_xrealloc(h->sp, h->capsp * sizeof *h->sp);
        }
        memmove(&h->sp[i + 1], &h->sp[i], (h->nsp - i) * sizeof *h->sp);
        h->sp[i] = (span_t){t, t};
        h->nsp++;
        i++;
    }
    while (i < h->nsp && h->sp[i].a <= h->sp[i - 1].b + disc) { /* the gap closed: join */
        if (h->sp[i].b > h->sp[i - 1].b) h->sp[i - 1].b = h->sp[i].b;
        memmove(&h->sp[i], &h->sp[i + 1], (h->nsp - i - 1) * sizeof *h->sp);
        h->nsp--;
    }
    if (!gb_mengine_reads(l->op->m[m], tag)) return;
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 64;
        h->ev = gb_xrealloc(h->ev, h->cap * sizeof *h->ev);
    }
    size_t k = h->n; /* after every event at or before t: arrival order among equals */
    while (k > 0 && h->ev[k - 1].t > t) k--;
    memmove(&h->ev[k + 1], &h->ev[k], (h->n - k) * sizeof *h->ev);
    h->ev[k] = (hev_t){t, tag, *v};
    if (v->type == GB_VT_STR) h->ev[k].v.str = gb_xstrndup(v->str, v->len);
    h->n++;
}

/* Feeds machine M's remembered samples and connectivity in [FROM, TO) to E, in time order (at
 * equal times the sample first); within a span the machine is touched at a, a + step, ... and at
 * its end, as its sensors did. */
static void replay(gb_oee_live_t *l, size_t m, gb_mengine_t *e, gb_time_t from, gb_time_t to)
{
    mhist_t *h = &l->hist[m];
    gb_time_t step = l->plant->machines[m].disconnected_after_ns;
    if (step <= 0) step = GB_NS_PER_S;
    size_t i = 0, q = 0;
    while (i < h->n && h->ev[i].t < from) i++;
    while (q < h->nsp && h->sp[q].b < from) q++;
    /* the span's first touch at or after FROM */
    gb_time_t next = INT64_MAX;
    if (q < h->nsp) {
        next = h->sp[q].a;
        if (next < from) next += (from - next + step - 1) / step * step;
        if (next > h->sp[q].b) next = h->sp[q].b;
    }
    for (;;) {
        gb_time_t te = i < h->n ? h->ev[i].t : INT64_MAX;
        gb_time_t t = te <= next ? te : next;
        if (t >= to || t == INT64_MAX) break;
        if (te <= next) {
            gb_mengine_feed(e, te, h->ev[i].tag, &h->ev[i].v);
            i++;
            continue;
        }
        gb_mengine_touch(e, next);
        if (next >= h->sp[q].b) {
            q++;
            next = q < h->nsp ? h->sp[q].a : INT64_MAX;
        } else {
            next = next + step < h->sp[q].b ? next + step : h->sp[q].b;
        }
    }
}

/* Replays machine M's window onto a copy of its checkpoint, keeping people's changes. Caller
 * holds the lock. */
static void rebuild_machine(gb_oee_live_t *l, size_t m)
{
    mhist_t *h = &l->hist[m];
    gb_mengine_t *old = l->op->m[m];
    gb_mengine_t *e = gb_mengine_clone(h->base);
    replay(l, m, e, h->until, INT64_MAX);
    gb_mengine_take_changes(e, old);
    gb_mengine_free(old);
    l->op->m[m] = e;
    h->dirty = false;
    l->rebuilds++;
}

/* Moves what is older than the late window out of machine M's history into its checkpoint, a
 * slice at a time. Caller holds the lock. */
static void fold(gb_oee_live_t *l, size_t m)
{
    mhist_t *h = &l->hist[m];
    gb_time_t last = gb_mengine_last_time(l->op->m[m]);
    if (last - l->window < h->until + l->window / 8 + 1) return;
    gb_time_t cut = last - l->window;
    replay(l, m, h->base, h->until, cut);
    size_t i = 0;
    while (i < h->n && h->ev[i].t < cut) free((char *)h->ev[i++].v.str);
    if (h->n) memmove(h->ev, h->ev + i, (h->n - i) * sizeof *h->ev);
    h->n -= i;
    size_t q = 0;
    while (q < h->nsp && h->sp[q].b < cut) q++; /* every touch of these is in the checkpoint */
    if (h->nsp) memmove(h->sp, h->sp + q, (h->nsp - q) * sizeof *h->sp);
    h->nsp -= q;
    size_t w = 0;
    while (w < h->nwt && h->wt[w] < cut) w++;
    if (h->nwt) memmove(h->wt, h->wt + w, (h->nwt - w) * sizeof *h->wt);
    h->nwt -= w;
    h->until = cut;
}

static int deliver(void *ctx, const gb_batch_t *b)
{
    gb_oee_live_t *l = ctx;
    pthread_mutex_lock(&l->mu);
    bool any_dirty = false;
    for (size_t i = 0; i < b->n; i++) {
        const gb_sample_t *s = &b->samples[i];
        if (s->tag >= l->nmap || l->map[s->tag].machine < 0) continue;
        size_t m = (size_t)l->map[s->tag].machine;
        gb_value_t v = {.type = (gb_vtype_t)s->type};
        switch (s->type) {
        case GB_VT_F64: v.f64 = s->v.f64; break;
        case GB_VT_I64: v.i64 = s->v.i64; break;
        case GB_VT_BOOL: v.b = s->v.b; break;
        default: v.str = gb_sample_str(b, s, &v.len);
        }
        if (s->t < l->hist[m].until) {
            /* older than the late window: the checkpoint has moved past it */
            l->too_late++;
            gb_log_once(&l->too_late_logged, GB_LOG_WARN, "oee",
                        "a sample of machine %s is older than the OEE history kept for it (which "
                        "reaches %lld s back, and not before gemba started); it is stored but OEE "
                        "does not count it (counted as too_late in /api/v1/health)",
                        l->plant->machines[m].name, (long long)(l->window / GB_NS_PER_S));
            continue;
        }
        remember(l, m, s->t, l->map[s->tag].tag, &v);
        l->fed++;
        if (s->t < gb_mengine_last_time(l->op->m[m])) {
            /* older than what the engine has taken: put it in its place by replaying */
            l->late++;
            l->hist[m].dirty = any_dirty = true;
            if (s->t < l->hist[m].redo) l->hist[m].redo = s->t;
            if (s->t < l->hist[m].rekpi) l->hist[m].rekpi = s->t;
            gb_log_once(&l->late_logged, GB_LOG_INFO, "oee",
                        "a sample of machine %s arrived out of order; its state history is "
                        "recomputed to place it (counted in /api/v1/health)",
                        l->plant->machines[m].name);
        }
        if (l->hist[m].dirty) continue; /* rebuilt from its history below */
        gb_mengine_feed(l->op->m[m], s->t, l->map[s->tag].tag, &v);
        fold(l, m);
    }
    for (size_t m = 0; any_dirty && m < l->plant->nmachines; m++)
        if (l->hist[m].dirty) {
            rebuild_machine(l, m);
            fold(l, m);
        }
    derive(l, b->n ? b->samples[b->n - 1].t : gb_now());
    pthread_mutex_unlock(&l->mu);
    if (l->sink && l->out->n) {
        /* a sink that cannot take the results now gets them again with the next batch */
        if (l->sink(l->sink_ctx, l->out) == 0) gb_batch_reset(l->out);
    }
    return 0;
}

void gb_oee_live_set_sink(gb_oee_live_t *l, gb_oee_sink_fn sink, void *ctx)
{
    l->sink = sink;
    l->sink_ctx = ctx;
}

const gb_consumer_ops_t gb_oee_live_consumer = {GB_CONSUMER_API_VERSION, deliver, NULL};

void gb_oee_live_take_jobs(gb_oee_live_t *l, gb_jobs_t *jobs)
{
    pthread_mutex_lock(&l->mu);
    gb_oee_plant_take_jobs(l->op, jobs);
    pthread_mutex_unlock(&l->mu);
}

gb_time_t gb_oee_live_history_start(gb_oee_live_t *l)
{
    pthread_mutex_lock(&l->mu);
    gb_time_t t = l->start;
    pthread_mutex_unlock(&l->mu);
    return t;
}

void gb_oee_live_set_late_window(gb_oee_live_t *l, gb_time_t window)
{
    pthread_mutex_lock(&l->mu);
    l->window = window > 0 ? window : default_window(l->plant);
    pthread_mutex_unlock(&l->mu);
}

size_t gb_oee_live_history_size(gb_oee_live_t *l)
{
    pthread_mutex_lock(&l->mu);
    size_t n = 0;
    for (size_t m = 0; m < l->plant->nmachines; m++) n += l->hist[m].n + l->hist[m].nsp;
    pthread_mutex_unlock(&l->mu);
    return n;
}

void gb_oee_live_counters(gb_oee_live_t *l, uint64_t *fed, uint64_t *late, uint64_t *too_late)
{
    pthread_mutex_lock(&l->mu);
    *fed = l->fed;
    *late = l->late;
    *too_late = l->too_late;
    pthread_mutex_unlock(&l->mu);
}

uint64_t gb_oee_live_rebuilds(gb_oee_live_t *l)
{
    pthread_mutex_lock(&l->mu);
    uint64_t n = l->rebuilds;
    pthread_mutex_unlock(&l->mu);
    return n;
}

static json_t *time_json(gb_time_t t)
{
    char buf[40];
    gb_time_format(t, buf, sizeof buf);
    return json_string(buf);
}

static int machine_index(const gb_plant_t *p, const char *name)
{
    for (size_t i = 0; i < p->nmachines; i++)
        if (!strcmp(p->machines[i].name, name)) return (int)i;
    return -1;
}

json_t *gb_oee_live_machines(gb_oee_live_t *l, gb_time_t now)
{
    const gb_plant_t *p = l->plant;
    json_t *arr = json_array();
    gb_plan_t plan;
    gb_plan_build(p, now - 1, now + 1, &plan);
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < p->nmachines; i++) {
        gb_mengine_t *e = l->op->m[i];
        gb_state_t st;
        int32_t rule;
        gb_time_t since;
        gb_mengine_current(e, now, &st, &rule, &since);
        char rn[96];
        gb_mengine_rule_name(e, rule, rn, sizeof rn);
        const gb_machine_t *m = &p->machines[i];
        char *path = gb_plant_machine_path(p, m);
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:f}", "name", m->name, "path",
                              path, "line", p->lines[m->line].name, "area",
                              p->areas[p->lines[m->line].area].name, "state", gb_state_name(st),
                              "rule", rn, "since", time_json(since), "seconds_in_state",
                              (double)(now - since) / 1e9);
        free(path);
        /* this shift's OEE, when a shift is on */
        const gb_shift_instance_t *cur = NULL;
        for (size_t j = 0; j < plan.nshifts; j++)
            if (plan.shifts[j].start <= now && now < plan.shifts[j].end) cur = &plan.shifts[j];
        if (cur) {
            /* this shift as far as it was watched: a daemon started mid-shift has no data for
             * the earlier part, which would otherwise read as hours of delay */
            gb_time_t from = cur->start > l->start ? cur->start : l->start;
            gb_oee_t k = {.ideal_known = true};
            gb_mengine_oee(e, &plan, from, now, NULL, &k);
            gb_oee_finish(&k);
            json_t *sh = gb_oee_json(&k);
            json_object_set_new(sh, "shift", json_string(p->shifts[cur->shift].name));
            json_object_set_new(sh, "shift_start", time_json(cur->start));
            json_object_set_new(sh, "from", time_json(from));
            json_object_set_new(o, "this_shift", sh);
        } else {
            json_object_set_new(o, "this_shift", json_null());
        }
        json_array_append_new(arr, o);
    }
    pthread_mutex_unlock(&l->mu);
    gb_plan_clear(&plan);
    return json_pack("{s:o, s:o}", "time", time_json(now), "machines", arr);
}

char *gb_oee_live_machines_text(gb_oee_live_t *l, int64_t max_age_ns, size_t *len)
{
    /* A board on every screen of a hall asks for the same view many times a second: one
     * computes it, the others within MAX_AGE_NS take a copy of the text (its "time" says when) */
    pthread_mutex_lock(&l->view_mu);
    int64_t mono = gb_mono_ns();
    if (!l->view || mono - l->view_mono > max_age_ns) {
        json_t *doc = gb_oee_live_machines(l, gb_now());
        char *txt = json_dumps(doc, JSON_COMPACT);
        json_decref(doc);
        if (txt) {
            free(l->view);
            l->view = txt;
            l->view_len = strlen(txt);
            l->view_mono = mono;
        }
    }
    char *copy = NULL;
    if (l->view) {
        copy = gb_xmalloc(l->view_len + 1);
        memcpy(copy, l->view, l->view_len + 1);
        *len = l->view_len;
    }
    pthread_mutex_unlock(&l->view_mu);
    return copy;
}

json_t *gb_oee_live_jobs(gb_oee_live_t *l, gb_time_t now)
{
    pthread_mutex_lock(&l->mu);
    /* what each job made, over everything the engines remember */
    json_t *rep = gb_oee_report(l->op, l->start, now > l->start ? now : l->start + 1, GB_BY_JOB,
                                NULL);
    /* the report's rows by job id, so a machine that starts a job per lot costs no search */
    json_t *by_job = json_object(), *row, *arr = json_array();
    size_t k;
    json_array_foreach(json_object_get(rep, "rows"), k, row) {
        const char *id = json_string_value(json_object_get(row, "job"));
        if (id) json_object_set(by_job, id, json_object_get(row, "counts"));
    }
    const gb_jobs_t *js = &l->op->jobs;
    for (size_t i = 0; i < js->n; i++) {
        const gb_job_t *j = &js->j[i];
        json_t *counts = json_object_get(by_job, j->id);
        json_int_t produced = json_integer_value(json_object_get(counts, "produced"));
        json_int_t good = json_integer_value(json_object_get(counts, "good"));
        json_int_t scrap = json_integer_value(json_object_get(counts, "scrap"));
        json_int_t outside = json_integer_value(json_object_get(counts, "produced_outside_plan"));
        char due[40];
        gb_time_format(j->due, due, sizeof due);
        json_t *o = json_pack("{s:s, s:s, s:o, s:o, s:o, s:I, s:I, s:I, s:I, s:o}", "job", j->id,
                              "product", j->product,
                              "quantity", j->quantity ? json_integer(j->quantity) : json_null(),
                              "ideal_cycle_time_s",
                              j->ideal_ns ? json_real((double)j->ideal_ns / 1e9) : json_null(),
                              "due", j->due ? json_string(due) : json_null(), "produced",
                              produced, "good", good, "scrap", scrap, "produced_outside_plan",
                              outside, "remaining",
                              j->quantity ? json_integer(j->quantity > good ? j->quantity - good : 0)
                                          : json_null());
        json_array_append_new(arr, o);
    }
    pthread_mutex_unlock(&l->mu);
    json_decref(by_job);
    json_decref(rep);
    return arr;
}

json_t *gb_oee_live_timeline(gb_oee_live_t *l, const char *machine, gb_time_t from, gb_time_t to)
{
    int mi = machine_index(l->plant, machine);
    if (mi < 0) return NULL;
    json_t *arr = json_array();
    pthread_mutex_lock(&l->mu);
    gb_mengine_t *e = l->op->m[mi];
    const gb_seg_t *seg;
    size_t n = gb_mengine_timeline(e, to, &seg);
    for (size_t i = 0; i < n; i++) {
        if (seg[i].end <= from || seg[i].start >= to) continue;
        char rn[96];
        gb_mengine_rule_name(e, seg[i].rule, rn, sizeof rn);
        json_array_append_new(arr, json_pack("{s:o, s:o, s:s, s:s}", "start",
                                             time_json(seg[i].start > from ? seg[i].start : from),
                                             "end", time_json(seg[i].end < to ? seg[i].end : to),
                                             "state", gb_state_name((gb_state_t)seg[i].state),
                                             "rule", rn));
    }
    pthread_mutex_unlock(&l->mu);
    return json_pack("{s:s, s:o, s:o, s:o}", "machine", machine, "from", time_json(from), "to",
                     time_json(to), "intervals", arr);
}

json_t *gb_oee_live_stops(gb_oee_live_t *l, const char *machine, gb_time_t from, gb_time_t to)
{
    int mi = machine_index(l->plant, machine);
    if (mi < 0) return NULL;
    json_t *arr = json_array();
    pthread_mutex_lock(&l->mu);
    gb_mengine_t *e = l->op->m[mi];
    const gb_stop_t *st;
    size_t n = gb_mengine_stops(e, to, &st);
    for (size_t i = 0; i < n; i++) {
        if (st[i].end <= from || st[i].start >= to) continue;
        char rn[96];
        gb_mengine_rule_name(e, st[i].rule, rn, sizeof rn);
        json_t *o = json_pack("{s:o, s:o, s:f, s:s, s:s, s:b}", "start", time_json(st[i].start),
                              "end", time_json(st[i].end), "seconds",
                              (double)(st[i].end - st[i].start) / 1e9, "state",
                              gb_state_name((gb_state_t)st[i].state), "rule", rn, "micro",
                              st[i].micro);
        json_object_set_new(o, "reason", st[i].reason >= 0
                                             ? json_string(l->plant->reasons[st[i].reason].path)
                                             : json_null());
        json_object_set_new(o, "reason_by", st[i].reason < 0 ? json_null()
                                            : st[i].reason_auto ? json_string("rule")
                                            : json_string(st[i].last_change->who));
        json_array_append_new(arr, o);
    }
    pthread_mutex_unlock(&l->mu);
    return json_pack("{s:s, s:o, s:o, s:o}", "machine", machine, "from", time_json(from), "to",
                     time_json(to), "stops", arr);
}

json_t *gb_oee_live_report(gb_oee_live_t *l, gb_time_t from, gb_time_t to, gb_oee_by_t by,
                           const char *asset)
{
    pthread_mutex_lock(&l->mu);
    json_t *doc = gb_oee_report(l->op, from, to, by, asset);
    pthread_mutex_unlock(&l->mu);
    return doc;
}

typedef struct rb_event {
    gb_time_t t;
    uint32_t tag;  /* registry id */
    uint32_t seq;
    bool touch;    /* connectivity only */
    gb_sample_t s;
    char *str;
} rb_event_t;

typedef struct state_point {
    gb_time_t t;
    size_t m;
} state_point_t;

typedef struct rebuild {
    gb_oee_live_t *l;
    gb_time_t since;
    rb_event_t *ev;
    size_t n, cap;
    gb_time_t *last_touch; /* per machine */
    state_point_t *st; /* stored oee.state points: what a correction rewrites */
    size_t nst, capst;
} rebuild_t;

static void rb_state_point(rebuild_t *rb, const gb_tag_t *t, gb_time_t at)
{
    const gb_oee_live_t *l = rb->l;
    for (size_t m = 0; m < l->plant->nmachines; m++) {
        if (l->derived[m * 5] != t->id) continue;
        if (rb->nst == rb->capst) {
            rb->capst = rb->capst ? rb->capst * 2 : 256;
            rb->st = gb_xrealloc(rb->st, rb->capst * sizeof *rb->st);
        }
        rb->st[rb->nst].t = at;
        rb->st[rb->nst++].m = m;
        return;
    }
}

static int rb_state_cmp(const void *a, const void *b)
{
    gb_time_t x = ((const state_point_t *)a)->t, y = ((const state_point_t *)b)->t;
    return (x > y) - (x < y);
}

static int rb_sample(void *ctx, const char *path, const gb_sample_t *s, const char *str, size_t len)
{
    rebuild_t *rb = ctx;
    if (s->t < rb->since) return 0;
    const gb_tag_t *t = gb_tags_find(rb->l->tags, path);
    if (t && t->id < rb->l->nmap && rb->l->map[t->id].machine < 0) {
        if (s->type == GB_VT_STR) rb_state_point(rb, t, s->t); /* when it is an oee.state */
        return 0;
    }
    if (!t || t->id >= rb->l->nmap || rb->l->map[t->id].machine < 0 || (gb_vtype_t)s->type != t->type)
        return 0;
    map_entry_t me = rb->l->map[t->id];
    bool reads = gb_mengine_reads(rb->l->op->m[me.machine], me.tag);
    if (!reads) {
        /* only connectivity: one a second per machine is plenty */
        if (s->t - rb->last_touch[me.machine] < GB_NS_PER_S) return 0;
        rb->last_touch[me.machine] = s->t;
    }
    if (rb->n == rb->cap) {
        rb->cap = rb->cap ? rb->cap * 2 : 4096;
        rb->ev = gb_xrealloc(rb->ev, rb->cap * sizeof *rb->ev);
    }
    rb_event_t *e = &rb->ev[rb->n];
    *e = (rb_event_t){s->t, t->id, (uint32_t)rb->n, !reads, *s, NULL};
    if (reads && s->type == GB_VT_STR) e->str = gb_xstrndup(str, len);
    rb->n++;
    return 0;
}

static int rb_cmp(const void *a, const void *b)
{
    const rb_event_t *x = a, *y = b;
    if (x->t != y->t) return x->t < y->t ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Only the plant's tags are read back: a store may hold much else (writes over HTTP). */
static bool rb_want(void *ctx, const char *path)
{
    const rebuild_t *rb = ctx;
    return gb_tags_find(rb->l->tags, path) != NULL;
}

int gb_oee_live_rebuild(gb_oee_live_t *l, const char *data_dir, gb_time_t since, uint64_t *n)
{
    rebuild_t rb = {.l = l, .since = since};
    rb.last_touch = gb_xcalloc(l->plant->nmachines ? l->plant->nmachines : 1, sizeof *rb.last_touch);
    for (size_t i = 0; i < l->plant->nmachines; i++) rb.last_touch[i] = INT64_MIN / 2;
    int rc = gb_store_read_all_of(data_dir, since, rb_want, rb_sample, &rb);
    if (rc == GB_ENOENT) rc = 0; /* a new store: nothing to rebuild */
    if (rc == 0 && rb.n) {
        if (rb.n > 1) qsort(rb.ev, rb.n, sizeof *rb.ev, rb_cmp);
        pthread_mutex_lock(&l->mu);
        /* the engines' history starts at the first stored sample */
        gb_jobs_t jobs = l->op->jobs; /* the job file outlives the engines it is handed to */
        memset(&l->op->jobs, 0, sizeof jobs);
        gb_oee_plant_free(l->op);
        l->start = rb.ev[0].t;
        l->op = gb_oee_plant_new(l->plant, l->start);
        gb_oee_plant_take_jobs(l->op, &jobs);
        for (size_t m = 0; m < l->plant->nmachines; m++) hist_reset(l, m);
        if (rb.nst) qsort(rb.st, rb.nst, sizeof *rb.st, rb_state_cmp);
        for (size_t i = 0; i < rb.nst; i++)
            if (rb.st[i].t >= l->start) wt_add(&l->hist[rb.st[i].m], rb.st[i].t);
        for (size_t i = 0; i < rb.n; i++) {
            rb_event_t *e = &rb.ev[i];
            map_entry_t me = l->map[e->tag];
            gb_mengine_t *eng = l->op->m[me.machine];
            gb_value_t v = {.type = (gb_vtype_t)e->s.type};
            switch (e->s.type) {
            case GB_VT_F64: v.f64 = e->s.v.f64; break;
            case GB_VT_I64: v.i64 = e->s.v.i64; break;
            case GB_VT_BOOL: v.b = e->s.v.b; break;
            default: v.str = e->str ? e->str : ""; v.len = strlen(v.str);
            }
            remember(l, (size_t)me.machine, e->t, me.tag, &v);
            if (e->touch) gb_mengine_touch(eng, e->t);
            else gb_mengine_feed(eng, e->t, me.tag, &v);
            fold(l, (size_t)me.machine);
        }
        /* states the store already has from before the restart are not written again */
        for (size_t m = 0; m < l->plant->nmachines; m++) {
            gb_state_t st;
            int32_t rule;
            gb_time_t st_since;
            gb_mengine_current(l->op->m[m], rb.ev[rb.n - 1].t, &st, &rule, &st_since);
            l->last_state[m] = (uint8_t)st;
            l->last_since[m] = st_since;
        }
        pthread_mutex_unlock(&l->mu);
    }
    if (n) *n = rb.n;
    for (size_t i = 0; i < rb.n; i++) free(rb.ev[i].str);
    free(rb.ev);
    free(rb.last_touch);
    free(rb.st);
    return rc;
}

/* ---- changes ------------------------------------------------------------------------------- */

/* The stop of machine MI starting exactly at T, or NULL. Caller holds the lock. */
static const gb_stop_t *stop_at(gb_oee_live_t *l, int mi, gb_time_t t, gb_time_t now)
{
    const gb_stop_t *st;
    gb_time_t last = gb_mengine_last_time(l->op->m[mi]); /* device clocks may run ahead */
    size_t n = gb_mengine_stops(l->op->m[mi], now > last ? now : last, &st);
    for (size_t i = 0; i < n; i++)
        if (st[i].start == t) return &st[i];
    return NULL;
}

static void describe(const gb_oee_live_t *l, const gb_stop_t *s, char *buf, size_t size)
{
    if (!buf) return;
    char a[40], b[40];
    gb_time_format(s->start, a, sizeof a);
    gb_time_format(s->end, b, sizeof b);
    snprintf(buf, size, "stop %s..%s reason %s", a, b,
             s->reason >= 0 ? l->plant->reasons[s->reason].path : "(none)");
}

/* Machine M's shift KPIs from T on are to be written again, with the next results. Caller holds
 * the lock. */
static void kpis_changed(gb_oee_live_t *l, size_t m, gb_time_t t)
{
    if (t < l->hist[m].rekpi) l->hist[m].rekpi = t;
}

/* Appends one change and syncs it. Caller holds the lock. */
static int record(gb_oee_live_t *l, json_t *change)
{
    if (!l->changes) { /* no log (tests): changes live in memory only */
        json_decref(change);
        return 0;
    }
    char *s = json_dumps(change, JSON_COMPACT);
    json_decref(change);
    int rc = 0;
    if (!s || fprintf(l->changes, "%s\n", s) < 0 || fflush(l->changes) != 0 ||
        fdatasync(fileno(l->changes)) != 0) {
        gb_error("oee", "cannot record a change: %s", strerror(errno));
        rc = GB_EIO;
    }
    free(s);
    return rc;
}

static json_t *tjson(gb_time_t t)
{
    char buf[40];
    gb_time_format(t, buf, sizeof buf);
    return json_string(buf);
}

int gb_oee_live_set_reason(gb_oee_live_t *l, const char *machine, gb_time_t stop_start,
                           const char *reason, const char *who, gb_time_t now, char *before,
                           char *after, size_t size)
{
    int mi = machine_index(l->plant, machine);
    if (mi < 0) return GB_ENOENT;
    bool known = false;
    for (size_t i = 0; i < l->plant->nreasons && !known; i++)
        known = !strcmp(l->plant->reasons[i].path, reason);
    if (!known) return GB_EINVAL;
    pthread_mutex_lock(&l->mu);
    int rc = GB_ERANGE;
    const gb_stop_t *s = stop_at(l, mi, stop_start, now);
    if (!s) goto out;
    describe(l, s, before, size);
    rc = record(l, json_pack("{s:s, s:s, s:o, s:s, s:s, s:o}", "kind", "reason", "machine", machine,
                             "stop", tjson(stop_start), "reason", reason, "who", who, "at",
                             tjson(now)));
    if (rc) goto out;
    gb_mengine_reason(l->op->m[mi], stop_start, reason, who, now);
    kpis_changed(l, (size_t)mi, stop_start);
    if ((s = stop_at(l, mi, stop_start, now))) describe(l, s, after, size);
out:
    pthread_mutex_unlock(&l->mu);
    return rc;
}

int gb_oee_live_split(gb_oee_live_t *l, const char *machine, gb_time_t stop_start, gb_time_t at,
                      const char *who, gb_time_t now, char *before, char *after, size_t size)
{
    int mi = machine_index(l->plant, machine);
    if (mi < 0) return GB_ENOENT;
    pthread_mutex_lock(&l->mu);
    int rc = GB_ERANGE;
    const gb_stop_t *s = stop_at(l, mi, stop_start, now);
    if (!s || at <= s->start || at >= s->end) goto out;
    describe(l, s, before, size);
    rc = record(l, json_pack("{s:s, s:s, s:o, s:o, s:s, s:o}", "kind", "split", "machine", machine,
                             "stop", tjson(stop_start), "split_at", tjson(at), "who", who, "at",
                             tjson(now)));
    if (rc) goto out;
    gb_mengine_split(l->op->m[mi], at, who, now);
    kpis_changed(l, (size_t)mi, stop_start);
    if (after) {
        const gb_stop_t *a = stop_at(l, mi, stop_start, now), *b = stop_at(l, mi, at, now);
        char x[160] = "", y[160] = "";
        if (a) describe(l, a, x, sizeof x);
        if (b) describe(l, b, y, sizeof y);
        snprintf(after, size, "%s; %s", x, y);
    }
out:
    pthread_mutex_unlock(&l->mu);
    return rc;
}

int gb_oee_live_scrap(gb_oee_live_t *l, const char *machine, gb_time_t t, int64_t n,
                      const char *who, gb_time_t now)
{
    int mi = machine_index(l->plant, machine);
    if (mi < 0) return GB_ENOENT;
    if (n < 1) return GB_EINVAL;
    pthread_mutex_lock(&l->mu);
    int rc = GB_ERANGE;
    gb_time_t last = gb_mengine_last_time(l->op->m[mi]); /* device clocks may run ahead */
    if (t < l->start || t > (now > last ? now : last)) goto out;
    rc = record(l, json_pack("{s:s, s:s, s:o, s:I, s:s, s:o}", "kind", "scrap", "machine", machine,
                             "time", tjson(t), "count", (json_int_t)n, "who", who, "at",
                             tjson(now)));
    if (rc) goto out;
    gb_mengine_scrap(l->op->m[mi], t, n, who);
    kpis_changed(l, (size_t)mi, t);
out:
    pthread_mutex_unlock(&l->mu);
    return rc;
}

int gb_oee_live_changes_open(gb_oee_live_t *l, const char *data_dir)
{
    char *dir = gb_xasprintf("%s/oee", data_dir), *file = gb_xasprintf("%s/changes.jsonl", dir);
    int rc = 0;
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        gb_error("oee", "cannot create %s: %s", dir, strerror(errno));
        rc = GB_EIO;
        goto out;
    }
    size_t applied = 0, skipped = 0, bad = 0;
    pthread_mutex_lock(&l->mu);
    gb_oee_changes_replay(l->op, data_dir, l->start, &applied, &skipped, &bad);
    pthread_mutex_unlock(&l->mu);
    if (applied || skipped || bad)
        gb_info("oee", "applied %zu recorded changes (%zu outside the rebuilt history, %zu "
                "unreadable)", applied, skipped, bad);
    l->changes = fopen(file, "a");
    if (!l->changes) {
        gb_error("oee", "cannot open %s: %s", file, strerror(errno));
        rc = GB_EIO;
    }
out:
    free(dir);
    free(file);
    return rc;
}
