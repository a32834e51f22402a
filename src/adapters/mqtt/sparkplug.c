/*
 * The `sparkplug-b` adapter: gemba as a Sparkplug B host application (Eclipse Sparkplug 3.0) on
 * one group of an MQTT broker.
 *
 * Tag addresses are EDGE:METRIC for an edge node's own metrics and EDGE/DEVICE:METRIC for a
 * device's (the metric name may hold '/' and ':'; the first ':' ends the source). Only the edge
 * nodes and devices that tags name are tracked, so memory is bounded by the plant file, not by
 * what the broker carries.
 *
 * The session rules, per edge node:
 *   - NBIRTH defines the node's metrics and their aliases, records its bdSeq and its seq, and
 *     voids its devices' births (each device sends a new DBIRTH); DBIRTH does so for a device.
 *     Birth values are current values and are published like data.
 *   - NDATA / DDATA resolve metrics by alias (or by name), each stamped with its own timestamp,
 *     else the payload's, else arrival time.
 *   - Every message but NDEATH carries seq, one more (mod 256) than the node's previous message.
 *     A repeat of the previous seq is a QoS 1 redelivery: dropped and counted as a duplicate. Any
 *     other jump, or data from a node or device whose birth gemba has not seen, makes gemba ask the
 *     node for a new birth (an NCMD "Node Control/Rebirth"), at most once per `rebirth_wait`.
 *     The data of a message after a gap is kept: the aliases it uses are still valid.
 *   - NDEATH (the node's MQTT will) counts only when its bdSeq is the one of the node's current
 *     birth: a late will from an older session is ignored. A death, of a node or a device, marks
 *     its tags stale: their last value is published again with bad quality.
 *   - Historical metrics (store-and-forward after an outage) are published with their own, older,
 *     timestamps; they bypass the resend check that drops repeats of current values.
 * With `host_id` set, gemba also publishes its own STATE (spBv1.0/STATE/<host_id>, retained,
 * QoS 1: online on connect, offline as its will and on a clean stop) so edge nodes configured
 * for a primary host application wait for it.
 */
#include "adapters/mqtt/codec_sparkplug.h"
#include "adapters/mqtt/mqtt_client.h"
#include "gemba/adapter.h"
#include "gemba/error.h"
#include "gemba/log.h"
#include "util/map.h"
#include "util/str.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const spb_keys[] = {GB_MQTT_CONN_KEYS, "group", "host_id", "rebirth_wait", NULL};

typedef struct target {
    uint32_t tag;
    gb_vtype_t type;
    uint32_t source;      /* index into sources */
    gb_time_t last_t;     /* newest time published (resend detection) */
    bool stale;           /* the last sample published was bad (a death, a null) */
    gb_value_keep_t last; /* last value published, to mark it stale */
    struct target *next;
} target_t;

typedef struct source { /* an edge node (device "") or one of its devices */
    char edge[GB_SPB_ID_MAX + 1], device[GB_SPB_ID_MAX + 1];
    uint32_t node; /* index of the node's own source */
    bool born;
    gb_map_t aliases; /* "alias" -> head index, for bound metrics */
    /* node sources only */
    int last_seq; /* -1: none yet */
    bool has_bdseq;
    uint64_t bdseq;
    int64_t last_rebirth_ns;
    bool rebirth_pending;
} source_t;

typedef struct spb {
    gb_adapter_state_t st;
    const gb_adapter_env_t *env;
    gb_mqtt_t *mqtt;
    char group[GB_SPB_ID_MAX + 1];
    char host_id[GB_SPB_ID_MAX + 1];
    char state_topic[GB_SPB_ID_MAX + 32];
    char offline[96];
    int64_t rebirth_wait_ns;
    gb_map_t sources_by_name; /* "edge" or "edge/device" -> index */
    source_t *sources;
    size_t nsources;
    gb_map_t heads_by_key; /* "edge[/device]\x1fmetric" -> head index */
    target_t **heads;
    size_t nheads;
    target_t *pool;
    bool logged_topic, logged_payload, logged_type, logged_seq, logged_death;
} spb_t;

/* ---- configuration ----------------------------------------------------------------------------
 */

