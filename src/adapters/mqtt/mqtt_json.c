/*
 * The `mqtt` adapter: tags from MQTT messages with JSON (or plain-text) payloads.
 *
 * A tag's address is TOPIC, the whole payload being its value, or TOPIC#POINTER with a JSON
 * pointer into the payload ("plant/press-01/telemetry#/spindle/load"). TOPIC may be a filter with
 * wildcards ('+' for one level, '#' last for any), so one tag can take the same value from many
 * topics. The adapter subscribes to its `subscribe` list, or, without one, to every tag's topic.
 *
 * Time comes from the payload when `time_pointer` says where (a number of `time_unit` since the
 * epoch, or an RFC 3339 string), else from arrival. With device time, a value no newer than the
 * tag's last is a resend (QoS 1 redelivery, a retained message after a reconnect): dropped and
 * counted as a duplicate. Without it, a retained message that repeats the tag's last value is
 * dropped the same way -- the broker hands it out again on every reconnect.
 */
#include "adapters/mqtt/codec_json.h"
#include "adapters/mqtt/mqtt_client.h"
#include "gemba/adapter.h"
#include "gemba/error.h"
#include "gemba/log.h"
#include "util/map.h"
#include "util/str.h"

#include <math.h>
#include <mosquitto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const json_keys[] = {GB_MQTT_CONN_KEYS, "subscribe", "time_pointer", "time_unit",
                                        NULL};
static const char *const unit_names[] = {"ns", "us", "ms", "s"};

typedef struct target {
    uint32_t tag;
    gb_vtype_t type;
    char *filter;  /* topic or topic filter */
    char *pointer; /* JSON pointer, "" for the whole payload */
    bool wildcard;
    gb_time_t last_t;
    gb_value_keep_t last;
} target_t;

typedef struct mqtt_json {
    gb_adapter_state_t st;
    const gb_adapter_env_t *env;
    gb_mqtt_t *mqtt;
    target_t *targets;
    size_t ntargets;
    gb_map_t exact;      /* topic -> first target index with that exact topic (chained below) */
    uint32_t *next_same; /* next target index with the same exact topic, or GB_NONE */
    char *time_pointer;  /* NULL: arrival time */
    gb_time_unit_t unit;
    bool logged_json, logged_type, logged_time;
} mqtt_json_t;

/* ---- configuration ----------------------------------------------------------------------------
 */

/* Splits ADDRESS into topic filter and pointer (both malloc'd). */
static void split_address(const char *address, char **filter, char **pointer)
{
    const char *hash = strstr(address, "#/");
    size_t n = hash ? (size_t)(hash - address) : strlen(address);
    *filter = gb_xstrndup(address, n);
    *pointer = gb_xstrdup(hash ? hash + 1 : "");
}

static bool unit_parse(const char *s, gb_time_unit_t *out)
{
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, unit_names[i])) {
            *out = (gb_time_unit_t)i;
            return true;
        }
    return false;
}

static int json_check(const gb_adapter_cfg_t *cfg, const gb_adapter_binding_t *b, size_t n,
                      gb_diag_t *diag)
{
    const gb_cnode_t *c = cfg->node;
    int bad = gb_mqtt_check(c, diag);
    const gb_cnode_t *l;
    if (gb_cfg_node(c, "subscribe", false, "adapter", GB_CNODE_SEQ, &l, diag) == 0)
        for (size_t i = 0; i < l->n; i++) {
            const gb_cnode_t *it = l->items[i];
            if (it->kind != GB_CNODE_SCALAR ||
                mosquitto_sub_topic_check(it->str) != MOSQ_ERR_SUCCESS) {
                gb_diag_add(diag, it->line, it->col,
                            "'subscribe' lists MQTT topic filters, such as plant/+/telemetry or "
                            "plant/#");
                bad++;
            }
        }
    const char *s;
    if (gb_cfg_str(c, "time_pointer", false, "adapter", &s, diag) == 0 &&
        gb_json_pointer_check(s)) {
        const gb_cnode_t *v = gb_cnode_get(c, "time_pointer");
        gb_diag_add(diag, v->line, v->col, "'time_pointer' is a JSON pointer such as /ts");
        bad++;
    }
    gb_time_unit_t u;
    if (gb_cfg_str(c, "time_unit", false, "adapter", &s, diag) == 0 && !unit_parse(s, &u)) {
        const gb_cnode_t *v = gb_cnode_get(c, "time_unit");
        gb_diag_add(diag, v->line, v->col, "'time_unit' is one of ns, us, ms, s (not '%s')", s);
        bad++;
    }
    for (size_t i = 0; i < n; i++) {
        const gb_plant_tag_t *t = b[i].ptag;
        char *filter, *pointer;
        split_address(t->address, &filter, &pointer);
        if (!*filter || mosquitto_sub_topic_check(filter) != MOSQ_ERR_SUCCESS) {
            gb_diag_add(diag, t->line, t->col,
                        "tag '%s': '%s' is not a topic (or topic filter) for its address; write "
                        "TOPIC or TOPIC#/json/pointer",
                        t->name, filter);
            bad++;
        } else if (gb_json_pointer_check(pointer)) {
            gb_diag_add(diag, t->line, t->col,
                        "tag '%s': '%s' is not a JSON pointer ('~' must be written ~0, '/' ~1)",
                        t->name, pointer);
            bad++;
        }
        free(filter);
        free(pointer);
    }
    return bad ? GB_EINVAL : 0;
}

