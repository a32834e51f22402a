/*
 * Sparkplug B topics and payloads. The protobuf wire format is protobuf-c's job, from the schema
 * in sparkplug_b.proto (which keeps every recursive structure opaque, so decoding never recurses);
 * this file adds what the specification says on top of the bytes: which value field each datatype
 * uses and how signed types are carried in unsigned fields.
 */
#include "adapters/mqtt/codec_sparkplug.h"
#include "gemba/error.h"
#include "sparkplug_b.pb-c.h"

#include <stdlib.h>
#include <string.h>

typedef Gemba__Sparkplug__Payload pb_payload_t;
typedef Gemba__Sparkplug__Payload__Metric pb_metric_t;

static const char *const type_names[] = {"NBIRTH", "NDEATH", "DBIRTH", "DDEATH", "NDATA",
                                         "DDATA",  "NCMD",   "DCMD",   "STATE"};

const char *gb_spb_type_name(gb_spb_type_t t)
{
    return (unsigned)t < sizeof type_names / sizeof *type_names ? type_names[t] : "?";
}

/* Copies the next '/'-separated element of *P into DST; false when empty, too long or a wildcard.
 */
static bool next_element(const char **p, char *dst)
{
    const char *s = *p, *e = strchr(s, '/');
    size_t n = e ? (size_t)(e - s) : strlen(s);
    if (n == 0 || n > GB_SPB_ID_MAX || memchr(s, '+', n) || memchr(s, '#', n)) return false;
    memcpy(dst, s, n);
    dst[n] = 0;
    *p = e ? e + 1 : s + n;
    return true;
}

int gb_spb_topic_parse(const char *topic, gb_spb_topic_t *out)
{
    static const char ns[] = GB_SPB_NAMESPACE "/";
    memset(out, 0, sizeof *out);
    if (strncmp(topic, ns, sizeof ns - 1)) return GB_EPROTO;
    const char *p = topic + sizeof ns - 1;
    char type[GB_SPB_ID_MAX + 1];
    if (!strncmp(p, "STATE/", 6)) { /* spBv1.0/STATE/HOST */
        p += 6;
        if (!next_element(&p, out->edge) || *p) return GB_EPROTO;
        out->type = GB_SPB_STATE;
        return 0;
    }
    if (!next_element(&p, out->group) || !next_element(&p, type) || !next_element(&p, out->edge))
        return GB_EPROTO;
    int t = -1;
    for (int i = 0; i < GB_SPB_STATE; i++)
        if (!strcmp(type, type_names[i])) t = i;
    if (t < 0) return GB_EPROTO;
    out->type = (gb_spb_type_t)t;
    bool device_msg =
        t == GB_SPB_DBIRTH || t == GB_SPB_DDEATH || t == GB_SPB_DDATA || t == GB_SPB_DCMD;
    if (device_msg) {
        if (!next_element(&p, out->device)) return GB_EPROTO;
    }
    return *p ? GB_EPROTO : 0; /* nothing may follow */
}

/* Fills M's value from the wire field PM uses, as the datatype says; sets bad on a mismatch. */
static void convert_value(const pb_metric_t *pm, gb_spb_metric_t *m)
{
    int vc = (int)pm->value_case;
    uint32_t dt = m->datatype;
    m->kind = GB_SPB_V_NONE;
    if (m->is_null || vc == GEMBA__SPARKPLUG__PAYLOAD__METRIC__VALUE__NOT_SET) return;
    switch (vc) {
    case GEMBA__SPARKPLUG__PAYLOAD__METRIC__VALUE_INT_VALUE: {
        uint32_t v = pm->int_value;
        m->kind = GB_SPB_V_INT;
        switch (dt) {
        case GB_SPB_INT8:
            m->i = (int8_t)(uint8_t)v;
            break;
        case GB_SPB_INT16:
            m->i = (int16_t)(uint16_t)v;
            break;
        case GB_SPB_INT32:
            m->i = (int32_t)v;
            break;
        case GB_SPB_UINT8:
            m->i = (uint8_t)v;
            break;
        case GB_SPB_UINT16:
            m->i = (uint16_t)v;
            break;
        case 0: /* a DATA message leaving the type to the birth: unsigned, the field's own type */
        case GB_SPB_UINT32:
        case GB_SPB_INT64: /* wider types in the narrow field: writers differ; the value fits */
        case GB_SPB_UINT64:
        case GB_SPB_DATETIME:
            m->i = v;
            break;
        default:
            m->bad = true;
            m->kind = GB_SPB_V_NONE;
        }
        return;
    }
    case GEMBA__SPARKPLUG__PAYLOAD__METRIC__VALUE_LONG_VALUE: {
        uint64_t v = pm->long_value;
        if (dt == GB_SPB_INT64) {
            m->kind = GB_SPB_V_INT;
            m->i = (int64_t)v;
        } else if (dt == GB_SPB_UINT64 || dt == GB_SPB_DATETIME || dt == 0 || dt == GB_SPB_UINT32) {
            if (v > (uint64_t)INT64_MAX) {
                m->kind = GB_SPB_V_UINT;
                m->u = v;
            } else {
                m->kind = GB_SPB_V_INT;
                m->i = (int64_t)v;
            }
        } else {
            m->bad = true;
        }
        return;
    }
    case GEMBA__SPARKPLUG__PAYLOAD__METRIC__VALUE_FLOAT_VALUE:
        if (dt != GB_SPB_FLOAT && dt != 0) {
            m->bad = true;
            return;
        }
        m->kind = GB_SPB_V_DOUBLE;
        m->d = pm->float_value;
        return;
    case GEMBA__SPARKPLUG__PAYLOAD__METRIC__VALUE_DOUBLE_VALUE:
        if (dt != GB_SPB_DOUBLE && dt != 0) {
            m->bad = true;
            return;
        }
        m->kind = GB_SPB_V_DOUBLE;
        m->d = pm->double_value;
        return;
    case GEMBA__SPARKPLUG__PAYLOAD__METRIC__VALUE_BOOLEAN_VALUE:
        if (dt != GB_SPB_BOOLEAN && dt != 0) {
            m->bad = true;
            return;
        }
        m->kind = GB_SPB_V_BOOL;
        m->b = pm->boolean_value;
        return;
    case GEMBA__SPARKPLUG__PAYLOAD__METRIC__VALUE_STRING_VALUE:
        if (dt != GB_SPB_STRING && dt != GB_SPB_TEXT && dt != GB_SPB_UUID && dt != 0) {
            m->bad = true;
            return;
        }
        m->kind = GB_SPB_V_STRING;
        m->s = pm->string_value ? pm->string_value : "";
        return;
    default: /* bytes, files, data sets, templates, extensions: kept opaque */
        return;
    }
}