/* Splits ADDRESS at its first ':' into SRC ("edge" or "edge/device") and METRIC; false if bad. */
static bool split_address(const char *address, char *src, size_t srcsz, const char **metric)
{
    const char *colon = strchr(address, ':');
    if (!colon || colon == address || !colon[1] || (size_t)(colon - address) >= srcsz) return false;
    memcpy(src, address, (size_t)(colon - address));
    src[colon - address] = 0;
    *metric = colon + 1;
    const char *slash = strchr(src, '/');
    if (slash && (slash == src || !slash[1] || strchr(slash + 1, '/'))) return false;
    size_t edge_len = slash ? (size_t)(slash - src) : strlen(src);
    if (edge_len > GB_SPB_ID_MAX || (slash && strlen(slash + 1) > GB_SPB_ID_MAX)) return false;
    return !strpbrk(src, "+#");
}

static bool id_valid(const char *s)
{
    return *s && strlen(s) <= GB_SPB_ID_MAX && !strpbrk(s, "/+#");
}

static int spb_check(const gb_adapter_cfg_t *cfg, const gb_adapter_binding_t *b, size_t n,
                     gb_diag_t *diag)
{
    const gb_cnode_t *c = cfg->node;
    int bad = gb_mqtt_check(c, diag);
    const char *s;
    if (gb_cfg_str(c, "group", true, "sparkplug-b adapter", &s, diag) == 0 && !id_valid(s)) {
        const gb_cnode_t *v = gb_cnode_get(c, "group");
        gb_diag_add(diag, v->line, v->col, "'group' is one topic level: no '/', '+' or '#'");
        bad++;
    }
    if (gb_cfg_str(c, "host_id", false, "adapter", &s, diag) == 0 && !id_valid(s)) {
        const gb_cnode_t *v = gb_cnode_get(c, "host_id");
        gb_diag_add(diag, v->line, v->col, "'host_id' is one topic level: no '/', '+' or '#'");
        bad++;
    }
    int64_t ns;
    gb_cfg_duration(c, "rebirth_wait", false, "adapter", &ns, diag);
    for (size_t i = 0; i < n; i++) {
        const gb_plant_tag_t *t = b[i].ptag;
        char src[2 * GB_SPB_ID_MAX + 2];
        const char *metric;
        if (!split_address(t->address, src, sizeof src, &metric)) {
            gb_diag_add(diag, t->line, t->col,
                        "tag '%s': address '%s' is not EDGE_NODE:METRIC or "
                        "EDGE_NODE/DEVICE:METRIC (e.g. 'press-01/plc:Inputs/Temperature')",
                        t->name, t->address);
            bad++;
        }
    }
    return bad ? GB_EINVAL : 0;
}

/* The name a source is kept under: "edge" or "edge/device". */
static void source_key(const char *edge, const char *device, char key[2 * GB_SPB_ID_MAX + 2])
{
    snprintf(key, 2 * GB_SPB_ID_MAX + 2, "%s%s%s", edge, *device ? "/" : "", device);
}

static uint32_t source_for(spb_t *a, const char *edge, const char *device)
{
    char key[2 * GB_SPB_ID_MAX + 2];
    source_key(edge, device, key);
    uint32_t i;
    if (gb_map_get(&a->sources_by_name, key, &i)) return i;
    return GB_NONE;
}

static uint32_t add_source(spb_t *a, const char *edge, const char *device)
{
    uint32_t i = source_for(a, edge, device);
    if (i != GB_NONE) return i;
    uint32_t node = *device ? add_source(a, edge, "") : GB_NONE;
    i = (uint32_t)a->nsources++;
    a->sources = gb_xrealloc(a->sources, a->nsources * sizeof *a->sources);
    source_t *s = &a->sources[i];
    memset(s, 0, sizeof *s);
    gb_strlcpy(s->edge, edge, sizeof s->edge);
    gb_strlcpy(s->device, device, sizeof s->device);
    s->node = *device ? node : i;
    s->last_seq = -1;
    gb_map_init(&s->aliases);
    char key[2 * GB_SPB_ID_MAX + 2];
    source_key(edge, device, key);
    gb_map_put(&a->sources_by_name, key, i);
    return i;
}