static void json_message(void *ctx, gb_mqtt_t *c, const char *topic, const void *payload,
                         size_t len, bool retained);
static void json_destroy(void *state);

static int json_create(const gb_adapter_env_t *env, void **state)
{
    mqtt_json_t *a = gb_xcalloc(1, sizeof *a);
    gb_adapter_state_init(&a->st, env->cfg->name);
    a->env = env;
    const gb_cnode_t *c = env->cfg->node;
    const char *s;
    if (gb_cfg_str(c, "time_pointer", false, "", &s, NULL) == 0) a->time_pointer = gb_xstrdup(s);
    a->unit = GB_TIME_UNIT_MS;
    if (gb_cfg_str(c, "time_unit", false, "", &s, NULL) == 0) unit_parse(s, &a->unit);
    a->ntargets = env->nbindings;
    a->targets = gb_xcalloc(a->ntargets ? a->ntargets : 1, sizeof *a->targets);
    a->next_same = gb_xcalloc(a->ntargets ? a->ntargets : 1, sizeof *a->next_same);
    gb_map_init(&a->exact);
    const char **subs = gb_xcalloc(a->ntargets + 1, sizeof *subs);
    size_t nsubs = 0;
    for (size_t i = 0; i < a->ntargets; i++) {
        target_t *t = &a->targets[i];
        t->tag = env->bindings[i].tag;
        t->type = env->bindings[i].ptag->type;
        split_address(env->bindings[i].ptag->address, &t->filter, &t->pointer);
        t->wildcard = strpbrk(t->filter, "+#") != NULL;
        a->next_same[i] = GB_NONE;
        uint32_t first;
        if (t->wildcard) {
            subs[nsubs++] = t->filter;
        } else if (gb_map_get(&a->exact, t->filter, &first)) {
            while (a->next_same[first] != GB_NONE)
                first = a->next_same[first];
            a->next_same[first] = (uint32_t)i;
        } else {
            gb_map_put(&a->exact, t->filter, (uint32_t)i);
            subs[nsubs++] = t->filter;
        }
    }
    const gb_cnode_t *l = gb_cnode_get(c, "subscribe");
    if (l && l->kind == GB_CNODE_SEQ) { /* an explicit list replaces the tags' own topics */
        subs = gb_xrealloc(subs, (l->n + 1) * sizeof *subs);
        nsubs = 0;
        for (size_t i = 0; i < l->n; i++)
            if (l->items[i]->kind == GB_CNODE_SCALAR) subs[nsubs++] = l->items[i]->str;
    }
    gb_mqtt_handlers_t h = {a, NULL, NULL, json_message};
    char err[300];
    int rc = gb_mqtt_new(c, env->cfg->name, &a->st, subs, nsubs, &h, &a->mqtt, err, sizeof err);
    free(subs);
    if (rc != 0) {
        gb_error("mqtt", "%s: %s", env->cfg->name, err);
        json_destroy(a);
        return GB_EIO;
    }
    *state = a;
    return 0;
}

/* ---- messages ---------------------------------------------------------------------------------
 */

static bool stopping(void *ctx)
{
    return gb_mqtt_stopping(((mqtt_json_t *)ctx)->mqtt);
}

/* Adds target T's value from document DOC (parsed once, on demand, into *DOC) to B. */
static void take(mqtt_json_t *a, target_t *t, const char *topic, json_t *doc, gb_time_t ts,
                 bool device_time, bool retained, gb_batch_t *b, uint64_t *dups)
{
    json_t *v = gb_json_pointer(doc, t->pointer);
    if (!v) {
        gb_adapter_state_malformed(&a->st, &a->logged_type, "no value at %s in a message on %s",
                                   *t->pointer ? t->pointer : "the top", topic);
        return;
    }
    gb_value_t val;
    char buf[48];
    int rc = gb_mqtt_json_value(v, t->type, &val, buf, sizeof buf);
    if (rc == GB_ENOENT) { /* null: the device says it has no value */
        if (!t->last.set) return;
        val = t->last.v;
        if (val.type == GB_VT_F64) val.f64 = NAN;
        gb_batch_add_value(b, ts, t->tag, GB_Q_BAD, &val);
        t->last_t = ts;
        return;
    }
    if (rc != 0) {
        gb_adapter_state_malformed(
            &a->st, &a->logged_type, "the value at %s on %s does not fit tag type %s",
            *t->pointer ? t->pointer : "the top", topic, gb_vtype_name(t->type));
        return;
    }
    if (t->last.set && ((device_time && ts <= t->last_t) ||
                        (!device_time && retained && gb_value_equal(&val, &t->last.v)))) {
        (*dups)++;
        return;
    }
    gb_batch_add_value(b, ts, t->tag, GB_Q_GOOD, &val);
    gb_value_keep_set(&t->last, &val);
    t->last_t = ts;
}

