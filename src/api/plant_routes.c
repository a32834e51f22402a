/*
 * The plant's routes: tags and their latest values, machines, timelines, stops, OEE, and the
 * changes people make -- a stop's reason, a split, scrap (operators and up), and a value written
 * back to a machine (engineers and up). Every change is audited with its before and after.
 */
#include "api/server.h"
#include "gemba/calendar.h"
#include "gemba/error.h"
#include "gemba/log.h"
#include "gemba/time.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 80 /* a machine's name in a URL */

static json_t *value_json(const gb_latest_value_t *v)
{
    switch (v->type) {
    case GB_VT_F64: return json_real(v->f64);
    case GB_VT_I64: return json_integer(v->i64);
    case GB_VT_BOOL: return json_boolean(v->b);
    case GB_VT_STR: return json_string(v->str);
    }
    return json_null();
}

enum MHD_Result gb_api_tags(gb_req_t *r)
{
    static const char *const quality[] = {"good", "uncertain", "bad"};
    const gb_api_source_t *src = &r->api->src;
    /* whole, as the dashboard reads it; or paged (limit, cursor = the next tag's id), as an
     * integration with a hundred thousand tags would */
    size_t limit = SIZE_MAX;
    uint32_t from = 0, n = gb_tags_count(src->tags);
    bool paged = gb_req_arg(r, "limit") || gb_req_arg(r, "cursor");
    if (paged) {
        const char *cursor;
        enum MHD_Result ret;
        if (!gb_req_page(r, &limit, &cursor, &ret)) return ret;
        if (cursor) {
            char *end;
            unsigned long v = strtoul(cursor, &end, 10);
            if (*end || end == cursor || v > n)
                return gb_problem(r, MHD_HTTP_BAD_REQUEST,
                                  "'cursor' is the 'next' of a previous page");
            from = (uint32_t)v;
        }
    }
    json_t *arr = json_array();
    uint32_t i = from;
    for (; i < n && (size_t)(i - from) < limit; i++) {
        const gb_tag_t *t = gb_tags_get(src->tags, i);
        const gb_asset_t *m = gb_tags_asset(src->tags, t->machine);
        json_t *o = json_pack("{s:i, s:s, s:s, s:s, s:s}", "id", (int)t->id, "path", t->path,
                              "machine", m->name, "name", t->name, "type",
                              gb_vtype_name(t->type));
        if (t->unit) json_object_set_new(o, "unit", json_string(t->unit));
        gb_latest_value_t v;
        if (src->latest && gb_latest_get(src->latest, i, &v) == 0 && v.has) {
            json_object_set_new(o, "time", gb_json_time(v.t)); /* exact: usable as a query bound */
            json_object_set_new(o, "value", value_json(&v));
            json_object_set_new(o, "quality", json_string(quality[v.quality % 3]));
        } else {
            json_object_set_new(o, "value", json_null());
        }
        json_array_append_new(arr, o);
    }
    char next[16];
    snprintf(next, sizeof next, "%u", i);
    return gb_reply_json(r, MHD_HTTP_OK,
                         json_pack("{s:o, s:o}", "tags", arr, "next",
                                   paged && i < n ? gb_req_next(r, limit, next) : json_null()));
}

/* --- reading machines and OEE --------------------------------------------------------------- */

static enum MHD_Result no_oee(gb_req_t *r)
{
    return gb_problem(r, MHD_HTTP_NOT_FOUND, "no resource at %.200s: this daemon computes no OEE",
                      r->url);
}

static bool query_time(gb_req_t *r, const char *key, gb_time_t dflt, gb_time_t *out,
                       enum MHD_Result *ret)
{
    const char *v = gb_req_arg(r, key);
    *out = dflt;
    if (!v || gb_time_parse_rfc3339(v, strlen(v), out) == 0) return true;
    *ret = gb_problem(r, MHD_HTTP_BAD_REQUEST,
                      "'%s' takes an RFC 3339 time such as 2026-11-23T06:00:00Z, not '%.60s'", key, v);
    return false;
}