static void spb_connected(void *ctx, gb_mqtt_t *c);
static void spb_before_connect(void *ctx, gb_mqtt_t *c);
static void spb_message(void *ctx, gb_mqtt_t *c, const char *topic, const void *payload, size_t len,
                        bool retained);

static void spb_destroy(void *state);

static int spb_create(const gb_adapter_env_t *env, void **state)
{
    spb_t *a = gb_xcalloc(1, sizeof *a);
    gb_adapter_state_init(&a->st, env->cfg->name);
    a->env = env;
    const gb_cnode_t *c = env->cfg->node;
    const char *s = "";
    gb_cfg_str(c, "group", false, "", &s, NULL);
    gb_strlcpy(a->group, s, sizeof a->group);
    s = "";
    gb_cfg_str(c, "host_id", false, "", &s, NULL);
    gb_strlcpy(a->host_id, s, sizeof a->host_id);
    a->rebirth_wait_ns = 5 * GB_NS_PER_S;
    gb_cfg_duration(c, "rebirth_wait", false, "", &a->rebirth_wait_ns, NULL);
    gb_map_init(&a->sources_by_name);
    gb_map_init(&a->heads_by_key);
    size_t nb = env->nbindings ? env->nbindings : 1;
    a->pool = gb_xcalloc(nb, sizeof *a->pool);
    a->heads = gb_xcalloc(nb, sizeof *a->heads);
    for (size_t i = 0; i < env->nbindings; i++) {
        char src[2 * GB_SPB_ID_MAX + 2], key[4 * GB_SPB_ID_MAX + 512];
        const char *metric;
        if (!split_address(env->bindings[i].ptag->address, src, sizeof src, &metric)) continue;
        char *slash = strchr(src, '/');
        if (slash) *slash = 0;
        uint32_t si = add_source(a, src, slash ? slash + 1 : "");
        if (slash) *slash = '/';
        snprintf(key, sizeof key, "%s\x1f%s", src, metric);
        uint32_t h;
        if (!gb_map_get(&a->heads_by_key, key, &h)) {
            h = (uint32_t)a->nheads++;
            gb_map_put(&a->heads_by_key, key, h);
        }
        target_t *t = &a->pool[i];
        *t = (target_t){.tag = env->bindings[i].tag,
                        .type = env->bindings[i].ptag->type,
                        .source = si,
                        .next = a->heads[h]};
        a->heads[h] = t;
    }
    char sub[GB_SPB_ID_MAX + 32];
    snprintf(sub, sizeof sub, GB_SPB_NAMESPACE "/%s/#", a->group);
    const char *subs[] = {sub};
    if (a->host_id[0]) {
        snprintf(a->state_topic, sizeof a->state_topic, GB_SPB_NAMESPACE "/STATE/%s", a->host_id);
    }
    gb_mqtt_handlers_t h = {a, spb_before_connect, spb_connected, spb_message};
    char err[300];
    if (gb_mqtt_new(c, env->cfg->name, &a->st, subs, 1, &h, &a->mqtt, err, sizeof err) != 0) {
        gb_error("sparkplug", "%s: %s", env->cfg->name, err);
        spb_destroy(a);
        return GB_EIO;
    }
    *state = a;
    return 0;
}

/* ---- host application state ---------------------------------------------------------------------
 */

static void spb_before_connect(void *ctx, gb_mqtt_t *c)
{
    spb_t *a = ctx;
    if (!a->host_id[0]) return;
    /* the will and the birth carry the same timestamp, so a reader can pair them */
    uint64_t ms = (uint64_t)(gb_now() / GB_NS_PER_MS);
    snprintf(a->offline, sizeof a->offline, "{\"online\":false,\"timestamp\":%" PRIu64 "}", ms);
    gb_mqtt_will(c, a->state_topic, a->offline, strlen(a->offline), 1, true);
}

static void spb_connected(void *ctx, gb_mqtt_t *c)
{
    spb_t *a = ctx;
    /*
     * The nodes' seq counters carry over a reconnect: a session the broker kept hands over what
     * arrived meanwhile, in order; a lost one shows as a gap at the next message, and the node is
     * asked for a rebirth then.
     */
    if (!a->host_id[0]) return;
    char online[96];
    const char *ts = strstr(a->offline, "\"timestamp\":");
    snprintf(online, sizeof online, "{\"online\":true,%s", ts ? ts : "\"timestamp\":0}");
    gb_mqtt_publish(c, a->state_topic, online, strlen(online), 1, true);
}

