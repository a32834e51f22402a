/*
 * MTConnect agent documents (Streams, Devices, Error) to plain structures. libxml2 builds a tree
 * of the bytes, read with the network off and entities unexpanded; a DOCTYPE is refused before
 * the parser sees the bytes, so no entity is ever declared, let alone expanded. The walk below then
 * copies what gemba needs into an arena the document owns and drops the tree.
 *
 * Names are matched by their local part: the namespace URN changes with every MTConnect version
 * (urn:mtconnect.org:MTConnectStreams:1.3, ...:2.0) while the element names stay. Attributes are
 * matched without regard to case, since agents in the field write both `nativeCode` and
 * `nativecode`. A broken observation (no dataItemId, a bad sequence, an unreadable time) is left
 * out and counted, because one bad value must not cost the rest of a document; a broken header
 * refuses the document, because without its sequence numbers nothing in it can be placed.
 */
#include "adapters/mtconnect/codec_streams.h"
#include "adapters/mtconnect/codec_shdr.h"
#include "gemba/error.h"
#include "util/str.h"

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- the arena: strings that live as long as the document ------------------------------------- */

typedef struct block {
    struct block *next;
    size_t used, cap;
    char data[];
} block_t;

struct gb_mtc_arena {
    block_t *head;
};

static char *arena_alloc(gb_mtc_arena_t *a, size_t n)
{
    block_t *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        b = gb_xmalloc(sizeof *b + cap);
        b->used = 0;
        b->cap = cap;
        b->next = a->head;
        a->head = b;
    }
    char *p = b->data + b->used;
    b->used += n;
    return p;
}

static const char *arena_dup(gb_mtc_arena_t *a, const char *s, size_t n)
{
    if (n == 0) return "";
    char *p = arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

/* A growing buffer for text built from several nodes (element text, data sets). Bounded by
 * GB_MTC_VALUE_MAX: what does not fit is dropped and `cut` set. */
typedef struct text {
    char *p;
    size_t n, cap;
    bool cut;
} text_t;

static void text_add(text_t *t, const char *s, size_t n)
{
    if (t->n + n > GB_MTC_VALUE_MAX) {
        n = GB_MTC_VALUE_MAX - t->n;
        t->cut = true;
    }
    if (t->n + n + 1 > t->cap) {
        t->cap = (t->n + n + 1) * 2;
        if (t->cap > GB_MTC_VALUE_MAX + 1) t->cap = GB_MTC_VALUE_MAX + 1;
        t->p = gb_xrealloc(t->p, t->cap);
    }
    memcpy(t->p + t->n, s, n);
    t->n += n;
    t->p[t->n] = 0;
}

static void text_str(text_t *t, const char *s)
{
    text_add(t, s, strlen(s));
}

/* ---- reading nodes ---------------------------------------------------------------------------- */

static bool is_el(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* The text of attribute NAME of N (any namespace, any case) appended to T; false when absent. */
static bool attr_text(const xmlNode *n, const char *name, text_t *t)
{
    for (const xmlAttr *a = n->properties; a; a = a->next) {
        if (strcasecmp((const char *)a->name, name)) continue;
        t->n = 0;
        t->cut = false;
        text_add(t, "", 0);
        for (const xmlNode *c = a->children; c; c = c->next)
            if (c->content) text_str(t, (const char *)c->content);
        return true;
    }
    return false;
}

/* Attribute NAME of N copied into the arena; "" when absent. False when longer than the limit. */
static bool attr_dup(gb_mtc_arena_t *ar, const xmlNode *n, const char *name, text_t *tmp,
                     const char **out)
{
    *out = "";
    if (!attr_text(n, name, tmp)) return true;
    if (tmp->n > GB_MTC_ATTR_MAX) return false;
    *out = arena_dup(ar, tmp->p, tmp->n);
    return true;
}

/* Attribute NAME of N as a decimal uint64: 1 when read, 0 when absent, -1 when not a number. */
static int attr_u64(const xmlNode *n, const char *name, text_t *tmp, uint64_t *out)
{
    if (!attr_text(n, name, tmp)) return 0;
    if (tmp->n == 0 || tmp->n > 20) return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < tmp->n; i++) {
        char c = tmp->p[i];
        if (c < '0' || c > '9') return -1;
        if (v > (UINT64_MAX - (uint64_t)(c - '0')) / 10) return -1;
        v = v * 10 + (uint64_t)(c - '0');
    }
    *out = v;
    return 1;
}

/* Attribute NAME of N as a finite, non-negative number; 0 when absent or unreadable. */
static double attr_rate(const xmlNode *n, const char *name, text_t *tmp)
{
    if (!attr_text(n, name, tmp) || tmp->n == 0 || tmp->n > 64) return 0;
    char *end;
    double d = strtod(tmp->p, &end);
    return (*end || !isfinite(d) || d < 0) ? 0 : d;
}

/* The text directly inside N (text and CDATA children), whitespace around it trimmed, into T. */
static void own_text(const xmlNode *n, text_t *t)
{
    t->n = 0;
    t->cut = false;
    text_add(t, "", 0);
    for (const xmlNode *c = n->children; c; c = c->next)
        if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content)
            text_str(t, (const char *)c->content);
    size_t s = 0;
    while (s < t->n && isspace((unsigned char)t->p[s])) s++;
    while (t->n > s && isspace((unsigned char)t->p[t->n - 1])) t->n--;
    memmove(t->p, t->p + s, t->n - s);
    t->n -= s;
    t->p[t->n] = 0;
}

