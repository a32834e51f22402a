/*
 * GET /api/v1/health: is the daemon well, and if not, what is wrong. Status is "ok" when every
 * adapter is connected and no consumer is failing or dropping; "degraded" otherwise, with the
 * reasons listed, so a monitoring system can alert on the field and a person can read why.
 */
#include "gemba/api.h"
#include "gemba/time.h"

#include <string.h>

static json_t *counters(const gb_bus_stats_t *t)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I}", "published", (json_int_t)t->published,
                     "filtered", (json_int_t)t->filtered, "rejected", (json_int_t)t->rejected,
                     "invalid", (json_int_t)t->invalid, "late", (json_int_t)t->late);
}

json_t *gb_api_health(const gb_api_source_t *src)
{
    json_t *problems = json_array();
    json_t *adapters = json_array();
    for (size_t i = 0; i < src->nadapters; i++) {
        gb_adapter_t *a = &src->adapters[i];
        gb_adapter_status_t st = {0};
        if (a->cls->status) a->cls->status(a->state, &st);
        json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I}", "name", a->cfg->name, "type",
                              a->cfg->type, "state", gb_conn_state_name(st.state), "tags",
                              (json_int_t)a->nbindings, "samples", (json_int_t)st.samples,
                              "malformed", (json_int_t)st.malformed, "pushback",
                              (json_int_t)st.pushback);
        if (st.last_error[0]) {
            char ts[40];
            gb_time_format_ms(st.last_error_time, ts, sizeof ts);
            json_object_set_new(o, "last_error", json_string(st.last_error));
            json_object_set_new(o, "last_error_time", json_string(ts));
        } else {
            json_object_set_new(o, "last_error", json_null());
        }
        json_object_set_new(o, "connects", json_integer((json_int_t)st.connects));
        json_object_set_new(o, "duplicates", json_integer((json_int_t)st.duplicates));
        json_object_set_new(o, "exceptions", json_integer((json_int_t)st.exceptions));
        json_object_set_new(o, "resyncs", json_integer((json_int_t)st.resyncs));
        json_object_set_new(o, "clock_offset_ms", st.has_clock_offset
                                                      ? json_real((double)st.clock_offset_ns / 1e6)
                                                      : json_null());
        if (st.state != GB_CONN_CONNECTED)
            json_array_append_new(problems, json_sprintf("adapter %s is %s", a->cfg->name,
                                                         gb_conn_state_name(st.state)));
        json_array_append_new(adapters, o);
    }
    gb_bus_stats_t tot;
    gb_consumer_stats_t cs[16];
    size_t nc = gb_bus_stats(src->bus, &tot, cs, 16);
    json_t *cons = json_array();
    for (size_t i = 0; i < nc && i < 16; i++) {
        json_array_append_new(
            cons, json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "name",
                            cs[i].name, "policy", cs[i].policy == GB_BUS_BLOCK ? "block" : "drop",
                            "capacity", (json_int_t)cs[i].capacity, "queued",
                            (json_int_t)cs[i].queued, "queued_max", (json_int_t)cs[i].queued_max,
                            "delivered", (json_int_t)cs[i].delivered, "dropped",
                            (json_int_t)cs[i].dropped, "late", (json_int_t)cs[i].late, "errors",
                            (json_int_t)cs[i].errors, "blocked", (json_int_t)cs[i].blocked));
        if (cs[i].dropped)
            json_array_append_new(problems, json_sprintf("consumer %s dropped %llu samples",
                                                         cs[i].name,
                                                         (unsigned long long)cs[i].dropped));
        if (cs[i].errors)
            json_array_append_new(problems, json_sprintf("consumer %s had %llu failed deliveries",
                                                         cs[i].name,
                                                         (unsigned long long)cs[i].errors));
    }
    json_t *bus = counters(&tot);
    json_object_set_new(bus, "consumers", cons);
    char started[40];
    gb_time_format(src->started, started, sizeof started); /* exact: usable as a `from` */
    size_t ntags = 0; /* the plant's signals; the registry also holds gemba's derived results */
    for (size_t i = 0; i < src->plant->nmachines; i++) ntags += src->plant->machines[i].ntags;
    json_t *doc = json_pack(
        "{s:s, s:s, s:s, s:f, s:{s:s, s:i, s:i}, s:o, s:o, s:o}", "status",
        json_array_size(problems) ? "degraded" : "ok", "version", GB_VERSION, "started", started,
        "uptime_s", (double)(gb_mono_ns() - src->started_mono) / 1e9, "plant", "site",
        src->plant->site, "machines", (int)src->plant->nmachines, "tags", (int)ntags, "adapters",
        adapters, "bus", bus, "problems", problems);
    json_object_set_new(json_object_get(doc, "plant"), "demo", json_boolean(src->demo));
    if (src->oee) {
        uint64_t fed, late, too_late;
        gb_oee_live_counters(src->oee, &fed, &late, &too_late);
        json_object_set_new(
            doc, "oee",
            json_pack("{s:I, s:I, s:I, s:I, s:I}", "samples", (json_int_t)fed, "late",
                      (json_int_t)late, "too_late", (json_int_t)too_late, "rebuilds",
                      (json_int_t)gb_oee_live_rebuilds(src->oee), "history",
                      (json_int_t)gb_oee_live_history_size(src->oee)));
    }
    return doc;
}
