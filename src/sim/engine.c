/*
 * The discrete-event engine. Time jumps from event to event; an event is a machine finishing a
 * stretch of work (a part, a setup, a micro-stop, or the operating time to a failure), a repair
 * ending, a calendar failure, an arrival, or a shift boundary. The calendar is a 4-ary heap
 * ordered by (time, sequence number), so ties are served first in, first out and a run is
 * repeatable bit for bit.
 *
 * Material flow. A station is one or more parallel machines with one input buffer. A machine that
 * is free pulls the next part from its buffer (or, when the buffer is a route's start without an
 * arrival process, from an unlimited supply). A finished part is scrapped, leaves at the end of
 * its route, or goes to the next station's buffer: handed straight to a free machine there, put
 * in a free place, or else held by the machine, which is then blocked (blocking after service)
 * until a place frees up. Freeing a place lets the longest-blocked holder in, which frees that
 * holder, which pulls from its own buffer: one departure can ripple up the line at one instant.
 *
 * Interruptions. A failure counted in operating time is part of the machine's work: when work
 * starts, the next event is the earliest of the end of the part, the next micro-stop and the next
 * failure, each in operating time, so no event ever needs cancelling. A calendar failure or a
 * planned stop can strike in the middle of anything: the machine's pending event is cancelled by
 * bumping its generation (stale events are skipped when they come up) and what is left of the
 * activity is resumed later. A failed machine waits for a repairer when the crew is limited.
 */
#include "gemba/calendar.h"
#include "gemba/error.h"
#include "sim/sim_internal.h"
#include "util/str.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { EV_ACT, EV_REPAIR, EV_FAILCAL, EV_ARRIVAL, EV_CAL, EV_WARMUP };

const char *gb_sim_state_name(gb_sim_state_t s)
{
    static const char *const names[] = {"running", "starved", "blocked",     "down",
                                        "setup",   "micro_stop", "planned_stop"};
    return (unsigned)s < GB_SIM_NSTATES ? names[s] : "?";
}

/* ---- the event heap ----------------------------------------------------------------------- */

/* Ordered by time, then by sequence number: first scheduled, first served. A shift boundary's
 * sequence number has its top bit set, so at one instant it comes after everything else: a part
 * that ends as the shift ends is made in the shift. */
#define SEQ_LAST (UINT64_C(1) << 63)