/* ---- the document being built ----------------------------------------------------------------- */

typedef struct parse {
    gb_mtc_doc_t *d;
    gb_mtc_arena_t *ar;
    text_t tmp, val, part;
    size_t cap_obs, cap_items, cap_devices;
    const char *why; /* set when the document is refused */
} parse_t;

static void skip(parse_t *p, const char *why)
{
    if (!p->d->skipped++) p->d->skip_why = why;
}

static bool refuse(parse_t *p, const char *why)
{
    if (!p->why) p->why = why;
    return false;
}

static int header(parse_t *p, const xmlNode *root)
{
    gb_mtc_header_t *h = &p->d->header;
    h->version = "";
    h->model_change_time = "";
    const xmlNode *hn = NULL;
    for (const xmlNode *c = root->children; c && !hn; c = c->next)
        if (is_el(c, "Header")) hn = c;
    if (!hn) {
        refuse(p, "no Header");
        return GB_EPROTO;
    }
    int r = attr_u64(hn, "instanceId", &p->tmp, &h->instance_id);
    if (r < 0 || (r == 0 && p->d->kind != GB_MTC_DOC_ERROR)) {
        refuse(p, "the Header has no instanceId");
        return GB_EPROTO;
    }
    if (attr_u64(hn, "bufferSize", &p->tmp, &h->buffer_size) < 0) h->buffer_size = 0;
    if (!attr_dup(p->ar, hn, "version", &p->tmp, &h->version) ||
        !attr_dup(p->ar, hn, "deviceModelChangeTime", &p->tmp, &h->model_change_time)) {
        refuse(p, "a Header attribute is too long");
        return GB_EPROTO;
    }
    if (attr_text(hn, "creationTime", &p->tmp) &&
        gb_shdr_time(p->tmp.p, p->tmp.n, &h->creation_time) != 0)
        h->creation_time = 0;
    if (p->d->kind == GB_MTC_DOC_STREAMS) {
        if (attr_u64(hn, "firstSequence", &p->tmp, &h->first_seq) != 1 ||
            attr_u64(hn, "lastSequence", &p->tmp, &h->last_seq) != 1 ||
            attr_u64(hn, "nextSequence", &p->tmp, &h->next_seq) != 1) {
            refuse(p, "the Header lacks a readable first, last or next sequence number");
            return GB_EPROTO;
        }
        /* an empty buffer has last = first - 1; next is at most one past last */
        if (h->first_seq > h->last_seq + 1 || h->next_seq > h->last_seq + 1 ||
            h->last_seq == UINT64_MAX) {
            refuse(p, "the Header's sequence numbers are out of order");
            return GB_EPROTO;
        }
    }
    return 0;
}

/* ---- MTConnectStreams ------------------------------------------------------------------------- */

