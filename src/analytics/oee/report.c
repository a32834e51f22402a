/* OEE results in the shapes people and programs read: JSON objects and CSV rows. */
#include "gemba/oee_report.h"

#include <math.h>
#include <string.h>

static json_t *num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

json_t *gb_oee_json(const gb_oee_t *k)
{
    json_t *o = json_object();
    json_object_set_new(o, "availability", num(k->availability));
    json_object_set_new(o, "effectiveness", num(k->effectiveness));
    json_object_set_new(o, "quality_ratio", num(k->quality));
    json_object_set_new(o, "oee", num(k->oee));
    json_object_set_new(o, "nee", num(k->nee));
    json_object_set_new(o, "setup_ratio", num(k->setup_ratio));
    json_object_set_new(o, "scrap_ratio", num(k->scrap_ratio));
    json_object_set_new(o, "allocation_efficiency", num(k->allocation));
    json_object_set_new(o, "utilisation_efficiency", num(k->utilisation));
    json_object_set_new(o, "technical_efficiency", num(k->technical));
    json_object_set_new(o, "mtbf_s", num(k->mtbf));
    json_object_set_new(o, "mttr_s", num(k->mttr));
    json_t *t = json_object();
    json_object_set_new(t, "pot", json_real(k->pot));
    json_object_set_new(t, "pdot", json_real(k->pdot));
    json_object_set_new(t, "pbt", json_real(k->pbt));
    json_object_set_new(t, "apt", json_real(k->apt));
    json_object_set_new(t, "aust", json_real(k->aust));
    json_object_set_new(t, "adet", json_real(k->adet));
    json_object_set_new(t, "adot", json_real(k->adot));
    json_object_set_new(t, "aupt", json_real(k->aupt));
    json_object_set_new(t, "aubt", json_real(k->aubt));
    json_object_set_new(t, "micro_stops", json_real(k->micro));
    json_object_set_new(t, "down", json_real(k->adet_down));
    json_object_set_new(t, "disconnected", json_real(k->adet_disconnected));
    json_object_set_new(t, "ideal", json_real(k->ideal));
    json_object_set_new(t, "running_outside_plan", json_real(k->outside_run));
    json_object_set_new(o, "times_s", t);
    json_object_set_new(o, "counts",
                        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "produced",
                                  (json_int_t)k->pq, "good", (json_int_t)k->gq, "scrap",
                                  (json_int_t)k->sq, "produced_outside_plan",
                                  (json_int_t)k->pq_outside, "stops", (json_int_t)k->stops,
                                  "failures", (json_int_t)k->failures, "micro_stops",
                                  (json_int_t)k->micro_stops));
    json_t *nk = json_object();
    json_object_set_new(nk, "availability", num(k->availability));
    json_object_set_new(nk, "performance", num(k->effectiveness));
    json_object_set_new(nk, "quality", num(k->quality));
    json_object_set_new(nk, "oee", num(k->oee));
    json_t *l = json_object();
    json_object_set_new(l, "breakdowns", num(k->loss_breakdowns));
    json_object_set_new(l, "setup_and_adjustments", num(k->loss_setup));
    json_object_set_new(l, "small_stops", num(k->loss_small_stops));
    json_object_set_new(l, "reduced_speed", num(k->loss_reduced_speed));
    json_object_set_new(l, "rejects", num(k->loss_rejects));
    json_object_set_new(l, "fully_productive",
                        num(k->ideal_known ? k->ideal - k->ideal_scrap : NAN));
    json_object_set_new(nk, "losses_s", l);
    json_object_set_new(o, "nakajima", nk);
    return o;
}

static const char *const columns =
    "availability,effectiveness,quality_ratio,oee,nee,setup_ratio,scrap_ratio,"
    "allocation_efficiency,utilisation_efficiency,technical_efficiency,mtbf_s,mttr_s,"
    "pot_s,pdot_s,pbt_s,apt_s,aust_s,adet_s,adot_s,micro_stop_s,ideal_s,"
    "produced,good,scrap,stops,failures,micro_stops,"
    "loss_breakdowns_s,loss_setup_s,loss_small_stops_s,loss_reduced_speed_s,loss_rejects_s";

void gb_oee_csv_header(FILE *out, const char *key_name)
{
    fprintf(out, "%s,%s\n", key_name, columns);
}

static void cell(FILE *out, double v)
{
    if (isfinite(v)) fprintf(out, ",%.17g", v);
    else fputs(",", out);
}

void gb_oee_csv_row(FILE *out, const char *key, const gb_oee_t *k)
{
    if (strpbrk(key, ",\"\n")) {
        fputc('"', out);
        for (const char *p = key; *p; p++) {
            if (*p == '"') fputc('"', out);
            fputc(*p, out);
        }
        fputc('"', out);
    } else {
        fputs(key, out);
    }
    double v[] = {k->availability, k->effectiveness, k->quality, k->oee, k->nee, k->setup_ratio,
                  k->scrap_ratio, k->allocation, k->utilisation, k->technical, k->mtbf, k->mttr,
                  k->pot, k->pdot, k->pbt, k->apt, k->aust, k->adet, k->adot, k->micro, k->ideal};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) cell(out, v[i]);
    fprintf(out, ",%lld,%lld,%lld,%lld,%lld,%lld", (long long)k->pq, (long long)k->gq,
            (long long)k->sq, (long long)k->stops, (long long)k->failures,
            (long long)k->micro_stops);
    double l[] = {k->loss_breakdowns, k->loss_setup, k->loss_small_stops, k->loss_reduced_speed,
                  k->loss_rejects};
    for (size_t i = 0; i < 5; i++) cell(out, l[i]);
    fputc('\n', out);
}

double gb_plan_busy_overlap(const gb_plan_t *plan, gb_time_t a, gb_time_t b)
{
    gb_time_t total = 0;
    for (size_t j = 0; j < plan->nshifts; j++) {
        const gb_shift_instance_t *si = &plan->shifts[j];
        gb_time_t x = si->start > a ? si->start : a, y = si->end < b ? si->end : b;
        if (y <= x) continue;
        total += y - x;
        for (size_t q = si->first_break; q < si->first_break + si->nbreaks; q++) {
            gb_time_t bx = plan->breaks[q].start > x ? plan->breaks[q].start : x;
            gb_time_t by = plan->breaks[q].end < y ? plan->breaks[q].end : y;
            if (by > bx) total -= by - bx;
        }
    }
    return (double)total / 1e9;
}
