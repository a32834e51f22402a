/*
 * Time accounting for one machine over a window, and the ratios of ISO 22400-2. Every instant of
 * the window inside planned operation time (a shift) lands in exactly one element:
 *
 *   in a break, or in a stop classified as planned, or in state planned_stop  -> PDOT
 *   running, or in a micro-stop (shorter than micro_stop)                    -> APT
 *   setup                                                                    -> AUST
 *   down or disconnected, at least micro_stop long, not planned              -> ADET
 *   idle, at least micro_stop long, not planned                              -> ADOT
 *
 * so POT = PDOT + APT + AUST + ADET + ADOT and PBT = POT - PDOT, exactly, by construction. Parts
 * count where they were made: inside planned operation time (breaks included) or outside it.
 */
#include "gemba/oee.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

static double secs(gb_time_t ns)
{
    return (double)ns / 1e9;
}

static bool in_filter(const gb_shift_instance_t *si, const gb_oee_filter_t *f)
{
    if (!f) return true;
    if (f->shift && (f->shift->start != si->start || f->shift->shift != si->shift)) return false;
    if (f->day && si->day != f->day) return false;
    return true;
}

/* The shift instance containing T and passing the filter, or NULL. */
static const gb_shift_instance_t *shift_at(const gb_plan_t *plan, gb_time_t t,
                                           const gb_oee_filter_t *f)
{
    size_t lo = 0, hi = plan->nshifts;
    while (lo < hi) { /* first instance ending after t */
        size_t mid = (lo + hi) / 2;
        if (plan->shifts[mid].end <= t) lo = mid + 1;
        else hi = mid;
    }
    if (lo < plan->nshifts && plan->shifts[lo].start <= t && in_filter(&plan->shifts[lo], f))
        return &plan->shifts[lo];
    return NULL;
}

static bool is_stop(uint8_t s)
{
    return s == GB_STATE_IDLE || s == GB_STATE_DOWN || s == GB_STATE_DISCONNECTED;
}

/* Adds [A, B) of state ST (with stop S when it is a stop) to K, inside planned operation time. */
static void account(gb_oee_t *k, const gb_plant_t *p, gb_time_t a, gb_time_t b, uint8_t st,
                    const gb_stop_t *s)
{
    double d = secs(b - a);
    if (st == GB_STATE_RUNNING) {
        k->apt += d;
    } else if (st == GB_STATE_SETUP) {
        k->aust += d;
    } else if (st == GB_STATE_PLANNED_STOP) {
        k->pdot += d;
    } else if (s && s->micro) {
        k->apt += d;
        k->micro += d;
    } else if (s && s->reason >= 0 && p->reasons[s->reason].planned) {
        k->pdot += d;
    } else if (st == GB_STATE_IDLE) {
        k->adot += d;
    } else {
        k->adet += d;
        if (st == GB_STATE_DOWN) k->adet_down += d;
        else k->adet_disconnected += d;
    }
}

/* Accounts [A, B) in state ST (stop S or none) against the plan's shifts and breaks. */
static void piece(gb_oee_t *k, const gb_plant_t *p, const gb_plan_t *plan,
                  const gb_oee_filter_t *filter, gb_time_t a, gb_time_t b, uint8_t st,
                  const gb_stop_t *s)
{
    size_t lo = 0, hi = plan->nshifts; /* the first instance that ends after a */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (plan->shifts[mid].end <= a) lo = mid + 1;
        else hi = mid;
    }
    gb_time_t covered = 0;
    for (size_t j = lo; j < plan->nshifts && plan->shifts[j].start < b; j++) {
        const gb_shift_instance_t *si = &plan->shifts[j];
        gb_time_t x = si->start > a ? si->start : a, y = si->end < b ? si->end : b;
        if (y <= x) continue;
        covered += y - x;
        if (!in_filter(si, filter)) continue;
        k->pot += secs(y - x);
        gb_time_t cursor = x;
        for (size_t q = si->first_break; q < si->first_break + si->nbreaks; q++) {
            const gb_break_instance_t *br = &plan->breaks[q];
            gb_time_t bx = br->start > x ? br->start : x, by = br->end < y ? br->end : y;
            if (by <= bx) continue;
            if (bx > cursor) account(k, p, cursor, bx, st, s);
            k->pdot += secs(by - bx);
            cursor = by;
        }
        if (y > cursor) account(k, p, cursor, y, st, s);
    }
    /* running outside every shift is reported beside the ratios */
    if (!filter && st == GB_STATE_RUNNING) k->outside_run += secs((b - a) - covered);
}