/* Appends the text of N to p->val, quoted with '' when it holds a space (or is empty, QUOTE_EMPTY). */
static void append_value(parse_t *p, const xmlNode *n, bool quote_empty)
{
    own_text(n, &p->part);
    bool quote = p->part.n == 0 && quote_empty;
    for (size_t i = 0; i < p->part.n && !quote; i++) quote = isspace((unsigned char)p->part.p[i]);
    if (quote) text_add(&p->val, "'", 1);
    text_add(&p->val, p->part.p, p->part.n);
    if (quote) text_add(&p->val, "'", 1);
}

/* Appends "KEY=" for element N to p->val (a space first unless FIRST); false without a key. */
static bool append_key(parse_t *p, const xmlNode *n, bool first)
{
    if (!attr_text(n, "key", &p->part)) return false;
    if (!first) text_add(&p->val, " ", 1);
    text_add(&p->val, p->part.p, p->part.n);
    text_add(&p->val, "=", 1);
    return true;
}

/* Sets p->val to the SHDR form of the entries of data set or table N: "k1=v1 k2=v2", or
 * "r1={c1=v1 c2=v2} r2={...}"; a removed entry is "k=". */
static void render_entries(parse_t *p, const xmlNode *n, bool table)
{
    p->val.n = 0;
    p->val.cut = false;
    text_add(&p->val, "", 0);
    bool first = true;
    for (const xmlNode *e = n->children; e; e = e->next) {
        if (!is_el(e, "Entry") || !append_key(p, e, first)) continue;
        first = false;
        if (attr_text(e, "removed", &p->part) && !strcmp(p->part.p, "true")) continue;
        if (!table) {
            append_value(p, e, false);
            continue;
        }
        text_add(&p->val, "{", 1);
        bool cfirst = true;
        for (const xmlNode *c = e->children; c; c = c->next) {
            if (!is_el(c, "Cell") || !append_key(p, c, cfirst)) continue;
            cfirst = false;
            append_value(p, c, true);
        }
        text_add(&p->val, "}", 1);
    }
}

static const char *const levels[] = {"Normal", "Warning", "Fault", "Unavailable"};
static const char *const level_names[] = {"NORMAL", "WARNING", "FAULT", "UNAVAILABLE"};

static bool observation(parse_t *p, const xmlNode *n, gb_mtc_category_t cat, const gb_mtc_obs_t *ctx)
{
    gb_mtc_doc_t *d = p->d;
    if (d->nobs == GB_MTC_MAX_OBS) return refuse(p, "more observations than gemba reads at once");
    gb_mtc_obs_t o = *ctx;
    o.element = arena_dup(p->ar, (const char *)n->name, strlen((const char *)n->name));
    o.category = cat;
    o.rep = GB_MTC_REP_VALUE;
    if (!attr_dup(p->ar, n, "dataItemId", &p->tmp, &o.data_item_id) || !*o.data_item_id) {
        skip(p, "an observation without a dataItemId");
        return true;
    }
    if (attr_u64(n, "sequence", &p->tmp, &o.sequence) != 1) {
        skip(p, "an observation without a readable sequence number");
        return true;
    }
    if (!attr_text(n, "timestamp", &p->tmp) || gb_shdr_time(p->tmp.p, p->tmp.n, &o.t) != 0) {
        skip(p, "an observation without a readable timestamp");
        return true;
    }
    if (!attr_dup(p->ar, n, "name", &p->tmp, &o.name) ||
        !attr_dup(p->ar, n, "nativeCode", &p->tmp, &o.native_code)) {
        skip(p, "an observation attribute is too long");
        return true;
    }
    o.level = o.condition_type = o.native_severity = o.qualifier = "";
    if (cat == GB_MTC_CONDITION) {
        size_t l = 0;
        while (l < 4 && strcasecmp(o.element, levels[l])) l++;
        if (l == 4) {
            skip(p, "a condition whose level is not Normal, Warning, Fault or Unavailable");
            return true;
        }
        o.level = level_names[l];
        o.unavailable = l == 3;
        if (!attr_dup(p->ar, n, "type", &p->tmp, &o.condition_type) ||
            !attr_dup(p->ar, n, "nativeSeverity", &p->tmp, &o.native_severity) ||
            !attr_dup(p->ar, n, "qualifier", &p->tmp, &o.qualifier)) {
            skip(p, "an observation attribute is too long");
            return true;
        }
    }
    own_text(n, &p->val);
    if (cat != GB_MTC_CONDITION) {
        o.unavailable = !strcmp(p->val.p, "UNAVAILABLE");
        if (ends_with(o.element, "TimeSeries")) {
            o.rep = GB_MTC_REP_TIMESERIES;
            if (attr_u64(n, "sampleCount", &p->tmp, &o.sample_count) < 0) o.sample_count = 0;
            o.sample_rate = attr_rate(n, "sampleRate", &p->tmp);
        } else if (ends_with(o.element, "DataSet") || ends_with(o.element, "Table")) {
            o.rep = ends_with(o.element, "Table") ? GB_MTC_REP_TABLE : GB_MTC_REP_DATASET;
            if (!o.unavailable) render_entries(p, n, o.rep == GB_MTC_REP_TABLE);
        }
    }
    o.value = arena_dup(p->ar, p->val.p, p->val.n);
    o.value_len = p->val.n;
    o.truncated = p->val.cut;
    if (d->nobs == p->cap_obs) {
        p->cap_obs = p->cap_obs ? p->cap_obs * 2 : 64;
        d->obs = gb_xrealloc(d->obs, p->cap_obs * sizeof *d->obs);
    }
    d->obs[d->nobs++] = o;
    return true;
}