/* The window of a read: from and to, by default today (local midnight, or the start of the
 * history if later) to now. */
static bool window(gb_req_t *r, gb_time_t *from, gb_time_t *to, enum MHD_Result *ret)
{
    gb_oee_live_t *l = r->api->src.oee;
    gb_time_t now = gb_now();
    gb_time_t midnight = gb_tz_local_to_utc(gb_tz_local_date(now, NULL), 0);
    gb_time_t hist = gb_oee_live_history_start(l);
    if (!query_time(r, "from", midnight > hist ? midnight : hist, from, ret) ||
        !query_time(r, "to", now, to, ret))
        return false;
    if (*to <= *from) {
        *ret = gb_problem(r, MHD_HTTP_BAD_REQUEST, "'to' must be after 'from'");
        return false;
    }
    return true;
}

enum MHD_Result gb_api_machines(gb_req_t *r)
{
    if (!r->api->src.oee) return no_oee(r);
    /* every board in a hall asks for this many times a second: requests within 200 ms share
     * one computation (its "time" says when) */
    size_t len;
    char *txt = gb_oee_live_machines_text(r->api->src.oee, 200 * GB_NS_PER_MS, &len);
    if (!txt) return gb_problem(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "the view could not be built");
    return gb_reply(r, MHD_HTTP_OK, "application/json", txt, len, MHD_RESPMEM_MUST_FREE);
}

enum MHD_Result gb_api_jobs(gb_req_t *r)
{
    if (!r->api->src.oee) return no_oee(r);
    size_t limit;
    const char *cursor;
    enum MHD_Result ret;
    if (!gb_req_page(r, &limit, &cursor, &ret)) return ret;
    /* the cursor is the index of the next job: the table only grows, so pages stay put */
    size_t from = 0;
    if (cursor) {
        char *end;
        unsigned long long v = strtoull(cursor, &end, 10);
        if (*end || end == cursor)
            return gb_problem(r, MHD_HTTP_BAD_REQUEST, "'cursor' is the 'next' of a previous page");
        from = (size_t)v;
    }
    json_t *all = gb_oee_live_jobs(r->api->src.oee, gb_now()), *page = json_array();
    size_t n = json_array_size(all);
    for (size_t i = from; i < n && i < from + limit; i++)
        json_array_append(page, json_array_get(all, i));
    json_decref(all);
    char next[32];
    snprintf(next, sizeof next, "%zu", from + limit);
    return gb_reply_json(r, MHD_HTTP_OK,
                         json_pack("{s:o, s:o}", "jobs", page,
                                   "next", gb_req_next(r, limit, from + limit < n ? next : NULL)));
}

enum MHD_Result gb_api_oee(gb_req_t *r)
{
    if (!r->api->src.oee) return no_oee(r);
    gb_time_t from, to;
    enum MHD_Result ret;
    if (!window(r, &from, &to, &ret)) return ret;
    const char *by_s = gb_req_arg(r, "by"), *asset = gb_req_arg(r, "asset");
    gb_oee_by_t by = GB_BY_MACHINE;
    if (by_s && gb_oee_by_parse(by_s, &by) != 0)
        return gb_problem(r, MHD_HTTP_BAD_REQUEST,
                          "'by' is machine, shift, day, week, reason, job, product or operator");
    json_t *doc = gb_oee_live_report(r->api->src.oee, from, to, by, asset);
    if (!doc) return gb_problem(r, MHD_HTTP_NOT_FOUND, "no machine under '%.100s'", asset);
    return gb_reply_json(r, MHD_HTTP_OK, doc);
}

typedef json_t *(*machine_read_fn)(gb_oee_live_t *l, const char *name, gb_time_t from, gb_time_t to);

static enum MHD_Result machine_read(gb_req_t *r, machine_read_fn read)
{
    if (!r->api->src.oee) return no_oee(r);
    char name[NAME_MAX_LEN];
    gb_time_t from, to;
    enum MHD_Result ret;
    if (!gb_req_param(r, "machine", name, sizeof name))
        return gb_problem(r, MHD_HTTP_NOT_FOUND, "no machine with so long a name");
    if (!window(r, &from, &to, &ret)) return ret;
    json_t *doc = read(r->api->src.oee, name, from, to);
    if (!doc) return gb_problem(r, MHD_HTTP_NOT_FOUND, "no machine named '%.60s'", name);
    return gb_reply_json(r, MHD_HTTP_OK, doc);
}