static void json_message(void *ctx, gb_mqtt_t *c, const char *topic, const void *payload,
                         size_t len, bool retained)
{
    (void)c;
    mqtt_json_t *a = ctx;
    gb_time_t arrival = gb_now();
    json_t *doc = NULL, *raw = NULL;
    gb_batch_t *b = NULL;
    uint64_t dups = 0;
    bool parsed = false, device_time = false;
    gb_time_t ts = arrival;
    uint32_t i = GB_NONE;
    gb_map_get(&a->exact, topic, &i);
    size_t w = 0;
    for (;;) {
        target_t *t = NULL;
        if (i != GB_NONE) { /* first the tags of this exact topic, then the wildcard ones */
            t = &a->targets[i];
            i = a->next_same[i];
        } else {
            while (w < a->ntargets) {
                target_t *x = &a->targets[w++];
                bool match = false;
                if (x->wildcard &&
                    mosquitto_topic_matches_sub(x->filter, topic, &match) == MOSQ_ERR_SUCCESS &&
                    match) {
                    t = x;
                    break;
                }
            }
            if (!t) break;
        }
        if (!parsed) {
            parsed = true;
            int rc = gb_mqtt_json_parse(payload, len, false, &doc);
            if (rc == GB_ERANGE) {
                gb_adapter_state_malformed(&a->st, &a->logged_json,
                                           "message on %s: payload too large", topic);
                break;
            }
            if (a->time_pointer && json_is_object(doc)) {
                json_t *tv = gb_json_pointer(doc, a->time_pointer);
                gb_time_t dt;
                if (tv && gb_mqtt_json_time(tv, a->unit, &dt) == 0) {
                    ts = dt;
                    device_time = true;
                    pthread_mutex_lock(&a->st.mu);
                    a->st.st.clock_offset_ns = arrival - dt;
                    a->st.st.has_clock_offset = true;
                    pthread_mutex_unlock(&a->st.mu);
                } else {
                    gb_adapter_state_malformed(
                        &a->st, &a->logged_time,
                        "no time at %s in a message on %s; using arrival time", a->time_pointer,
                        topic);
                }
            }
            b = gb_batch_new(8);
        }
        if (!doc) {
            /* not JSON: plain text is the value of a string tag that takes the whole payload */
            if (*t->pointer || t->type != GB_VT_STR) {
                gb_adapter_state_malformed(&a->st, &a->logged_json, "message on %s: not JSON",
                                           topic);
                continue;
            }
            if (!raw) gb_mqtt_json_parse(payload, len, true, &raw);
            take(a, t, topic, raw, ts, device_time, retained, b, &dups);
            continue;
        }
        take(a, t, topic, doc, ts, device_time, retained, b, &dups);
    }
    json_decref(doc);
    json_decref(raw);
    if (dups) {
        pthread_mutex_lock(&a->st.mu);
        a->st.st.duplicates += dups;
        pthread_mutex_unlock(&a->st.mu);
    }
    if (b) gb_adapter_publish(&a->st, a->env->bus, b, stopping, a);
}

/* ---- life -------------------------------------------------------------------------------------
 */

static int json_start(void *state)
{
    return gb_mqtt_start(((mqtt_json_t *)state)->mqtt);
}

static void json_stop(void *state)
{
    gb_mqtt_stop(((mqtt_json_t *)state)->mqtt, NULL, NULL, 0);
}

static void json_destroy(void *state)
{
    mqtt_json_t *a = state;
    if (!a) return;
    gb_mqtt_free(a->mqtt);
    for (size_t i = 0; i < a->ntargets; i++) {
        free(a->targets[i].filter);
        free(a->targets[i].pointer);
        gb_value_keep_clear(&a->targets[i].last);
    }
    free(a->targets);
    free(a->next_same);
    gb_map_clear(&a->exact);
    free(a->time_pointer);
    gb_adapter_state_clear(&a->st);
    free(a);
}

static void json_status(void *state, gb_adapter_status_t *out)
{
    gb_adapter_state_get(&((mqtt_json_t *)state)->st, out);
}

const gb_adapter_class_t gb_mqtt_adapter = {
    .version = GB_ADAPTER_API_VERSION,
    .type = "mqtt",
    .summary = "MQTT: tags from JSON or plain-text messages on a broker",
    .keys = json_keys,
    .check = json_check,
    .create = json_create,
    .start = json_start,
    .stop = json_stop,
    .destroy = json_destroy,
    .status = json_status,
};