void gb_mengine_oee(gb_mengine_t *e, const gb_plan_t *plan, gb_time_t from, gb_time_t to,
                    const gb_oee_filter_t *filter, gb_oee_t *acc)
{
    /* a filter narrows the window to the shifts it keeps, so per-shift reports stay linear */
    if (filter && filter->shift) {
        if (filter->shift->start > from) from = filter->shift->start;
        if (filter->shift->end < to) to = filter->shift->end;
    } else if (filter && filter->day) {
        /* instances are sorted by start, and so by the day they start on */
        size_t lo = 0, hi = plan->nshifts;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (plan->shifts[mid].day < filter->day) lo = mid + 1;
            else hi = mid;
        }
        gb_time_t a = INT64_MAX, b = INT64_MIN;
        for (size_t j = lo; j < plan->nshifts && plan->shifts[j].day == filter->day; j++) {
            if (plan->shifts[j].start < a) a = plan->shifts[j].start;
            if (plan->shifts[j].end > b) b = plan->shifts[j].end;
        }
        if (a > from) from = a;
        if (b < to) to = b;
    }
    if (to <= from) return;
    const gb_machine_t *m = gb_mengine_machine(e);
    const gb_plant_t *p = gb_mengine_plant(e);
    const gb_stop_t *stops;
    size_t nstops = gb_mengine_stops(e, to, &stops);
    const gb_seg_t *seg;
    size_t nseg = gb_mengine_timeline(e, to, &seg);
    gb_oee_t k;
    memset(&k, 0, sizeof k);
    k.ideal_known = true;
    size_t si_stop = 0, first = 0;
    {   /* the first segment that reaches into the window */
        size_t lo = 0, hi = nseg;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (seg[mid].end <= from) lo = mid + 1;
            else hi = mid;
        }
        first = lo;
    }
    /* window time before the engine's history is time without data: a gap with no stop */
    gb_seg_t gap = {from, nseg ? seg[0].start : to, GB_STATE_DISCONNECTED, GB_RULE_NODATA};
    for (size_t i = first - (gap.end > from ? 1 : 0); i != nseg; i++) {
        const gb_seg_t *cur = i == (size_t)-1 ? &gap : &seg[i];
        if (cur->start >= to) break;
        gb_time_t a = cur->start > from ? cur->start : from;
        gb_time_t b = cur->end < to ? cur->end : to;
        if (b <= a) continue;
        if (cur == &gap || !is_stop(cur->state)) {
            piece(&k, p, plan, filter, a, b, cur->state, NULL);
            continue;
        }
        /* a stop-state segment may belong to two stops when a person split one */
        while (si_stop < nstops && stops[si_stop].end <= a) si_stop++;
        gb_time_t x = a;
        for (size_t j = si_stop; j < nstops && stops[j].start < b && x < b; j++) {
            gb_time_t sa = stops[j].start > x ? stops[j].start : x;
            gb_time_t sb = stops[j].end < b ? stops[j].end : b;
            if (sa > x) piece(&k, p, plan, filter, x, sa, cur->state, NULL);
            if (sb > sa) piece(&k, p, plan, filter, sa, sb, cur->state, &stops[j]);
            x = sb > x ? sb : x;
        }
        if (x < b) piece(&k, p, plan, filter, x, b, cur->state, NULL);
    }
    /* stops that started inside the counted planned time */
    size_t i0 = 0;
    for (size_t hi = nstops; i0 < hi;) { /* the first stop starting at or after from */
        size_t mid = (i0 + hi) / 2;
        if (stops[mid].start < from) i0 = mid + 1;
        else hi = mid;
    }
    for (size_t i = i0; i < nstops && stops[i].start < to; i++) {
        const gb_stop_t *s = &stops[i];
        if (!shift_at(plan, s->start, filter)) continue;
        if (s->micro) {
            k.micro_stops++;
            continue;
        }
        if (s->reason >= 0 && p->reasons[s->reason].planned) continue;
        k.stops++;
        if (s->state == GB_STATE_DOWN) k.failures++;
    }
    k.ttr = k.adet_down;
    /* quantities: from the counters the plant file names, then operator scrap */
    bool has_total = m->count_total != NULL, has_good = m->count_good != NULL,
         has_scrap = m->count_scrap != NULL;
    const gb_part_t *parts;
    size_t nparts = gb_mengine_parts(e, &parts);
    int64_t total = 0, good = 0, scrap = 0;
    double ideal = 0;
    size_t p0 = 0;
    for (size_t hi = nparts; p0 < hi;) { /* parts are in time order */
        size_t mid = (p0 + hi) / 2;
        if (parts[mid].t < from) p0 = mid + 1;
        else hi = mid;
    }
    for (size_t i = p0; i < nparts && parts[i].t < to; i++) {
        const gb_part_t *pt = &parts[i];
        int64_t produced = has_total ? pt->total : pt->good + pt->scrap;
        if (!shift_at(plan, pt->t, filter)) {
            if (!filter) k.pq_outside += produced;
            continue;
        }
        total += pt->total;
        good += pt->good;
        scrap += pt->scrap;
        if (produced) {
            if (pt->ideal_ns > 0) ideal += secs(pt->ideal_ns) * (double)produced;
            else k.ideal_known = false;
        }
    }
    int64_t pq = has_total ? total : good + scrap;
    int64_t sq = has_scrap ? scrap : (has_total && has_good ? total - good : 0);
    const gb_scrap_entry_t *sc;
    size_t nsc = gb_mengine_scraps(e, &sc);
    for (size_t i = 0; i < nsc; i++)
        if (sc[i].t >= from && sc[i].t < to && shift_at(plan, sc[i].t, filter)) sq += sc[i].n;
    if (sq > pq) sq = pq; /* more scrap entered than parts made: clamp, the rest is not ours */
    if (sq < 0) sq = 0;
    k.pq = pq;
    k.sq = sq;
    k.gq = pq - sq;
    k.ideal = ideal;
    k.ideal_scrap = pq ? ideal * (double)sq / (double)pq : 0;
    if (pq == 0) k.ideal_known = true; /* nothing made: nothing unknown */
    k.pbt = k.pot - k.pdot;

    /* add into the accumulator: times and counts only; ratios come in gb_oee_finish */
    acc->pot += k.pot;
    acc->pdot += k.pdot;
    acc->pbt += k.pbt;
    acc->apt += k.apt;
    acc->aust += k.aust;
    acc->adet += k.adet;
    acc->adot += k.adot;
    acc->adet_down += k.adet_down;
    acc->adet_disconnected += k.adet_disconnected;
    acc->micro += k.micro;
    acc->ideal += k.ideal;
    acc->ideal_scrap += k.ideal_scrap;
    acc->ttr += k.ttr;
    acc->outside_run += k.outside_run;
    acc->pq += k.pq;
    acc->gq += k.gq;
    acc->sq += k.sq;
    acc->pq_outside += k.pq_outside;
    acc->stops += k.stops;
    acc->failures += k.failures;
    acc->micro_stops += k.micro_stops;
    if (!k.ideal_known) acc->ideal_known = false;
}