/* ---- values -----------------------------------------------------------------------------------
 */

/* Converts metric M to tag type TYPE; false when it does not fit. BUF holds printed numbers. */
static bool convert(const gb_spb_metric_t *m, gb_vtype_t type, gb_value_t *v, char *buf,
                    size_t bufsz)
{
    memset(v, 0, sizeof *v);
    v->type = type;
    switch (m->kind) {
    case GB_SPB_V_NONE:
        return false;
    case GB_SPB_V_INT:
        if (type == GB_VT_F64)
            v->f64 = (double)m->i;
        else if (type == GB_VT_I64)
            v->i64 = m->i;
        else if (type == GB_VT_BOOL && (m->i == 0 || m->i == 1))
            v->b = m->i == 1;
        else if (type == GB_VT_STR)
            snprintf(buf, bufsz, "%" PRId64, m->i);
        else
            return false;
        break;
    case GB_SPB_V_UINT:
        if (type == GB_VT_F64)
            v->f64 = (double)m->u;
        else if (type == GB_VT_STR)
            snprintf(buf, bufsz, "%" PRIu64, m->u);
        else
            return false;
        break;
    case GB_SPB_V_DOUBLE:
        if (!isfinite(m->d) && type != GB_VT_F64) return false;
        if (type == GB_VT_F64)
            v->f64 = m->d;
        else if (type == GB_VT_I64 && m->d == floor(m->d) && fabs(m->d) < 9.0e18)
            v->i64 = (int64_t)m->d;
        else if (type == GB_VT_STR)
            snprintf(buf, bufsz, "%.17g", m->d);
        else
            return false;
        break;
    case GB_SPB_V_BOOL:
        if (type == GB_VT_BOOL)
            v->b = m->b;
        else if (type == GB_VT_I64)
            v->i64 = m->b;
        else if (type == GB_VT_F64)
            v->f64 = m->b;
        else if (type == GB_VT_STR)
            snprintf(buf, bufsz, "%s", m->b ? "true" : "false");
        else
            return false;
        break;
    case GB_SPB_V_STRING:
        if (type != GB_VT_STR) return false;
        v->str = m->s;
        v->len = strlen(m->s);
        if (v->len > GB_SAMPLE_STR_MAX) v->len = GB_SAMPLE_STR_MAX;
        return true;
    }
    if (type == GB_VT_STR) {
        v->str = buf;
        v->len = strlen(buf);
    }
    return true;
}

/* Publishes the last value of every tag of source SI (and, for a node, of its devices) as bad. */
static void mark_stale(spb_t *a, uint32_t si, gb_time_t ts, gb_batch_t *b)
{
    bool node = !a->sources[si].device[0];
    for (size_t h = 0; h < a->nheads; h++)
        for (target_t *t = a->heads[h]; t; t = t->next) {
            const source_t *s = &a->sources[t->source];
            if (t->source != si && !(node && s->node == si)) continue;
            if (!t->last.set) continue;
            gb_time_t when = ts > t->last_t ? ts : t->last_t + 1;
            gb_value_t v = t->last.v;
            if (t->type == GB_VT_F64) v.f64 = NAN;
            gb_batch_add_value(b, when, t->tag, GB_Q_BAD, &v);
            t->last_t = when;
            t->stale = true;
        }
}

static bool stopping(void *ctx)
{
    return gb_mqtt_stopping(((spb_t *)ctx)->mqtt);
}

/* ---- the session rules --------------------------------------------------------------------------
 */