enum MHD_Result gb_api_timeline(gb_req_t *r) { return machine_read(r, gb_oee_live_timeline); }
enum MHD_Result gb_api_stops(gb_req_t *r) { return machine_read(r, gb_oee_live_stops); }

/* --- people's changes: reasons, splits, scrap ----------------------------------------------- */

/* What a change did, for the answer and the audit log. */
typedef struct change {
    const char *action;
    char target[200], before[400], after[400];
} change_t;

/* The common end of a change: map the engine's answer to HTTP, audit what was done. */
static enum MHD_Result change_done(gb_req_t *r, int rc, const char *machine, bool stop,
                                   const change_t *ch)
{
    if (rc == GB_ENOENT) return gb_problem(r, MHD_HTTP_NOT_FOUND, "no machine named '%.60s'", machine);
    if (rc == GB_ERANGE)
        return gb_problem(r, MHD_HTTP_UNPROCESSABLE_CONTENT, "%s",
                          stop ? "no stop of this machine starts at that time, or the split time "
                                 "is not inside it"
                               : "the time is outside the machine's history");
    if (rc == GB_EINVAL) return gb_problem(r, MHD_HTTP_BAD_REQUEST, "count must be at least 1");
    if (rc)
        return gb_problem(r, MHD_HTTP_INTERNAL_SERVER_ERROR,
                          "the change could not be recorded; nothing was changed");
    gb_req_audit(r, ch->action, ch->target, ch->before[0] ? ch->before : NULL, ch->after);
    gb_info("api", "%s by %s: %s", ch->action, r->who.name, ch->target);
    if (r->api->src.stream) { /* live clients see the change at once */
        const gb_asset_t *ma = gb_tags_find_asset(r->api->src.tags, machine);
        json_t *ev = json_pack("{s:s, s:s, s:s, s:s?, s:s, s:s}", "machine", machine, "action",
                               ch->action, "target", ch->target, "before",
                               ch->before[0] ? ch->before : NULL, "after", ch->after, "who",
                               r->who.name);
        char *txt = json_dumps(ev, JSON_COMPACT);
        gb_stream_push(r->api->src.stream, "downtime", ma ? ma->id : GB_NONE, txt);
        free(txt);
        json_decref(ev);
    }
    return gb_reply_json(r, MHD_HTTP_OK,
                         json_pack("{s:s, s:s, s:s?, s:s}", "action", ch->action, "target",
                                   ch->target, "before", ch->before[0] ? ch->before : NULL,
                                   "after", ch->after));
}

/* The machine and stop of a stop route, and the body. false after answering. */
static bool stop_args(gb_req_t *r, char *name, gb_time_t *start, json_t **body, change_t *ch,
                      enum MHD_Result *ret)
{
    char stop_s[64];
    *body = NULL;
    if (!r->api->src.oee) {
        *ret = no_oee(r);
        return false;
    }
    if (!gb_req_param(r, "machine", name, NAME_MAX_LEN)) {
        *ret = gb_problem(r, MHD_HTTP_NOT_FOUND, "no machine with so long a name");
        return false;
    }
    if (!gb_req_object(r, body, ret)) return false;
    if (!gb_req_param(r, "stop", stop_s, sizeof stop_s) ||
        gb_time_parse_rfc3339(stop_s, strlen(stop_s), start) != 0) {
        json_decref(*body);
        *ret = gb_problem(r, MHD_HTTP_BAD_REQUEST,
                          "a stop is named by its start, an RFC 3339 time as /stops lists it");
        return false;
    }
    snprintf(ch->target, sizeof ch->target, "%s stop %s", name, stop_s);
    return true;
}