static double ratio(double a, double b)
{
    return b > 0 ? a / b : NAN;
}

void gb_oee_finish(gb_oee_t *k)
{
    k->pbt = k->pot - k->pdot;
    k->aupt = k->apt + k->aust;
    k->aubt = k->aupt + k->adet;
    k->availability = ratio(k->apt, k->pbt);
    k->effectiveness = k->ideal_known ? ratio(k->ideal, k->apt) : NAN;
    k->quality = ratio((double)k->gq, (double)k->pq);
    k->oee = k->availability * k->effectiveness * k->quality;
    k->nee = ratio(k->aupt, k->pbt) * k->effectiveness * k->quality;
    k->setup_ratio = ratio(k->aust, k->aupt);
    k->scrap_ratio = ratio((double)k->sq, (double)k->pq);
    k->allocation = ratio(k->aubt, k->pbt);
    k->utilisation = ratio(k->apt, k->aubt);
    k->technical = ratio(k->apt, k->apt + k->adet);
    k->mtbf = k->failures ? k->aupt / (double)k->failures : NAN;
    k->mttr = k->failures ? k->ttr / (double)k->failures : NAN;
    k->loss_breakdowns = k->adet + k->adot;
    k->loss_setup = k->aust;
    k->loss_small_stops = k->micro;
    k->loss_reduced_speed = k->ideal_known ? k->apt - k->micro - k->ideal : NAN;
    k->loss_rejects = k->ideal_known ? k->ideal_scrap : NAN;
}