static bool streams(parse_t *p, const xmlNode *root)
{
    static const char *const cats[] = {"Samples", "Events", "Condition"};
    for (const xmlNode *s = root->children; s; s = s->next) {
        if (!is_el(s, "Streams")) continue;
        for (const xmlNode *ds = s->children; ds; ds = ds->next) {
            if (!is_el(ds, "DeviceStream")) continue;
            gb_mtc_obs_t ctx = {0};
            if (!attr_dup(p->ar, ds, "name", &p->tmp, &ctx.device_name) ||
                !attr_dup(p->ar, ds, "uuid", &p->tmp, &ctx.device_uuid))
                return refuse(p, "a DeviceStream attribute is too long");
            for (const xmlNode *cs = ds->children; cs; cs = cs->next) {
                if (!is_el(cs, "ComponentStream")) continue;
                if (!attr_dup(p->ar, cs, "component", &p->tmp, &ctx.component) ||
                    !attr_dup(p->ar, cs, "name", &p->tmp, &ctx.component_name) ||
                    !attr_dup(p->ar, cs, "componentId", &p->tmp, &ctx.component_id))
                    return refuse(p, "a ComponentStream attribute is too long");
                for (const xmlNode *g = cs->children; g; g = g->next) {
                    int k = 0;
                    while (k < 3 && !is_el(g, cats[k])) k++;
                    if (k == 3) continue;
                    for (const xmlNode *o = g->children; o; o = o->next)
                        if (o->type == XML_ELEMENT_NODE &&
                            !observation(p, o, (gb_mtc_category_t)k, &ctx))
                            return false;
                }
            }
        }
    }
    return true;
}

/* ---- MTConnectDevices ------------------------------------------------------------------------- */

static bool data_item(parse_t *p, const xmlNode *n, size_t dev)
{
    gb_mtc_doc_t *d = p->d;
    if (d->nitems == GB_MTC_MAX_ITEMS) return refuse(p, "more data items than gemba reads");
    gb_mtc_item_t it = {.device = dev};
    if (!attr_dup(p->ar, n, "id", &p->tmp, &it.id) || !*it.id ||
        !attr_dup(p->ar, n, "name", &p->tmp, &it.name) ||
        !attr_dup(p->ar, n, "type", &p->tmp, &it.type) ||
        !attr_dup(p->ar, n, "subType", &p->tmp, &it.sub_type) ||
        !attr_dup(p->ar, n, "units", &p->tmp, &it.units)) {
        skip(p, "a DataItem without an id, or with an attribute too long");
        return true;
    }
    static const char *const cats[] = {"SAMPLE", "EVENT", "CONDITION"};
    if (!attr_text(n, "category", &p->tmp)) p->tmp.n = 0;
    int k = 0;
    while (k < 3 && (p->tmp.n == 0 || strcmp(p->tmp.p, cats[k]))) k++;
    if (k == 3) {
        skip(p, "a DataItem whose category is not SAMPLE, EVENT or CONDITION");
        return true;
    }
    it.category = (gb_mtc_category_t)k;
    it.rep = GB_MTC_REP_VALUE;
    if (attr_text(n, "representation", &p->tmp)) {
        if (!strcmp(p->tmp.p, "TIME_SERIES")) it.rep = GB_MTC_REP_TIMESERIES;
        else if (!strcmp(p->tmp.p, "DATA_SET")) it.rep = GB_MTC_REP_DATASET;
        else if (!strcmp(p->tmp.p, "TABLE")) it.rep = GB_MTC_REP_TABLE;
    }
    it.sample_rate = attr_rate(n, "sampleRate", &p->tmp);
    if (d->nitems == p->cap_items) {
        p->cap_items = p->cap_items ? p->cap_items * 2 : 64;
        d->items = gb_xrealloc(d->items, p->cap_items * sizeof *d->items);
    }
    d->items[d->nitems++] = it;
    return true;
}