enum MHD_Result gb_api_stop_reason(gb_req_t *r)
{
    char name[NAME_MAX_LEN];
    gb_time_t start;
    json_t *body;
    change_t ch = {.action = "set reason"};
    enum MHD_Result ret;
    if (!stop_args(r, name, &start, &body, &ch, &ret)) return ret;
    const char *reason = json_string_value(json_object_get(body, "reason"));
    if (!reason) {
        ret = gb_problem(r, MHD_HTTP_BAD_REQUEST, "expected {\"reason\": \"a/path/of/the/reason/tree\"}");
        goto out;
    }
    int rc = gb_oee_live_set_reason(r->api->src.oee, name, start, reason, r->who.name, gb_now(),
                                    ch.before, ch.after, sizeof ch.before);
    if (rc == GB_EINVAL)
        ret = gb_problem(r, MHD_HTTP_UNPROCESSABLE_CONTENT,
                         "unknown reason '%.100s': reasons are paths of the plant file's reason tree",
                         reason);
    else
        ret = change_done(r, rc, name, true, &ch);
out:
    json_decref(body);
    return ret;
}

enum MHD_Result gb_api_stop_split(gb_req_t *r)
{
    char name[NAME_MAX_LEN];
    gb_time_t start, at;
    json_t *body;
    change_t ch = {.action = "split stop"};
    enum MHD_Result ret;
    if (!stop_args(r, name, &start, &body, &ch, &ret)) return ret;
    const char *at_s = json_string_value(json_object_get(body, "at"));
    if (!at_s || gb_time_parse_rfc3339(at_s, strlen(at_s), &at) != 0)
        ret = gb_problem(r, MHD_HTTP_BAD_REQUEST, "expected {\"at\": an RFC 3339 time inside the stop}");
    else
        ret = change_done(r,
                          gb_oee_live_split(r->api->src.oee, name, start, at, r->who.name, gb_now(),
                                            ch.before, ch.after, sizeof ch.before),
                          name, true, &ch);
    json_decref(body);
    return ret;
}

enum MHD_Result gb_api_scrap(gb_req_t *r)
{
    char name[NAME_MAX_LEN];
    json_t *body;
    change_t ch = {.action = "scrap"};
    enum MHD_Result ret;
    if (!r->api->src.oee) return no_oee(r);
    if (!gb_req_param(r, "machine", name, sizeof name))
        return gb_problem(r, MHD_HTTP_NOT_FOUND, "no machine with so long a name");
    if (!gb_req_object(r, &body, &ret)) return ret;
    json_t *cnt = json_object_get(body, "count");
    const char *ts = json_string_value(json_object_get(body, "time"));
    gb_time_t now = gb_now(), t = now;
    if (!json_is_integer(cnt) || json_integer_value(cnt) < 1 ||
        (ts && gb_time_parse_rfc3339(ts, strlen(ts), &t) != 0)) {
        ret = gb_problem(r, MHD_HTTP_BAD_REQUEST,
                         "expected {\"count\": N (at least 1), \"time\": optional RFC 3339}");
    } else {
        snprintf(ch.target, sizeof ch.target, "%s", name);
        snprintf(ch.after, sizeof ch.after, "%lld parts scrapped at %s",
                 (long long)json_integer_value(cnt), ts ? ts : "now");
        ret = change_done(r,
                          gb_oee_live_scrap(r->api->src.oee, name, t, json_integer_value(cnt),
                                            r->who.name, now),
                          name, false, &ch);
    }
    json_decref(body);
    return ret;
}

/* --- write-back ----------------------------------------------------------------------------- */

/* The tag's latest value as text, for the audit's "before"; "" when none. */
static void latest_text(const gb_api_source_t *src, uint32_t id, char *buf, size_t size)
{
    gb_latest_value_t lv;
    buf[0] = 0;
    if (!src->latest || gb_latest_get(src->latest, id, &lv) != 0 || !lv.has) return;
    switch (lv.type) {
    case GB_VT_F64: snprintf(buf, size, "%.17g", lv.f64); break;
    case GB_VT_I64: snprintf(buf, size, "%lld", (long long)lv.i64); break;
    case GB_VT_BOOL: snprintf(buf, size, "%s", lv.b ? "true" : "false"); break;
    default: snprintf(buf, size, "\"%.180s\"", lv.str);
    }
}