static void request_rebirth(spb_t *a, gb_mqtt_t *c, source_t *node, const char *why)
{
    int64_t now = gb_mono_ns();
    if (node->rebirth_pending && now - node->last_rebirth_ns < a->rebirth_wait_ns) return;
    node->rebirth_pending = true;
    node->last_rebirth_ns = now;
    uint8_t *buf;
    size_t len;
    if (gb_spb_encode_rebirth((uint64_t)(gb_now() / GB_NS_PER_MS), &buf, &len) != 0) return;
    char topic[3 * GB_SPB_ID_MAX + 32];
    snprintf(topic, sizeof topic, GB_SPB_NAMESPACE "/%s/NCMD/%s", a->group, node->edge);
    int rc = gb_mqtt_publish(c, topic, buf, len, 0, false);
    free(buf);
    pthread_mutex_lock(&a->st.mu);
    a->st.st.resyncs++;
    pthread_mutex_unlock(&a->st.mu);
    gb_info("sparkplug", "%s: asked edge node %s for a rebirth (%s)%s", a->st.name, node->edge, why,
            rc ? ": the request could not be sent" : "");
}

/* Checks P's seq against NODE's; false when the message is a redelivery to drop. */
static bool check_seq(spb_t *a, gb_mqtt_t *c, source_t *node, const gb_spb_payload_t *p,
                      const gb_spb_topic_t *tp)
{
    if (!p->has_seq || p->seq > 255) {
        gb_adapter_state_malformed(&a->st, &a->logged_seq, "%s from %s has no valid seq",
                                   gb_spb_type_name(tp->type), node->edge);
        return true;
    }
    int seq = (int)p->seq;
    if (node->last_seq >= 0 && seq == node->last_seq) {
        pthread_mutex_lock(&a->st.mu);
        a->st.st.duplicates++;
        pthread_mutex_unlock(&a->st.mu);
        return false;
    }
    if (node->last_seq >= 0 && seq != (node->last_seq + 1) % 256) {
        char why[64];
        snprintf(why, sizeof why, "seq %d after %d", seq, node->last_seq);
        request_rebirth(a, c, node, why);
    }
    node->last_seq = seq;
    return true;
}

static gb_time_t metric_time(const gb_spb_metric_t *m, const gb_spb_payload_t *p, gb_time_t arrival)
{
    uint64_t ms = m->timestamp ? m->timestamp : p->timestamp;
    if (ms == 0 || ms > (uint64_t)(INT64_MAX / GB_NS_PER_MS)) return arrival;
    return (gb_time_t)ms * GB_NS_PER_MS;
}

static target_t *head_for(spb_t *a, const source_t *s, const char *metric)
{
    char key[4 * GB_SPB_ID_MAX + 512];
    int n = snprintf(key, sizeof key, "%s%s%s\x1f%s", s->edge, s->device[0] ? "/" : "", s->device,
                     metric);
    if (n < 0 || (size_t)n >= sizeof key) return NULL;
    uint32_t h;
    return gb_map_get(&a->heads_by_key, key, &h) ? a->heads[h] : NULL;
}