/* Every DataItem below N (in DataItems lists of the device and its components, at any depth). */
static bool device_items(parse_t *p, const xmlNode *n, size_t dev)
{
    for (const xmlNode *c = n->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE) continue;
        if (is_el(c, "DataItem") && is_el(n, "DataItems")) {
            if (!data_item(p, c, dev)) return false;
        } else if (!device_items(p, c, dev)) {
            return false;
        }
    }
    return true;
}

static bool devices(parse_t *p, const xmlNode *root)
{
    gb_mtc_doc_t *d = p->d;
    for (const xmlNode *s = root->children; s; s = s->next) {
        if (!is_el(s, "Devices")) continue;
        for (const xmlNode *dn = s->children; dn; dn = dn->next) {
            if (dn->type != XML_ELEMENT_NODE) continue;
            if (d->ndevices == GB_MTC_MAX_DEVICES) return refuse(p, "more devices than gemba reads");
            gb_mtc_device_t dev = {.element = arena_dup(p->ar, (const char *)dn->name,
                                                        strlen((const char *)dn->name))};
            if (!attr_dup(p->ar, dn, "id", &p->tmp, &dev.id) ||
                !attr_dup(p->ar, dn, "name", &p->tmp, &dev.name) ||
                !attr_dup(p->ar, dn, "uuid", &p->tmp, &dev.uuid))
                return refuse(p, "a Device attribute is too long");
            if (d->ndevices == p->cap_devices) {
                p->cap_devices = p->cap_devices ? p->cap_devices * 2 : 8;
                d->devices = gb_xrealloc(d->devices, p->cap_devices * sizeof *d->devices);
            }
            d->devices[d->ndevices++] = dev;
            if (!device_items(p, dn, d->ndevices - 1)) return false;
        }
    }
    return true;
}

/* ---- MTConnectError --------------------------------------------------------------------------- */

static bool error_entry(parse_t *p, const xmlNode *n)
{
    gb_mtc_doc_t *d = p->d;
    if (d->nerrors == GB_MTC_MAX_ERRORS) return true; /* the first ones say enough */
    gb_mtc_error_t e = {.parameter = ""};
    if (!attr_dup(p->ar, n, "errorCode", &p->tmp, &e.code))
        return refuse(p, "an errorCode is too long");
    /* 1.x-2.5: the text is the element's; 2.6: an ErrorMessage child, a QueryParameter child */
    own_text(n, &p->val);
    for (const xmlNode *c = n->children; c; c = c->next) {
        if (is_el(c, "ErrorMessage")) own_text(c, &p->val);
        if (is_el(c, "QueryParameter") && !attr_dup(p->ar, c, "name", &p->tmp, &e.parameter))
            return refuse(p, "a QueryParameter name is too long");
    }
    e.text = arena_dup(p->ar, p->val.p, p->val.n);
    if (!d->errors) d->errors = gb_xcalloc(GB_MTC_MAX_ERRORS, sizeof *d->errors);
    d->errors[d->nerrors++] = e;
    return true;
}

static bool errors(parse_t *p, const xmlNode *root)
{
    for (const xmlNode *c = root->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || is_el(c, "Header")) continue;
        if (is_el(c, "Errors")) {
            for (const xmlNode *e = c->children; e; e = e->next)
                if (e->type == XML_ELEMENT_NODE && !error_entry(p, e)) return false;
        } else if (!error_entry(p, c)) { /* 1.0: Error right under the root */
            return false;
        }
    }
    if (!p->d->nerrors) return refuse(p, "an MTConnectError with no Error in it");
    return true;
}