/* POST /api/v1/tags/{machine}/{tag}/value: write a value to the device, when the plant allows */
enum MHD_Result gb_api_tag_write(gb_req_t *r)
{
    const gb_api_source_t *src = &r->api->src;
    char machine[NAME_MAX_LEN], tag[120], path[200];
    if (!gb_req_param(r, "machine", machine, sizeof machine) || !gb_req_param(r, "tag", tag, sizeof tag))
        return gb_problem(r, MHD_HTTP_NOT_FOUND, "no tag with so long a name");
    snprintf(path, sizeof path, "%s/%s", machine, tag);
    json_t *body;
    enum MHD_Result ret;
    if (!gb_req_object(r, &body, &ret)) return ret;
    const gb_tag_t *t = gb_tags_find(src->tags, path);
    gb_adapter_t *ad = NULL;
    for (size_t i = 0; t && !t->derived && i < src->nadapters && t->adapter != GB_NONE; i++)
        if (src->adapters[i].cfg == &src->plant->adapters[t->adapter]) ad = &src->adapters[i];
    json_t *jv = json_object_get(body, "value");
    gb_value_t v = {.type = t ? t->type : GB_VT_F64};
    bool ok = true;
    if (!t || t->derived) {
        ret = gb_problem(r, MHD_HTTP_NOT_FOUND, "no tag '%.100s' (machine/tag)", path);
        goto out;
    }
    if (!ad || !ad->cls->write) {
        ret = gb_problem(r, MHD_HTTP_FORBIDDEN, "tag '%.100s' cannot be written: its source %s", path,
                         ad ? "does not take writes" : "is not a running adapter");
        goto out;
    }
    switch (t->type) {
    case GB_VT_F64:
        ok = json_is_number(jv);
        /* the device holds the raw value: undo the tag's scale and offset */
        v.f64 = ok ? (json_number_value(jv) - t->offset) / t->scale : 0;
        break;
    case GB_VT_I64: ok = json_is_integer(jv); v.i64 = ok ? json_integer_value(jv) : 0; break;
    case GB_VT_BOOL: ok = json_is_boolean(jv); v.b = ok && json_is_true(jv); break;
    default:
        ok = json_is_string(jv);
        v.str = ok ? json_string_value(jv) : NULL;
        v.len = ok ? json_string_length(jv) : 0;
    }
    if (!ok) {
        ret = gb_problem(r, MHD_HTTP_BAD_REQUEST, "expected {\"value\": a %s}", gb_vtype_name(t->type));
        goto out;
    }
    char after[200], before[200], derr[200] = "";
    char *dump = json_dumps(jv, JSON_ENCODE_ANY);
    snprintf(after, sizeof after, "%s", dump ? dump : "?");
    free(dump);
    latest_text(src, t->id, before, sizeof before);
    int rc = ad->cls->write(ad->state, t->id, &v, derr, sizeof derr);
    if (rc == GB_EACCES) ret = gb_problem(r, MHD_HTTP_FORBIDDEN, "%s", derr);
    else if (rc == GB_EINVAL) ret = gb_problem(r, MHD_HTTP_UNPROCESSABLE_CONTENT, "%s", derr);
    else if (rc == GB_ETIMEDOUT) ret = gb_problem(r, MHD_HTTP_GATEWAY_TIMEOUT, "%s", derr);
    else if (rc) ret = gb_problem(r, MHD_HTTP_BAD_GATEWAY, "%s", derr);
    else {
        gb_req_audit(r, "write", path, before[0] ? before : NULL, after);
        gb_info("api", "write by %s: %s = %s", r->who.name, path, after);
        ret = gb_reply_json(r, MHD_HTTP_OK,
                            json_pack("{s:s, s:s, s:s?, s:s}", "action", "write", "target", path,
                                      "before", before[0] ? before : NULL, "after", after));
    }
out:
    json_decref(body);
    return ret;
}