/* Publishes the metrics of P for source S into B; BIRTH also learns their aliases. */
static void take_metrics(spb_t *a, source_t *s, const gb_spb_payload_t *p, bool birth,
                         gb_time_t arrival, gb_batch_t *b)
{
    uint64_t dups = 0;
    for (size_t i = 0; i < p->nmetrics; i++) {
        const gb_spb_metric_t *m = &p->metrics[i];
        target_t *first = NULL;
        char ak[24];
        if (m->has_alias) snprintf(ak, sizeof ak, "%" PRIu64, m->alias);
        if (m->name) {
            first = head_for(a, s, m->name);
            if (birth && first && m->has_alias)
                gb_map_put(&s->aliases, ak, (uint32_t)(first - a->pool));
        } else if (m->has_alias) {
            uint32_t idx;
            if (gb_map_get(&s->aliases, ak, &idx)) first = &a->pool[idx];
        }
        if (!first) continue;
        if (m->bad) {
            gb_adapter_state_malformed(&a->st, &a->logged_type,
                                       "metric '%s' of %s%s%s: its value field does not match "
                                       "its datatype %" PRIu32,
                                       m->name ? m->name : ak, s->edge, s->device[0] ? "/" : "",
                                       s->device, m->datatype);
            continue;
        }
        gb_time_t ts = metric_time(m, p, arrival);
        for (target_t *t = first; t; t = t->next) {
            gb_value_t v;
            char buf[48];
            gb_quality_t q = GB_Q_GOOD;
            if (m->is_null || m->kind == GB_SPB_V_NONE) {
                if (!t->last.set) continue; /* nothing known to mark */
                v = t->last.v;
                if (t->type == GB_VT_F64) v.f64 = NAN;
                q = GB_Q_BAD;
            } else if (!convert(m, t->type, &v, buf, sizeof buf)) {
                gb_adapter_state_malformed(&a->st, &a->logged_type,
                                           "metric '%s' of %s%s%s does not fit tag type %s",
                                           m->name ? m->name : ak, s->edge, s->device[0] ? "/" : "",
                                           s->device, gb_vtype_name(t->type));
                continue;
            }
            /*
             * A birth repeats current values, often with the time they last changed: the same
             * value at a time already published is no news. Anything else is published, even at
             * the same millisecond as the previous value (seq, not time, catches redeliveries).
             */
            if (q == GB_Q_GOOD && !m->is_historical && t->last.set && !t->stale &&
                ts <= t->last_t && gb_value_equal(&v, &t->last.v)) {
                dups++;
                continue;
            }
            /* a birth after a death: its values are current now, whatever time they changed */
            if (birth && t->stale && ts <= t->last_t)
                ts = arrival > t->last_t ? arrival : t->last_t + 1;
            gb_batch_add_value(b, ts, t->tag, q, &v);
            if (q == GB_Q_GOOD) gb_value_keep_set(&t->last, &v);
            if (!m->is_historical) t->stale = q != GB_Q_GOOD;
            if (!m->is_historical && ts > t->last_t) t->last_t = ts;
        }
    }
    if (dups) {
        pthread_mutex_lock(&a->st.mu);
        a->st.st.duplicates += dups;
        pthread_mutex_unlock(&a->st.mu);
    }
}

static void clear_aliases(source_t *s)
{
    gb_map_clear(&s->aliases);
    gb_map_init(&s->aliases);
}