/* ---- entry points ----------------------------------------------------------------------------- */

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void xml_init(void)
{
    xmlInitParser();
}

/* True when the bytes declare a document type: MTConnect never does, and a DTD is where entity
 * expansion attacks live, so such a document is refused before libxml2 reads it. */
static bool has_doctype(const char *buf, size_t len)
{
    static const char *const marks[] = {"<!DOCTYPE", "<!ENTITY"};
    for (int m = 0; m < 2; m++)
        if (memmem(buf, len, marks[m], strlen(marks[m]))) return true;
    return false;
}

int gb_mtc_parse(const char *buf, size_t len, gb_mtc_doc_t **out, const char **why)
{
    const char *discard;
    if (!why) why = &discard;
    *out = NULL;
    if (len > GB_MTC_DOC_MAX) {
        *why = "the document is larger than gemba reads";
        return GB_EPROTO;
    }
    if (len == 0) {
        *why = "an empty document";
        return GB_EPROTO;
    }
    if (has_doctype(buf, len)) {
        *why = "the document declares a DOCTYPE (MTConnect documents have none)";
        return GB_EPROTO;
    }
    pthread_once(&xml_once, xml_init);
    /* NONET: no fetching; no NOENT: entities stay references; no DTDLOAD/DTDATTR/DTDVALID:
     * nothing outside the bytes is read; no HUGE: libxml2's own depth and size limits hold;
     * NOERROR/NOWARNING: problems are ours to report; COMPACT: a smaller tree */
    xmlDocPtr x = xmlReadMemory(buf, (int)len, NULL, NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                                    XML_PARSE_NOCDATA | XML_PARSE_COMPACT);
    if (!x) {
        *why = "not well-formed XML";
        return GB_EPROTO;
    }
    int rc = 0;
    parse_t p = {.d = gb_xcalloc(1, sizeof *p.d), .ar = gb_xcalloc(1, sizeof *p.ar)};
    p.d->arena_ = p.ar;
    const xmlNode *root = xmlDocGetRootElement(x);
    if (x->intSubset || x->extSubset || !root) {
        p.why = !root ? "no root element" : "the document declares a DOCTYPE";
        rc = GB_EPROTO;
        goto out;
    }
    if (is_el(root, "MTConnectStreams")) p.d->kind = GB_MTC_DOC_STREAMS;
    else if (is_el(root, "MTConnectDevices")) p.d->kind = GB_MTC_DOC_DEVICES;
    else if (is_el(root, "MTConnectError")) p.d->kind = GB_MTC_DOC_ERROR;
    else {
        p.why = "not an MTConnect document (the root is not MTConnectStreams, MTConnectDevices "
                "or MTConnectError)";
        rc = GB_EPROTO;
        goto out;
    }
    if ((rc = header(&p, root)) != 0) goto out;
    bool ok = p.d->kind == GB_MTC_DOC_STREAMS ? streams(&p, root)
            : p.d->kind == GB_MTC_DOC_DEVICES ? devices(&p, root)
                                              : errors(&p, root);
    if (!ok) rc = GB_EPROTO;
out:
    xmlFreeDoc(x);
    free(p.tmp.p);
    free(p.val.p);
    free(p.part.p);
    if (rc) {
        *why = p.why ? p.why : "malformed document";
        gb_mtc_doc_free(p.d);
        return rc;
    }
    *out = p.d;
    return 0;
}

void gb_mtc_doc_free(gb_mtc_doc_t *d)
{
    if (!d) return;
    for (block_t *b = d->arena_ ? d->arena_->head : NULL, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    free(d->arena_);
    free(d->obs);
    free(d->items);
    free(d->devices);
    free(d->errors);
    free(d);
}

const char *gb_mtc_category_name(gb_mtc_category_t c)
{
    switch (c) {
    case GB_MTC_SAMPLE: return "SAMPLE";
    case GB_MTC_EVENT: return "EVENT";
    case GB_MTC_CONDITION: return "CONDITION";
    }
    return "?";
}