int gb_spb_decode(const uint8_t *buf, size_t len, gb_spb_payload_t **out)
{
    *out = NULL;
    if (len > GB_SPB_PAYLOAD_MAX) return GB_ERANGE;
    pb_payload_t *pb = gemba__sparkplug__payload__unpack(NULL, len, buf);
    if (!pb) return GB_EPROTO;
    gb_spb_payload_t *p = calloc(1, sizeof *p);
    if (!p) goto nomem;
    p->msg_ = pb;
    p->has_timestamp = pb->has_timestamp;
    p->timestamp = pb->has_timestamp ? pb->timestamp : 0;
    p->has_seq = pb->has_seq;
    p->seq = pb->seq;
    if (pb->n_metrics) {
        p->metrics = calloc(pb->n_metrics, sizeof *p->metrics);
        if (!p->metrics) goto nomem;
    }
    p->nmetrics = pb->n_metrics;
    for (size_t i = 0; i < pb->n_metrics; i++) {
        const pb_metric_t *pm = pb->metrics[i];
        gb_spb_metric_t *m = &p->metrics[i];
        m->name = pm->name;
        m->has_alias = pm->has_alias;
        m->alias = pm->alias;
        m->timestamp = pm->has_timestamp ? pm->timestamp : 0;
        m->datatype = pm->has_datatype ? pm->datatype : 0;
        m->is_null = pm->has_is_null && pm->is_null;
        m->is_historical = pm->has_is_historical && pm->is_historical;
        m->is_transient = pm->has_is_transient && pm->is_transient;
        convert_value(pm, m);
    }
    *out = p;
    return 0;
nomem:
    if (p) free(p);
    gemba__sparkplug__payload__free_unpacked(pb, NULL);
    return GB_ENOMEM;
}

void gb_spb_payload_free(gb_spb_payload_t *p)
{
    if (!p) return;
    gemba__sparkplug__payload__free_unpacked(p->msg_, NULL);
    free(p->metrics);
    free(p);
}

const gb_spb_metric_t *gb_spb_find(const gb_spb_payload_t *p, const char *name)
{
    for (size_t i = 0; i < p->nmetrics; i++)
        if (p->metrics[i].name && !strcmp(p->metrics[i].name, name)) return &p->metrics[i];
    return NULL;
}

int gb_spb_encode_rebirth(uint64_t ts_ms, uint8_t **buf, size_t *len)
{
    pb_metric_t m = GEMBA__SPARKPLUG__PAYLOAD__METRIC__INIT;
    m.name = (char *)"Node Control/Rebirth";
    m.has_timestamp = true;
    m.timestamp = ts_ms;
    m.has_datatype = true;
    m.datatype = GB_SPB_BOOLEAN;
    m.value_case = GEMBA__SPARKPLUG__PAYLOAD__METRIC__VALUE_BOOLEAN_VALUE;
    m.boolean_value = true;
    pb_metric_t *ms[1] = {&m};
    pb_payload_t p = GEMBA__SPARKPLUG__PAYLOAD__INIT;
    p.has_timestamp = true;
    p.timestamp = ts_ms;
    p.n_metrics = 1;
    p.metrics = ms;
    *len = gemba__sparkplug__payload__get_packed_size(&p);
    *buf = malloc(*len ? *len : 1);
    if (!*buf) return GB_ENOMEM;
    gemba__sparkplug__payload__pack(&p, *buf);
    return 0;
}