static void spb_message(void *ctx, gb_mqtt_t *c, const char *topic, const void *payload, size_t len,
                        bool retained)
{
    (void)retained;
    spb_t *a = ctx;
    gb_spb_topic_t tp;
    if (gb_spb_topic_parse(topic, &tp) != 0) {
        gb_adapter_state_malformed(&a->st, &a->logged_topic, "'%.120s' is not a Sparkplug B topic",
                                   topic);
        return;
    }
    if (tp.type == GB_SPB_NCMD || tp.type == GB_SPB_DCMD || tp.type == GB_SPB_STATE) return;
    uint32_t ni = source_for(a, tp.edge, "");
    if (ni == GB_NONE) return; /* a node no tag names */
    uint32_t si = ni;
    if (tp.device[0]) {
        si = source_for(a, tp.edge, tp.device); /* GB_NONE for a device no tag names */
    }
    gb_time_t arrival = gb_now();
    gb_spb_payload_t *p;
    int rc = gb_spb_decode(payload, len, &p);
    if (rc != 0) {
        gb_adapter_state_malformed(
            &a->st, &a->logged_payload, "%s on %s: %s", gb_spb_type_name(tp.type), topic,
            rc == GB_ERANGE ? "payload too large" : "not a Sparkplug B payload");
        return;
    }
    if (p->has_timestamp && p->timestamp && p->timestamp < (uint64_t)(INT64_MAX / GB_NS_PER_MS)) {
        pthread_mutex_lock(&a->st.mu);
        a->st.st.clock_offset_ns = arrival - (gb_time_t)p->timestamp * GB_NS_PER_MS;
        a->st.st.has_clock_offset = true;
        pthread_mutex_unlock(&a->st.mu);
    }
    source_t *node = &a->sources[ni];
    gb_batch_t *b = gb_batch_new(p->nmetrics + 1);
    switch (tp.type) {
    case GB_SPB_NBIRTH: {
        const gb_spb_metric_t *bd = gb_spb_find(p, "bdSeq");
        node->has_bdseq = bd && bd->kind == GB_SPB_V_INT;
        node->bdseq = node->has_bdseq ? (uint64_t)bd->i : 0;
        node->last_seq = p->has_seq && p->seq <= 255 ? (int)p->seq : 0;
        node->born = true;
        node->rebirth_pending = false;
        clear_aliases(node);
        for (size_t i = 0; i < a->nsources; i++) /* devices are born again after their node */
            if (a->sources[i].node == ni && i != ni) {
                a->sources[i].born = false;
                clear_aliases(&a->sources[i]);
            }
        take_metrics(a, node, p, true, arrival, b);
        gb_info("sparkplug", "%s: edge node %s born (bdSeq %" PRIu64 ")", a->st.name, node->edge,
                node->bdseq);
        break;
    }
    case GB_SPB_NDEATH: {
        const gb_spb_metric_t *bd = gb_spb_find(p, "bdSeq");
        bool ours = node->born && (!bd || !node->has_bdseq ||
                                   (bd->kind == GB_SPB_V_INT && (uint64_t)bd->i == node->bdseq));
        if (!ours) {
            if (!a->logged_death)
                gb_info("sparkplug",
                        "%s: ignored a death of edge node %s from an older session "
                        "(its bdSeq is not the current birth's)",
                        a->st.name, node->edge);
            a->logged_death = true;
            break;
        }
        node->born = false;
        node->last_seq = -1;
        for (size_t i = 0; i < a->nsources; i++)
            if (a->sources[i].node == ni) a->sources[i].born = false;
        /* an NDEATH is the will registered at connect time: its timestamp is not the death's */
        mark_stale(a, ni, arrival, b);
        gb_info("sparkplug", "%s: edge node %s died; its tags are stale", a->st.name, node->edge);
        break;
    }
    case GB_SPB_DBIRTH:
    case GB_SPB_DDEATH:
    case GB_SPB_NDATA:
    case GB_SPB_DDATA: {
        if (!node->born) {
            request_rebirth(a, c, node, "data before its birth");
            break;
        }
        if (!check_seq(a, c, node, p, &tp)) break;
        if (si == GB_NONE) break;
        source_t *s = &a->sources[si];
        if (tp.type == GB_SPB_DBIRTH) {
            s->born = true;
            clear_aliases(s);
            take_metrics(a, s, p, true, arrival, b);
        } else if (tp.type == GB_SPB_DDEATH) {
            s->born = false;
            mark_stale(a, si, p->timestamp ? (gb_time_t)p->timestamp * GB_NS_PER_MS : arrival, b);
        } else if (!s->born) {
            request_rebirth(a, c, node, "device data before the device's birth");
        } else {
            take_metrics(a, s, p, false, arrival, b);
        }
        break;
    }
    default:
        break;
    }
    gb_spb_payload_free(p);
    gb_adapter_publish(&a->st, a->env->bus, b, stopping, a);
}

/* ---- life -------------------------------------------------------------------------------------
 */

static int spb_start(void *state)
{
    return gb_mqtt_start(((spb_t *)state)->mqtt);
}

static void spb_stop(void *state)
{
    spb_t *a = state;
    if (a->host_id[0])
        gb_mqtt_stop(a->mqtt, a->state_topic, a->offline, strlen(a->offline));
    else
        gb_mqtt_stop(a->mqtt, NULL, NULL, 0);
}

static void spb_destroy(void *state)
{
    spb_t *a = state;
    if (!a) return;
    gb_mqtt_free(a->mqtt);
    for (size_t i = 0; i < a->nsources; i++)
        gb_map_clear(&a->sources[i].aliases);
    free(a->sources);
    gb_map_clear(&a->sources_by_name);
    gb_map_clear(&a->heads_by_key);
    for (size_t i = 0; i < a->env->nbindings; i++)
        gb_value_keep_clear(&a->pool[i].last);
    free(a->pool);
    free(a->heads);
    gb_adapter_state_clear(&a->st);
    free(a);
}

static void spb_status(void *state, gb_adapter_status_t *out)
{
    gb_adapter_state_get(&((spb_t *)state)->st, out);
}

const gb_adapter_class_t gb_sparkplug_adapter = {
    .version = GB_ADAPTER_API_VERSION,
    .type = "sparkplug-b",
    .summary = "MQTT Sparkplug B: a host application on one group of a broker",
    .keys = spb_keys,
    .check = spb_check,
    .create = spb_create,
    .start = spb_start,
    .stop = spb_stop,
    .destroy = spb_destroy,
    .status = spb_status,
};