static inline bool ev_less(const sim_event_t *a, const sim_event_t *b)
{
    return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

/* The naive calendar, kept as the benchmark's baseline: a linked list sorted by time, searched
 * from its head on every insertion. */
static void list_insert(gb_sim_t *s, const sim_event_t *e)
{
    if (s->lfree == SIM_NONE) {
        uint32_t na = s->lalloc ? s->lalloc * 2 : 64;
        s->ln = gb_xrealloc(s->ln, na * sizeof *s->ln);
        for (uint32_t i = s->lalloc; i < na; i++) s->ln[i].next = i + 1 < na ? i + 1 : s->lfree;
        s->lfree = s->lalloc;
        s->lalloc = na;
    }
    uint32_t k = s->lfree;
    s->lfree = s->ln[k].next;
    s->ln[k].e = *e;
    uint32_t *at = &s->lhead;
    while (*at != SIM_NONE && !ev_less(e, &s->ln[*at].e)) at = &s->ln[*at].next;
    s->ln[k].next = *at;
    *at = k;
    s->hn++;
}

static sim_event_t list_pop(gb_sim_t *s)
{
    uint32_t k = s->lhead;
    s->lhead = s->ln[k].next;
    s->ln[k].next = s->lfree;
    s->lfree = k;
    s->hn--;
    return s->ln[k].e;
}

/* Moves E down from slot I of the heap of N events to where it belongs. */
static void sift_down(sim_event_t *h, size_t n, size_t i, const sim_event_t *e)
{
    for (;;) {
        size_t c = 4 * i + 1;
        if (c >= n) break;
        size_t best = c, end = c + 4 < n ? c + 4 : n;
        for (size_t k = c + 1; k < end; k++)
            if (ev_less(&h[k], &h[best])) best = k;
        if (!ev_less(&h[best], e)) break;
        h[i] = h[best];
        i = best;
    }
    h[i] = *e;
}

/*
 * While an event is handled its slot at the root stays in the heap, marked free: the first
 * event it schedules -- usually the machine's next activity -- takes the root with one sift
 * down, instead of the last element sifting down now and the new one sifting up later.
 */
static void schedule(gb_sim_t *s, double t, uint16_t kind, uint32_t ent, uint16_t aux,
                     uint32_t gen)
{
    sim_event_t e = {t, s->seq++ | (kind == EV_CAL ? SEQ_LAST : 0), ent, kind, aux, gen};
    if (s->listcal) {
        list_insert(s, &e);
        return;
    }
    if (s->root_free) {
        s->root_free = false;
        sift_down(s->heap, s->hn, 0, &e);
        return;
    }
    if (s->hn == s->halloc) {
        s->halloc = s->halloc ? s->halloc * 2 : 64;
        s->heap = gb_xrealloc(s->heap, s->halloc * sizeof *s->heap);
    }
    size_t i = s->hn++;
    while (i > 0) {
        size_t p = (i - 1) / 4;
        if (!ev_less(&e, &s->heap[p])) break;
        s->heap[i] = s->heap[p];
        i = p;
    }
    s->heap[i] = e;
}

/* Takes the first event; its slot stays until release() (or a schedule() reuses it). */
static sim_event_t take(gb_sim_t *s)
{
    if (s->listcal) return list_pop(s);
    s->root_free = true;
    return s->heap[0];
}

static void release(gb_sim_t *s)
{
    if (!s->root_free) return;
    s->root_free = false;
    sim_event_t last = s->heap[--s->hn];
    if (s->hn) sift_down(s->heap, s->hn, 0, &last);
}

/* ---- statistics and notes ----------------------------------------------------------------- */

static void note(gb_sim_t *s, gb_sim_note_kind_t kind, uint32_t m, bool good, uint32_t mode)
{
    if (!s->obs) return;
    gb_sim_note_t n = {kind, s->now, m, (gb_sim_state_t)s->m[m].st, good, mode};
    s->obs(s->obs_ctx, &n);
}

static gb_sim_state_t derive(const gb_sim_t *s, const sim_mrt_t *r)
{
    if (s->planned) return GB_SIM_PLANNED;
    if (r->down) return GB_SIM_DOWN;
    switch (r->act) {
    case ACT_SETUP: return GB_SIM_SETUP;
    case ACT_PROC: return GB_SIM_RUNNING;
    case ACT_MICRO: return GB_SIM_MICRO;
    }
    return r->holding ? GB_SIM_BLOCKED : GB_SIM_STARVED;
}

static void update(gb_sim_t *s, uint32_t mi)
{
    sim_mrt_t *r = &s->m[mi];
    gb_sim_state_t st = derive(s, r);
    if (st == r->st) return;
    r->acc[r->st] += s->now - r->since;
    r->since = s->now;
    r->st = (uint8_t)st;
    if (st == GB_SIM_STARVED) r->idle_since = s->now;
    note(s, GB_SIM_NOTE_STATE, mi, false, 0);
}

static void wip_change(gb_sim_t *s, uint32_t line, int d)
{
    sim_lrt_t *l = &s->l[line];
    l->wip_acc += (double)l->wip * (s->now - l->wip_since);
    l->wip_since = s->now;
    l->wip += d;
}

static void part_exit(gb_sim_t *s, const sim_part_t *p, bool good)
{
    uint32_t line = s->md->prod[p->product].line;
    wip_change(s, line, -1);
    sim_lrt_t *l = &s->l[line];
    l->exits++;
    l->sojourn += s->now - p->born;
    if (good) l->good++;
    else l->scrap++;
}

/* ---- buffers ------------------------------------------------------------------------------ */

static void q_push(sim_buffer_t *b, const sim_part_t *p)
{
    if (b->n == b->alloc) {
        uint64_t na = b->alloc ? b->alloc * 2 : 8;
        sim_part_t *q = gb_xmalloc(na * sizeof *q);
        for (uint64_t i = 0; i < b->n; i++) q[i] = b->q[(b->head + i) % b->alloc];
        free(b->q);
        b->q = q;
        b->head = 0;
        b->alloc = na;
    }
    b->q[(b->head + b->n++) & (b->alloc - 1)] = *p; /* sizes are powers of two */
}

static sim_part_t q_pop(sim_buffer_t *b)
{
    sim_part_t p = b->q[b->head];
    b->head = (b->head + 1) & (b->alloc - 1);
    b->n--;
    return p;
}

static void ring_push(sim_ring_t *r, uint32_t id)
{
    if (r->n == r->alloc) {
        uint32_t na = r->alloc ? r->alloc * 2 : 4;
        uint32_t *v = gb_xmalloc(na * sizeof *v);
        for (uint32_t i = 0; i < r->n; i++) v[i] = r->v[(r->head + i) % r->alloc];
        free(r->v);
        r->v = v;
        r->head = 0;
        r->alloc = na;
    }
    r->v[(r->head + r->n++) & (r->alloc - 1)] = id; /* sizes are powers of two */
}

static uint32_t ring_pop(sim_ring_t *r)
{
    uint32_t id = r->v[r->head];
    r->head = (r->head + 1) & (r->alloc - 1);
    r->n--;
    return id;
}

/* ---- machines ----------------------------------------------------------------------------- */

static void try_start(gb_sim_t *s, uint32_t mi);
static void fail(gb_sim_t *s, uint32_t mi, uint32_t mode);

static inline bool available(const gb_sim_t *s, const sim_mrt_t *r)
{
    return !s->planned && !r->down && !r->holding && r->act == ACT_NONE;
}

/* Starts (or resumes) processing: the next event is the earliest of the part's end, the next
 * micro-stop and the next operating-time failure. */
static void begin_proc(gb_sim_t *s, uint32_t mi)
{
    sim_mrt_t *r = &s->m[mi];
    const sim_machine_t *m = &s->md->m[mi];
    r->act = ACT_PROC;
    r->work_start = s->now;
    double dt = r->proc_left;
    uint8_t next = NEXT_FINISH;
    if (m->micro && r->micro_left < dt) {
        dt = r->micro_left;
        next = NEXT_MICRO;
    }
    for (uint32_t i = 0; i < m->nfail; i++)
        if (!m->fail[i].calendar && r->f[i].op_left < dt) {
            dt = r->f[i].op_left;
            next = (uint8_t)(NEXT_FAIL + i);
        }
    r->next = next;
    if (dt < 0) dt = 0;
    r->act_end = s->now + dt;
    schedule(s, r->act_end, EV_ACT, mi, 0, r->gen);
    update(s, mi);
}

/* Books the operating time of the stretch of processing that ends now. */
static void end_stretch(gb_sim_t *s, sim_mrt_t *r, const sim_machine_t *m)
{
    double el = s->now - r->work_start;
    r->work_start = s->now; /* booked: a second call (a failure that pauses) adds nothing */
    r->proc_left -= el;
    if (m->micro) r->micro_left -= el;
    for (uint32_t i = 0; i < m->nfail; i++)
        if (!m->fail[i].calendar) r->f[i].op_left -= el;
}

/* Cancels the pending activity event, keeping what is left of the activity for later. */
static void pause_act(gb_sim_t *s, uint32_t mi)
{
    sim_mrt_t *r = &s->m[mi];
    if (r->act == ACT_NONE || r->paused) return;
    if (r->act == ACT_PROC) end_stretch(s, r, &s->md->m[mi]);
    else r->act_left = r->act_end - s->now;
    r->gen++;
    r->paused = true;
}

static void resume(gb_sim_t *s, uint32_t mi)
{
    sim_mrt_t *r = &s->m[mi];
    if (s->planned || r->down) return;
    if (!r->paused) {
        try_start(s, mi);
        return;
    }
    r->paused = false;
    if (r->act == ACT_PROC) {
        begin_proc(s, mi);
    } else {
        r->act_end = s->now + r->act_left;
        schedule(s, r->act_end, EV_ACT, mi, 0, r->gen);
        update(s, mi);
    }
}

static const char *cur_product(const gb_sim_t *s, const sim_mrt_t *r)
{
    return r->last_product == SIM_NONE ? NULL : s->md->prod[r->last_product].name;
}

static void start_part(gb_sim_t *s, uint32_t mi, const sim_part_t *p)
{
    sim_mrt_t *r = &s->m[mi];
    const sim_machine_t *m = &s->md->m[mi];
    r->part = *p;
    r->has_part = true;
    uint32_t np = s->md->nprod;
    if (r->last_product != p->product) {
        uint32_t from = r->last_product;
        r->last_product = p->product;
        r->lot_seq++;
        note(s, GB_SIM_NOTE_JOB, mi, false, 0);
        if (from != SIM_NONE && m->has_setup) {
            const gb_dist_t *d = &m->setup[from * np + p->product];
            double t = gb_dist_sample(d, &r->r_setup);
            if (t > 0) {
                r->act = ACT_SETUP;
                r->act_end = s->now + t;
                schedule(s, r->act_end, EV_ACT, mi, 0, r->gen);
                update(s, mi);
                return;
            }
        }
    }
    r->proc_left = gb_dist_sample(&m->cycle[p->product], &r->r_cycle);
    begin_proc(s, mi);
}

static void unblock(gb_sim_t *s, uint32_t h);

/* Takes the next part for a machine of station STI. */
static bool pull(gb_sim_t *s, uint32_t sti, sim_part_t *out)
{
    sim_buffer_t *b = &s->b[sti];
    const sim_station_t *st = &s->md->st[sti];
    if (b->n) {
        *out = q_pop(b);
        if (b->holders.n) {
            uint32_t h = ring_pop(&b->holders);
            sim_part_t hp = h < s->md->nm ? s->m[h].part : s->s[h - s->md->nm].part;
            q_push(b, &hp);
            unblock(s, h); /* last: it may ripple back into this buffer */
        }
        return true;
    }
    if (b->holders.n) {
        uint32_t h = ring_pop(&b->holders);
        *out = h < s->md->nm ? s->m[h].part : s->s[h - s->md->nm].part;
        unblock(s, h);
        return true;
    }
    if (st->supply == SIM_NONE) return false;
    const sim_source_t *src = &s->md->src[st->supply];
    sim_srt_t *sr = &s->s[st->supply];
    if (sr->left == 0) {
        uint32_t k = 0;
        if (src->np > 1) {
            double u = gb_rng_u01(&sr->r);
            while (k + 1 < src->np && u >= src->cum[k]) k++;
        }
        sr->cur = src->products[k];
        sr->left = s->md->prod[sr->cur].lot;
    }
    sr->left--;
    sr->arrived++;
    *out = (sim_part_t){s->now, sr->cur, 0};
    wip_change(s, s->md->prod[sr->cur].line, +1);
    return true;
}

/* Starts the next part when the machine is free; either way its state is brought up to date. */
static void try_start(gb_sim_t *s, uint32_t mi)
{
    sim_mrt_t *r = &s->m[mi];
    if (!available(s, r)) {
        update(s, mi);
        return;
    }
    sim_part_t p;
    if (pull(s, s->md->m[mi].station, &p)) start_part(s, mi, &p);
    else update(s, mi);
}

/* A free machine of station STI that has waited longest, or SIM_NONE. */
static uint32_t idle_machine(const gb_sim_t *s, uint32_t sti)
{
    const sim_station_t *st = &s->md->st[sti];
    uint32_t best = SIM_NONE;
    for (uint32_t k = 0; k < st->nm; k++) {
        const sim_mrt_t *r = &s->m[st->m[k]];
        if (available(s, r) && (best == SIM_NONE || r->idle_since < s->m[best].idle_since))
            best = st->m[k];
    }
    return best;
}

static bool has_room(const gb_sim_t *s, uint32_t sti)
{
    const sim_buffer_t *b = &s->b[sti];
    return (b->n == 0 && b->holders.n == 0 && idle_machine(s, sti) != SIM_NONE) ||
           (b->holders.n == 0 && b->n < s->md->st[sti].cap);
}

/* Offers part P of holder H to station STI. False: H must hold it and is queued as blocked. */
static bool deposit(gb_sim_t *s, uint32_t h, const sim_part_t *p, uint32_t sti)
{
    sim_buffer_t *b = &s->b[sti];
    if (b->n == 0 && b->holders.n == 0) {
        uint32_t mi = idle_machine(s, sti);
        if (mi != SIM_NONE) {
            start_part(s, mi, p);
            return true;
        }
    }
    if (b->holders.n == 0 && b->n < s->md->st[sti].cap) {
        q_push(b, p);
        return true;
    }
    ring_push(&b->holders, h);
    return false;
}

static void finish_part(gb_sim_t *s, uint32_t mi)
{
    sim_mrt_t *r = &s->m[mi];
    const sim_machine_t *m = &s->md->m[mi];
    r->act = ACT_NONE;
    r->has_part = false;
    sim_part_t p = r->part;
    if (m->scrap > 0 && gb_rng_u01(&r->r_scrap) < m->scrap) {
        r->scrap++;
        note(s, GB_SIM_NOTE_PART, mi, false, 0);
        part_exit(s, &p, false);
    } else {
        r->good++;
        note(s, GB_SIM_NOTE_PART, mi, true, 0);
        const sim_product_t *pr = &s->md->prod[p.product];
        if (++p.step >= pr->nroute) {
            part_exit(s, &p, true);
        } else {
            r->part = p;
            if (!deposit(s, mi, &p, pr->route[p.step])) {
                r->holding = true;
                update(s, mi);
                return;
            }
        }
    }
    try_start(s, mi);
}

static void unblock(gb_sim_t *s, uint32_t h)
{
    uint32_t nm = s->md->nm;
    if (h < nm) {
        s->m[h].holding = false;
        try_start(s, h); /* straight on to the next part: no zero-length state in between */
        return;
    }
    uint32_t j = h - nm;
    sim_srt_t *sr = &s->s[j];
    sr->holding = false;
    sr->part.born = s->now; /* it enters the system now */
    wip_change(s, s->md->prod[sr->part.product].line, +1);
    schedule(s, s->now + gb_dist_sample(&s->md->src[j].inter, &sr->r), EV_ARRIVAL, j, 0, 0);
}

static void request_repair(gb_sim_t *s, uint32_t mi)
{
    sim_mrt_t *r = &s->m[mi];
    if (s->md->crew && s->crew_free == 0) {
        ring_push(&s->crew_q, mi);
        return;
    }
    if (s->md->crew) s->crew_free--;
    const sim_failure_t *f = &s->md->m[mi].fail[r->failing];
    schedule(s, s->now + gb_dist_sample(&f->ttr, &r->f[r->failing].r), EV_REPAIR, mi, 0, 0);
}

static void fail(gb_sim_t *s, uint32_t mi, uint32_t mode)
{
    sim_mrt_t *r = &s->m[mi];
    if (r->down) {
        r->pending |= 1u << mode;
        return;
    }
    pause_act(s, mi);
    r->down = true;
    r->failing = (uint8_t)mode;
    r->failures++;
    r->down_since = s->now;
    update(s, mi);
    note(s, GB_SIM_NOTE_FAILURE, mi, false, mode);
    request_repair(s, mi);
}

static void repaired(gb_sim_t *s, uint32_t mi)
{
    sim_mrt_t *r = &s->m[mi];
    const sim_machine_t *m = &s->md->m[mi];
    if (s->md->crew) {
        if (s->crew_q.n) {
            uint32_t next = ring_pop(&s->crew_q);
            const sim_failure_t *f = &s->md->m[next].fail[s->m[next].failing];
            schedule(s, s->now + gb_dist_sample(&f->ttr, &s->m[next].f[s->m[next].failing].r),
                     EV_REPAIR, next, 0, 0);
        } else {
            s->crew_free++;
        }
    }
    uint32_t k = r->failing;
    double ttf = gb_dist_sample(&m->fail[k].ttf, &r->f[k].r);
    r->f[k].ttf0 = ttf;
    if (m->fail[k].calendar) schedule(s, s->now + ttf, EV_FAILCAL, mi, (uint16_t)k, 0);
    else r->f[k].op_left = ttf;
    r->repair_time += s->now - (r->down_since > s->stats_from ? r->down_since : s->stats_from);
    r->down = false;
    note(s, GB_SIM_NOTE_REPAIRED, mi, false, k);
    if (r->pending) {
        uint32_t j = (uint32_t)__builtin_ctz(r->pending);
        r->pending &= ~(1u << j);
        fail(s, mi, j);
        return;
    }
    resume(s, mi);
    update(s, mi);
}

static void act_end(gb_sim_t *s, uint32_t mi)
{
    sim_mrt_t *r = &s->m[mi];
    const sim_machine_t *m = &s->md->m[mi];
    switch (r->act) {
    case ACT_SETUP:
        r->proc_left = gb_dist_sample(&m->cycle[r->part.product], &r->r_cycle);
        begin_proc(s, mi);
        return;
    case ACT_MICRO:
        begin_proc(s, mi);
        return;
    case ACT_PROC:
        end_stretch(s, r, m);
        if (r->next == NEXT_FINISH) {
            finish_part(s, mi);
        } else if (r->next == NEXT_MICRO) {
            r->micro_left = gb_dist_sample(&m->micro_every, &r->r_micro);
            r->act = ACT_MICRO;
            r->act_end = s->now + gb_dist_sample(&m->micro_len, &r->r_micro);
            schedule(s, r->act_end, EV_ACT, mi, 0, r->gen);
            update(s, mi);
        } else {
            fail(s, mi, r->next - NEXT_FAIL);
        }
        return;
    }
}

/* ---- sources ------------------------------------------------------------------------------ */

static void arrival(gb_sim_t *s, uint32_t j)
{
    const sim_source_t *src = &s->md->src[j];
    sim_srt_t *sr = &s->s[j];
    uint32_t k = 0;
    if (src->np > 1) {
        double u = gb_rng_u01(&sr->r);
        while (k + 1 < src->np && u >= src->cum[k]) k++;
    }
    sim_part_t p = {s->now, src->products[k], 0};
    uint32_t sti = s->md->prod[p.product].route[0];
    sr->arrived++;
    if (src->lose && !has_room(s, sti)) {
        sr->lost++;
        s->l[s->md->prod[p.product].line].lost++;
    } else {
        wip_change(s, s->md->prod[p.product].line, +1);
        sr->part = p;
        if (!deposit(s, s->md->nm + j, &p, sti)) {
            wip_change(s, s->md->prod[p.product].line, -1); /* it waits outside */
            sr->holding = true;
            return; /* the next arrival is drawn when it gets in */
        }
    }
    schedule(s, s->now + gb_dist_sample(&src->inter, &sr->r), EV_ARRIVAL, j, 0, 0);
}

/* ---- the shift calendar ------------------------------------------------------------------- */

#define CAL_WINDOW (7 * 86400.0)

static bool has_calendar(const gb_sim_model_t *md)
{
    return md->calendar && md->plant && md->plant->nshifts > 0;
}

/* Lays out the working time of [from, from + a week) as transitions, merged and clipped. */
static void cal_build(gb_sim_t *s, double from)
{
    double to = from + CAL_WINDOW;
    gb_plan_t plan;
    gb_time_t a = s->t0 + (gb_time_t)(from * 1e9), b = s->t0 + (gb_time_t)(to * 1e9);
    gb_plan_build(s->md->plant, a, b, &plan);
    /* working intervals: each shift minus its breaks, in engine seconds, clipped */
    double *iv = NULL;
    size_t n = 0, alloc = 0;
    for (size_t i = 0; i < plan.nshifts; i++) {
        const gb_shift_instance_t *si = &plan.shifts[i];
        double cur = (double)(si->start - s->t0) / 1e9;
        double end = (double)(si->end - s->t0) / 1e9;
        for (size_t k = 0; k <= si->nbreaks; k++) {
            double stop = end, next = end;
            if (k < si->nbreaks) {
                const gb_break_instance_t *br = &plan.breaks[si->first_break + k];
                stop = (double)(br->start - s->t0) / 1e9;
                next = (double)(br->end - s->t0) / 1e9;
            }
            double x = cur > from ? cur : from, y = stop < to ? stop : to;
            if (y > x) {
                if (n + 2 > alloc) {
                    alloc = alloc ? alloc * 2 : 32;
                    iv = gb_xrealloc(iv, alloc * sizeof *iv);
                }
                if (n && iv[n - 1] >= x) { /* touches the previous one: merge */
                    if (y > iv[n - 1]) iv[n - 1] = y;
                } else {
                    iv[n++] = x;
                    iv[n++] = y;
                }
            }
            cur = next;
        }
    }
    gb_plan_clear(&plan);
    free(s->cal_t);
    free(s->cal_planned);
    s->cal_t = gb_xmalloc((n + 1) * sizeof *s->cal_t);
    s->cal_planned = gb_xmalloc((n + 1) * sizeof *s->cal_planned);
    s->ncal = 0;
    s->ical = 0;
    if (n == 0 || iv[0] > from) { /* planned from the window's start */
        s->cal_t[s->ncal] = from;
        s->cal_planned[s->ncal++] = true;
    }
    for (size_t i = 0; i < n; i++) {
        if (i % 2 == 1 && iv[i] >= to) continue; /* works on into the next window */
        s->cal_t[s->ncal] = iv[i];
        s->cal_planned[s->ncal++] = (i % 2) == 1; /* an interval's end: planned from here */
    }
    free(iv);
    s->cal_window = to;
}

/* Schedules the next calendar transition that changes anything, building windows as needed. A
 * year of windows without a change means the calendar never changes again. */
static void cal_next(gb_sim_t *s)
{
    for (int weeks = 0; weeks < 53; weeks++) {
        while (s->ical < s->ncal) {
            size_t i = s->ical++;
            if (s->cal_planned[i] == s->planned) continue;
            schedule(s, s->cal_t[i], EV_CAL, 0, s->cal_planned[i], 0);
            return;
        }
        cal_build(s, s->cal_window);
    }
}

static void cal_change(gb_sim_t *s, bool planned)
{
    if (planned == s->planned) {
        cal_next(s);
        return;
    }
    s->planned = planned;
    uint32_t nm = s->md->nm;
    if (planned) {
        for (uint32_t i = 0; i < nm; i++) {
            if (!s->m[i].down) pause_act(s, i);
            update(s, i);
        }
    } else {
        /* downstream first, so that the first free places are taken by the line's ends */
        for (uint32_t i = nm; i-- > 0;) {
            resume(s, i);
            update(s, i);
        }
    }
    cal_next(s);
}

/* ---- running ------------------------------------------------------------------------------ */

gb_sim_t *gb_sim_new(const gb_sim_model_t *md, uint64_t seed, uint32_t rep, gb_time_t t0)
{
    gb_sim_t *s = gb_xcalloc(1, sizeof *s);
    s->md = md;
    s->t0 = t0;
    s->m = gb_xcalloc(md->nm ? md->nm : 1, sizeof *s->m);
    s->s = gb_xcalloc(md->nsrc ? md->nsrc : 1, sizeof *s->s);
    s->l = gb_xcalloc(md->nline ? md->nline : 1, sizeof *s->l);
    s->b = gb_xcalloc(md->nst ? md->nst : 1, sizeof *s->b);
    s->crew_free = md->crew;
    size_t nf = 0;
    for (uint32_t i = 0; i < md->nm; i++) nf += md->m[i].nfail;
    s->f = gb_xcalloc(nf ? nf : 1, sizeof *s->f);
    nf = 0;
    for (uint32_t i = 0; i < md->nm; i++) {
        sim_mrt_t *r = &s->m[i];
        const sim_machine_t *m = &md->m[i];
        r->f = s->f + nf;
        nf += m->nfail;
        uint64_t base = (uint64_t)i << 8;
        gb_rng_seed(&r->r_cycle, seed, rep, base | 1);
        gb_rng_seed(&r->r_setup, seed, rep, base | 2);
        gb_rng_seed(&r->r_scrap, seed, rep, base | 3);
        gb_rng_seed(&r->r_micro, seed, rep, base | 4);
        r->last_product = SIM_NONE;
        r->st = GB_SIM_STARVED;
        if (m->micro) r->micro_left = gb_dist_sample(&m->micro_every, &r->r_micro);
        for (uint32_t k = 0; k < m->nfail; k++) {
            gb_rng_seed(&r->f[k].r, seed, rep, base | (16 + k));
            double ttf = gb_dist_sample(&m->fail[k].ttf, &r->f[k].r);
            r->f[k].ttf0 = ttf;
            if (m->fail[k].calendar) schedule(s, ttf, EV_FAILCAL, i, (uint16_t)k, 0);
            else r->f[k].op_left = ttf;
        }
    }
    for (uint32_t j = 0; j < md->nsrc; j++) {
        gb_rng_seed(&s->s[j].r, seed, rep, (1ull << 40) | j);
        if (!md->src[j].unlimited)
            schedule(s, gb_dist_sample(&md->src[j].inter, &s->s[j].r), EV_ARRIVAL, j, 0, 0);
    }
    if (has_calendar(md)) {
        cal_build(s, 0); /* its first transition is at 0 and says how the run starts */
        s->planned = s->cal_planned[0];
        s->ical = 1;
        for (uint32_t i = 0; i < md->nm; i++) s->m[i].st = (uint8_t)derive(s, &s->m[i]);
        cal_next(s);
    }
    for (uint32_t i = md->nm; i-- > 0;) try_start(s, i);
    return s;
}

void gb_sim_free(gb_sim_t *s)
{
    if (!s) return;
    for (uint32_t i = 0; i < s->md->nst; i++) {
        free(s->b[i].q);
        free(s->b[i].holders.v);
    }
    free(s->b);
    free(s->m);
    free(s->f);
    free(s->s);
    free(s->l);
    free(s->heap);
    free(s->ln);
    free(s->cal_t);
    free(s->cal_planned);
    free(s->crew_q.v);
    free(s);
}

void gb_sim_observe(gb_sim_t *s, void (*fn)(void *ctx, const gb_sim_note_t *n), void *ctx)
{
    s->obs = fn;
    s->obs_ctx = ctx;
}

void gb_sim_reset_stats(gb_sim_t *s)
{
    s->stats_from = s->now;
    for (uint32_t i = 0; i < s->md->nm; i++) {
        sim_mrt_t *r = &s->m[i];
        memset(r->acc, 0, sizeof r->acc);
        r->since = s->now;
        r->good = r->scrap = r->failures = 0;
        r->repair_time = 0;
    }
    for (uint32_t j = 0; j < s->md->nsrc; j++) s->s[j].lost = s->s[j].arrived = 0;
    for (uint32_t l = 0; l < s->md->nline; l++) {
        sim_lrt_t *lr = &s->l[l];
        lr->wip_acc = 0;
        lr->wip_since = s->now;
        lr->exits = lr->good = lr->scrap = lr->lost = 0;
        lr->sojourn = 0;
    }
}

void gb_sim_run(gb_sim_t *s, double until)
{
    while (s->hn && (s->listcal ? s->ln[s->lhead].e.t : s->heap[0].t) <= until) {
        sim_event_t e = take(s);
        s->now = e.t;
        s->events++;
        switch (e.kind) {
        case EV_ACT:
            if (e.gen == s->m[e.ent].gen) act_end(s, e.ent);
            break;
        case EV_REPAIR: repaired(s, e.ent); break;
        case EV_FAILCAL: fail(s, e.ent, e.aux); break;
        case EV_ARRIVAL: arrival(s, e.ent); break;
        case EV_CAL: cal_change(s, e.aux != 0); break;
        }
        release(s);
    }
    if (until > s->now) s->now = until;
}

void gb_sim_use_list_calendar(gb_sim_t *s)
{
    if (s->listcal) return;
    size_t n = s->hn;
    sim_event_t *all = gb_xmalloc((n ? n : 1) * sizeof *all);
    for (size_t i = 0; i < n; i++) {
        all[i] = take(s);
        release(s);
    }
    s->listcal = true;
    s->lhead = s->lfree = SIM_NONE;
    for (size_t i = 0; i < n; i++) list_insert(s, &all[i]);
    free(all);
}

uint64_t gb_sim_events(const gb_sim_t *s)
{
    return s->events;
}

uint32_t gb_sim_machine_count(const gb_sim_t *s)
{
    return s->md->nm;
}

void gb_sim_machine_view(const gb_sim_t *s, uint32_t i, gb_sim_machine_view_t *out)
{
    const sim_mrt_t *r = &s->m[i];
    const sim_machine_t *m = &s->md->m[i];
    memset(out, 0, sizeof *out);
    out->name = m->name;
    out->plant = m->plant;
    out->state = (gb_sim_state_t)r->st;
    out->product = cur_product(s, r);
    out->program = r->last_product == SIM_NONE ? NULL : s->md->prod[r->last_product].program;
    out->lot = r->lot_seq;
    if (r->down) {
        const sim_failure_t *f = &m->fail[r->failing];
        out->alarm = f->alarm ? f->alarm : f->name;
    }
    out->good = r->good;
    out->scrap = r->scrap;
    out->ideal_cycle = m->ideal_cycle;
    for (uint32_t k = 0; k < m->nfail; k++)
        if (!m->fail[k].calendar && r->f[k].ttf0 > 0) {
            double left = r->f[k].op_left;
            if (r->act == ACT_PROC && !r->paused) left -= s->now - r->work_start;
            double w = 1 - left / r->f[k].ttf0;
            out->wear = w < 0 ? 0 : w > 1 ? 1 : w;
            break;
        }
}
